"""rag/files.py: atomic writes that concurrent writers cannot trip over."""

from __future__ import annotations

import threading

from rag.files import atomic_write_text
from rag.store import ChromaStore


def test_concurrent_writers_of_one_file_never_fail(tmp_path):
    """Two processes writing the store's stamp at once: a fixed `<name>.tmp` let one rename the other's
    temporary away (FileNotFoundError), and ingest reported a stored file as failed."""
    path = tmp_path / "generation"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        start.wait()
        for i in range(300):
            try:
                atomic_write_text(path, f"{n}-{i}")
            except BaseException as e:  # noqa: BLE001 - collected for the assertion below
                errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
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
