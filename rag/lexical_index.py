"""The lexical index on disk: BM25 by `bm25s` (sparse score matrices saved as .npy and memory-mapped on
load) plus a table saying which stored view each row is, so a query never reads every view from the store.

Scores equal `rag.lexical.BM25` (Okapi, k1=1.5, b=0.75, Lucene IDF): bm25s's "lucene" method leaves out
BM25's constant (k1 + 1) factor, which `scores` puts back so numbers stay comparable with earlier runs.
The index is written at the end of an ingest and whenever a process finds it stale (the store's vector
count differs from the one recorded), so it is a cache: deleting the folder only costs one rebuild.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.index import LEXICAL_DIR, ViewName, lexical_dir
from rag.lexical import tokens

log = logging.getLogger(__name__)

__all__ = ["LEXICAL_DIR", "LexicalIndex", "ViewRow"]
SEG = str(ViewName.seg())

ROWS_FILE = "rows.json"
FORMAT = 1
K1, B = 1.5, 0.75


@dataclass(frozen=True)
class ViewRow:
    """What retrieval needs to know about one stored view without fetching it from the store."""

    vector_id: str
    chunk_id: str
    source: str
    kind: str
    view: str
    page: int | None
    has_text: bool


class LexicalIndex:
    """BM25 over the views that have text, and the lookup tables of every view."""

    def __init__(self, rows: list[ViewRow], model, count: int):
        self.rows = rows
        self.count = count  # store vectors when built: a different count means the index is stale
        self.text_rows = [i for i, r in enumerate(rows) if r.has_text]  # BM25 document i -> rows index
        self._model = model  # bm25s.BM25, None when no view has text
        self.by_id = {r.vector_id: r for r in rows}
        self.by_chunk: dict[str, ViewRow] = {}  # one view per chunk (its `seg` view when it has one)
        self.pages: dict[tuple[str, int], ViewRow] = {}  # (pdf source, page) -> its page view
        for r in rows:
            if r.chunk_id not in self.by_chunk or r.view == SEG:
                self.by_chunk[r.chunk_id] = r
            if r.page is not None:
                self.pages[(r.source, r.page)] = r

    # -- build / persist ---------------------------------------------------------------------
    @classmethod
    def build(cls, views: Iterable, count: int) -> LexicalIndex:
        """Index stored views (anything with vector_id, chunk, view, page, text)."""
        rows, docs = [], []
        for v in views:
            has_text = bool(v.text.strip())
            rows.append(ViewRow(v.vector_id, v.chunk.id, v.chunk.source, v.chunk.kind, v.view, v.page, has_text))
            if has_text:
                docs.append(tokens(v.text))
        model = None
        if docs:
            import bm25s

            # float64 keeps scores (and so tie order) identical to rag.lexical.BM25.
            model = bm25s.BM25(method="lucene", k1=K1, b=B, dtype="float64")
            model.index(docs, show_progress=False)
        return cls(rows, model, count)

    def save(self, index_dir: Path) -> None:
        """Write <index_dir>/lexical/ atomically enough: a new folder swapped in for the old one."""
        final = lexical_dir(index_dir)
        tmp = final.with_name(f"{LEXICAL_DIR}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._model is not None:
            self._model.save(str(tmp), show_progress=False)
        cols = {"format": FORMAT, "count": self.count, "k1": K1, "b": B,
                "vector_id": [r.vector_id for r in self.rows], "chunk_id": [r.chunk_id for r in self.rows],
                "source": [r.source for r in self.rows], "kind": [r.kind for r in self.rows],
                "view": [r.view for r in self.rows], "page": [r.page for r in self.rows],
                "has_text": [r.has_text for r in self.rows]}
        (tmp / ROWS_FILE).write_text(json.dumps(cols, separators=(",", ":")))
        old = final.with_name(f"{LEXICAL_DIR}.old-{os.getpid()}")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, index_dir: Path) -> LexicalIndex | None:
        """The saved index, memory-mapped; None when there is none or it was written by another format."""
        folder = lexical_dir(index_dir)
        try:
            cols = json.loads((folder / ROWS_FILE).read_text())
            if cols.get("format") != FORMAT or (cols.get("k1"), cols.get("b")) != (K1, B):
                return None
            rows = [ViewRow(*t) for t in zip(cols["vector_id"], cols["chunk_id"], cols["source"], cols["kind"],
                                             cols["view"], cols["page"], cols["has_text"], strict=True)]
            model = None
            if any(r.has_text for r in rows):
                import bm25s

                model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.info("lexical index in %s unreadable (%s); it will be rebuilt", folder, e)
            return None
        return cls(rows, model, int(cols["count"]))

    # -- search ------------------------------------------------------------------------------
    @property
    def n_docs(self) -> int:
        return len(self.text_rows)

    def idf_of(self, term: str) -> float:
        """IDF of a (tokenized) term; a term the corpus never uses gets the highest possible IDF."""
        n = self.n_docs
        tid = self._model.vocab_dict.get(term) if self._model is not None else None
        if tid is None:
            return math.log(1 + (n + 0.5) / 0.5)
        indptr = self._model.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text view (BM25 document order) for the query."""
        if self._model is None:
            return np.zeros(0)
        vocab = self._model.vocab_dict
        known = [t for t in dict.fromkeys(tokens(query)) if t in vocab]
        if not known:
            return np.zeros(self.n_docs)
        return np.asarray(self._model.get_scores(known), dtype=np.float64) * (K1 + 1)

    def top(self, query: str, n: int) -> list[tuple[ViewRow, float]]:
        """The best n text views with a positive score, best first."""
        s = self.scores(query)
        if not len(s) or n <= 0:
            return []
        idx = np.argpartition(-s, n - 1)[:n] if n < len(s) else np.arange(len(s))
        idx = idx[np.lexsort((idx, -s[idx]))]  # by score, ties by document order
        return [(self.rows[self.text_rows[i]], float(s[i])) for i in idx if s[i] > 0]
