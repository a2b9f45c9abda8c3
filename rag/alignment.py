"""Which deck page each video segment shows: `<index>/alignment.json`, written by ingest, read here.

Stored next to the vectors instead of inside them, so (re)aligning after a new or changed PDF never
rewrites embeddings. Retrieval attaches the slide to hits through `Alignment`, which re-reads the
file only when it changes.

    {"version": 1, "pages": "<fingerprint of the indexed pages>",
     "segments": {"<chunk_id>": {"source": "lectures/l2.mp4", "start": 48.4, "end": 71.5,
                                 "slide": {"source": "slides/deck.pdf", "page": 10, "confidence": 0.93},
                                 "keyframes": [{"t": 48.6, "start": 48.4, "end": 59.6,
                                                "slide": {"source": "slides/deck.pdf", "page": 4, ...}},
                                               ...]}}}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.files import atomic_write_text
from rag.index import alignment_path
from rag.types import Chunk, SlideRef

VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class KeyframeSlide(_Frozen):
    """One keyframe of a segment, the stretch of the segment it stands for, and the page it shows."""

    t: float = Field(description="Keyframe time (s).")
    start: float = Field(description="Start of the stretch this keyframe represents (s).")
    end: float = Field(description="End of that stretch (s).")
    slide: SlideRef | None = Field(None, description="The page on screen, or None (no slide / no match).")
    inliers: int = Field(0, description="Verified local-feature matches with that page.")
    text: float = Field(0.0, description="Text similarity of the keyframe's OCR with that page, in [0, 1].")


class SegmentSlides(_Frozen):
    """The alignment of one video segment (chunk)."""

    source: str
    start: float
    end: float
    slide: SlideRef | None = Field(None, description="The page on screen longest in the segment, or None.")
    keyframes: tuple[KeyframeSlide, ...] = ()

    def slide_at(self, t: float) -> SlideRef | None:
        """The page on screen at second `t`: the slide of the keyframe stretch holding `t` (None for a
        camera shot, a keyframe with no slide); the segment's slide when it has no keyframes."""
        if not self.keyframes:
            return self.slide
        frames = sorted(self.keyframes, key=lambda k: k.start)
        started = [k for k in frames if k.start - 1e-3 <= t]
        return (started[-1] if started else frames[0]).slide

    def spans_showing(self, source: str, page: int) -> list[tuple[float, float]]:
        """Stretches of this segment where that page is on screen, merged, in time order."""
        out: list[tuple[float, float]] = []
        for k in self.keyframes:
            if k.slide is not None and k.slide.source == source and k.slide.page == page:
                if out and k.start <= out[-1][1] + 1e-3:
                    out[-1] = (out[-1][0], max(out[-1][1], k.end))
                else:
                    out.append((k.start, k.end))
        return out


class AlignmentFile(_Frozen):
    """The whole alignment.json."""

    version: int = VERSION
    pages: str = Field("", description="Fingerprint of the page set the segments were matched against.")
    segments: dict[str, SegmentSlides] = Field(default_factory=dict)


def path(index_dir: str | Path) -> Path:
    return alignment_path(index_dir)


def read(index_dir: str | Path) -> AlignmentFile:
    """The stored alignment; empty when there is none (or it was written by another version)."""
    p = path(index_dir)
    if not p.is_file():
        return AlignmentFile()
    data = json.loads(p.read_text())
    if data.get("version") != VERSION:
        return AlignmentFile()
    return AlignmentFile.model_validate(data)


def write(index_dir: str | Path, data: AlignmentFile) -> None:
    """Replace alignment.json atomically."""
    atomic_write_text(path(index_dir), data.model_dump_json(indent=1))


class Alignment:
    """alignment.json of one index, re-read when the file changes (thread-safe)."""

    def __init__(self, index_dir: str | Path):
        self.path = path(index_dir)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._data = AlignmentFile()
        self._by_page: dict[tuple[str, int], list[str]] = {}

    def _current(self) -> tuple[AlignmentFile, dict[tuple[str, int], list[str]]]:
        with self._lock:
            try:
                st = self.path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                self._data = read(self.path.parent) if stamp else AlignmentFile()
                self._by_page = {}
                for cid, seg in self._data.segments.items():
                    pages = {(k.slide.source, k.slide.page) for k in seg.keyframes if k.slide is not None}
                    for key in sorted(pages):
                        self._by_page.setdefault(key, []).append(cid)
                self._stamp = stamp
            return self._data, self._by_page

    def segments(self) -> Mapping[str, SegmentSlides]:
        """Every aligned segment by chunk id."""
        return self._current()[0].segments

    def get(self, chunk_id: str) -> SegmentSlides | None:
        return self._current()[0].segments.get(chunk_id)

    def showing(self, source: str, page: int) -> list[str]:
        """Chunk ids of the segments that show this page in at least one keyframe."""
        return list(self._current()[1].get((source, page), ()))

    def attach(self, chunk: Chunk, slide: SlideRef | None = None) -> Chunk:
        """The chunk with its aligned slide set (or `slide` when given); unchanged when there is none."""
        if slide is None:
            seg = self.get(chunk.id)
            slide = seg.slide if seg is not None else None
        if slide is None or slide == chunk.slide:
            return chunk
        return chunk.model_copy(update={"slide": slide})
