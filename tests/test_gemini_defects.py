"""Regression tests for the Gemini defects of issue 8, each against the strict fake server."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from agent.answer import DECLINE, ask
from rag.cli import _register_plugins, cli
from rag.embedders.gemini import GeminiEmbedder
from rag.errors import ConfigError, ItemRejectedError, ProviderError
from rag.factory import build
from rag.gemini_provider import GeminiProvider
from rag.settings import GeminiSettings, load_settings
from rag.testing import FakeGeminiServer, media
from rag.testing.fake_rules import CHAT_MODELS, RETIRED_MODELS, get
from rag.types import EmbedItem, MediaPart
from tests.gemini_index import KEY, tiny_index

_register_plugins()


@pytest.fixture
def tiny(fake_gemini, tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)  # no ./config.yaml of the developer's
    services = tiny_index(tmp_path / "idx", fake_gemini.url)
    fake_gemini.reset()
    return services


def cli_env(monkeypatch, server: FakeGeminiServer, **extra: str) -> None:
    monkeypatch.setenv("LECTURELENS_GEMINI_BASE_URL", server.url)
    monkeypatch.setenv("LECTURELENS_EMBEDDING__PROVIDER", "gemini")
    monkeypatch.setenv("LECTURELENS_CHUNKING__OCR", "false")
    monkeypatch.setenv("LECTURELENS_GEMINI__RETRIES", "1")
    monkeypatch.setenv("LECTURELENS_GEMINI__RETRY_INITIAL_S", "0.01")
    monkeypatch.setenv("LECTURELENS_GEMINI__RETRY_MAX_S", "0.05")
    for k, v in extra.items():
        monkeypatch.setenv(k, v)


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def chats(server: FakeGeminiServer):
    return [r for r in server.requests if r.action == "generateContent"]


# --- citations --------------------------------------------------------------------------------------------


def test_grouped_citations_from_the_model_are_resolved_and_renumbered(tiny, fake_gemini):
    fake_gemini.reply_function_call("search_course", {"query": "discount factor gamma"})
    fake_gemini.reply_text("Gamma weighs future rewards [S2; S1]. The value is a discounted return [S1-S2].")
    ans = ask(tiny, "What does the discount factor gamma do?")
    assert not ans.declined and ans.mode == "gemini"
    assert ans.text == "Gamma weighs future rewards [S1, S2]. The value is a discounted return [S2, S1]."
    assert [c.label for c in ans.citations] == ["S1", "S2"]
    assert all(c.source == "slides/deck.pdf" for c in ans.citations)


def test_an_uncited_answer_is_a_decline_in_the_cli(tiny, fake_gemini, monkeypatch):
    cli_env(monkeypatch, fake_gemini)
    fake_gemini.reply_function_call("search_course", {"query": "discount factor"})
    fake_gemini.reply_text("Gamma weighs future rewards, as everybody knows.")
    res = run_cli("ask", "What does the discount factor gamma do?", "--index", str(tiny.index_dir), "--json")
    data = json.loads(res.stdout)
    assert data["declined"] and data["answer"] == DECLINE and data["citations"] == []
    # the evidence was close enough to ask the model: the decline names where to look, apart from citations
    assert data["closest"] and all(c["source"] == "slides/deck.pdf" and "label" not in c for c in data["closest"])
    fake_gemini.reply_function_call("search_course", {"query": "discount factor"})
    fake_gemini.reply_text("Gamma weighs future rewards, as everybody knows.")
    res = run_cli("ask", "What does the discount factor gamma do?", "--index", str(tiny.index_dir))
    assert "everybody knows" not in res.stdout and DECLINE in res.stdout
    assert "Closest material (not an answer" in res.stdout and "\n  deck.pdf p. " in res.stdout


@pytest.mark.parametrize("reply", ["blocked", "empty"])
def test_blocked_or_empty_replies_decline(tiny, fake_gemini, reply):
    fake_gemini.reply_function_call("search_course", {"query": "discount factor"})
    getattr(fake_gemini, f"reply_{reply}")()
    ans = ask(tiny, "What does the discount factor gamma do?")
    assert ans.declined and ans.text == DECLINE


# --- one provider: chat gets api_version, timeout and retries on the wire ---------------------------------


def test_chat_request_shape_default_model_thinking_and_signatures(tiny, fake_gemini):
    fake_gemini.reply_function_call("search_course", {"query": "gamma"})
    fake_gemini.reply_text("Gamma weighs future rewards [S1].")
    ask(tiny, "What does the discount factor gamma do?")
    first, second = chats(fake_gemini)
    g = tiny.settings.gemini
    assert first.path == f"/v1beta/models/{g.chat_model}:generateContent"
    config = first.body["generationConfig"]
    assert "temperature" not in config  # Gemini 3: keep the model's default temperature
    assert str(get(config["thinkingConfig"], "thinkingLevel")).lower() == "low"
    assert first.headers["x-server-timeout"] == str(math.ceil(g.chat_timeout_s))
    # The fake 400s a Gemini 3 follow-up whose function call lacks the signature it issued: it got it back.
    sent = json.dumps(second.body)
    assert second.status == 200 and ("thoughtSignature" in sent or "thought_signature" in sent)


def test_default_chat_model_is_current_and_ga():
    model = GeminiSettings().chat_model
    assert model in CHAT_MODELS and model not in RETIRED_MODELS and "preview" not in model


@pytest.mark.parametrize("retries, failures, ok", [(3, 3, True), (2, 3, False)])
def test_chat_uses_the_configured_api_version_and_retries(fake_gemini, monkeypatch, retries, failures, ok):
    settings = GeminiSettings(base_url=fake_gemini.url, api_version="v1alpha", retries=retries,
                              retry_initial_s=0.01, retry_max_s=0.02, chat_timeout_s=7)
    model = GeminiProvider(settings, SecretStr(KEY)).chat_model()
    fake_gemini.fail_next(503, times=failures)
    if ok:
        assert model.invoke("hello").text.startswith("Fake Gemini reply")
    else:
        with pytest.raises(Exception):  # noqa: B017 - the raw LangChain error; translation is tested below
            model.invoke("hello")
    calls = chats(fake_gemini)
    assert len(calls) == min(failures + 1, retries + 1)  # the first call + exactly `retries` retries
    assert {c.path for c in calls} == {f"/v1alpha/models/{settings.chat_model}:generateContent"}
    assert {c.headers["x-server-timeout"] for c in calls} == {"7"}


@pytest.mark.parametrize("status, model, expect", [
    (429, None, "lower gemini.concurrency"),
    (500, None, "server problem"),
    (None, "gemini-2.5-flash", "set gemini.chat_model to a current model"),
])
def test_chat_errors_are_provider_errors_with_a_remedy_in_the_cli(tiny, fake_gemini, monkeypatch, status, model,
                                                                   expect):
    extra = {"LECTURELENS_GEMINI__CHAT_MODEL": model} if model else {}
    cli_env(monkeypatch, fake_gemini, **extra)
    if status:
        fake_gemini.fail_next(status, times=5, action="generateContent")
    res = run_cli("ask", "What does the discount factor gamma do?", "--index", str(tiny.index_dir), "--json")
    assert res.exit_code == 1
    err = json.loads(res.stdout)
    assert err["type"] == "ProviderError" and expect in err["error"] and "could not answer" in err["error"]
    assert KEY not in res.stdout
    if status:
        assert f"HTTP {status}" in err["error"] and "2 attempt(s)" in err["error"]


# --- timeouts, retries, cache, bisection ------------------------------------------------------------------


def _embedder(server: FakeGeminiServer, cache=None, **over) -> GeminiEmbedder:
    opts = {"base_url": server.url, "retries": 1, "retry_initial_s": 0.01, "retry_max_s": 0.02, **over}
    return GeminiEmbedder(GeminiSettings(**opts), SecretStr(KEY), cache=cache)


def test_query_and_ingest_timeouts_are_separate(fake_gemini):
    emb = _embedder(fake_gemini, retries=0, query_timeout_s=0.3, timeout_s=30)
    fake_gemini.delay_next(1.0)
    with pytest.raises(ProviderError, match="gemini.query_timeout_s"):
        emb.embed_query("slow query")
    fake_gemini.delay_next(1.0)
    assert len(emb.embed_documents([EmbedItem(text="slow but fine")])) == 1
    timeouts = [r.headers["x-server-timeout"] for r in fake_gemini.embed_requests]
    assert timeouts == ["1", "30"]


def test_rerun_after_a_failed_batch_embeds_only_what_is_missing(fake_gemini, tmp_path):
    from rag.vector_cache import VectorCache

    items = [EmbedItem(text=f"topic {i} word{i}") for i in range(30)]
    cache = VectorCache(tmp_path / "cache.sqlite")
    fake_gemini.fail_next(500, times=2, skip=1)  # batch 1 passes, batch 2 fails twice (= all attempts)
    with pytest.raises(ProviderError, match="HTTP 500"):
        _embedder(fake_gemini, cache, batch_size=10, concurrency=1).embed_documents(items, label="a.pdf")
    assert len(cache) == 10
    fake_gemini.reset()
    again = _embedder(fake_gemini, VectorCache(tmp_path / "cache.sqlite"), batch_size=10, concurrency=1)
    vectors = again.embed_documents(items, label="a.pdf")
    assert sum(len(r.body["requests"]) for r in fake_gemini.embed_requests) == 20  # not 30
    assert vectors == _embedder(fake_gemini, batch_size=10).embed_documents(items)  # same as a clean run


def test_a_400_is_bisected_to_the_rejected_item(fake_gemini, tmp_path):
    from rag.vector_cache import VectorCache

    items = [EmbedItem(text=f"page {i}") for i in range(8)]
    items[5] = EmbedItem(text="photo", media=(MediaPart(mime_type="image/webp", data=media.image("WEBP")),))
    cache = VectorCache(tmp_path / "cache.sqlite")
    with pytest.raises(ItemRejectedError) as info:
        _embedder(fake_gemini, cache, batch_size=8).embed_documents(items, label="slides/deck.pdf")
    assert info.value.index == 5 and "item 6 of slides/deck.pdf" in str(info.value)
    assert "Unsupported MIME type: image/webp" in str(info.value)
    assert len(cache) == 5  # the good halves were embedded and kept while bisecting


def test_ingest_names_the_page_gemini_rejected(fake_gemini, tmp_path, monkeypatch):
    from ingest.pipeline import ingest_paths
    from tests.conftest_course import COURSE

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    course = tmp_path / "course"
    (course / "slides").mkdir(parents=True)
    (course / "slides" / "ml_basics.pdf").write_bytes((COURSE / "slides" / "ml_basics.pdf").read_bytes())
    services = build(load_settings(index_dir=tmp_path / "idx", embedding={"provider": "gemini"},
                                   gemini={"base_url": fake_gemini.url, "retries": 0}, chunking={"ocr": False}),
                     create=True)
    fake_gemini.max_request_bytes = 20_000  # every page render alone is bigger: the first one is named
    report = ingest_paths([course], services, show_progress=False)
    (failure,) = report.failed
    assert failure["source"] == "slides/ml_basics.pdf"
    assert "Gemini rejected ml_basics.pdf p" in failure["error"] and "payload size" in failure["error"]


# --- media: audio MIME, segment limits, image queries -----------------------------------------------------


def test_audio_clips_go_out_as_audio_mp3(tmp_path):
    from ingest.clips import encode_audio_clips
    from rag.testing.fake_rules import check_media

    path = tmp_path / "talk.mp3"
    path.write_bytes(media.audio(6.0))
    clips = encode_audio_clips(path, [(0.0, 3.0), (3.0, 6.0)])
    assert [c.mime_type for c in clips] == ["audio/mp3", "audio/mp3"]
    assert all(check_media(c.mime_type, c.data) == "audio" for c in clips)


@pytest.mark.parametrize("provider, longest, ok", [("gemini", 100.0, False), ("gemini", 80.0, True),
                                                   ("local", 100.0, True)])
def test_max_segment_s_is_checked_against_gemini_limits(fake_gemini, tmp_path, monkeypatch, provider, longest, ok):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    settings = load_settings(index_dir=tmp_path / "idx", embedding={"provider": provider},
                             gemini={"base_url": fake_gemini.url}, chunking={"max_segment_s": longest, "ocr": False})
    if ok:
        build(settings)
    else:
        with pytest.raises(ConfigError, match=r"chunking.max_segment_s is 100 s.*audio clips of at most 80 s"):
            build(settings)


def test_webp_photo_search_sends_jpeg_only(tiny, fake_gemini, monkeypatch, tmp_path):
    cli_env(monkeypatch, fake_gemini)
    photo = tmp_path / "photo.webp"
    photo.write_bytes(media.image("WEBP", size=(320, 200)))
    res = run_cli("search", "--image", str(photo), "--index", str(tiny.index_dir), "--json")
    assert res.exit_code == 0, res.output
    mimes = [p["inline_data"]["mime_type"] for r in fake_gemini.embed_requests
             for q in r.body["requests"] for p in q["content"]["parts"] if "inline_data" in p]
    assert mimes == ["image/jpeg"]


def test_the_key_travels_only_in_its_header(tiny, fake_gemini, monkeypatch):
    cli_env(monkeypatch, fake_gemini)
    fake_gemini.reply_function_call("search_course", {"query": "gamma"})
    fake_gemini.reply_text("Gamma weighs future rewards [S1].")
    res = run_cli("ask", "What does gamma do?", "--index", str(tiny.index_dir), "--json")
    assert res.exit_code == 0 and KEY not in res.output
    assert len(fake_gemini.requests) >= 3
    for r in fake_gemini.requests:
        assert r.headers["x-goog-api-key"] == KEY
        others = {k: v for k, v in r.headers.items() if k != "x-goog-api-key"}
        assert KEY not in json.dumps(others) and KEY.encode() not in r.raw and KEY not in r.path + json.dumps(r.query)


def test_ask_with_webp_bytes_sends_one_jpeg(tiny, fake_gemini):
    fake_gemini.reply_function_call("search_course", {"query": "slide"})
    fake_gemini.reply_text("It is the slide on gamma [S1].")
    ask(tiny, "which slide is this?", media.image("WEBP", size=(300, 200)), image_mime="image/webp")
    mimes = {p["inline_data"]["mime_type"] for r in fake_gemini.embed_requests
             for q in r.body["requests"] for p in q["content"]["parts"] if "inline_data" in p}
    assert mimes == {"image/jpeg"}


@pytest.mark.parametrize("quota, expect, attempts", [
    ("minute", "Rate limit EmbedContentRequestsPerMinutePerProjectPerModel reached (Gemini says retry in 1s)", 2),
    # a used-up daily quota asks for 12 hours: not waited for, not retried
    ("day", "The daily quota EmbedContentRequestsPerDayPerProjectPerModel is used up", 1),
])
def test_429_remedy_reads_the_quota_details(fake_gemini, quota, expect, attempts):
    fake_gemini.fail_next(429, times=5, quota=quota)
    with pytest.raises(ProviderError) as info:
        _embedder(fake_gemini).embed_documents([EmbedItem(text="x")], label="a.pdf")
    assert expect in str(info.value) and "HTTP 429" in str(info.value)
    assert f"{attempts} attempt(s)" in str(info.value) and len(fake_gemini.embed_requests) == attempts
    if quota == "day":
        assert "Gemini asked to wait 43200 s, longer than gemini.retry_after_max_s (60 s)" in str(info.value)


def test_chat_errors_reach_the_ui_as_the_remedy(tiny, fake_gemini):
    from agent.app import respond

    # a persistent 429 on the chat model (the chat UI streams its answers: streamGenerateContent)
    fake_gemini.fail_next(429, times=5, action="streamGenerateContent")
    outs = list(respond(tiny, {"text": "What does the discount factor gamma do?", "files": []}, None, None, None,
                        pause_s=0))
    shown = outs[-1][0][-1]["content"]
    assert "HTTP 429" in shown and "lower gemini.concurrency" in shown and "could not answer" in shown
    assert "Traceback" not in shown and KEY not in shown


def test_one_provider_gives_embedding_and_chat_the_same_version_and_retries(fake_gemini):
    settings = GeminiSettings(base_url=fake_gemini.url, api_version="v1alpha", retries=2,
                              retry_initial_s=0.01, retry_max_s=0.02)
    provider = GeminiProvider(settings, SecretStr(KEY))
    emb = GeminiEmbedder(settings, SecretStr(KEY), gemini=provider)
    chat = provider.chat_model()
    fake_gemini.fail_next(503, times=2)
    emb.embed_documents([EmbedItem(text="x")])
    fake_gemini.fail_next(503, times=2)
    chat.invoke("hello")
    by_action = {}
    for r in fake_gemini.requests:
        by_action.setdefault(r.action, []).append((r.path.split("/")[1], r.status))
    assert by_action["batchEmbedContents"] == [("v1alpha", 503), ("v1alpha", 503), ("v1alpha", 200)]
    assert by_action["generateContent"] == [("v1alpha", 503), ("v1alpha", 503), ("v1alpha", 200)]
    assert emb._client is provider.client()  # one google-genai client for every embedding call


def test_an_ingest_rerun_after_a_failure_pays_only_for_the_missing_items(fake_gemini, tmp_path, monkeypatch):
    from ingest.pipeline import ingest_paths
    from tests.conftest_course import COURSE

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    course = tmp_path / "course"
    (course / "slides").mkdir(parents=True)
    (course / "slides" / "ml_basics.pdf").write_bytes((COURSE / "slides" / "ml_basics.pdf").read_bytes())
    settings = load_settings(index_dir=tmp_path / "idx", embedding={"provider": "gemini"},
                             gemini={"base_url": fake_gemini.url, "retries": 0, "batch_size": 4, "concurrency": 1},
                             chunking={"ocr": False})
    fake_gemini.fail_next(503, times=1, skip=2)  # the third embedding call fails: the file fails
    first = ingest_paths([course], build(settings, create=True), show_progress=False)
    assert [f["source"] for f in first.failed] == ["slides/ml_basics.pdf"] and "HTTP 503" in first.failed[0]["error"]
    paid_first = sum(len(r.body["requests"]) for r in fake_gemini.embed_requests if r.status == 200)
    assert paid_first == 8
    fake_gemini.reset()
    again = ingest_paths([course], build(settings), show_progress=False)
    assert again.failed == [] and again.ingested == ["slides/ml_basics.pdf"]
    paid_again = sum(len(r.body["requests"]) for r in fake_gemini.embed_requests)
    assert paid_again == again.vectors - paid_first  # only what the failed run had not embedded
