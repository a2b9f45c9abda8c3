"""One factory turns Settings into live objects; every collaborator can be overridden by keyword."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.embedders.base import Embedder
from rag.errors import ConfigError, IndexMismatchError
from rag.retrieval import Retriever
from rag.settings import Settings, fingerprint
from rag.store import ChromaStore

INDEX_META = "index.json"


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (`auto` resolved)."""
    provider = settings.resolved_provider()
    if provider == "gemini":
        key = settings.api_key()
        if key is None:
            raise ConfigError("embedding.provider is gemini but neither GEMINI_API_KEY nor GOOGLE_API_KEY is set. "
                              "Export one, or set embedding.provider: local.")
        from rag.embedders.gemini import GeminiEmbedder
        from rag.vector_cache import CACHE_FILE, VectorCache

        return GeminiEmbedder(settings.gemini, key, cache=VectorCache(settings.index_dir / CACHE_FILE))
    if provider == "fake":
        from rag.embedders.fake import FakeEmbedder

        return FakeEmbedder()
    from rag.embedders.local import LocalEmbedder

    return LocalEmbedder()


def check_media_limits(settings: Settings, embedder: Any) -> None:
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
    tag = {"local": "offline", "fake": "test fake", "gemini": "Gemini API"}.get(embedder.provider, embedder.provider)
    return f"{embedder.provider}:{embedder.model} ({embedder.dimension}-d, {tag})"


@dataclass
class Services:
    """Everything a command needs, built once."""

    settings: Settings
    embedder: Embedder
    store: ChromaStore
    retriever: Retriever
    image_index: Any
    fingerprint: str

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    @property
    def media_dir(self) -> Path:
        return self.settings.index_dir / "media"

    @property
    def embedder_label(self) -> str:
        return describe(self.embedder)


def _check_index(index_dir: Path, meta: dict[str, Any], *, create: bool) -> None:
    path = index_dir / INDEX_META
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("fingerprint") != meta["fingerprint"]:
            raise IndexMismatchError(
                f"The index in {index_dir} was built with {old.get('provider')}:{old.get('model')} "
                f"({old.get('dimension')}-d, chunking {old.get('chunking')}), but the current settings use "
                f"{meta['provider']}:{meta['model']} ({meta['dimension']}-d, chunking {meta['chunking']}). "
                "Vectors from different spaces never mix: use another --index for these settings, or restore "
                "the settings the index was built with.")
    elif create:
        index_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta, indent=2))


def build(settings: Settings, *, embedder: Embedder | None = None, store: ChromaStore | None = None,
          image_index: Any = None, ocr_text: Any = None, create: bool = False) -> Services:
    """Wire the services for one index. `create` writes index.json when the index is new."""
    embedder = embedder or make_embedder(settings)
    check_media_limits(settings, embedder)
    chunking = settings.chunking_fingerprint()
    fp = fingerprint(embedder.provider, embedder.model, embedder.dimension, chunking)
    meta = {"fingerprint": fp, "provider": embedder.provider, "model": embedder.model,
            "dimension": embedder.dimension, "chunking": chunking}
    _check_index(settings.index_dir, meta, create=create)
    store = store or ChromaStore(settings.index_dir, fp, url=settings.store.url,
                                 space_meta={"provider": embedder.provider, "model": embedder.model,
                                             "dimension": embedder.dimension})
    if image_index is None:
        from rag.image_index import ImageIndex

        image_index = ImageIndex(settings.index_dir / "images")
    if ocr_text is None and settings.chunking.ocr:
        from rag.ocr import ocr_text as _ocr_text

        ocr_text = _ocr_text

    def image_search(image: bytes, n: int) -> list[tuple[str, float]]:
        return [(m.key, m.score) for m in image_index.search(image, n) if m.matched]

    from rag.alignment import Alignment

    retriever = Retriever(store, embedder, settings.retrieval, image_search=image_search,
                          image_text=ocr_text, embeds_images=embedder.provider == "gemini",
                          alignment=Alignment(settings.index_dir))
    return Services(settings=settings, embedder=embedder, store=store, retriever=retriever,
                    image_index=image_index, fingerprint=fp)
