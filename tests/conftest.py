"""Shared pytest fixtures. Every test is hermetic: no Gemini key or LECTURELENS_* variable from the
shell, its own empty working directory, and no network beyond loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedders.registry import register_embedder
from rag.testing import FakeGeminiServer
from rag.testing.network import block_network

SECRET_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


def _fake_embedder(settings):
    from rag.embedders.fake import FakeEmbedder

    return FakeEmbedder()


# The fake is a test provider, registered through the same hook a plugin would use.
register_embedder("fake", _fake_embedder, tag="test fake")


def pytest_configure(config: pytest.Config) -> None:
    block_network()


def _clean_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in SECRET_ENV or name.startswith("LECTURELENS_"):
            mp.delenv(name)


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No key or LECTURELENS_* from the shell; the test runs in its own empty directory."""
    _clean_env(monkeypatch)
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    yield cwd


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
    with pytest.MonkeyPatch.context() as mp:  # session scope: built before the per-test fixture runs
        _clean_env(mp)
        mp.chdir(root)
        course = root / "course"
        shutil.copytree(COURSE, course)
        settings = load_settings(index_dir=root / "index", embedding={"provider": "local"})
        services = build(settings, create=True)
        report = ingest_paths([course], services, show_progress=False)
    assert report.failed == [], report.failed
    return {"course": course, "index": root / "index", "services": services, "report": report}
