"""`status`: what one index holds."""

from __future__ import annotations

import json
from typing import Any

from rag.factory import INDEX_META
from rag.settings import Settings
from rag.store import ChromaStore


def index_status(settings: Settings) -> dict[str, Any]:
    """Sources, chunk and vector counts, embedder and fingerprint of the index."""
    index = settings.index_dir
    manifest_path = index / "manifest.json"
    sources = json.loads(manifest_path.read_text()).get("sources", {}) if manifest_path.is_file() else {}
    meta_path = index / INDEX_META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    vectors = 0
    embedder = None
    fp = meta["fingerprint"] if meta else None
    if meta:
        # No embedder is built: status must work without the key an index was built with.
        vectors = ChromaStore(index, fp, url=settings.store.url).count()
        tag = {"local": "offline", "gemini": "Gemini API", "fake": "test fake"}.get(meta["provider"], "")
        embedder = f"{meta['provider']}:{meta['model']} ({meta['dimension']}-d, {tag})"
    return {
        "index": str(index.resolve()),
        "embedder": embedder or "(no index yet: run `lecturelens ingest COURSE_FOLDER`)",
        "fingerprint": fp,
        "sources": [{"source": rel, "kind": e["kind"], "chunks": e["chunks"], "vectors": e["vectors"],
                     "title": e.get("title"), "has_captions": e.get("has_captions"),
                     "transcript": (e.get("transcript") or {}).get("by"),  # machine transcriber, if one ran
                     "warnings": e.get("warnings", [])} for rel, e in sorted(sources.items())],
        "chunks": sum(e["chunks"] for e in sources.values()),
        "vectors": vectors,
    }
