"""A fake Gemini REST server on 127.0.0.1 for tests and offline demos.

It speaks the wire shapes the genuine `google-genai` 2.x client sends (read from
google/genai/models.py, not guessed):

- `POST /{version}/models/{m}:batchEmbedContents` body
  `{"requests": [{"model": "models/{m}", "content": {"parts": [...], "role"?},
  "outputDimensionality"?, "taskType"?, "title"?}]}` -> `{"embeddings": [{"values": [...]}]}`.
  `client.models.embed_content` always uses this endpoint on the Developer API. The SDK dumps
  `Content` with snake_case keys (`inline_data: {mime_type, data}`); camelCase is accepted too.
- `POST .../models/{m}:embedContent` body `{"content": ..., "outputDimensionality"?}` ->
  `{"embedding": {"values": [...]}}` (not used by the SDK's Developer API path; kept for raw callers).
- `POST .../models/{m}:generateContent` and `:streamGenerateContent?alt=sse` (SSE `data: {json}`
  events) -> `{"candidates": [{"content": {"role": "model", "parts": [...]}, ...}], ...}`.
- Errors: `{"error": {"code", "message", "status"}}`.

Strict like the real API: the rules (MIME allow-lists, media limits parsed from the bytes, text tokens,
unknown fields, model allow-list, dimensions, thought signatures) live in `rag.testing.fake_rules`, each with
its doc. It also answers 429s with RetryInfo/QuotaFailure details (scripted, or a seeded random fraction),
adds per-call latency, and records every header it receives (the key is masked only when printed).

Embeddings come from `rag.testing.fake_vectors` (deterministic, similar inputs -> close vectors;
sub-3072 vectors are prefixes and not unit length, as with the real models).
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rag.testing import fake_rules as rules
from rag.testing.fake_vectors import FULL_DIM, InvalidRequest, embed_parts

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_PATH = re.compile(r"^/(?P<version>v1\w*)/models/(?P<model>[\w.\-]+):(?P<action>\w+)$")


_SECRET_HEADERS = ("x-goog-api-key", "authorization")


@dataclass
class RecordedRequest:
    """One request the fake received, with every header as sent (printing masks the key)."""

    method: str
    path: str
    query: dict[str, str]
    model: str | None
    action: str | None
    headers: dict[str, str]
    body: Any
    api_key_present: bool
    status: int = 0  # the status the fake answered with
    raw: bytes = field(default=b"", repr=False)  # the body as received (for key-leak checks)

    def __repr__(self) -> str:
        shown = {k: ("***" if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return f"RecordedRequest({self.method} {self.path} -> {self.status}, headers={shown})"


@dataclass
class _Script:
    status: int | None  # None: answer normally after the delay
    delay_s: float
    times: int
    action: str | None
    message: str | None
    quota: str = "minute"  # 429 details: "minute" or "day" quota
    skip: int = 0  # let this many matching requests through first


@dataclass
class _Reply:
    parts: list[dict[str, Any]]
    finish: str | None = "STOP"
    blocked: str | None = None  # promptFeedback.blockReason: no candidates at all


@dataclass(eq=False)
class FakeGeminiServer:
    """Fake Gemini on 127.0.0.1:<free port>. Use as a context manager, or start()/stop()."""

    expected_api_key: str | None = None  # when set, any other key gets Gemini's 400 API_KEY_INVALID
    requests: list[RecordedRequest] = field(default_factory=list, repr=False)
    latency_s: float = 0.0  # added to every call (realistic latency; 0 keeps unit tests fast)
    latency_per_mb_s: float = 0.0  # plus this per MB of request body
    vertex: bool = False  # Vertex AI limits: video with audio <= 80 s
    allow_skip_signature: bool = False  # accept the documented "skip" thought signature
    max_request_bytes: int = rules.MAX_REQUEST_BYTES

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: deque[_Script] = deque()
        self._replies: deque[_Reply] = deque()
        self._issued: set[str] = set()
        self._random_429: tuple[float, random.Random] | None = None
        self._in_flight = 0
        self.max_in_flight = 0  # most requests being answered at once (concurrency tests)
        self._wake = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeGeminiServer:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gemini", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._wake.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to pass as `HttpOptions(base_url=...)`."""
        if not self._httpd:
            raise RuntimeError("FakeGeminiServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def reset(self) -> None:
        """Forget recorded requests, scripted failures/delays and queued replies."""
        with self._lock:
            self.requests.clear()
            self._scripts.clear()
            self._replies.clear()
            self._random_429 = None
            old, self._wake = self._wake, threading.Event()
        old.set()  # release handlers still sleeping in a delay

    # scripting
    def fail_next(
        self, status: int = 429, times: int = 1, *, action: str | None = None, message: str | None = None,
        quota: str = "minute", skip: int = 0,
    ) -> None:
        """After `skip` requests, the next `times` (of `action`, e.g. "batchEmbedContents", if given) get this
        error."""
        with self._lock:
            self._scripts.append(_Script(status, 0.0, times, action, message, quota, skip))

    def random_429(self, rate: float, seed: int = 0) -> None:
        """Answer a `rate` fraction of calls with a per-minute 429 (seeded, so a run is repeatable)."""
        with self._lock:
            self._random_429 = (rate, random.Random(seed)) if rate > 0 else None

    def delay_next(self, seconds: float, times: int = 1, *, action: str | None = None) -> None:
        """The next `times` requests wait `seconds` before answering normally (for timeout tests)."""
        with self._lock:
            self._scripts.append(_Script(None, seconds, times, action, None))

    def reply_text(self, text: str) -> None:
        """Queue a generateContent reply made of one text part."""
        self.reply_parts([{"text": text}])

    def reply_function_call(self, name: str, args: dict[str, Any] | None = None) -> None:
        """Queue a reply asking the caller to run a tool (Gemini 3 models add a thought signature)."""
        self.reply_parts([{"functionCall": {"name": name, "args": args or {}}}])

    def reply_parts(self, parts: list[dict[str, Any]], finish: str = "STOP") -> None:
        """Queue a generateContent reply with these REST parts."""
        with self._lock:
            self._replies.append(_Reply(parts, finish))

    def reply_max_tokens(self, text: str) -> None:
        """Queue a reply cut short by the output limit (finishReason MAX_TOKENS)."""
        self.reply_parts([{"text": text}], finish="MAX_TOKENS")

    def reply_blocked(self, reason: str = "SAFETY") -> None:
        """Queue a reply whose prompt was blocked: promptFeedback.blockReason and no candidates."""
        with self._lock:
            self._replies.append(_Reply([], None, blocked=reason))

    def reply_empty(self, finish: str = "SAFETY") -> None:
        """Queue a candidate with no content (e.g. stopped by a safety filter)."""
        self.reply_parts([], finish=finish)

    # views
    @property
    def embed_requests(self) -> list[RecordedRequest]:
        """Recorded embedding calls, in arrival order."""
        return [r for r in self.requests if r.action in ("batchEmbedContents", "embedContent")]

    # internals (called from handler threads)
    def _take_script(self, action: str | None) -> _Script | None:
        with self._lock:
            for s in self._scripts:
                if s.action is None or s.action == action:
                    if s.skip > 0:
                        s.skip -= 1
                        return None
                    s.times -= 1
                    if s.times <= 0:
                        self._scripts.remove(s)
                    return s
        return None

    def _take_reply(self, contents: list[dict[str, Any]]) -> _Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        last = next(
            (
                p.get("text")
                for c in reversed(contents)
                for p in c.get("parts", [])
                if isinstance(p.get("text"), str)
            ),
            "",
        )
        return _Reply([{"text": f"Fake Gemini reply to: {last[:80]}"}])

    def _sign(self, parts: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
        """Gemini 3 models put a thought signature on function-call parts (rules [TSIG])."""
        if not re.search(r"gemini-([3-9]|\d\d)", model):
            return parts
        out = []
        for p in parts:
            if "functionCall" in p and "thoughtSignature" not in p:
                with self._lock:
                    token = f"fake-thought-{len(self._issued) + 1}"
                    self._issued.add(token)
                p = {**p, "thoughtSignature": base64.b64encode(token.encode()).decode()}
            out.append(p)
        return out

    def _random_fail(self) -> bool:
        with self._lock:
            if self._random_429 is None:
                return False
            rate, rng = self._random_429
            return rng.random() < rate

    def _embed(self, model: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        if action == "embedContent":
            rules.check_embed_request(model, body, "", vertex=self.vertex)
            return {"embedding": {"values": self._embed_one(body)}}
        rules.unknown_fields(body, {"requests"}, "")
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise InvalidRequest("* BatchEmbedContentsRequest.requests: requests must be a non-empty list")
        if len(reqs) > rules.MAX_BATCH_REQUESTS:
            raise InvalidRequest("* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch")
        for i, r in enumerate(reqs):
            if not isinstance(r, dict) or r.get("model") != f"models/{model}":
                got = r.get("model") if isinstance(r, dict) else r
                raise InvalidRequest(f"Model {got} in requests[{i}] does not match models/{model}")
            rules.check_embed_request(model, r, f"requests[{i}]", vertex=self.vertex)
        return {"embeddings": [{"values": self._embed_one(r)} for r in reqs]}

    @staticmethod
    def _embed_one(req: dict[str, Any]) -> list[float]:
        content = req.get("content")
        if not isinstance(content, dict):
            raise InvalidRequest("content is required")
        return embed_parts(content.get("parts") or [], int(rules.get(req, "outputDimensionality") or FULL_DIM))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeGeminiServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        m = _PATH.match(url.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        key = self.headers.get("x-goog-api-key") or query.get("key")
        rec = RecordedRequest(
            method=self.command,
            path=url.path,
            query=query,
            model=m["model"] if m else None,
            action=m["action"] if m else None,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            api_key_present=bool(key),
            raw=raw,
        )
        fake = self.fake
        with fake._lock:
            fake.requests.append(rec)
            fake._in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
        try:
            self._answer(rec, key, m["version"] if m else "v1beta")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass
        finally:
            with fake._lock:
                fake._in_flight -= 1

    def _answer(self, rec: RecordedRequest, key: str | None, version: str) -> None:
        fake = self.fake
        if not key:
            return self._error(rec, 403, "Method doesn't allow unregistered callers. Please use an API key.")
        if fake.expected_api_key is not None and key != fake.expected_api_key:
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            return self._error(rec, 400, "API key not valid. Please pass a valid API key.", [info])
        delay = fake.latency_s + fake.latency_per_mb_s * len(rec.raw) / 1e6
        if delay:
            fake._wake.wait(delay)
        script = fake._take_script(rec.action)
        if script and script.delay_s:
            fake._wake.wait(script.delay_s)
        if script and script.status:
            details = rules.quota_details(rec.model or "", script.quota) if script.status == 429 else None
            return self._error(rec, script.status, script.message or rules.error_message(script.status), details)
        if fake._random_fail():
            return self._error(rec, 429, rules.error_message(429), rules.quota_details(rec.model or "", "minute"))
        if rec.model is None or rec.method != "POST" or not isinstance(rec.body, dict):
            return self._error(rec, 404, f"Not found: {rec.method} {rec.path}")
        if len(rec.raw) > fake.max_request_bytes:  # rules [FILES]
            return self._error(rec, 400, f"Request payload size exceeds the limit: {fake.max_request_bytes} bytes.")
        missing = rules.model_error(rec.model, rec.action or "", version)
        if missing:
            return self._error(rec, 404, missing)
        try:
            if rec.action in ("batchEmbedContents", "embedContent"):
                return self._json(rec, 200, fake._embed(rec.model, rec.action, rec.body))
            if rec.action in ("generateContent", "streamGenerateContent"):
                return self._generate(rec)
        except InvalidRequest as e:
            return self._error(rec, 400, str(e))
        return self._error(rec, 404, f"Method {rec.action} is not supported by the fake.")

    def _generate(self, rec: RecordedRequest) -> None:
        rules.check_generate_request(rec.body)
        contents = rec.body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified")
        with self.fake._lock:
            issued = set(self.fake._issued)
        rules.check_thought_signatures(contents, issued, allow_skip=self.fake.allow_skip_signature)
        reply = self.fake._take_reply(contents)
        parts = self.fake._sign(reply.parts, rec.model or "")
        meta = {"usageMetadata": rules.usage(contents, parts), "modelVersion": rec.model, "responseId": "fake"}
        if reply.blocked:
            payload = {"promptFeedback": {"blockReason": reply.blocked}, **meta}
            if rec.action == "generateContent":
                return self._json(rec, 200, payload)
            return self._sse(rec, [payload])
        if rec.action == "generateContent":
            return self._json(rec, 200, {"candidates": [rules.candidate(parts, reply.finish)], **meta})
        if rec.query.get("alt") != "sse":
            raise InvalidRequest("the fake streams only with ?alt=sse, as google-genai asks")
        # Text is streamed in a few pieces, other parts whole; the last event carries finish + usage.
        pieces: list[list[dict[str, Any]]] = []
        for p in parts:
            text = p.get("text")
            if isinstance(text, str) and len(text) > 12:
                cut = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
                pieces += [[{"text": text[a:b]}] for a, b in zip(cut, cut[1:], strict=False)]
            else:
                pieces.append([p])
        pieces = pieces or [[]]
        events = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            events.append({
                "candidates": [rules.candidate(piece, reply.finish if last else None)],
                **(meta if last else {"modelVersion": rec.model, "responseId": "fake"}),
            })
        self._sse(rec, events)

    def _sse(self, rec: RecordedRequest, events: list[dict[str, Any]]) -> None:
        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\r\n\r\n".encode())
            self.wfile.flush()

    def _error(self, rec: RecordedRequest, code: int, message: str, details: list[Any] | None = None) -> None:
        error: dict[str, Any] = {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}
        if details:
            error["details"] = details
        self._json(rec, code, {"error": error})

    def _json(self, rec: RecordedRequest, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        rec.status = code
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
