"""The on-disk index: one home for its file names, typed records and the names of views and media.

    <index>/index.json       IndexMeta: the vector space (provider, model, dimension, chunking) and its fingerprint
    <index>/manifest.json    Manifest: one ManifestEntry per ingested source (the commit record of ingest)
    <index>/alignment.json   which deck page each video segment shows (rag/alignment.py)
    <index>/chroma/          the embedded Chroma store (rag/store.py)
    <index>/generation       a stamp every write to the store renews: caches of the stored texts record it
    <index>/images/          the image index (rag/image_index.py): index.npz + index.json
    <index>/media/<sha12>/   per source: page renders `p<N>.png`, keyframes `kf_<t>.jpg`
    <index>/lexical/         the BM25 index and its view table (rag/lexical_index.py), a cache
    <index>/cue_windows/     caption-cue vectors of captioned segments (rag/cue_windows.py), a cache
    <index>/ocr_cache/       OCR results by picture (rag/ocr_cache.py), a cache
    <index>/transcripts/     speech-to-text WebVTT of media without captions (ingest/transcribe.py)

A vector id is `<chunk_id>:<view>`; a view name is `seg` (a video/audio segment), `slice` (a PDF
slice), `p<N>` (one PDF page) or `kf<t>` (a video keyframe at t seconds, one decimal). Image-index
keys use the same `<chunk_id>:<view>` form. Every module formats and parses these names here only
(tests/test_index.py greps the packages for stray copies).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import ConfigError
from rag.files import atomic_write_text
from rag.types import SourceKind

META_FILE = "index.json"
MANIFEST_FILE = "manifest.json"
ALIGNMENT_FILE = "alignment.json"
CHROMA_DIR = "chroma"
GENERATION_FILE = "generation"
MEDIA_DIR = "media"
IMAGES_DIR = "images"
LEXICAL_DIR = "lexical"
CUE_WINDOWS_DIR = "cue_windows"
OCR_CACHE_DIR = "ocr_cache"
TRANSCRIPTS_DIR = "transcripts"
VECTOR_CACHE_FILE = "vector_cache.sqlite"  # per-item embedding cache (rag/vector_cache.py)
IMAGES_META_FILE = "index.json"  # inside IMAGES_DIR
IMAGES_ARRAYS_FILE = "index.npz"  # inside IMAGES_DIR
MEDIA_HASH_CHARS = 12  # a source's media folder is named by the first characters of its content hash


# ---------------------------------------------------------------- view names

ViewKind = Literal["seg", "slice", "page", "keyframe"]
_VIEW = re.compile(r"^(?:(seg)|(slice)|p([1-9]\d*)|kf(\d+\.\d))$")


@dataclass(frozen=True, order=True)
class ViewName:
    """The name of one stored vector of a chunk: `seg`, `slice`, `p<N>` or `kf<t:.1f>`."""

    kind: ViewKind
    page: int | None = None  # `page`: 1-based page position
    t: float | None = None  # `keyframe`: time in seconds (rounded to 0.1 s in the name)

    @classmethod
    def seg(cls) -> ViewName:
        return cls("seg")

    @classmethod
    def slice(cls) -> ViewName:
        return cls("slice")

    @classmethod
    def of_page(cls, page: int) -> ViewName:
        if page < 1:
            raise ValueError(f"page positions start at 1, got {page}")
        return cls("page", page=page)

    @classmethod
    def keyframe(cls, t: float) -> ViewName:
        return cls("keyframe", t=round(float(t), 1))

    @classmethod
    def parse(cls, name: str) -> ViewName:
        """The view a stored name stands for; ValueError when it is not one."""
        m = _VIEW.match(name)
        if m is None:
            raise ValueError(f"{name!r} is not a view name (seg, slice, p<N>, kf<t>)")
        if m.group(1):
            return cls.seg()
        if m.group(2):
            return cls.slice()
        if m.group(3):
            return cls.of_page(int(m.group(3)))
        return cls.keyframe(float(m.group(4)))

    @classmethod
    def try_parse(cls, name: str) -> ViewName | None:
        try:
            return cls.parse(name)
        except ValueError:
            return None

    def __str__(self) -> str:
        if self.kind == "page":
            return f"p{self.page}"
        if self.kind == "keyframe":
            return f"kf{self.t:.1f}"
        return self.kind

    @property
    def is_keyframe(self) -> bool:
        return self.kind == "keyframe"

    @property
    def is_page(self) -> bool:
        return self.kind == "page"

    def vector_id(self, chunk_id: str) -> str:
        """`<chunk_id>:<view>`: the Chroma id of this view, also its image-index key."""
        return vector_id(chunk_id, str(self))


def vector_id(chunk_id: str, view: str | ViewName) -> str:
    """`<chunk_id>:<view>`."""
    return f"{chunk_id}:{view}"


def split_vector_id(vid: str) -> tuple[str, ViewName]:
    """(chunk id, view) of a vector id or image-index key; ValueError when it is not one."""
    chunk, sep, view = vid.rpartition(":")
    if not sep or not chunk:
        raise ValueError(f"{vid!r} is not a vector id (<chunk_id>:<view>)")
    return chunk, ViewName.parse(view)


def keyframe_name(t: float) -> str:
    """The view name of a keyframe at t seconds (`kf12.5`)."""
    return str(ViewName.keyframe(t))


def page_name(page: int) -> str:
    """The view name of one PDF page (`p14`)."""
    return str(ViewName.of_page(page))


# ---------------------------------------------------------------- paths


def meta_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / META_FILE


def manifest_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / MANIFEST_FILE


def alignment_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / ALIGNMENT_FILE


def chroma_dir(index_dir: str | Path) -> Path:
    return Path(index_dir) / CHROMA_DIR


def media_root(index_dir: str | Path) -> Path:
    """`<index>/media`: every source's media folder lives below it."""
    return Path(index_dir) / MEDIA_DIR


def images_dir(index_dir: str | Path) -> Path:
    return Path(index_dir) / IMAGES_DIR


def vector_cache_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / VECTOR_CACHE_FILE


def generation_path(index_dir: str | Path) -> Path:
    """`<index>/generation`: the store's write stamp (rag/store.py `ChromaStore.generation`)."""
    return Path(index_dir) / GENERATION_FILE


def lexical_dir(index_dir: str | Path) -> Path:
    return Path(index_dir) / LEXICAL_DIR


def cue_windows_dir(index_dir: str | Path) -> Path:
    return Path(index_dir) / CUE_WINDOWS_DIR


def transcripts_dir(index_dir: str | Path) -> Path:
    """`<index>/transcripts`: machine transcripts of media without captions (ingest/transcribe.py)."""
    return Path(index_dir) / TRANSCRIPTS_DIR


def ocr_cache_dir(index_dir: str | Path) -> Path:
    return Path(index_dir) / OCR_CACHE_DIR


def source_media_dir(media: str | Path, sha256: str) -> Path:
    """The media folder of one source version, below `<index>/media` (`media`)."""
    return Path(media) / sha256[:MEDIA_HASH_CHARS]


def page_render(source_media: str | Path, page: int) -> Path:
    """The stored render of a PDF page (`p<N>.png`) in its source's media folder."""
    return Path(source_media) / f"{page_name(page)}.png"


def keyframe_image(source_media: str | Path, t: float) -> Path:
    """The stored JPEG of a keyframe at t seconds (`kf_<t>.jpg`) in its video's media folder."""
    return Path(source_media) / f"kf_{ViewName.keyframe(t).t:.1f}.jpg"


# ---------------------------------------------------------------- index.json


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class IndexMeta(_Record):
    """index.json: the vector space of the index; its fingerprint names the Chroma collection."""

    fingerprint: str
    provider: str
    model: str
    dimension: int
    chunking: dict[str, Any] = Field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.provider}:{self.model} ({self.dimension}-d, chunking {self.chunking})"


def read_meta(index_dir: str | Path) -> IndexMeta | None:
    """The index's meta, or None when there is no index yet."""
    path = meta_path(index_dir)
    if not path.is_file():
        return None
    try:
        return IndexMeta.model_validate_json(path.read_text())
    except ValueError as e:
        raise ConfigError(f"{path} is damaged ({e}). Delete the index folder and ingest again.") from e


def write_meta(index_dir: str | Path, meta: IndexMeta) -> None:
    atomic_write_text(meta_path(index_dir), meta.model_dump_json(indent=2))


# ---------------------------------------------------------------- manifest.json


class MachineTranscript(_Record):
    """Where a source's speech-to-text captions were written, and by which transcriber."""

    path: str = Field(description="The WebVTT file under the index.")
    by: str = Field(description="Transcriber label, e.g. `faster-whisper:tiny.en`.")


class ManifestEntry(_Record):
    """One ingested source as the manifest records it. Older files with fewer fields still read; fields
    this version does not know are kept (`model_extra`) and written back."""

    model_config = ConfigDict(frozen=True, extra="allow")

    sha256: str = Field(description="Content hash of the file (and its caption sidecar).")
    kind: SourceKind
    root: str = Field("", description="Absolute course folder the source was found under.")
    path: str = Field("", description="Absolute path of the file (what the UI serves).")
    title: str | None = None
    fingerprint: str = Field("", description="Index fingerprint the source was embedded with.")
    chunks: int = 0
    vectors: int = 0
    duration_s: float | None = None
    page_count: int | None = None
    has_captions: bool | None = None
    media_dir: str = Field("", description="Folder of the source's page renders / keyframes.")
    image_keys: tuple[str, ...] = Field((), description="Its keys in the image index (`<chunk_id>:<view>`).")
    warnings: tuple[str, ...] = ()
    transcript: MachineTranscript | None = Field(None, description="Set when the words are a machine transcript.")
    ingested_at: float = 0.0


class Manifest:
    """What is in the index, per source. Written atomically after every source, so a killed run resumes."""

    def __init__(self, index_dir: str | Path):
        self.path = manifest_path(index_dir)
        data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.sources: dict[str, ManifestEntry] = {
            rel: ManifestEntry.model_validate(e) for rel, e in data.get("sources", {}).items()}

    def get(self, rel: str) -> ManifestEntry | None:
        return self.sources.get(rel)

    def put(self, rel: str, entry: ManifestEntry) -> None:
        self.sources[rel] = entry
        self.save()

    def drop(self, rel: str) -> None:
        self.sources.pop(rel, None)
        self.save()

    def save(self) -> None:
        data = {"sources": {rel: e.model_dump(mode="json") for rel, e in self.sources.items()}}
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))

    def under(self, root: Path) -> list[str]:
        """Sources recorded as coming from this course root."""
        r = str(root.resolve())
        return [rel for rel, e in self.sources.items() if e.root == r]
