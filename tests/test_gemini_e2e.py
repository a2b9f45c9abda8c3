"""Gemini mode end to end against the fake server: multimodal ingest, native image query, the LangChain
agent over ChatGoogleGenerativeAI calling the course search tool, citations resolved by code."""

from __future__ import annotations

import json
import shutil

import pytest

from agent.answer import ask
from ingest.pipeline import ingest_paths
from rag.contracts import answer_json
from rag.factory import build
from rag.retrieval import Query
from rag.settings import load_settings
from tests.conftest_course import COURSE

pytestmark = pytest.mark.slow


@pytest.fixture
def gemini_services(fake_gemini, tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-123")
    course = tmp_path / "course"
    (course / "slides").mkdir(parents=True)
    (course / "lectures").mkdir()
    shutil.copy(COURSE / "slides" / "ml_basics.pdf", course / "slides")
    for f in ("lecture2_reinforcement.mp4", "lecture2_reinforcement.srt"):
        shutil.copy(COURSE / "lectures" / f, course / "lectures")
    settings = load_settings(index_dir=tmp_path / "idx", embedding={"provider": "auto"},
                             gemini={"base_url": fake_gemini.url, "retries": 1, "timeout_s": 20},
                             chunking={"ocr": False})
    services = build(settings, create=True)
    report = ingest_paths([course], services, show_progress=False)
    assert report.failed == [], report.failed
    return services


def _inline_mimes(server) -> list[str]:
    mimes = []
    for r in server.embed_requests:
        for req in r.body["requests"]:
            for part in req["content"]["parts"]:
                inline = part.get("inline_data") or part.get("inlineData")
                if inline:
                    mimes.append(inline.get("mime_type") or inline.get("mimeType"))
    return mimes


def test_multimodal_ingest_sends_media(gemini_services, fake_gemini):
    assert gemini_services.embedder.provider == "gemini"
    mimes = set(_inline_mimes(fake_gemini))
    assert {"application/pdf", "image/png", "video/mp4"} <= mimes
    for r in fake_gemini.embed_requests:
        assert r.model == "gemini-embedding-2"
        assert len(r.body["requests"]) <= 100
        assert all(req["outputDimensionality"] == 768 for req in r.body["requests"])
    status = json.loads((gemini_services.index_dir / "index.json").read_text())
    assert status["provider"] == "gemini" and status["dimension"] == 768


def test_image_query_is_embedded_natively(gemini_services, fake_gemini):
    fake_gemini.reset()
    page = next((gemini_services.media_dir).rglob("p8.png")).read_bytes()
    hits = gemini_services.retriever.search(Query(image=page, image_mime="image/png"), 5).hits
    query_parts = fake_gemini.embed_requests[-1].body["requests"][0]["content"]["parts"]
    assert any((p.get("inline_data") or {}).get("mime_type") == "image/png" for p in query_parts)
    assert any(h.chunk.source == "slides/ml_basics.pdf" and h.locator.first == 8 for h in hits[:3])


def test_agent_answers_with_resolved_citations(gemini_services, fake_gemini):
    fake_gemini.reply_function_call("search_course", {"query": "discount factor gamma"})
    fake_gemini.reply_text("Gamma weights future rewards against immediate ones [S1]. It is also blue [S9].")
    ans = ask(gemini_services, "What does the discount factor gamma do?")
    data = answer_json(ans)
    assert data["mode"] == "gemini" and not data["declined"]
    assert "[S9]" not in data["answer"] and "[S1]" in data["answer"]
    assert [c["label"] for c in data["citations"]] == ["S1"]
    chats = [r for r in fake_gemini.requests if r.action == "generateContent"]
    assert len(chats) == 2
    tools = json.dumps(chats[0].body.get("tools"))
    assert "search_course" in tools
    # The second call carries the tool's evidence: labelled, with a clickable place.
    second = json.dumps(chats[1].body["contents"])
    assert "[S1]" in second and ("ml_basics.pdf p." in second or "Lecture 2" in second)
    assert all(r.headers["x-goog-api-key"] == "test-key-123" for r in fake_gemini.requests)
    others = [{k: v for k, v in r.headers.items() if k != "x-goog-api-key"} for r in fake_gemini.requests]
    assert "test-key-123" not in json.dumps(others)
