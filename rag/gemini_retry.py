"""Retries of Gemini calls that wait as long as the server asks.

Why our own loop and not the SDK's `HttpRetryOptions`: google-genai 2.34 turns those options into tenacity's
`wait_exponential_jitter(initial, max, exp_base, jitter)` (`retry_args` in google/genai/_api_client.py), which
never reads the error, so a 429 whose `google.rpc.RetryInfo` says `retryDelay: "26s"` was retried after ~1, 2
and 4 s, inside the same quota minute, and failed again. The SDK is now told to make one attempt per call
(`HttpRetryOptions(attempts=1)`) and `RetryPolicy.run` owns every retry: on 408/429/5xx and on connect errors
and timeouts (the SDK's own retryable set), it waits the server's `retryDelay` when the error carries one (up
to `gemini.retry_after_max_s`; a longer one, such as a used-up daily quota, is not waited for) and otherwise
backs off exponentially between `retry_initial_s` and `retry_max_s`; the waits of one call add up to at most
the call's timeout (`gemini.timeout_s` for ingest, `query_timeout_s`, `chat_timeout_s`).
"""

from __future__ import annotations

import asyncio
import importlib
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]


class RetriesStopped(Exception):
    """A retryable Gemini failure that was not (or no longer) retried; the failure is its __cause__."""

    def __init__(self, attempts: int, why: str = ""):
        super().__init__(f"gave up after {attempts} attempt(s){': ' + why if why else ''}")
        self.attempts = attempts
        self.why = why


def retry_info(details: Any) -> tuple[str, str]:
    """(QuotaFailure quotaId, RetryInfo retryDelay) of an error body such as a 429's; '' when absent."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    items = error.get("details") if isinstance(error, dict) else None
    quota_id, delay = "", ""
    for d in items if isinstance(items, list) else []:
        kind = str(d.get("@type", "")) if isinstance(d, dict) else ""
        if kind.endswith("QuotaFailure"):
            quota_id = next((str(v.get("quotaId", "")) for v in d.get("violations") or []), "")
        elif kind.endswith("RetryInfo"):
            delay = str(d.get("retryDelay", ""))
    return quota_id, delay


def delay_seconds(delay: str) -> float | None:
    """Seconds of a protobuf Duration in JSON ("26s", "0.5s"); None when it is not one."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)s\s*", delay)
    return float(m.group(1)) if m else None


@dataclass(frozen=True)
class RetryPolicy:
    """How one kind of Gemini call is retried (see the module docstring)."""

    retries: int  # attempts after the first
    initial_s: float  # first backoff delay
    max_s: float  # longest backoff delay
    after_max_s: float  # longest server-asked wait (RetryInfo) honoured
    budget_s: float  # the waits of one call add up to at most this
    budget_key: str  # the setting that sets budget_s (named when it stops the retries)

    def next_wait(self, e: BaseException, attempt: int, waited: float) -> tuple[float | None, str]:
        """(seconds to wait before the next attempt, or None to stop; why it stops early) after attempt number
        `attempt` failed with the retryable error `e`, `waited` seconds having been waited already."""
        from google.genai import errors

        if attempt > self.retries:
            return None, ""
        api = find_cause(e, (errors.APIError,))
        asked = delay_seconds(retry_info(api.details)[1]) if api is not None else None
        if asked is not None:
            if asked > self.after_max_s:
                return None, (f"Gemini asked to wait {asked:g} s, longer than gemini.retry_after_max_s "
                              f"({self.after_max_s:g} s)")
            # A little jitter on top, so concurrent calls that hit the same limit do not all come back at once.
            wait, jittered = asked, asked + random.uniform(0, 0.1 * asked)
        else:
            wait = min(self.max_s, self.initial_s * 2 ** (attempt - 1))
            jittered = min(self.max_s, wait + random.uniform(0, self.initial_s))
        if waited + wait > self.budget_s:
            return None, f"waiting {wait:.3g} s more would pass {self.budget_key} ({self.budget_s:g} s)"
        return min(jittered, self.budget_s - waited), ""  # the jitter never carries a wait past the budget

    def run(self, call: Callable[[], T]) -> T:
        """call() with retries; a retryable failure that is given up raises RetriesStopped from it."""
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            try:
                return call()
            except Exception as e:
                if not retryable(e):
                    raise
                wait = self._wait_or_stop(e, attempt, waited)
            time.sleep(wait)
            waited += wait

    async def arun(self, call: Callable[[], Awaitable[T]]) -> T:
        """The async twin of run()."""
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            try:
                return await call()
            except Exception as e:
                if not retryable(e):
                    raise
                wait = self._wait_or_stop(e, attempt, waited)
            await asyncio.sleep(wait)
            waited += wait

    def _wait_or_stop(self, e: Exception, attempt: int, waited: float) -> float:
        wait, why = self.next_wait(e, attempt, waited)
        if wait is None:
            raise RetriesStopped(attempt, why) from e
        return wait


def retryable(e: BaseException) -> bool:
    """A failure another attempt may cure: HTTP 408/429/5xx, a connect error or a timeout (also when wrapped,
    as LangChain wraps the SDK's errors)."""
    from google.genai import errors

    api = find_cause(e, (errors.APIError,))
    if api is not None:
        return api.code in RETRY_STATUS_CODES
    return find_cause(e, _transient_errors()) is not None


def find_cause(e: BaseException | None, types_: tuple[type[E], ...]) -> E | None:
    """The first exception of these types in e's cause/context chain (e itself first)."""
    seen = set()
    while e is not None and id(e) not in seen and types_:
        if isinstance(e, types_):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _transient_errors() -> tuple[type[BaseException], ...]:
    # The SDK's retryable transport errors (_HTTPX_TRANSIENT_EXC): connect errors and timeouts, httpx or httpx2.
    found: list[type[BaseException]] = []
    for mod in ("httpx", "httpx2"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        found += [c for c in (getattr(m, "TimeoutException", None), getattr(m, "ConnectError", None)) if c]
    try:  # the async client's transport (the SDK retried these too: _AIOHTTP_TRANSIENT_EXC)
        import aiohttp

        found += [aiohttp.ClientConnectorError, aiohttp.ClientOSError, aiohttp.ServerDisconnectedError]
    except ImportError:
        pass
    return tuple(found)
