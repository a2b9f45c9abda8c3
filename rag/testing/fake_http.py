"""The HTTP side of the fake Gemini server: parse and record each request, then answer it by the rules.

Split from fake_gemini.py (the server and its scripting API); see that module for the wire shapes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from rag.testing import fake_rules as rules
from rag.testing.fake_vectors import InvalidRequest

if TYPE_CHECKING:
    from rag.testing.fake_gemini import FakeGeminiServer

STATUS = {
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
PATH = re.compile(r"^/(?P<version>v1\w*)/models/(?P<model>[\w.\-]+):(?P<action>\w+)$")


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
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic(), for retry timing)
    raw: bytes = field(default=b"", repr=False)  # the body as received (for key-leak checks)

    def __repr__(self) -> str:
        shown = {k: ("***" if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return f"RecordedRequest({self.method} {self.path} -> {self.status}, headers={shown})"


class Handler(BaseHTTPRequestHandler):
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
        m = PATH.match(url.path)
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
            details = (rules.quota_details(rec.model or "", script.quota, script.retry_delay)
                       if script.status == 429 else None)
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
        error: dict[str, Any] = {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}
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
