"""GeminiEmbedder against the fake Gemini server, through the genuine google-genai client."""

from __future__ import annotations

import base64
import logging
import math
import subprocess
import sys

import pytest
from pydantic import SecretStr

from rag.embedders.base import Embedder
from rag.embedders.gemini import GeminiEmbedder
from rag.errors import ProviderError
from rag.gemini_provider import GeminiProvider
from rag.settings import GeminiSettings
from rag.testing import FakeGeminiServer, embed_parts, media
from rag.types import EmbedItem, MediaPart

KEY = "AIzaFAKE-test-key-0123456789"
MP4 = media.mp4(1.0)
PDF = media.pdf(2)
PNG = media.image("PNG")


def build_client(settings: GeminiSettings, key: SecretStr):
    return GeminiProvider(settings, key).client()


def embedder(server: FakeGeminiServer, **overrides) -> GeminiEmbedder:
    opts = dict(base_url=server.url, timeout_s=5.0, retries=2, retry_initial_s=0.01, retry_max_s=0.05)
    return GeminiEmbedder(GeminiSettings(**{**opts, **overrides}), SecretStr(KEY))


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def is_unit(v: list[float]) -> bool:
    return math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-9)


def test_one_content_per_item_with_inline_media(fake_gemini):
    items = [
        EmbedItem(
            text="the discount factor", title="Lecture 3", media=(MediaPart(mime_type="video/mp4", data=MP4),)
        ),
        EmbedItem(media=(MediaPart(mime_type="application/pdf", data=PDF),)),
        EmbedItem(text="a figure", media=(MediaPart(mime_type="image/png", data=PNG),)),
    ]
    emb = embedder(fake_gemini)
    vectors = emb.embed_documents(items, label="lectures/rl.mp4")

    (call,) = fake_gemini.embed_requests
    assert call.path == "/v1beta/models/gemini-embedding-2:batchEmbedContents"
    assert call.api_key_present and call.headers["x-goog-api-key"] == KEY and KEY not in repr(call)
    reqs = call.body["requests"]
    assert len(reqs) == 3
    assert {r["model"] for r in reqs} == {"models/gemini-embedding-2"}
    assert {r["outputDimensionality"] for r in reqs} == {768}
    parts = [r["content"]["parts"] for r in reqs]
    assert parts[0][0] == {"text": "title: Lecture 3 | text: the discount factor"}
    assert parts[2][0] == {"text": "title: none | text: a figure"}
    blobs = [p["inline_data"] for ps in parts for p in ps if "inline_data" in p]
    assert [b["mime_type"] for b in blobs] == ["video/mp4", "application/pdf", "image/png"]
    assert [base64.urlsafe_b64decode(b["data"]) for b in blobs] == [MP4, PDF, PNG]
    assert len(parts[1]) == 1  # media-only item: no text part

    assert len(vectors) == 3 and all(len(v) == 768 and is_unit(v) for v in vectors)
    assert emb.provider == "gemini" and emb.model == "gemini-embedding-2" and emb.dimension == 768
    assert isinstance(emb, Embedder)


def test_batches_of_100_keep_order(fake_gemini):
    items = [EmbedItem(text=f"topic number {i} word{i}") for i in range(250)]
    vectors = embedder(fake_gemini).embed_documents(items)

    sizes = sorted(len(r.body["requests"]) for r in fake_gemini.embed_requests)
    assert sizes == [50, 100, 100]
    assert len(vectors) == 250
    for i in (0, 99, 100, 199, 200, 249):  # the fake is deterministic: recompute what item i should get
        expected = embed_parts([{"text": f"title: none | text: topic number {i} word{i}"}], 768)
        norm = math.sqrt(sum(x * x for x in expected))
        assert vectors[i] == pytest.approx([x / norm for x in expected], abs=1e-9)


def test_batches_run_concurrently(fake_gemini):
    fake_gemini.delay_next(0.4, times=3)
    items = [EmbedItem(text=f"t{i}") for i in range(30)]
    embedder(fake_gemini, batch_size=10, concurrency=3).embed_documents(items)
    assert fake_gemini.max_in_flight == 3  # all three batches were in flight at once
    assert len(fake_gemini.embed_requests) == 3


def test_media_batches_are_split_by_size(fake_gemini):
    clips = [media.mp4(1.0 + i / 2) for i in range(5)]
    items = [EmbedItem(media=(MediaPart(mime_type="video/mp4", data=c),)) for c in clips]
    cap_mb = 1.9 * max(len(c) for c in clips) / 1e6
    vectors = embedder(fake_gemini, concurrency=1, max_batch_mb=cap_mb).embed_documents(items)
    sent = [[len(base64.urlsafe_b64decode(req["content"]["parts"][0]["inline_data"]["data"]))
             for req in r.body["requests"]] for r in fake_gemini.embed_requests]
    assert len(sent) >= 3 and sum(map(len, sent)) == 5
    assert all(len(b) == 1 or sum(b) <= cap_mb * 1e6 for b in sent)
    assert len(vectors) == 5


def test_dimension_1536(fake_gemini):
    emb = embedder(fake_gemini, dimension=1536)
    (v,) = emb.embed_documents([EmbedItem(text="hello")])
    assert fake_gemini.embed_requests[0].body["requests"][0]["outputDimensionality"] == 1536
    assert len(v) == 1536 and is_unit(v)
    q = emb.embed_query("hello")
    assert len(q) == 1536 and is_unit(q)


def test_query_text_image_and_both(fake_gemini):
    emb = embedder(fake_gemini)
    emb.embed_query("what is a discount factor?")
    emb.embed_query(image=PNG, image_mime="image/png")
    emb.embed_query("this figure", image=PNG, image_mime="image/png")
    parts = [r.body["requests"][0]["content"]["parts"] for r in fake_gemini.embed_requests]
    assert all(len(r.body["requests"]) == 1 for r in fake_gemini.embed_requests)
    assert parts[0] == [{"text": "task: search result | query: what is a discount factor?"}]
    assert [p["inline_data"]["mime_type"] for p in parts[1]] == ["image/png"]
    assert parts[2][0] == {"text": "task: search result | query: this figure"}
    assert base64.urlsafe_b64decode(parts[2][1]["inline_data"]["data"]) == PNG
    with pytest.raises(ValueError):
        emb.embed_query()


def test_accepts_and_empty_items(fake_gemini):
    emb = embedder(fake_gemini)
    assert emb.accepts(EmbedItem(text="x"))
    assert emb.accepts(EmbedItem(media=(MediaPart(mime_type="image/png", data=PNG),)))
    assert not emb.accepts(EmbedItem(title="only a title", text="  "))
    assert emb.embed_documents([]) == []
    with pytest.raises(ValueError, match="no text or media"):
        emb.embed_documents([EmbedItem(text="ok"), EmbedItem()], label="a.pdf")
    assert fake_gemini.embed_requests == []


def test_similar_inputs_get_closer_vectors(fake_gemini):
    emb = embedder(fake_gemini)
    docs = emb.embed_documents(
        [
            EmbedItem(text="The discount factor gamma weighs future rewards in reinforcement learning."),
            EmbedItem(text="Gradient descent updates the weights using the learning rate."),
            EmbedItem(text="Photosynthesis converts light into chemical energy in plants."),
            EmbedItem(text="slide showing the figure", media=(MediaPart(mime_type="image/png", data=PNG),)),
            EmbedItem(text="slide showing the figure", media=(MediaPart(mime_type="video/mp4", data=MP4),)),
        ]
    )
    q = emb.embed_query("what does the discount factor do to future rewards?")
    scores = [cos(q, d) for d in docs[:3]]
    assert scores[0] > 0.3 and scores[0] > 2 * max(scores[1:])
    q_lr = emb.embed_query("how is the learning rate used by gradient descent")
    assert cos(q_lr, docs[1]) > max(cos(q_lr, docs[0]), cos(q_lr, docs[2]))
    q_img = emb.embed_query(image=PNG, image_mime="image/png")
    assert cos(q_img, docs[3]) > 0.5 > cos(q_img, docs[4])


def test_429_is_retried_then_succeeds(fake_gemini):
    fake_gemini.fail_next(429, times=1)
    (v,) = embedder(fake_gemini).embed_documents([EmbedItem(text="hello")], label="a.pdf")
    assert len(v) == 768
    assert [r.status for r in fake_gemini.embed_requests] == [429, 200]


def test_persistent_500_is_provider_error_naming_the_file(fake_gemini, caplog):
    caplog.set_level(logging.DEBUG)
    fake_gemini.fail_next(500, times=10)
    with pytest.raises(ProviderError) as info:
        embedder(fake_gemini, retries=2).embed_documents([EmbedItem(text="x")], label="slides/week3.pdf")
    msg = str(info.value)
    assert "slides/week3.pdf" in msg and "HTTP 500" in msg and "3 attempt(s)" in msg
    assert [r.status for r in fake_gemini.embed_requests] == [500, 500, 500]
    assert KEY not in msg and KEY not in caplog.text


def test_timeout_is_provider_error(fake_gemini, caplog):
    caplog.set_level(logging.DEBUG)
    fake_gemini.delay_next(3.0, times=5)
    emb = embedder(fake_gemini, timeout_s=0.5, retries=1)
    with pytest.raises(ProviderError) as info:
        emb.embed_documents([EmbedItem(text="slow")], label="lectures/long.mp4")
    msg = str(info.value)
    assert "lectures/long.mp4" in msg and "0.5 s" in msg and "gemini.timeout_s" in msg
    assert len(fake_gemini.embed_requests) == 2
    assert KEY not in msg and KEY not in caplog.text


def test_api_key_echoed_by_the_server_is_scrubbed(fake_gemini, caplog):
    caplog.set_level(logging.DEBUG)
    fake_gemini.fail_next(400, message=f"API key {KEY} not valid.")
    with pytest.raises(ProviderError) as info:
        embedder(fake_gemini).embed_query("q")
    msg = str(info.value)
    assert "HTTP 400" in msg and "***" in msg and "the query" in msg
    assert KEY not in msg and info.value.__cause__ is None and info.value.__suppress_context__
    assert KEY not in repr(embedder(fake_gemini))


def test_wrong_key_names_the_remedy(fake_gemini):
    fake_gemini.expected_api_key = "another-key"
    with pytest.raises(ProviderError, match="GEMINI_API_KEY"):
        embedder(fake_gemini).embed_documents([EmbedItem(text="x")], label="a.pdf")
    assert len(fake_gemini.embed_requests) == 1  # 400 is not retried


def test_injected_client_is_used(fake_gemini):
    settings = GeminiSettings(base_url=fake_gemini.url, dimension=3072)
    client = build_client(settings, SecretStr(KEY))
    emb = GeminiEmbedder(
        settings.model_copy(update={"base_url": "http://127.0.0.1:9"}), SecretStr(KEY), client=client
    )
    (v,) = emb.embed_documents([EmbedItem(text="x")])
    assert len(v) == 3072 and is_unit(v) and len(fake_gemini.embed_requests) == 1


def test_google_genai_is_imported_lazily():
    code = "import sys, rag.embedders.gemini; assert 'google.genai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the fake also serves the other real clients pointed at it -------------------------------


def test_llama_index_embedding_gets_one_vector_per_text(fake_gemini):
    from google.genai import types
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    li = GoogleGenAIEmbedding(
        model_name="gemini-embedding-2",
        api_key=KEY,
        retries=1,
        embedding_config=types.EmbedContentConfig(output_dimensionality=768),
        http_options=types.HttpOptions(base_url=fake_gemini.url, api_version="v1beta"),
    )
    vectors = li.get_text_embedding_batch(["alpha", "beta", "gamma"])
    assert len(vectors) == 3 and len(vectors[0]) == 768 and vectors[0] != vectors[1]
    assert len(fake_gemini.embed_requests[0].body["requests"]) == 3


def test_generate_content_text_tool_call_and_stream(fake_gemini):
    from google.genai import types

    client = build_client(GeminiSettings(base_url=fake_gemini.url), SecretStr(KEY))
    fake_gemini.reply_function_call("search_course", {"query": "discount"})
    fake_gemini.reply_text("The discount factor weighs future rewards [S1].")
    r1 = client.models.generate_content(
        model="gemini-3.5-flash",
        contents="what is gamma?",
        config=types.GenerateContentConfig(system_instruction="cite"),
    )
    assert r1.function_calls[0].name == "search_course" and r1.function_calls[0].args == {"query": "discount"}
    r2 = client.models.generate_content(model="gemini-2.5-flash-lite", contents="go on")
    assert r2.text == "The discount factor weighs future rewards [S1]."
    stream = client.models.generate_content_stream(model="gemini-3.5-flash", contents="hi there")
    chunks = [c.text for c in stream]
    assert len(chunks) > 1 and "".join(chunks) == "Fake Gemini reply to: hi there"
    first, _, last = fake_gemini.requests
    assert first.path == "/v1beta/models/gemini-3.5-flash:generateContent"
    assert first.body["systemInstruction"]["parts"] == [{"text": "cite"}]
    assert last.path.endswith(":streamGenerateContent") and last.query == {"alt": "sse"}


def test_query_image_of_another_type_goes_out_as_jpeg(fake_gemini):
    embedder(fake_gemini).embed_query("this slide", image=media.image("GIF"), image_mime="image/gif")
    parts = fake_gemini.embed_requests[-1].body["requests"][0]["content"]["parts"]
    assert [p["inline_data"]["mime_type"] for p in parts if "inline_data" in p] == ["image/jpeg"]


def test_a_key_echoed_inside_a_retried_error_is_not_chained(fake_gemini, caplog):
    # retries exhausted: the API's error (with the key in it) sits inside RetriesStopped, not on top
    caplog.set_level(logging.DEBUG)
    fake_gemini.fail_next(500, times=5, message=f"internal error for key {KEY}")
    with pytest.raises(ProviderError) as info:
        embedder(fake_gemini, retries=1).embed_query("q")
    assert KEY not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__
    assert KEY not in caplog.text
