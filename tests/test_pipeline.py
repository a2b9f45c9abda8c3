"""Ingest bookkeeping on the sample course with the fake embedder: skip, redo, delete, resume, failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from ingest.sources import discover
from rag.factory import build
from rag.index import Manifest
from rag.settings import load_settings
from tests.conftest_course import COURSE

pytestmark = pytest.mark.slow


def _services(index: Path):
    settings = load_settings(index_dir=index, embedding={"provider": "fake"}, chunking={"ocr": False})
    return build(settings, create=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("course") / "course"
    shutil.copytree(COURSE, dst)
    return dst


def test_discover_sample_course(course):
    found = {f.rel: f.kind for f in discover(course)}
    assert found == {
        "audio/podcast_overfitting.mp3": "audio",
        "lectures/lecture1_supervised.mp4": "video",
        "lectures/lecture2_reinforcement.mp4": "video",
        "lectures/lecture3_clustering.mp4": "video",
        "slides/ml_basics.pdf": "pdf",
    }


def test_ingest_reingest_change_delete_resume(course, tmp_path):
    index = tmp_path / "idx"
    services = _services(index)
    first = ingest_paths([course], services, show_progress=False)
    assert first.failed == [] and len(first.ingested) == 5
    vectors = services.store.count()
    assert vectors == first.vectors > 0

    again = ingest_paths([course], _services(index), show_progress=False)
    assert again.ingested == [] and len(again.skipped) == 5 and again.vectors == 0
    assert services.store.count() == vectors

    # New captions for lecture 1: only that video is redone, and the count is unchanged.
    vtt = course / "lectures" / "lecture1_supervised.vtt"
    vtt.write_text(vtt.read_text().replace("gradient descent", "gradient  descent", 1))
    changed = ingest_paths([course], _services(index), show_progress=False)
    assert changed.ingested == ["lectures/lecture1_supervised.mp4"] and len(changed.skipped) == 4
    assert services.store.count() == vectors

    # A killed run: vectors written, manifest entry not. The next run redoes it without duplicates.
    manifest = Manifest(index)
    manifest.drop("slides/ml_basics.pdf")
    resumed = ingest_paths([course], _services(index), show_progress=False)
    assert resumed.ingested == ["slides/ml_basics.pdf"]
    assert services.store.count() == vectors

    # Delete the podcast: its vectors and pictures are gone.
    podcast = services.store.all_views(where={"source": "audio/podcast_overfitting.mp3"})
    assert podcast
    (course / "audio" / "podcast_overfitting.mp3").unlink()
    removed = ingest_paths([course], _services(index), show_progress=False)
    assert removed.removed == ["audio/podcast_overfitting.mp3"]
    assert services.store.count() == vectors - len(podcast)
    assert "audio/podcast_overfitting.mp3" not in json.loads((index / "manifest.json").read_text())["sources"]


def test_bad_files_fail_alone(tmp_path):
    course = tmp_path / "c"
    (course / "slides").mkdir(parents=True)
    shutil.copy(COURSE / "slides" / "ml_basics.pdf", course / "slides" / "good.pdf")
    (course / "slides" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (course / "lectures").mkdir()
    (course / "lectures" / "broken.mp4").write_bytes(b"\x00" * 2048)
    report = ingest_paths([course], _services(tmp_path / "idx"), show_progress=False)
    assert report.ingested == ["slides/good.pdf"]
    failed = {f["source"]: f["error"] for f in report.failed}
    assert set(failed) == {"slides/broken.pdf", "lectures/broken.mp4"}
    for rel, err in failed.items():
        assert rel in err and "Traceback" not in err


def test_other_embedder_is_a_clear_error(tmp_path):
    from rag.errors import IndexMismatchError

    index = tmp_path / "idx"
    _services(index)
    settings = load_settings(index_dir=index, embedding={"provider": "local"}, chunking={"ocr": False})
    with pytest.raises(IndexMismatchError, match="another --index"):
        build(settings)
