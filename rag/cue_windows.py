"""Caption-cue windows: dense retrieval over the sentences of video/audio segments, not only whole segments.

A segment's `seg` view embeds 15–30 s of captions as one vector, so a short question that one sentence
answers competes with every neighbouring segment that shares its topic. Here every caption cue of a segment
gets its own vector (the course's embedder, document side). A query's closest cues rank their segments in
one more fusion channel (the segment stays the unit of retrieval), and a hit's closest cue is its moment.

Measured on the spoken devcorpus lectures and the sample course (README, Evaluating): windows of 1..3
consecutive cues ranked and placed moments exactly as single cues did, and BM25 over windows added nothing
beside them (alone it lowered `spk` hit@1 0.80 -> 0.74), so one cue per window, dense only.

Only for an embedder that runs locally (`Embedder.local`): with a paid API every cue would be one more
embedding call at ingest. The vectors are a cache in `<index>/cue_windows/`, rebuilt when the store's vector
count or write stamp changes (`ChromaStore.state`; a rebuild re-embeds only cues whose text is new).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.files import replace_folder
from rag.index import cue_windows_dir
from rag.types import EmbedItem

log = logging.getLogger(__name__)

ROWS_FILE = "windows.json"
VECTORS_FILE = "vectors.npy"
FORMAT = 1

Embed = Callable[[list[EmbedItem]], list[list[float]]]


@dataclass(frozen=True)
class Window:
    """One caption cue of a segment, clipped to the segment's span."""

    vector_id: str  # the segment's `seg` view: the window votes for it
    chunk_id: str
    source: str
    kind: str
    cue: int  # index into the chunk's cues
    start_s: float
    end_s: float
    text: str


def windows_of(vector_id: str, chunk) -> list[Window]:
    """The windows of one segment (anything with id, source, kind, locator and cues)."""
    lo, hi = chunk.locator.start_s, chunk.locator.end_s
    out = []
    for i, (start, end, text) in enumerate(chunk.cues):
        a, b = max(lo, start), min(hi, end)
        if b > a and text.strip():
            out.append(Window(vector_id, chunk.id, chunk.source, chunk.kind, i, round(a, 3), round(b, 3), text))
    return out


class CueWindows:
    """The windows of every captioned segment of an index and their unit vectors (row i = windows[i])."""

    def __init__(self, windows: list[Window], vectors: np.ndarray, count: int = 0, generation: str = ""):
        self.windows = windows
        self.vectors = vectors
        # the store's vector count and write stamp when built: another state means the cache is stale
        self.count = count
        self.generation = generation
        self.by_chunk: dict[str, list[int]] = {}
        for i, w in enumerate(windows):
            self.by_chunk.setdefault(w.chunk_id, []).append(i)

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def state(self) -> tuple[int, str]:
        """The store's (count, generation) these windows were built from (`ChromaStore.state`)."""
        return self.count, self.generation

    @classmethod
    def build(cls, seg_views: Iterable, embed: Embed, count: int, previous: CueWindows | None = None,
              batch: int = 256, generation: str = "") -> CueWindows:
        """Windows of stored `seg` views (anything with vector_id and chunk), embedded in batches; texts the
        previous build already embedded keep their vectors."""
        windows = [w for v in seg_views if v.chunk.cues for w in windows_of(v.vector_id, v.chunk)]
        known = {w.text: previous.vectors[i] for i, w in enumerate(previous.windows)} if previous else {}
        todo = list(dict.fromkeys(w.text for w in windows if w.text not in known))
        for k in range(0, len(todo), batch):
            part = todo[k:k + batch]
            m = np.asarray(embed([EmbedItem(text=t) for t in part]), dtype=np.float32)
            m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
            known.update(zip(part, m, strict=True))
        dim = len(next(iter(known.values()))) if known else 0
        vectors = np.stack([known[w.text] for w in windows]) if windows else np.zeros((0, dim), np.float32)
        return cls(windows, vectors.astype(np.float32), count, generation)

    # -- persist ---------------------------------------------------------------------------
    def save(self, index_dir: Path) -> None:
        """Write <index_dir>/cue_windows/ (a new folder swapped in for the old one)."""
        replace_folder(cue_windows_dir(index_dir), self._write)

    def _write(self, folder: Path) -> None:
        np.save(folder / VECTORS_FILE, self.vectors)
        rows = {"format": FORMAT, "count": self.count, "generation": self.generation,
                "windows": [asdict(w) for w in self.windows]}
        (folder / ROWS_FILE).write_text(json.dumps(rows, separators=(",", ":")))

    @classmethod
    def load(cls, index_dir: Path) -> CueWindows | None:
        """The saved windows (vectors memory-mapped); None when there are none or they are unreadable."""
        folder = cue_windows_dir(index_dir)
        try:
            rows = json.loads((folder / ROWS_FILE).read_text())
            if rows.get("format") != FORMAT:
                return None
            windows = [Window(**w) for w in rows["windows"]]
            vectors = np.load(folder / VECTORS_FILE, mmap_mode="r")
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.info("caption-cue windows in %s unreadable (%s); they will be rebuilt", folder, e)
            return None
        if len(vectors) != len(windows):
            return None
        return cls(windows, vectors, int(rows["count"]), str(rows.get("generation", "")))

    # -- search ----------------------------------------------------------------------------
    def search(self, query_vector: Sequence[float], n: int, allowed: Callable[[Window], bool]
               ) -> list[tuple[Window, float]]:
        """The closest window of each of the n segments whose windows are closest to the query (cosine)."""
        if not len(self) or not len(query_vector):
            return []
        sims = np.asarray(self.vectors @ _unit(query_vector))
        # Most segments have several cues: the best 8n cues usually cover n segments; else look at all.
        for k in (min(len(sims), 8 * n), len(sims)):
            top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
            out = self._best_per_segment(top[np.lexsort((top, -sims[top]))], sims, n, allowed)
            if len(out) >= n or k == len(sims):
                return out
        return []  # pragma: no cover - the loop always returns

    def _best_per_segment(self, order: np.ndarray, sims: np.ndarray, n: int, allowed: Callable[[Window], bool]
                          ) -> list[tuple[Window, float]]:
        out: list[tuple[Window, float]] = []
        seen: set[str] = set()
        for i in order:
            w = self.windows[i]
            if w.chunk_id in seen or not allowed(w):
                continue
            seen.add(w.chunk_id)
            out.append((w, float(sims[i])))
            if len(out) >= n:
                break
        return out

    def closest(self, chunk_id: str, query_vector: Sequence[float]) -> Window | None:
        """The window of one segment closest to the query; None when it has none."""
        rows = self.by_chunk.get(chunk_id)
        if not rows or not len(query_vector):
            return None
        sims = np.asarray(self.vectors[rows] @ _unit(query_vector))
        return self.windows[rows[int(np.argmax(sims))]]


def _unit(v: Sequence[float]) -> np.ndarray:
    q = np.asarray(v, dtype=np.float32)
    return q / max(float(np.linalg.norm(q)), 1e-12)
