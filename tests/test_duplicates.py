"""Byte-identical files in one course (the same deck twice, a recording copied under another name) are two
sources: both are indexed and cited under their own names, the ingest report says they are copies, and
deleting one copy, re-ingesting or resuming never costs the other its vectors, pictures or citations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from rag.factory import build
from rag.index import Manifest, page_render
from rag.retrieval import Query
from rag.settings import load_settings
from tests.conftest_course import COURSE

pytestmark = pytest.mark.slow  # ~10 CPU s: a deck and a recording ingested twice

DECK, DECK2 = "slides/ml_basics.pdf", "archive/ml_basics_copy.pdf"
TALK, TALK2 = "audio/podcast_overfitting.mp3", "audio/podcast_overfitting_again.mp3"


def _services(index: Path):
    return build(load_settings(index_dir=index, embedding={"provider": "fake"}, chunking={"ocr": False}),
                 create=True)


@pytest.fixture
def course(tmp_path) -> Path:
    root = tmp_path / "course"
    for rel in (DECK, DECK2, TALK, TALK2):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
    for rel in (DECK, DECK2):
        shutil.copy(COURSE / DECK, root / rel)
    for rel in (TALK, TALK2):  # the recording and its caption file, both copied
        shutil.copy(COURSE / TALK, root / rel)
        shutil.copy((COURSE / TALK).with_suffix(".vtt"), (root / rel).with_suffix(".vtt"))
    return root


def _sources(services, text: str) -> set[str]:
    return {h.chunk.source for h in services.retriever.search(Query(text=text), 10).hits}


def test_identical_files_are_both_indexed_and_survive_each_others_deletion(course, tmp_path):
    index = tmp_path / "idx"
    services = _services(index)
    first = ingest_paths([course], services, show_progress=False)
    assert first.failed == [] and sorted(first.ingested) == sorted([DECK, DECK2, TALK, TALK2])
    # The report says which file is a copy of which (archive/ sorts first, so the deck in slides/ is the copy).
    notes = [w for w in first.warnings if "the same bytes as" in w]
    assert any(w.startswith(f"{DECK}: the same bytes as {DECK2}") for w in notes)
    assert any(w.startswith(f"{TALK2}: the same bytes as {TALK}") for w in notes)
    for a, b in ((DECK, DECK2), (TALK, TALK2)):
        ca, cb = services.store.chunks_of(a), services.store.chunks_of(b)
        assert ca and len(ca) == len(cb) and not {c.id for c in ca} & {c.id for c in cb}
    assert _sources(services, "gradient descent") >= {DECK, DECK2}
    assert _sources(services, "overfitting") >= {TALK, TALK2}
    vectors = services.store.count()
    assert vectors == first.vectors

    again = ingest_paths([course], _services(index), show_progress=False)
    assert again.ingested == [] and len(again.skipped) == 4 and services.store.count() == vectors

    # Delete the copy that was ingested first (its page renders live in the folder both share).
    (course / DECK2).unlink()
    gone = ingest_paths([course], _services(index), show_progress=False)
    assert gone.removed == [DECK2] and gone.ingested == []
    assert services.store.chunks_of(DECK2) == [] and len(services.store.chunks_of(DECK)) > 0
    assert DECK in _sources(services, "gradient descent")
    entry = Manifest(index).get(DECK)
    assert entry is not None and page_render(entry.media_dir, 1).is_file()
    assert not [w for w in gone.warnings if DECK in w and "the same bytes" in w]

    # An index made before chunk IDs held the path: the manifest lists both copies, the store has one.
    services.store.delete_source(TALK)
    healed = ingest_paths([course], _services(index), show_progress=False)
    assert healed.ingested == [TALK] and len(services.store.chunks_of(TALK)) == len(services.store.chunks_of(TALK2))

    # A run killed after storing TALK2's vectors but before its manifest entry: the rerun redoes it once.
    manifest = Manifest(index)
    manifest.drop(TALK2)
    before = services.store.count()
    resumed = ingest_paths([course], _services(index), show_progress=False)
    assert resumed.ingested == [TALK2] and services.store.count() == before
    assert len(services.store.chunks_of(TALK)) == len(services.store.chunks_of(TALK2)) > 0


def test_forgetting_a_copy_keeps_the_picture_keys_its_twin_still_lists(tmp_path):
    """An index built before chunk IDs hashed the path gave both copies the same picture keys: removing (or
    re-ingesting) one copy must not take the other's pictures out of the image index."""
    from types import SimpleNamespace

    from ingest.pipeline import _forget
    from rag.index import ManifestEntry

    removed: list[str] = []
    services = SimpleNamespace(store=SimpleNamespace(delete_source=lambda rel: None),
                               image_index=SimpleNamespace(remove=lambda keys: removed.extend(keys)))
    manifest = Manifest(tmp_path)
    shared = ("c1:p1", "c1:p2")
    manifest.put(DECK, ManifestEntry(sha256="x", kind="pdf", image_keys=shared))
    manifest.put(DECK2, ManifestEntry(sha256="x", kind="pdf", image_keys=(*shared, "c2:p9")))
    _forget(DECK2, manifest, services)  # type: ignore[arg-type]
    assert removed == ["c2:p9"]
