"""Each rule of the strict fake Gemini server (rag/testing/fake_rules.py) has a test that could fail."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from pydantic import SecretStr

from rag.gemini_provider import GeminiProvider
from rag.settings import GeminiSettings
from rag.testing import FakeGeminiServer, media

KEY = "AIzaFAKE-rules-key-0123456789"
EMBED = "/v1beta/models/gemini-embedding-2:batchEmbedContents"


def post(server: FakeGeminiServer, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"x-goog-api-key": KEY, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def blob(mime: str, data: bytes) -> dict[str, Any]:
    return {"inline_data": {"mime_type": mime, "data": base64.urlsafe_b64encode(data).decode()}}


def embed(server: FakeGeminiServer, *parts: dict[str, Any], dim: int = 768, **extra: Any) -> tuple[int, dict]:
    req = {"model": "models/gemini-embedding-2", "content": {"parts": list(parts)}, "outputDimensionality": dim}
    return post(server, EMBED, {"requests": [{**req, **extra}]})


def message(answer: dict[str, Any]) -> str:
    return answer["error"]["message"]


# --- MIME allow-list ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mime, data", [
    ("image/webp", media.image("WEBP")), ("image/gif", media.image("GIF")), ("image/heic", b"\0\0\0\x18ftypheic"),
    ("audio/mpeg", media.audio(1.0)), ("video/webm", media.mp4(1.0)), ("text/plain", b"hello"),
])
def test_mime_types_outside_the_allow_list_are_400(fake_gemini, mime, data):
    status, answer = embed(fake_gemini, blob(mime, data))
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert message(answer) == f"Unsupported MIME type: {mime}"


@pytest.mark.parametrize("mime, data", [
    ("image/png", media.image("PNG")), ("image/jpeg", media.image("JPEG")), ("application/pdf", media.pdf(6)),
    ("video/mp4", media.mp4(1.0, audio=True)), ("audio/mp3", media.audio(1.0)), ("audio/wav", media.audio(1.0, "wav")),
])
def test_documented_mime_types_embed(fake_gemini, mime, data):
    status, answer = embed(fake_gemini, blob(mime, data))
    assert status == 200 and len(answer["embeddings"][0]["values"]) == 768


@pytest.mark.parametrize("mime, data", [
    ("image/png", media.image("JPEG")),  # bytes of another type
    ("image/jpeg", b"\xff\xd8\xff" + b"\0" * 50),  # a cut-off JPEG
    ("application/pdf", b"%PDF-1.7\nnot really"),
    ("video/mp4", b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 4),
    ("audio/mp3", media.audio(1.0, "wav")),  # WAV bytes labelled mp3
    ("audio/wav", b"RIFF....WAVEjunk"),
])
def test_undecodable_media_is_400_not_a_vector(fake_gemini, mime, data):
    status, answer = embed(fake_gemini, blob(mime, data))
    assert status == 400, answer
    assert "embeddings" not in answer


# --- media limits parsed from the bytes -----------------------------------------------------------------


def test_pdf_page_limit(fake_gemini):
    status, answer = embed(fake_gemini, blob("application/pdf", media.pdf(7)))
    assert status == 400 and "7 pages" in message(answer)


def test_one_pdf_one_video_and_six_images_per_content(fake_gemini):
    pdf, clip = blob("application/pdf", media.pdf(1)), blob("video/mp4", media.mp4(1.0))
    assert embed(fake_gemini, pdf, pdf)[0] == 400
    assert embed(fake_gemini, clip, clip)[0] == 400
    images = [blob("image/png", media.image("PNG", seed=i)) for i in range(7)]
    assert embed(fake_gemini, *images[:6])[0] == 200
    status, answer = embed(fake_gemini, *images)
    assert status == 400 and "At most 6 image" in message(answer)


def test_video_length_limits():
    long_clip = blob("video/mp4", media.mp4(125.0, fps=1))
    with_audio = blob("video/mp4", media.mp4(90.0, audio=True, fps=1))
    with FakeGeminiServer() as api:
        status, answer = embed(api, long_clip)
        assert status == 400 and "maximum is 120 s" in message(answer)
        assert embed(api, with_audio)[0] == 200  # the Developer API takes 120 s with audio
    with FakeGeminiServer(vertex=True) as vertex:
        status, answer = embed(vertex, with_audio)
        assert status == 400 and "maximum is 80 s" in message(answer)


def test_audio_length_limit(fake_gemini):
    status, answer = embed(fake_gemini, blob("audio/mp3", media.audio(85.0)))
    assert status == 400 and "maximum is 80 s" in message(answer)
    assert embed(fake_gemini, blob("audio/mp3", media.audio(75.0)))[0] == 200


def test_text_token_limit(fake_gemini):
    assert embed(fake_gemini, {"text": "word " * 4000})[0] == 200  # 20,000 chars
    status, answer = embed(fake_gemini, {"text": "word " * 5000})  # 25,000 chars > 8192 tokens at 3 chars/token
    assert status == 400 and "8192" in message(answer)


def test_request_size_cap():
    with FakeGeminiServer(max_request_bytes=50_000) as api:
        status, answer = embed(api, blob("audio/wav", media.audio(3.0, "wav")))  # ~48 KB raw, ~64 KB base64
        assert status == 400 and "payload size" in message(answer)


def test_batch_of_more_than_100_is_400(fake_gemini):
    one = {"model": "models/gemini-embedding-2", "content": {"parts": [{"text": "x"}]}}
    assert post(fake_gemini, EMBED, {"requests": [one] * 100})[0] == 200
    assert post(fake_gemini, EMBED, {"requests": [one] * 101})[0] == 400


# --- request fields, models, dimensions -----------------------------------------------------------------


@pytest.mark.parametrize("extra, where", [
    ({"task": "RETRIEVAL_QUERY"}, "requests[0]"), ({"output_dim": 768}, "requests[0]"),
])
def test_unknown_fields_are_400(fake_gemini, extra, where):
    status, answer = embed(fake_gemini, {"text": "x"}, **extra)
    name = next(iter(extra))
    assert status == 400 and message(answer) == (
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field.")
    status, answer = post(fake_gemini, "/v1beta/models/gemini-3.5-flash:generateContent",
                          {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                           "generationConfig": {"thinking_level": "low"}})
    assert status == 400 and "Unknown name \"thinking_level\" at 'generation_config'" in message(answer)


@pytest.mark.parametrize("model, action", [
    ("gemini-2.5-flash", "generateContent"),  # retired (deprecations page)
    ("gemini-2.0-flash", "generateContent"),
    ("gemini-embedding-2", "generateContent"),  # an embedding model cannot chat
    ("gemini-3.5-flash", "batchEmbedContents"),  # a chat model cannot embed
    ("text-embedding-004", "batchEmbedContents"),
])
def test_models_outside_the_allow_list_are_404(fake_gemini, model, action):
    body = ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]} if action == "generateContent" else
            {"requests": [{"model": f"models/{model}", "content": {"parts": [{"text": "x"}]}}]})
    status, answer = post(fake_gemini, f"/v1beta/models/{model}:{action}", body)
    assert status == 404 and answer["error"]["status"] == "NOT_FOUND"
    assert message(answer).startswith(f"models/{model} is not found for API version v1beta")


@pytest.mark.parametrize("dim, ok", [(64, False), (128, True), (3072, True), (4096, False)])
def test_output_dimensionality_range(fake_gemini, dim, ok):
    status, answer = embed(fake_gemini, {"text": "x"}, dim=dim)
    assert (status == 200) is ok
    if ok:
        assert len(answer["embeddings"][0]["values"]) == dim


def test_text_only_model_rejects_media(fake_gemini):
    body = {"requests": [{"model": "models/gemini-embedding-001",
                          "content": {"parts": [blob("image/png", media.image("PNG"))]}}]}
    status, answer = post(fake_gemini, "/v1beta/models/gemini-embedding-001:batchEmbedContents", body)
    assert status == 400 and "only supports text" in message(answer)


# --- 429s, latency ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("quota, quota_id, delay", [
    ("minute", "EmbedContentRequestsPerMinutePerProjectPerModel", "1s"),
    ("day", "EmbedContentRequestsPerDayPerProjectPerModel", "43200s"),
])
def test_429_carries_retry_info_and_quota_failure(fake_gemini, quota, quota_id, delay):
    fake_gemini.fail_next(429, quota=quota)
    status, answer = embed(fake_gemini, {"text": "x"})
    assert status == 429 and answer["error"]["status"] == "RESOURCE_EXHAUSTED"
    details = {d["@type"].rsplit(".", 1)[-1]: d for d in answer["error"]["details"]}
    assert details["RetryInfo"]["retryDelay"] == delay
    violation = details["QuotaFailure"]["violations"][0]
    assert violation["quotaId"] == quota_id and violation["quotaDimensions"]["model"] == "gemini-embedding-2"


def test_random_429s_are_seeded_and_near_the_rate():
    def pattern(seed: int) -> list[int]:
        with FakeGeminiServer() as api:
            api.random_429(0.2, seed=seed)
            return [embed(api, {"text": f"t{i}"})[0] for i in range(60)]

    first = pattern(7)
    assert first == pattern(7) and first != pattern(8)
    assert 4 <= first.count(429) <= 24 and set(first) == {200, 429}


def test_latency_is_added_to_every_call():
    from rag.embedders.gemini import GeminiEmbedder
    from rag.errors import ProviderError

    with FakeGeminiServer(latency_s=1.5) as api:
        settings = GeminiSettings(base_url=api.url, query_timeout_s=0.3, retries=0)
        with pytest.raises(ProviderError, match="gemini.query_timeout_s"):
            GeminiEmbedder(settings, SecretStr(KEY)).embed_query("slow")


# --- chat: reply kinds and thought signatures -----------------------------------------------------------


def chat_client(server: FakeGeminiServer):
    return GeminiProvider(GeminiSettings(base_url=server.url, retries=0), SecretStr(KEY)).client()


def test_gemini_3_function_calls_carry_a_signature_the_next_request_must_echo(fake_gemini):
    from google.genai import types

    client = chat_client(fake_gemini)
    fake_gemini.reply_function_call("search_course", {"query": "gamma"})
    first = client.models.generate_content(model="gemini-3.5-flash", contents="what is gamma?")
    part = first.candidates[0].content.parts[0]
    assert part.function_call.name == "search_course" and part.thought_signature
    answer = types.Content(role="user", parts=[types.Part.from_function_response(
        name="search_course", response={"result": "[S1] slides p. 3"})])
    unsigned = types.Content(role="model", parts=[types.Part(function_call=part.function_call)])
    from google.genai import errors

    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.5-flash", contents=[
            types.Content(role="user", parts=[types.Part.from_text(text="what is gamma?")]), unsigned, answer])
    assert info.value.code == 400 and "missing a thought_signature" in str(info.value)
    forged = types.Content(role="model", parts=[types.Part(function_call=part.function_call,
                                                           thought_signature=b"made-up")])
    with pytest.raises(errors.ClientError, match="not valid"):
        client.models.generate_content(model="gemini-3.5-flash", contents=[
            types.Content(role="user", parts=[types.Part.from_text(text="what is gamma?")]), forged, answer])
    fake_gemini.reply_text("Gamma discounts future rewards [S1].")
    ok = client.models.generate_content(model="gemini-3.5-flash", contents=[
        types.Content(role="user", parts=[types.Part.from_text(text="what is gamma?")]),
        first.candidates[0].content, answer])
    assert ok.text == "Gamma discounts future rewards [S1]."


def test_older_models_get_no_signature(fake_gemini):
    fake_gemini.reply_function_call("search_course", {"query": "gamma"})
    client = chat_client(fake_gemini)  # keep a reference: a dropped Client closes its connection pool
    r = client.models.generate_content(model="gemini-2.5-flash-lite", contents="q")
    assert r.candidates[0].content.parts[0].thought_signature is None


def test_blocked_empty_and_max_tokens_replies(fake_gemini):
    client = chat_client(fake_gemini)
    fake_gemini.reply_blocked()
    blocked = client.models.generate_content(model="gemini-3.5-flash", contents="q")
    assert blocked.prompt_feedback.block_reason.value == "SAFETY" and not blocked.candidates
    fake_gemini.reply_empty()
    empty = client.models.generate_content(model="gemini-3.5-flash", contents="q")
    assert empty.candidates[0].finish_reason.value == "SAFETY" and empty.candidates[0].content is None
    fake_gemini.reply_max_tokens("Gamma discounts fut")
    cut = client.models.generate_content(model="gemini-3.5-flash", contents="q")
    assert cut.candidates[0].finish_reason.value == "MAX_TOKENS" and cut.text == "Gamma discounts fut"


# --- headers ---------------------------------------------------------------------------------------------


def test_every_header_is_recorded_and_the_key_is_masked_when_printed(fake_gemini):
    client = chat_client(fake_gemini)
    client.models.generate_content(model="gemini-3.5-flash", contents="hi")
    (rec,) = fake_gemini.requests
    assert rec.headers["x-goog-api-key"] == KEY
    assert {"user-agent", "x-goog-api-client", "content-type"} <= set(rec.headers)
    assert KEY not in repr(rec) and KEY not in repr(fake_gemini.requests) and "***" in repr(rec)


def test_unscripted_reply_after_evidence_cites_with_a_grouped_label(fake_gemini):
    from google.genai import types

    client = chat_client(fake_gemini)
    evidence = types.Part.from_function_response(name="search_course",
                                                 response={"result": "[S1] deck p. 3\\n...\\n[S2] Lecture 2 · 0:15"})
    r = client.models.generate_content(model="gemini-2.5-flash-lite", contents=[
        types.Content(role="user", parts=[types.Part.from_text(text="what is gamma?")]),
        types.Content(role="user", parts=[evidence])])
    assert r.text == "The course material covers this [S1, S2]."
