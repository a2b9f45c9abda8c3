"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.testing import FakeGeminiServer


@pytest.fixture
def fake_gemini() -> Iterator[FakeGeminiServer]:
    """A fake Gemini REST server on 127.0.0.1; point clients at `fake_gemini.url`."""
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory):
    """The sample course ingested once per test session with the offline (local) embedder, OCR on."""
    import shutil

    from ingest.pipeline import ingest_paths
    from rag.factory import build
    from rag.settings import load_settings
    from tests.conftest_course import COURSE

    root = tmp_path_factory.mktemp("sample")
    course = root / "course"
    shutil.copytree(COURSE, course)
    settings = load_settings(index_dir=root / "index", embedding={"provider": "local"})
    services = build(settings, create=True)
    report = ingest_paths([course], services, show_progress=False)
    assert report.failed == [], report.failed
    return {"course": course, "index": root / "index", "services": services, "report": report}
