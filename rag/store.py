"""The vector store: a Chroma collection reached through LlamaIndex's ChromaVectorStore.

chromadb is imported only here. Vectors are always passed in: Chroma's default embedding
function would download a model, so collections are opened with `embedding_function=None`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.files import atomic_write_text
from rag.index import ViewName, chroma_dir, generation_path, vector_id
from rag.types import Chunk, PageSpan, TimeSpan, View

log = logging.getLogger(__name__)

PAGE = 5000  # views per read when listing the whole collection


@dataclass(frozen=True)
class StoredView:
    """One stored vector as retrieval sees it."""

    vector_id: str
    chunk: Chunk
    view: str
    page: int | None
    text: str
    score: float = 0.0  # cosine similarity for dense results

    @property
    def view_name(self) -> ViewName:
        return ViewName.parse(self.view)


def _metadata(chunk: Chunk, view: View) -> dict[str, Any]:
    loc = chunk.locator
    meta: dict[str, Any] = {
        "chunk_id": chunk.id,
        "view": view.name,
        "source": chunk.source,
        "kind": chunk.kind,
        "chunk": chunk.model_dump_json(),
    }
    if isinstance(loc, TimeSpan):
        meta.update(start=loc.start_s, end=loc.end_s)
    elif isinstance(loc, PageSpan):
        meta.update(first=loc.first, last=loc.last)
    if view.page is not None:
        meta["page"] = view.page
    return meta


class ChromaStore:
    """One collection per index fingerprint, embedded on disk or on a Chroma server."""

    def __init__(self, index_dir: Path, fingerprint: str, *, url: str | None = None,
                 space_meta: dict[str, Any] | None = None, client: Any = None):
        self.index_dir = Path(index_dir)
        self.fingerprint = fingerprint
        self.collection_name = f"lecturelens_{fingerprint}"
        self._client = client if client is not None else self._make_client(url)
        self._collection = self._client.get_or_create_collection(
            name=self.collection_name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"fingerprint": fingerprint, **(space_meta or {})},
        )
        self._vector_store: Any = None
        self._version = 0

    @property
    def vector_store(self):
        """LlamaIndex's ChromaVectorStore over the collection, which writes (and deletes) the nodes. Built on
        first use: importing llama_index.core costs ~1 s (4.6 s at a load of 10 on 2 cores), and a search
        reads the collection directly, so `lecturelens search` never pays it."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self._collection)
        return self._vector_store

    def _make_client(self, url: str | None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if url:
            from urllib.parse import urlparse

            u = urlparse(url)
            if not u.hostname:
                raise ConfigError(f"store.url {url!r} is not a URL like http://127.0.0.1:8000. Fix config.yaml.")
            return chromadb.HttpClient(host=u.hostname, port=u.port or 8000, ssl=u.scheme == "https",
                                       settings=chroma_settings)
        path = chroma_dir(self.index_dir)
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)

    @property
    def version(self) -> int:
        """Bumped on every write in this process: a cheap in-process test before `state` is read again."""
        return self._version

    def count(self) -> int:
        return self._collection.count()

    def generation(self) -> str:
        """The stamp every write renews in `<index>/generation`, so another process sees a re-ingest that kept
        the vector count (one file's text changed); "" for an index written before the stamp existed."""
        try:
            return generation_path(self.index_dir).read_text().strip()
        except OSError:
            return ""

    def state(self) -> tuple[int, str]:
        """(vector count, generation): what the caches built from the stored texts (lexical index, glossary,
        cue windows) record and compare. The stamp is read first: a write after it makes the key stale."""
        generation = self.generation()
        return self.count(), generation

    def _written(self) -> None:
        # after the write: a reader that sees the new stamp also sees the new vectors
        self._version += 1
        path = generation_path(self.index_dir)
        # The vectors are stored already: a stamp that cannot be written must not fail the commit (ingest
        # would report a stored file as failed). Retried once, then logged: a process that keeps its caches
        # (the UI) does not notice a re-ingest that kept the vector count until the stamp is renewed.
        for attempt in (1, 2):
            try:
                atomic_write_text(path, uuid.uuid4().hex)
                return
            except OSError as e:
                if attempt == 2:
                    log.warning("could not renew the write stamp %s (%s): a running UI or other process on this "
                                "index may search the old texts of a re-ingested file until it is restarted. "
                                "Make %s writable.", path, e, self.index_dir)

    def add(self, chunk: Chunk, views: Sequence[View], vectors: Sequence[Sequence[float]]) -> int:
        """Store the views of one chunk as LlamaIndex nodes with precomputed embeddings."""
        return self.add_many([(chunk, views, vectors)])

    def add_many(self, items: Sequence[tuple[Chunk, Sequence[View], Sequence[Sequence[float]]]]) -> int:
        """Store the views of many chunks in one write (ingest stores a whole source at once: one Chroma
        transaction instead of one per chunk)."""
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode

        nodes: list[BaseNode] = []
        for chunk, views, vectors in items:
            for view, vec in zip(views, vectors, strict=True):
                nodes.append(TextNode(
                    id_=vector_id(chunk.id, view.name),
                    text=view.text,
                    embedding=list(map(float, vec)),
                    metadata=_metadata(chunk, view),
                    excluded_embed_metadata_keys=["chunk"],
                    excluded_llm_metadata_keys=["chunk"],
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.source)},
                ))
        if nodes:
            self.vector_store.add(nodes)
            self._written()
        return len(nodes)

    def delete_source(self, source: str) -> None:
        """Remove every vector of one source (its path is the LlamaIndex ref_doc_id)."""
        self.vector_store.delete(ref_doc_id=source)
        self._written()

    def query(self, vector: Sequence[float], n: int, where: dict[str, Any] | None = None) -> list[StoredView]:
        """Dense top-n views, with cosine similarity as score. Reads the collection directly (the nodes
        ChromaVectorStore wrote: document = node text, our metadata keys beside LlamaIndex's own)."""
        # No count() first: Chroma 1.5 returns fewer than n (none for an empty collection) by itself, and a
        # count costs 10-30 ms at 100k vectors.
        res = self._collection.query(query_embeddings=[list(map(float, vector))], n_results=n,
                                     where=where or None, include=["documents", "metadatas", "distances"])
        # The collection's distance is 1 - cosine.
        return [self._stored(i, d or "", m, 1.0 - dist) for i, d, m, dist in
                zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True)]

    def all_views(self, where: dict[str, Any] | None = None) -> list[StoredView]:
        """Every stored view (text + chunk), for lexical search and listings. Read in pages: one `get` of a
        whole large collection fails in embedded Chroma 1.5 ("too many SQL variables", seen at 100k vectors)."""
        out: list[StoredView] = []
        while True:
            res = self._collection.get(include=["documents", "metadatas"], where=where, limit=PAGE, offset=len(out))
            out += [self._stored(i, d or "", m) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"],
                                                                   strict=True)]
            if len(res["ids"]) < PAGE:
                return out

    def get(self, ids: Sequence[str]) -> dict[str, StoredView]:
        """The stored views with these vector ids (absent ids are left out)."""
        if not ids:
            return {}
        res = self._collection.get(ids=list(dict.fromkeys(ids)), include=["documents", "metadatas"])
        return {i: self._stored(i, d or "", m) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"],
                                                                  strict=True)}

    def chunks_of(self, source: str) -> list[Chunk]:
        """Distinct chunks of one source in locator order."""
        seen: dict[str, Chunk] = {}
        for v in self.all_views(where={"source": source}):
            seen.setdefault(v.chunk.id, v.chunk)
        return sorted(seen.values(), key=_locator_key)

    @staticmethod
    def _stored(vector_id: str, text: str, meta: dict[str, Any], score: float = 0.0) -> StoredView:
        page = meta.get("page")
        return StoredView(vector_id=vector_id, chunk=Chunk.model_validate_json(meta["chunk"]),
                          view=str(meta["view"]), page=int(page) if isinstance(page, int | float) else None,
                          text=text, score=score)


def _locator_key(chunk: Chunk) -> float:
    loc = chunk.locator
    return loc.start_s if isinstance(loc, TimeSpan) else float(loc.first)
