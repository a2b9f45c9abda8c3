"""rag/files.py: atomic writes that concurrent writers cannot trip over."""

from __future__ import annotations

from rag.files import atomic_write_text
from rag.store import ChromaStore
from tests.threads import errors_in_threads


def test_concurrent_writers_of_one_file_never_fail(tmp_path):
    """Two processes writing the store's stamp at once: a fixed `<name>.tmp` let one rename the other's
    temporary away (FileNotFoundError), and ingest reported a stored file as failed."""
    path = tmp_path / "generation"

    def writer(n: int) -> None:
        for i in range(300):
            atomic_write_text(path, f"{n}-{i}")

    errors = errors_in_threads(writer)
    assert errors == []
    assert path.read_text().split("-")[0] in {"0", "1", "2", "3"}
    assert [p.name for p in tmp_path.iterdir()] == ["generation"]  # no temporary left behind


def test_a_stamp_that_cannot_be_written_does_not_fail_the_store_write(tmp_path, monkeypatch, caplog):
    """The vectors are stored: a failed stamp is retried once, then logged with the index folder."""
    import rag.store

    store = ChromaStore(tmp_path, "fp")
    calls = []

    def full(path, text):
        calls.append(path)
        raise OSError("disk full")

    monkeypatch.setattr(rag.store, "atomic_write_text", full)
    with caplog.at_level("WARNING", logger="rag.store"):
        store._written()
    assert len(calls) == 2 and store.version == 1
    assert "could not renew the write stamp" in caplog.text and str(tmp_path) in caplog.text
