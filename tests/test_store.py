"""The Chroma store through LlamaIndex: embedded on disk, and a `chroma run` server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.store import ChromaStore
from rag.types import Chunk, EmbedItem, PageSpan, TimeSpan, View


def _unit(seed: int, dim: int = 16) -> list[float]:
    v = np.random.default_rng(seed).normal(size=dim)
    return list(v / np.linalg.norm(v))


def _chunks():
    video = Chunk(id="c1", source="lec/a.mp4", source_sha256="x", kind="video", title="Lecture 1",
                  locator=TimeSpan(start_s=0, end_s=20), text="gradient descent")
    pdf = Chunk(id="c2", source="slides/b.pdf", source_sha256="y", kind="pdf", title="b.pdf",
                locator=PageSpan(first=1, last=2), text="bellman\nq learning", page_texts=("bellman", "q learning"))
    vviews = [View(name="seg", item=EmbedItem(text="gradient descent"), text="gradient descent")]
    pviews = [View(name="slice", item=EmbedItem(text="x"), text="bellman q learning"),
              View(name="p1", item=EmbedItem(text="x"), page=1, text="bellman"),
              View(name="p2", item=EmbedItem(text="x"), page=2, text="q learning")]
    return (video, vviews), (pdf, pviews)


def _exercise(store: ChromaStore) -> None:
    (video, vviews), (pdf, pviews) = _chunks()
    assert store.add(video, vviews, [_unit(1)]) == 1
    assert store.add(pdf, pviews, [_unit(2), _unit(3), _unit(4)]) == 3
    assert store.count() == 4
    res = store.query(_unit(3), 2)
    assert res[0].vector_id == "c2:p1" and res[0].page == 1 and res[0].chunk == pdf
    assert res[0].score == pytest.approx(1.0, abs=1e-4)  # cosine of a vector with itself
    only_video = store.query(_unit(3), 5, where={"kind": "video"})
    assert [v.vector_id for v in only_video] == ["c1:seg"]
    assert {v.text for v in store.all_views()} == {"gradient descent", "bellman q learning", "bellman", "q learning"}
    assert [c.id for c in store.chunks_of("slides/b.pdf")] == ["c2"]
    store.delete_source("slides/b.pdf")
    assert store.count() == 1 and store.chunks_of("slides/b.pdf") == []


def test_embedded_store_persists(tmp_path: Path, monkeypatch):
    import rag.store

    monkeypatch.setattr(rag.store, "PAGE", 3)  # all_views reads 4 views in two pages
    store = ChromaStore(tmp_path, "fp1")
    _exercise(store)
    again = ChromaStore(tmp_path, "fp1")
    assert again.count() == 1
    assert ChromaStore(tmp_path, "fp2").count() == 0  # another fingerprint is another collection


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chroma_server_store(tmp_path: Path):
    chroma = Path(sys.executable).parent / "chroma"
    port = _free_port()
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        store = ChromaStore(tmp_path / "idx", "fpserver", url=f"http://127.0.0.1:{port}")
        _exercise(store)
        assert not (tmp_path / "idx" / "chroma").exists()  # nothing embedded when a server is used
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_search_never_imports_llamaindex(tmp_path: Path):
    """A query reads the collection directly: a new process that opens the store and searches does not pay
    the ~1 s import of llama_index.core (writes still go through ChromaVectorStore)."""
    store = ChromaStore(tmp_path, "fp1")
    (video, vviews), _ = _chunks()
    store.add(video, vviews, [_unit(1)])
    code = ("import sys; from pathlib import Path; import numpy as np; from rag.store import ChromaStore; "
            f"s = ChromaStore(Path({str(tmp_path)!r}), 'fp1'); v = np.random.default_rng(1).normal(size=16); "
            "hit = s.query(v / np.linalg.norm(v), 3)[0]; "
            "print(hit.vector_id, round(hit.score, 3), any(m.startswith('llama_index') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["c1:seg", "1.0", "False"]
