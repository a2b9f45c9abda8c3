"""Done-when of issue 8: Gemini-mode `ingest` + `ask` + `search --image photo.webp` of the sample course, all
through the CLI against the strict fake with 10 % seeded random 429s, ends with the same vector ids and
values as a clean run.

A subset of the course keeps this under ~2 minutes: the slide deck, lecture 2 (video + captions) and the
podcast (audio + captions) cover every modality (PDF slices, page images, mp4 clips, audio/mp3 clips, text).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import _register_plugins, cli
from rag.testing import FakeGeminiServer
from tests.conftest_course import COURSE

pytestmark = pytest.mark.slow
_register_plugins()
KEY = "AIzaFAKE-course-e2e-0123456789"
FILES = ["slides/ml_basics.pdf", "lectures/lecture2_reinforcement.mp4", "lectures/lecture2_reinforcement.srt",
         "audio/podcast_overfitting.mp3", "audio/podcast_overfitting.vtt"]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gcourse") / "course"
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(COURSE / rel, root / rel)
    return root


def run(*args: str) -> dict:
    res = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout[res.stdout.index("{"):])


def vectors(index: Path) -> dict[str, list[float]]:
    from rag.factory import build
    from rag.settings import load_settings

    services = build(load_settings(index_dir=index))
    got = services.store._collection.get(include=["embeddings"])  # every stored vector, by id
    return {i: [float(x) for x in v] for i, v in zip(got["ids"], got["embeddings"], strict=True)}


def ingest(course: Path, index: Path, server: FakeGeminiServer, monkeypatch, retries: int, batch: int) -> dict:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("LECTURELENS_GEMINI_BASE_URL", server.url)
    monkeypatch.setenv("LECTURELENS_EMBEDDING__PROVIDER", "gemini")
    monkeypatch.setenv("LECTURELENS_CHUNKING__OCR", "false")
    monkeypatch.setenv("LECTURELENS_GEMINI__RETRIES", str(retries))
    monkeypatch.setenv("LECTURELENS_GEMINI__RETRY_INITIAL_S", "0.01")
    monkeypatch.setenv("LECTURELENS_GEMINI__RETRY_MAX_S", "0.05")
    monkeypatch.setenv("LECTURELENS_GEMINI__BATCH_SIZE", str(batch))
    report = run("ingest", str(course), "--index", str(index))
    assert report["failed"] == [] and len(report["ingested"]) == 3, report
    return report


def test_ingest_ask_and_webp_search_with_random_429s_match_a_clean_run(course, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with FakeGeminiServer(expected_api_key=KEY, latency_s=0.005) as clean_api:
        ingest(course, tmp_path / "clean", clean_api, monkeypatch, retries=1, batch=100)
        assert all(r.status == 200 for r in clean_api.requests)
    clean = vectors(tmp_path / "clean")

    with FakeGeminiServer(expected_api_key=KEY, latency_s=0.005) as api:
        api.random_429(0.10, seed=7)  # seed 7: 429s from the 4th call on
        # Small batches: many calls, so the 10 % of 429s hit several of them (and batching must not matter).
        ingest(course, tmp_path / "noisy", api, monkeypatch, retries=6, batch=3)
        statuses = [r.status for r in api.requests]
        assert statuses.count(429) >= 2 and set(statuses) == {200, 429}  # the 429s happened and were retried
        mimes = {p["inline_data"]["mime_type"] for r in api.embed_requests if r.status == 200
                 for q in r.body["requests"] for p in q["content"]["parts"] if "inline_data" in p}
        assert mimes == {"application/pdf", "image/png", "image/jpeg", "video/mp4", "audio/mp3"}
        noisy = vectors(tmp_path / "noisy")
        assert noisy.keys() == clean.keys() and len(noisy) > 20
        assert all(noisy[i] == clean[i] for i in clean)  # same ids, bit-identical values

        api.reply_function_call("search_course", {"query": "discount factor gamma"})
        api.reply_text("Gamma weighs future rewards against immediate ones [S1, S2].")
        answer = run("ask", "What does the discount factor gamma do?", "--index", str(tmp_path / "noisy"))
        assert not answer["declined"] and [c["label"] for c in answer["citations"]] == ["S1", "S2"]

        page = next((tmp_path / "noisy" / "media").rglob("p8.png"))
        photo = tmp_path / "photo.webp"
        from PIL import Image

        with Image.open(page) as im:  # a smaller, re-encoded WebP "photo" of slide 8
            im.convert("RGB").resize((im.width * 3 // 4, im.height * 3 // 4)).save(photo, "WEBP", quality=80)
        api.reset()
        found = run("search", "--image", str(photo), "--index", str(tmp_path / "noisy"))
        sent = [p["inline_data"]["mime_type"] for r in api.embed_requests
                for q in r.body["requests"] for p in q["content"]["parts"] if "inline_data" in p]
        assert sent and set(sent) == {"image/jpeg"}
        top = found["hits"][:3]
        assert any(h["source"] == "slides/ml_basics.pdf" and h["pages"] == [8] for h in top), top
