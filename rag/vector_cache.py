"""Per-item vector cache in the index folder, so paid embedding work survives any failure.

Key = sha256 of (model, dimension, the exact parts sent: text, and media MIME type + sha256 of the bytes).
Each batch is written as soon as it comes back, so a rerun after a failed or rejected batch (or a killed
run) embeds only the items that are still missing. Vectors are stored as float64, so a cached vector is
bit-identical to the one the API returned (after our normalisation).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.types import EmbedItem


def item_key(model: str, dimension: int, item: EmbedItem, text: str) -> str:
    """Cache key of one item as sent (`text` is the exact text part, prefixes included)."""
    media = [[m.mime_type, hashlib.sha256(m.data).hexdigest()] for m in item.media]
    blob = json.dumps({"m": model, "d": dimension, "t": text, "media": media}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class VectorCache:
    """A small sqlite key -> vector store (thread-safe; one connection per cache)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        # Opened on first use, so read-only commands never create an index folder.
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False)
            self._conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            self._conn.commit()
        return self._conn

    def get_many(self, keys: Sequence[str]) -> dict[str, list[float]]:
        """The cached vectors among `keys`."""
        found: dict[str, list[float]] = {}
        with self._lock:
            if self._conn is None and not self.path.is_file():
                return found
            for start in range(0, len(keys), 500):
                part = list(keys[start:start + 500])
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                    found[key] = array("d", blob).tolist()
        return found

    def put_many(self, pairs: Iterable[tuple[str, Sequence[float]]]) -> None:
        """Store vectors (committed at once: this is the point of the cache)."""
        rows = [(k, array("d", v).tobytes()) for k, v in pairs]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            if self._conn is None and not self.path.is_file():
                return 0
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
