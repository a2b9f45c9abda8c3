"""Retries wait as long as Gemini asks: a 429's RetryInfo.retryDelay is honoured by embedding and chat calls
(the genuine google-genai and LangChain clients against the fake server), capped by gemini.retry_after_max_s,
and the waits of one call stay within its timeout."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from rag.embedders.gemini import GeminiEmbedder
from rag.errors import ProviderError
from rag.gemini_provider import GeminiProvider
from rag.settings import GeminiSettings
from rag.types import EmbedItem
from tests.gemini_index import KEY

# Backoff alone would wait ~0.01-0.03 s: a gap of retryDelay can only come from honouring it.
FAST_BACKOFF = {"retry_initial_s": 0.01, "retry_max_s": 0.02}


def _settings(server, **over) -> GeminiSettings:
    return GeminiSettings(base_url=server.url, **{"retries": 3, **FAST_BACKOFF, **over})


def _gaps(requests) -> list[float]:
    return [b.at - a.at for a, b in zip(requests, requests[1:], strict=False)]


def test_embedding_retries_wait_the_server_retry_delay(fake_gemini):
    fake_gemini.fail_next(429, times=2, retry_delay="0.8s")
    emb = GeminiEmbedder(_settings(fake_gemini), SecretStr(KEY))
    assert len(emb.embed_documents([EmbedItem(text="x")])) == 1
    reqs = fake_gemini.embed_requests
    assert [r.status for r in reqs] == [429, 429, 200]
    assert all(g >= 0.8 for g in _gaps(reqs)), _gaps(reqs)
    fake_gemini.reset()
    fake_gemini.fail_next(429, times=1, retry_delay="0.5s")
    emb.embed_query("a query")  # query embeddings too
    assert [r.status for r in fake_gemini.embed_requests] == [429, 200] and _gaps(fake_gemini.embed_requests)[0] >= 0.5


@pytest.mark.parametrize("stream", [False, True])
def test_chat_retries_wait_the_server_retry_delay(fake_gemini, stream):
    chat = GeminiProvider(_settings(fake_gemini), SecretStr(KEY)).chat_model()
    action = "streamGenerateContent" if stream else "generateContent"
    fake_gemini.fail_next(429, times=2, retry_delay="0.7s", action=action)
    if stream:
        text = "".join(c.text for c in chat.stream("hello"))
    else:
        text = chat.invoke("hello").text
    assert text.startswith("Fake Gemini reply")
    reqs = [r for r in fake_gemini.requests if r.action == action]
    assert [r.status for r in reqs] == [429, 429, 200]
    assert all(g >= 0.7 for g in _gaps(reqs)), _gaps(reqs)


def test_a_wait_longer_than_the_call_timeout_fails_at_once_and_says_why(fake_gemini):
    # A per-minute quota that asks for 26 s, on a query whose timeout is 20 s: the user hears it now.
    fake_gemini.fail_next(429, times=5, retry_delay="26s")
    emb = GeminiEmbedder(_settings(fake_gemini), SecretStr(KEY))
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as info:
        emb.embed_query("a query")
    msg = str(info.value)
    assert time.monotonic() - t0 < 5 and len(fake_gemini.embed_requests) == 1
    assert "after 1 attempt(s)" in msg and "gemini.query_timeout_s (20 s)" in msg and "retry in 26s" in msg


def test_the_waits_of_one_call_add_up_to_at_most_its_timeout(fake_gemini):
    fake_gemini.fail_next(429, times=10, retry_delay="0.5s")
    emb = GeminiEmbedder(_settings(fake_gemini, retries=10, query_timeout_s=1.4), SecretStr(KEY))
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as info:
        emb.embed_query("a query")
    # Waits of 0.5-0.55 s: two fit in 1.4 s, a third would not.
    assert len(fake_gemini.embed_requests) == 3 and "after 3 attempt(s)" in str(info.value)
    assert "gemini.query_timeout_s (1.4 s)" in str(info.value)
    assert 1.0 <= time.monotonic() - t0 < 1.4 + 1.0


def test_the_sdk_makes_one_attempt_and_our_policy_owns_the_retries(fake_gemini):
    """google-genai's HttpRetryOptions cannot read retryDelay (tenacity's exponential wait); if it also retried,
    attempts would multiply. Server errors without RetryInfo still back off and retry `retries` times."""
    provider = GeminiProvider(_settings(fake_gemini, retries=2), SecretStr(KEY))
    assert provider.retry_options().attempts == 1
    fake_gemini.fail_next(503, times=5)
    with pytest.raises(ProviderError, match="HTTP 503 .*after 3 attempt"):
        GeminiEmbedder(provider.settings, SecretStr(KEY), gemini=provider).embed_documents([EmbedItem(text="x")])
    assert [r.status for r in fake_gemini.embed_requests] == [503, 503, 503]


@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")  # the SDK's own
@pytest.mark.parametrize("stream", [False, True])
def test_async_chat_retries_wait_the_server_retry_delay(fake_gemini, stream):
    import asyncio

    chat = GeminiProvider(_settings(fake_gemini), SecretStr(KEY)).chat_model()
    action = "streamGenerateContent" if stream else "generateContent"
    fake_gemini.fail_next(429, times=1, retry_delay="0.6s", action=action)

    async def go() -> str:
        if stream:
            return "".join([c.text async for c in chat.astream("hello")])
        return (await chat.ainvoke("hello")).text

    assert asyncio.run(go()).startswith("Fake Gemini reply")
    reqs = [r for r in fake_gemini.requests if r.action == action]
    assert [r.status for r in reqs] == [429, 200] and _gaps(reqs)[0] >= 0.6
