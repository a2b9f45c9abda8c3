"""The lexical index on disk: BM25 by `bm25s` (sparse score matrices saved as .npy and memory-mapped on
load) plus a table saying which stored view each row is, so a query never reads every view from the store.

Scores equal `rag.lexical.BM25` (Okapi, k1=1.5, b=0.75, Lucene IDF): bm25s's "lucene" method leaves out
BM25's constant (k1 + 1) factor, which `scores` puts back so numbers stay comparable with earlier runs.
The index is written at the end of an ingest and whenever a process finds it stale (the store's vector
count or write stamp differs from the one recorded: `ChromaStore.state`), so it is a cache: deleting the folder
only costs one rebuild. The course's
glossary (rag/glossary.py: acronym pairs read from the same texts) is built, saved and reloaded with it.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.files import replace_folder
from rag.glossary import Glossary
from rag.index import LEXICAL_DIR, ViewName, lexical_dir
from rag.lexical import tokens

log = logging.getLogger(__name__)

__all__ = ["LEXICAL_DIR", "LexicalIndex", "ViewRow"]
SEG = str(ViewName.seg())

ROWS_FILE = "rows.json"
BUILD_FILE = "build"  # the name of the save, also in rows.json (an index saved before it existed has neither)
FORMAT = 2  # 2: with the course glossary (glossary.json)
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


COLUMNS = tuple(ViewRow.__dataclass_fields__)  # rows.json stores one list per field


class _Swapped(Exception):
    """The folder was replaced by another save while it was read."""


def _check_not_swapped(folder: Path, cols: dict) -> None:
    """Raise _Swapped when the folder now holds another save than the rows.json read from it (its build file is
    read last; an index saved before build names existed is not checked)."""
    if "build" not in cols:
        return
    try:
        build = (folder / BUILD_FILE).read_text()
    except OSError:
        build = ""
    if build != cols["build"]:
        raise _Swapped("was replaced while it was read")


def _swap_under_way(folder: Path) -> bool:
    """A save is between its two renames: the old folder moved aside, the new one not yet in place."""
    return any(folder.parent.glob(f"{folder.name}.old-*"))


class LexicalIndex:
    """BM25 over the views that have text, and the lookup tables of every view.

    The views are kept as columns (one list per ViewRow field, as rows.json stores them): a text query turns
    only its top hits into ViewRows, and the lookup tables an image query needs are built on its first use
    (at 100k views, building them all at load cost 0.3 s of a cold `lecturelens search`)."""

    def __init__(self, rows: list[ViewRow] | dict[str, list], model, count: int,
                 glossary: Glossary | None = None, generation: str = ""):
        self._cols = {c: [getattr(r, c) for r in rows] for c in COLUMNS} if isinstance(rows, list) else rows
        # the store's vector count and write stamp when built: another state means the index is stale
        self.count = count
        self.generation = generation
        # BM25 document i -> row index
        self.text_rows = [i for i, has in enumerate(self._cols["has_text"]) if has]
        self._model = model  # bm25s.BM25, None when no view has text
        self.glossary = glossary or Glossary()  # the course's acronym pairs, read from the same texts

    def row(self, i: int) -> ViewRow:
        """The i-th stored view."""
        return ViewRow(*(self._cols[c][i] for c in COLUMNS))

    @cached_property
    def rows(self) -> list[ViewRow]:
        """Every stored view."""
        return [ViewRow(*t) for t in zip(*(self._cols[c] for c in COLUMNS), strict=True)]

    @cached_property
    def by_id(self) -> dict[str, ViewRow]:
        return {r.vector_id: r for r in self.rows}

    @cached_property
    def by_chunk(self) -> dict[str, ViewRow]:
        """One view per chunk (its `seg` view when it has one)."""
        out: dict[str, ViewRow] = {}
        for r in self.rows:
            if r.chunk_id not in out or r.view == SEG:
                out[r.chunk_id] = r
        return out

    @cached_property
    def pages(self) -> dict[tuple[str, int], ViewRow]:
        """(pdf source, page) -> its page view."""
        return {(r.source, r.page): r for r in self.rows if r.page is not None}

    # -- build / persist ---------------------------------------------------------------------
    @property
    def state(self) -> tuple[int, str]:
        """The store's (count, generation) this index was built from (`ChromaStore.state`)."""
        return self.count, self.generation

    @classmethod
    def build(cls, views: Iterable, count: int, generation: str = "") -> LexicalIndex:
        """Index stored views (anything with vector_id, chunk, view, page, text)."""
        rows, docs, texts = [], [], []
        for v in views:
            has_text = bool(v.text.strip())
            rows.append(ViewRow(v.vector_id, v.chunk.id, v.chunk.source, v.chunk.kind, v.view, v.page, has_text))
            if has_text:
                docs.append(tokens(v.text))
                texts.append(v.text)
        model = None
        if docs:
            import bm25s

            # float64 keeps scores (and so tie order) identical to rag.lexical.BM25.
            model = bm25s.BM25(method="lucene", k1=K1, b=B, dtype="float64")
            model.index(docs, show_progress=False)
        return cls(rows, model, count, Glossary.build(dict.fromkeys(texts)), generation)

    def save(self, index_dir: Path) -> None:
        """Write <index_dir>/lexical/ atomically enough: a new folder swapped in for the old one."""
        replace_folder(lexical_dir(index_dir), self._write)

    def _write(self, folder: Path) -> None:
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)
        build = uuid.uuid4().hex  # names this save: `load` checks every file it read came from one folder
        cols = {"format": FORMAT, "count": self.count, "generation": self.generation, "k1": K1, "b": B,
                "build": build, **self._cols}
        (folder / ROWS_FILE).write_text(json.dumps(cols, separators=(",", ":")))
        self.glossary.save(folder)
        (folder / BUILD_FILE).write_text(build)

    @classmethod
    def load(cls, index_dir: Path) -> LexicalIndex | None:
        """The saved index, memory-mapped; None when there is none, it was written by another format, or its
        files do not belong together."""
        folder = lexical_dir(index_dir)
        # A save swaps a new folder in with two renames (rag/files.replace_folder): a load that ran across a
        # swap is read again, and one that found no folder in between waits for the new one, rather than
        # making the caller rebuild from every stored view.
        for wait in (0.0, 0.05, 0.2, 0.5):
            time.sleep(wait)
            try:
                return cls._load(folder)
            except _Swapped as e:
                log.info("lexical index in %s %s; reading it again", folder, e)
            except (OSError, ValueError, KeyError, TypeError) as e:
                if folder.exists() or not _swap_under_way(folder):
                    log.info("lexical index in %s unreadable (%s); it will be rebuilt", folder, e)
                    return None
        return None

    @classmethod
    def _load(cls, folder: Path) -> LexicalIndex | None:
        cols = json.loads((folder / ROWS_FILE).read_text())
        if cols.get("format") != FORMAT or (cols.get("k1"), cols.get("b")) != (K1, B):
            return None
        try:
            rows = {c: cols[c] for c in COLUMNS}
            if len({len(v) for v in rows.values()}) != 1:
                raise ValueError("columns of different lengths")
            glossary = Glossary.load(folder)
            if glossary is None:
                raise ValueError("no readable glossary.json")
            model = None
            n_text = sum(map(bool, rows["has_text"]))
            if n_text:
                import bm25s

                model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
                if int(model.scores["num_docs"]) != n_text:
                    raise ValueError(f"a BM25 model of {model.scores['num_docs']} documents for {n_text} text rows")
        except (OSError, ValueError, KeyError, TypeError):
            _check_not_swapped(folder, cols)
            raise
        _check_not_swapped(folder, cols)
        return cls(rows, model, int(cols["count"]), glossary, str(cols.get("generation", "")))

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
        return [(self.row(self.text_rows[i]), float(s[i])) for i in idx if s[i] > 0]
