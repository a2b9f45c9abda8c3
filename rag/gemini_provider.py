"""One Gemini provider: key, endpoint, API version, timeouts and retry policy in one object that builds
every Gemini client LectureLens uses (the google-genai Client for embeddings, the LangChain chat model for
answers) and translates every Gemini failure into a ProviderError with a remedy.

Why per-request HttpOptions for chat: ChatGoogleGenerativeAI (langchain-google-genai 4.x) always builds its
own `genai.Client` from `base_url`/`api_version`/key, and on every request it sets
`HttpRetryOptions(attempts=max_retries)` with the SDK's default delays, which replaces the client's retry
options wholesale (google/genai/_api_client.py `patch_http_options`). So `max_retries=5` meant 5 attempts
(one retry fewer than configured) and other backoff bounds. We pass our full options per request instead; a
per-request `http_options` wins over the derived ones (`_merge_http_options` in its chat_models.py).
Those options now say one attempt: retries are ours (rag/gemini_retry.py), so they can wait as long as a 429's
RetryInfo asks, which the SDK's HttpRetryOptions cannot.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from pydantic import SecretStr

from rag.errors import ProviderError
from rag.gemini_retry import RETRY_STATUS_CODES, RetriesStopped, RetryPolicy, find_cause, retry_info
from rag.settings import GeminiSettings

Purpose = Literal["ingest", "query", "chat"]

_TIMEOUT_KEY = {"ingest": "gemini.timeout_s", "query": "gemini.query_timeout_s", "chat": "gemini.chat_timeout_s"}
_REMEDIES = {
    400: "Gemini rejected the request; check the item against the model limits (text 8192 tokens, "
    "<= 6 PNG/JPEG images, one video <= 120 s, audio <= 80 s, one PDF <= 6 pages).",
    401: "Check GEMINI_API_KEY / GOOGLE_API_KEY.",
    403: "Check GEMINI_API_KEY / GOOGLE_API_KEY and that the key may use this model.",
    429: "Quota or rate limit reached; lower gemini.concurrency or wait, then re-run (ingest resumes).",
}
_SERVER_REMEDY = "Gemini had a server problem; try again later (ingest resumes where it stopped)."


class GeminiProvider:
    """Owns the Gemini key and HTTP policy; builds the clients; turns failures into ProviderError."""

    def __init__(self, settings: GeminiSettings, api_key: SecretStr):
        self.settings = settings
        self._secret = api_key.get_secret_value()
        self._client: Any = None

    def __repr__(self) -> str:  # never show the key
        return f"GeminiProvider(base_url={self.settings.base_url!r}, api_version={self.settings.api_version!r})"

    # --- HTTP policy ---

    def timeout_s(self, purpose: Purpose) -> float:
        """The per-request timeout for ingest embedding, query embedding or chat calls."""
        s = self.settings
        return {"ingest": s.timeout_s, "query": s.query_timeout_s, "chat": s.chat_timeout_s}[purpose]

    def retry_options(self) -> Any:
        """`HttpRetryOptions` for every client: one attempt, since `retry()` owns the retries."""
        from google.genai import types

        return types.HttpRetryOptions(attempts=1)

    def retry(self, purpose: Purpose) -> RetryPolicy:
        """The retry policy of ingest embedding, query embedding or chat calls."""
        s = self.settings
        return RetryPolicy(retries=s.retries, initial_s=s.retry_initial_s, max_s=s.retry_max_s,
                           after_max_s=s.retry_after_max_s, budget_s=self.timeout_s(purpose),
                           budget_key=_TIMEOUT_KEY[purpose])

    def request_options(self, purpose: Purpose) -> Any:
        """Per-request `HttpOptions` (timeout for this purpose + the retry policy)."""
        from google.genai import types

        ms = max(1, int(self.timeout_s(purpose) * 1000))  # the SDK takes milliseconds
        return types.HttpOptions(timeout=ms, retry_options=self.retry_options())

    def http_options(self, purpose: Purpose = "ingest") -> Any:
        """Client-level `HttpOptions`: endpoint, pinned API version, timeout and retries."""
        opts = self.request_options(purpose)
        opts.base_url = self.settings.base_url
        opts.api_version = self.settings.api_version
        return opts

    # --- clients ---

    def client(self) -> Any:
        """The `google.genai.Client` (Developer API), built once."""
        if self._client is None:
            from google import genai

            self._client = genai.Client(api_key=self._secret, vertexai=False, http_options=self.http_options())
        return self._client

    def chat_model(self, **overrides: Any) -> Any:
        """`ChatGoogleGenerativeAI` on the same endpoint, version, key, timeout and retry policy."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "model": s.chat_model, "google_api_key": SecretStr(self._secret), "base_url": s.base_url,
            # One attempt: our retry policy (set below) retries the whole call.
            "api_version": s.api_version, "timeout": self.timeout_s("chat"), "max_retries": 1,
        }
        if s.temperature is not None:  # unset: the model's default (Gemini 3 advises against lowering it)
            kwargs["temperature"] = s.temperature
        if s.thinking_level is not None and is_gemini_3(s.chat_model):
            kwargs["thinking_level"] = s.thinking_level
        if s.thinking_budget is not None and not is_gemini_3(s.chat_model):
            kwargs["thinking_budget"] = s.thinking_budget
        model = _chat_class()(**{**kwargs, **overrides})
        model._request_options = self.request_options("chat")
        model._retry = self.retry("chat")
        return model

    # --- errors ---

    def scrub(self, text: str) -> str:
        """The text with the API key masked."""
        return text.replace(self._secret, "***") if self._secret else text

    def error(self, e: BaseException, what: str, purpose: Purpose = "ingest",
              model: str | None = None) -> ProviderError | None:
        """ProviderError for API/transport failures (after the SDK's retries), found anywhere in the
        exception's cause chain (LangChain wraps the SDK's errors); None for anything else."""
        from google.genai import errors

        stopped = find_cause(e, (RetriesStopped,))
        tries = f"{stopped.attempts if stopped else self.settings.retries + 1} attempt(s)"
        why = f" ({stopped.why})" if stopped and stopped.why else ""
        api: Any = find_cause(e, (errors.APIError,))
        transport = find_cause(e, _transport_errors())
        if api is not None:
            code = api.code or 0
            if "API_KEY_INVALID" in str(api.details):  # Gemini answers a bad key with a plain 400
                remedy = _REMEDIES[401]
            elif code == 429 and _quota(api.details):
                remedy = _quota(api.details)
            elif code == 404:
                key = "gemini.chat_model" if purpose == "chat" else "gemini.embedding_model"
                remedy = (f"The model {model or ''} is not available (retired or misspelt): set {key} to a current "
                          "model (see Gemini's deprecations page) and check gemini.api_version.")
            else:
                remedy = _REMEDIES.get(code, _SERVER_REMEDY)
            after = f" after {tries}{why}" if code in RETRY_STATUS_CODES else ""
            detail = (api.message or "").strip().rstrip(".")
            msg = f"{what}: HTTP {code} {api.status or ''}{after}: {detail}. {remedy}"
        elif transport is not None:
            if "Timeout" in type(transport).__name__:
                problem = f"no answer within {self.timeout_s(purpose):g} s"
                remedy = f"Raise {_TIMEOUT_KEY[purpose]} or make the items smaller, then try again."
            else:
                problem = f"could not reach {self.settings.base_url or 'the Gemini API'} ({type(transport).__name__})"
                remedy = "Check the network and gemini.base_url, then try again."
            msg = f"{what}: {problem} after {tries}{why}. {remedy}"
        else:
            return None
        return ProviderError(self.scrub(msg))

    def raise_from(self, e: BaseException, what: str, purpose: Purpose = "ingest",
                   model: str | None = None) -> None:
        """Raise the ProviderError for `e` (without the original when it would show the key), or re-raise."""
        err = self.error(e, what, purpose, model)
        if err is None:
            raise e
        raise err from (None if self._secret and self._shows_secret(e) else e)

    def _shows_secret(self, e: BaseException | None) -> bool:
        """The key anywhere in the error or the errors it wraps (a RetriesStopped carries the API's error)."""
        seen: set[int] = set()
        while e is not None and id(e) not in seen:
            if self._secret in repr(e) + str(e):
                return True
            seen.add(id(e))
            e = e.__cause__ or e.__context__
        return False


def _quota(details: Any) -> str:
    """The remedy a 429's QuotaFailure/RetryInfo details call for ('' when it carries none)."""
    quota_id, delay = retry_info(details)
    if not quota_id:
        return ""
    if "PerDay" in quota_id:
        wait = delay or "a day"
        return (f"The daily quota {quota_id} is used up: wait until it resets (Gemini says retry in {wait}) or "
                "raise the project's quota tier; a re-run then keeps everything already embedded.")
    return (f"Rate limit {quota_id} reached (Gemini says retry in {delay or 'a minute'}): lower gemini.concurrency "
            "or raise gemini.retries / gemini.retry_max_s, then re-run (ingest resumes).")


def is_gemini_3(model: str) -> bool:
    """Gemini 3 or later (thinking_level instead of thinking_budget; keep the default temperature)."""
    import re

    return any(int(m) >= 3 for m in re.findall(r"gemini-(\d+)", model.lower()))


def _transport_errors() -> tuple[type[BaseException], ...]:
    # The SDK uses httpx, or httpx2 when GOOGLE_GENAI_HTTP_CLIENT=httpx2; both raise their own types.
    found: list[type[BaseException]] = []
    for mod in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(mod).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


_CHAT_CLASS: Any = None


def _chat_class() -> Any:
    """ChatGoogleGenerativeAI that sends our HttpOptions with every request (see the module docstring)."""
    global _CHAT_CLASS
    if _CHAT_CLASS is None:
        from langchain_google_genai import ChatGoogleGenerativeAI
        from pydantic import PrivateAttr

        class LectureLensChat(ChatGoogleGenerativeAI):
            _request_options: Any = PrivateAttr(default=None)
            _retry: RetryPolicy | None = PrivateAttr(default=None)

            def _prepare_request(self, messages: Any, **kwargs: Any) -> Any:
                if self._request_options is not None:
                    kwargs.setdefault("http_options", self._request_options)
                return super()._prepare_request(messages, **kwargs)

            # Each call is retried by our policy (the SDK makes one attempt). A stream is retried until its first
            # chunk arrives: once text has been handed on, a failure is reported, not replayed.
            def _generate(self, *args: Any, **kwargs: Any) -> Any:
                call = lambda: super(LectureLensChat, self)._generate(*args, **kwargs)  # noqa: E731
                return self._retry.run(call) if self._retry else call()

            async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
                call = lambda: super(LectureLensChat, self)._agenerate(*args, **kwargs)  # noqa: E731
                return await (self._retry.arun(call) if self._retry else call())

            def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
                def first() -> tuple[Any, Iterator[Any]]:
                    chunks = super(LectureLensChat, self)._stream(*args, **kwargs)
                    return next(chunks, None), chunks

                head, rest = self._retry.run(first) if self._retry else first()
                if head is not None:
                    yield head
                    yield from rest

            async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                async def first() -> tuple[Any, AsyncIterator[Any]]:
                    chunks = super(LectureLensChat, self)._astream(*args, **kwargs)
                    return await anext(chunks, None), chunks

                head, rest = await (self._retry.arun(first) if self._retry else first())
                if head is not None:
                    yield head
                    async for chunk in rest:
                        yield chunk

        _CHAT_CLASS = LectureLensChat
    return _CHAT_CLASS
