"""Settings, citations, lexical search, confidence: the pure pieces of rag."""

from __future__ import annotations

import pytest

from rag.citations import clock, display, evidence_labels, resolve
from rag.confidence import assess
from rag.errors import ConfigError
from rag.lexical import BM25, tokens
from rag.settings import fingerprint, load_settings
from rag.types import Chunk, Hit, PageSpan, SlideRef, TimeSpan


def _video_chunk(start=750.0, end=775.0, text="Backpropagation applies the chain rule.", slide=None):
    return Chunk(id=f"v{start}", source="lectures/lecture3.mp4", source_sha256="a" * 64, kind="video",
                 title="Lecture 3", locator=TimeSpan(start_s=start, end_s=end), text=text, slide=slide)


def _pdf_chunk(first=7, last=12, labels=()):
    texts = tuple(f"page {p} text about topic{p}" for p in range(first, last + 1))
    return Chunk(id=f"p{first}", source="slides/week3.pdf", source_sha256="b" * 64, kind="pdf", title="week3.pdf",
                 locator=PageSpan(first=first, last=last), text="\n".join(texts), page_texts=texts,
                 page_labels=labels)


def test_clock_and_display():
    assert clock(750) == "12:30"
    assert clock(3723) == "1:02:03"
    assert display(_video_chunk()) == "Lecture 3 · 12:30–12:55"
    slid = _video_chunk(slide=SlideRef(source="slides/week3.pdf", page=14, confidence=0.9))
    assert display(slid) == "Lecture 3 · 12:30–12:55 (slides p. 14)"
    assert display(_pdf_chunk(), PageSpan(first=8, last=8)) == "week3.pdf p. 8"
    assert display(_pdf_chunk()) == "week3.pdf pp. 7–12"
    labelled = _pdf_chunk(labels=("5", "6", "7", "8", "9", "10"))
    assert display(labelled, PageSpan(first=8, last=8)) == "week3.pdf p. 8 (printed 6)"


def test_resolve_drops_unknown_labels():
    hits = [Hit(chunk=_video_chunk(), score=1.0), Hit(chunk=_pdf_chunk(), score=0.5,
                                                    refined=PageSpan(first=9, last=9))]
    labelled = evidence_labels(hits)
    text, cites = resolve("It uses the chain rule [S1] and a table [S7]. See also [S2].", labelled)
    assert "[S7]" not in text and "[S1]" in text and "[S2]" in text
    assert [c.label for c in cites] == ["S1", "S2"]
    assert cites[1].display == "week3.pdf p. 9"
    assert cites[0].locator == TimeSpan(start_s=750.0, end_s=775.0)


def test_tokens_fold_unicode_and_stem():
    assert tokens("The discount factors!") == ["discount", "factor"]
    assert "θ" in tokens("posterior of 𝜃")  # math italic folds to plain theta
    assert tokens("ﬁltering") == ["filter"]  # ligature


def test_bm25_ranks_matching_doc_first():
    docs = ["gradient descent and the learning rate", "the Bellman equation and the discount factor",
            "k-means clustering assigns points to centroids"]
    bm = BM25(docs)
    assert bm.top("what does the discount factor do", 3)[0][0] == 1
    assert bm.top("photosynthesis", 3) == []


def test_settings_precedence(tmp_path, monkeypatch):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("index_dir: from_yaml\ngemini:\n  dimension: 1536\nretrieval:\n  k: 7\n")
    monkeypatch.setenv("LECTURELENS_CONFIG", str(cfg))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    s = load_settings()
    assert str(s.index_dir) == "from_yaml" and s.gemini.dimension == 1536 and s.retrieval.k == 7
    monkeypatch.setenv("LECTURELENS_RETRIEVAL__K", "9")
    monkeypatch.setenv("LECTURELENS_GEMINI_BASE_URL", "http://127.0.0.1:9999")
    s = load_settings()
    assert s.retrieval.k == 9 and s.gemini.base_url == "http://127.0.0.1:9999"
    assert s.gemini.dimension == 1536  # yaml value survives the env override of a sibling key
    assert str(load_settings(index_dir=tmp_path / "cli").index_dir).endswith("cli")  # CLI beats yaml
    assert s.resolved_provider() == "local"
    monkeypatch.setenv("GEMINI_API_KEY", "sekrit-key")
    s = load_settings()
    assert s.resolved_provider() == "gemini"
    assert "sekrit" not in repr(s.api_key()) and "sekrit" not in repr(s)


def test_settings_errors_are_actionable(tmp_path, monkeypatch):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("gemini:\n  dimension: 1000\n")
    monkeypatch.setenv("LECTURELENS_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="dimension"):
        load_settings()
    monkeypatch.setenv("LECTURELENS_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_settings()


def test_fingerprint_changes_with_space_and_chunking():
    base = fingerprint("local", "m", 384, {"min": 15})
    assert base == fingerprint("local", "m", 384, {"min": 15})
    assert base != fingerprint("gemini", "m", 384, {"min": 15})
    assert base != fingerprint("local", "m", 768, {"min": 15})
    assert base != fingerprint("local", "m", 384, {"min": 20})


def test_assess_declines_when_key_terms_missing():
    hit = Hit(chunk=_video_chunk(text="The discount factor gamma weights future rewards."), score=1.0,
              dense_rank=1, dense_score=0.5, lexical_rank=1, lexical_score=3.0)
    assert assess("what does the discount factor do", [hit]).answerable
    # Off-topic: dense search always returns something (here as close as the worst neighbouring topic
    # measured on the sample course), lexical search finds none of the words.
    nearest = Hit(chunk=hit.chunk, score=0.5, dense_rank=1, dense_score=0.38)
    off = assess("how does photosynthesis work in plants", [nearest])
    assert not off.answerable and "photosynthesi" in " ".join(off.missing)
    assert not assess("anything", []).answerable


def test_answerer_is_chosen_by_answer_provider_not_by_the_embedder(monkeypatch):
    assert load_settings().resolved_answerer() == "offline"
    assert load_settings(answer={"provider": "gemini"}).resolved_answerer() == "gemini"
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    assert load_settings().resolved_answerer() == "gemini"
    # a local index with a key at hand: auto answers with Gemini, `offline` keeps answers extractive
    local = load_settings(embedding={"provider": "local"})
    assert local.resolved_provider() == "local" and local.resolved_answerer() == "gemini"
    assert load_settings(embedding={"provider": "local"}, answer={"provider": "offline"}).resolved_answerer() \
        == "offline"
    with pytest.raises(ConfigError, match="answer"):
        load_settings(answer={"provider": "llama"})


def test_fake_embedder_is_a_registered_test_provider_not_a_built_in():
    from rag.embedders.base import sees
    from rag.embedders.registry import BUILTIN, get_provider, provider_tag, register_embedder, unregister_embedder
    from rag.factory import describe, make_embedder

    assert "fake" not in BUILTIN
    emb = make_embedder(load_settings(embedding={"provider": "fake"}))  # registered by tests/conftest.py
    assert emb.provider == "fake" and describe(emb).endswith("test fake)") and not sees(emb, "image")
    entry = get_provider("fake")
    unregister_embedder("fake")
    try:
        with pytest.raises(ConfigError, match="unknown embedding provider 'fake'"):
            make_embedder(load_settings(embedding={"provider": "fake"}))
        assert provider_tag("fake") == "fake"
    finally:
        register_embedder("fake", entry.build, tag=entry.tag)
    with pytest.raises(ValueError):
        register_embedder("local", entry.build, tag="x")


def test_capabilities_say_what_an_embedder_sees():
    from rag.embedders.base import Embedder, sees
    from rag.embedders.fake import FakeEmbedder
    from rag.embedders.local import LocalEmbedder

    for emb in (LocalEmbedder(), FakeEmbedder()):
        assert isinstance(emb, Embedder) and emb.local and sees(emb, "text")
        assert not any(sees(emb, m) for m in ("image", "video", "audio", "pdf"))
    from pydantic import SecretStr

    from rag.embedders.gemini import GeminiEmbedder
    from rag.settings import GeminiSettings

    gemini = GeminiEmbedder(GeminiSettings(base_url="http://127.0.0.1:9"), SecretStr("k"))
    assert isinstance(gemini, Embedder) and not gemini.local
    assert all(sees(gemini, m) for m in ("text", "image", "video", "audio", "pdf"))
