"""`status`: what one index holds."""

from __future__ import annotations

from typing import Any

from rag.embedders.registry import provider_tag
from rag.index import Manifest, read_meta
from rag.settings import Settings
from rag.store import ChromaStore


def index_status(settings: Settings) -> dict[str, Any]:
    """Sources, chunk and vector counts, embedder and fingerprint of the index."""
    index = settings.index_dir
    sources = Manifest(index).sources
    meta = read_meta(index)
    vectors = 0
    embedder = None
    fp = meta.fingerprint if meta else None
    if meta:
        # No embedder is built: status must work without the key an index was built with.
        vectors = ChromaStore(index, meta.fingerprint, url=settings.store.url).count()
        embedder = f"{meta.provider}:{meta.model} ({meta.dimension}-d, {provider_tag(meta.provider)})"
    return {
        "index": str(index.resolve()),
        "embedder": embedder or "(no index yet: run `lecturelens ingest COURSE_FOLDER`)",
        "fingerprint": fp,
        "sources": [{"source": rel, "kind": e.kind, "chunks": e.chunks, "vectors": e.vectors,
                     "title": e.title, "has_captions": e.has_captions,
                     "warnings": list(e.warnings)} for rel, e in sorted(sources.items())],
        "chunks": sum(e.chunks for e in sources.values()),
        "vectors": vectors,
    }
