"""What every extractor (video, audio, pdf) hands the pipeline for one source file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rag.index import ViewName
from rag.types import Chunk, Source, View


@dataclass(frozen=True)
class ImageRecord:
    """A stored picture (video keyframe or PDF page render) for image search and the UI."""

    chunk_id: str
    path: Path  # file under <index>/media/
    time_s: float | None = None  # keyframe time (video)
    page: int | None = None  # page position (pdf)
    view: ViewName | None = None  # the chunk view this picture belongs to (a page or keyframe view)


@dataclass
class Extracted:
    """The result of extracting one source: its chunks with their views, pictures, warnings."""

    source: Source
    chunks: list[tuple[Chunk, list[View]]] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # sha256 of a keyframe's JPEG -> sha256 of an earlier keyframe showing the same picture (read once;
    # a search for one answers for both)
    same_pictures: dict[str, str] = field(default_factory=dict)
