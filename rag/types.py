"""The domain model: frozen pydantic types shared by every package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SourceKind = Literal["video", "pdf", "audio"]
# image bytes -> the words read from it (OCR): one type for every OCR callable passed around
ImageText = Callable[[bytes], str]
# Where a time segment's words come from: the user's caption file, a machine transcript (speech-to-text at
# ingest: may carry recognition errors), or both (`transcribe.mode: always` fills what the captions leave out).
TranscriptOrigin = Literal["captions", "machine", "mixed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TimeSpan(_Frozen):
    """A stretch of a video or audio file, in seconds."""

    kind: Literal["time"] = "time"
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


class PageSpan(_Frozen):
    """A run of PDF pages: 1-based positions in the file (not printed labels), inclusive."""

    kind: Literal["page"] = "page"
    first: int = Field(ge=1)
    last: int = Field(ge=1)


Locator = Annotated[TimeSpan | PageSpan, Field(discriminator="kind")]


class Source(_Frozen):
    """One file of the course; `path` is relative to the course root and is the citation name."""

    path: str
    kind: SourceKind
    sha256: str
    title: str
    duration_s: float | None = None
    page_count: int | None = None
    has_captions: bool | None = None
    page_labels: tuple[str, ...] | None = None  # printed labels where a deck restarts or skips


class SlideRef(_Frozen):
    """The deck page a video segment shows on screen."""

    source: str
    page: int = Field(ge=1)
    confidence: float = Field(ge=0, le=1)


class Chunk(_Frozen):
    """One retrievable unit: a video/audio segment or a PDF slice."""

    id: str
    source: str
    source_sha256: str
    kind: SourceKind
    title: str
    locator: Locator
    text: str = ""
    page_texts: tuple[str, ...] = ()  # PDF slice: one text per page, first..last
    page_labels: tuple[str, ...] = ()  # PDF slice: printed labels first..last, only when they differ
    cues: tuple[tuple[float, float, str], ...] = ()  # video/audio: caption cues inside the span
    keyframes: tuple[float, ...] = ()  # video: keyframe times (s)
    slide: SlideRef | None = None
    transcript: TranscriptOrigin | None = None  # video/audio with spoken text: where its words come from


class MediaPart(_Frozen):
    """Bytes sent to a multimodal embedder (a clip, a PDF slice, a page image)."""

    mime_type: str
    data: bytes


class EmbedItem(_Frozen):
    """One thing to embed into one vector: text and/or media parts, fused by the embedder."""

    text: str = ""
    title: str = ""
    media: tuple[MediaPart, ...] = ()


class View(_Frozen):
    """One stored vector of a chunk; its name follows `rag.index.ViewName` (`seg`, `slice`, `p14`, `kf12.0`)."""

    name: str
    item: EmbedItem
    page: int | None = None  # PDF page view: its 1-based page
    text: str = ""  # what lexical search sees for this view


class Hit(_Frozen):
    """A retrieved chunk, refined to its best page or caption cue."""

    chunk: Chunk
    score: float
    views: tuple[str, ...] = ()
    refined: Locator | None = None  # best page of a slice / best cue of a segment
    dense_rank: int | None = None  # 1-based rank of the chunk's best view in dense search
    dense_score: float | None = None  # cosine similarity of that view
    lexical_rank: int | None = None
    lexical_score: float | None = None  # BM25
    image_rank: int | None = None
    image_score: float | None = None  # geometric verification score of an image query
    # video/audio: where inside the segment the answer is, the caption cue(s) that best support the query
    # (an image query: the stretch where the picture is on screen); the player and the citation start here.
    moment: TimeSpan | None = None

    @property
    def locator(self) -> TimeSpan | PageSpan:
        return self.refined or self.chunk.locator


class Citation(_Frozen):
    """A clickable reference: `Lecture 3 · 12:30–12:55` or `week3.pdf p. 14`."""

    label: str  # the [S1] label the answerer used
    source: str
    kind: SourceKind
    locator: Locator
    display: str
    slide: SlideRef | None = None
    segment: TimeSpan | None = None  # video/audio: the whole retrieved segment (`locator` is its moment)
    transcript: TranscriptOrigin | None = None  # "machine": the quoted words are a machine transcript


class Answer(_Frozen):
    """What `ask` returns."""

    text: str
    citations: tuple[Citation, ...] = ()
    mode: Literal["offline", "gemini"]
    declined: bool = False
    hits: tuple[Hit, ...] = ()
    reason: str = ""  # why it was declined, in words ("the course material does not mention “anycast routing”")
    # A decline's nearest places (labels C1…): not an answer and not citations, so a wrongly declined question
    # ("PacBio" where the course says "Pacific Biosciences") costs one click instead of a dead end.
    closest: tuple[Citation, ...] = ()
