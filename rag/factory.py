"""One factory turns Settings into live objects; every collaborator can be overridden by keyword."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.embedders.base import Embedder, sees
from rag.embedders.registry import get_provider, provider_tag
from rag.errors import ConfigError, IndexMismatchError
from rag.index import IndexMeta, images_dir, media_root, read_meta, write_meta
from rag.retrieval import Retriever
from rag.settings import Settings, fingerprint
from rag.store import ChromaStore
from rag.types import ImageText

if TYPE_CHECKING:
    from rag.image_index import Described, ImageMatch
    from rag.vision import ImageInput


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (`auto` resolved), from the provider registry."""
    return get_provider(settings.resolved_provider()).build(settings)


def check_media_limits(settings: Settings, embedder: Embedder) -> None:
    """ConfigError when a segment may be longer than the embedder takes per clip (e.g. Gemini: audio <= 80 s)."""
    limits: dict[str, float] = getattr(embedder, "media_seconds", None) or {}
    if not limits:
        return
    kind, most = min(limits.items(), key=lambda kv: kv[1])
    longest = settings.chunking.max_segment_s
    if longest > most:
        raise ConfigError(
            f"chunking.max_segment_s is {longest:g} s, but {embedder.model} embeds {kind} clips of at most "
            f"{most:g} s ({', '.join(f'{k} {v:g} s' for k, v in sorted(limits.items()))}). "
            f"Set chunking.max_segment_s to {most:g} or less.")


def describe(embedder: Embedder) -> str:
    """`local:all-MiniLM-L6-v2 (384-d, offline)` — said in every output."""
    return f"{embedder.provider}:{embedder.model} ({embedder.dimension}-d, {provider_tag(embedder.provider)})"


class PictureIndex(Protocol):
    """Stored pictures (page renders, keyframes) under `<chunk_id>:<view>` keys; rag.image_index.ImageIndex."""

    def add(self, key: str, image: ImageInput, described: Described | None = None) -> None: ...

    def subset(self, keys: Collection[str]) -> PictureIndex: ...

    def remove(self, keys: Iterable[str]) -> int: ...

    def save(self) -> None: ...

    def search(self, image: ImageInput, k: int = 5, *,
               allowed: Collection[str] | None = None) -> list[ImageMatch]: ...


@dataclass
class Services:
    """Everything a command needs, built once."""

    settings: Settings
    embedder: Embedder
    store: ChromaStore
    retriever: Retriever
    image_index: PictureIndex
    fingerprint: str

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    @property
    def media_dir(self) -> Path:
        return media_root(self.settings.index_dir)

    @property
    def embedder_label(self) -> str:
        return describe(self.embedder)


def _check_index(index_dir: Path, meta: IndexMeta, *, create: bool) -> None:
    old = read_meta(index_dir)
    if old is not None:
        if old.fingerprint != meta.fingerprint:
            raise IndexMismatchError(
                f"The index in {index_dir} was built with {old.describe()}, but the current settings use "
                f"{meta.describe()}. "
                "Vectors from different spaces never mix: use another --index for these settings, or restore "
                "the settings the index was built with.")
    elif create:
        write_meta(index_dir, meta)


def build(settings: Settings, *, embedder: Embedder | None = None, store: ChromaStore | None = None,
          image_index: PictureIndex | None = None, ocr_text: ImageText | None = None,
          create: bool = False) -> Services:
    """Wire the services for one index. `create` writes index.json when the index is new."""
    embedder = embedder or make_embedder(settings)
    check_media_limits(settings, embedder)
    chunking = settings.chunking_fingerprint()
    fp = fingerprint(embedder.provider, embedder.model, embedder.dimension, chunking)
    meta = IndexMeta(fingerprint=fp, provider=embedder.provider, model=embedder.model,
                     dimension=embedder.dimension, chunking=chunking)
    _check_index(settings.index_dir, meta, create=create)
    store = store or ChromaStore(settings.index_dir, fp, url=settings.store.url,
                                 space_meta={"provider": embedder.provider, "model": embedder.model,
                                             "dimension": embedder.dimension})
    if image_index is None:
        from rag.image_index import ImageIndex

        image_index = ImageIndex(images_dir(settings.index_dir))
    if ocr_text is None and settings.chunking.ocr:
        from rag.ocr import ocr_text as _ocr_text

        ocr_text = _ocr_text

    def image_search(image: bytes, n: int) -> list[tuple[str, float]]:
        return [(m.key, m.score) for m in image_index.search(image, n) if m.matched]

    from rag.alignment import Alignment

    retriever = Retriever(store, embedder, settings.retrieval, image_search=image_search,
                          image_text=ocr_text, embeds_images=sees(embedder, "image"),
                          alignment=Alignment(settings.index_dir))
    return Services(settings=settings, embedder=embedder, store=store, retriever=retriever,
                    image_index=image_index, fingerprint=fp)
