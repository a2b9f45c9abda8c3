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
from http.server import ThreadingHTTPServer
from typing import Any

from rag.testing import fake_rules as rules
from rag.testing.fake_http import Handler, RecordedRequest
from rag.testing.fake_vectors import FULL_DIM, InvalidRequest, embed_parts


@dataclass
class _Script:
    status: int | None  # None: answer normally after the delay
    delay_s: float
    times: int
    action: str | None
    message: str | None
    quota: str = "minute"  # 429 details: "minute" or "day" quota
    skip: int = 0  # let this many matching requests through first
    retry_delay: str | None = None  # the 429's RetryInfo.retryDelay ("1.5s"); None: the quota's usual one


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
        handler = type("_BoundHandler", (Handler,), {"fake": self})
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
        quota: str = "minute", skip: int = 0, retry_delay: str | None = None,
    ) -> None:
        """After `skip` requests, the next `times` (of `action`, e.g. "batchEmbedContents", if given) get this
        error; a 429 says to retry after `retry_delay` (default: 1s for the minute quota, 43200s for the day's)."""
        with self._lock:
            self._scripts.append(_Script(status, 0.0, times, action, message, quota, skip, retry_delay))

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
        # Unscripted, after a tool answered with labelled evidence: cite it the way real models often do,
        # with one grouped label ("[S1, S2]"), so callers that only parse "[S1]" fail here as with the API.
        evidence = json.dumps([rules.get(p, "functionResponse") for c in contents for p in c.get("parts") or []
                               if rules.get(p, "functionResponse") is not None])
        labels = list(dict.fromkeys(re.findall(r"\[(S\d+)\]", evidence)))[:2]
        if labels:
            return _Reply([{"text": f"The course material covers this [{', '.join(labels)}]."}])
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


__all__ = ["FakeGeminiServer", "RecordedRequest"]
