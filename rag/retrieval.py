"""Hybrid retrieval: dense (Chroma) + BM25 (+ image matches) fused by reciprocal rank, grouped by chunk."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.embedders.base import Embedder
from rag.lexical import BM25, tokens
from rag.settings import RetrievalSettings
from rag.store import ChromaStore, StoredView
from rag.types import Hit, PageSpan, SourceKind

# (image bytes, n) -> [(vector id "<chunk_id>:<view>", score)] best first, only real matches.
ImageSearch = Callable[[bytes, int], list[tuple[str, float]]]
# image bytes -> text read from it (OCR), so an image query also searches words.
ImageText = Callable[[bytes], str]


@dataclass
class Query:
    """What a user asked: text, an image, or both, with optional filters."""

    text: str | None = None
    image: bytes | None = None
    image_mime: str = "image/jpeg"
    sources: Sequence[str] | None = None
    kinds: Sequence[SourceKind] | None = None
    image_text: str = ""  # filled by the retriever (OCR of the image) for lexical search and answers

    def words(self) -> str:
        return " ".join(t for t in (self.text or "", self.image_text) if t)


@dataclass
class _Ranked:
    ranks: dict[str, int] = field(default_factory=dict)  # vector id -> 1-based rank
    scores: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Search one index. Thread-safe for concurrent queries (the lexical cache is locked)."""

    def __init__(self, store: ChromaStore, embedder: Embedder, settings: RetrievalSettings, *,
                 image_search: ImageSearch | None = None, image_text: ImageText | None = None,
                 embeds_images: bool = False):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.image_search = image_search
        self.image_text = image_text
        self.embeds_images = embeds_images  # True for a multimodal space (Gemini): images go to dense search
        self._lock = threading.Lock()
        self._lex_key: tuple[int, int] | None = None
        self._lex: tuple[BM25, list[StoredView]] | None = None

    # -- candidates -------------------------------------------------------------------------
    def _lexical_index(self) -> tuple[BM25, list[StoredView]]:
        with self._lock:
            key = (self.store.count(), self.store.version)
            if self._lex is None or key != self._lex_key:
                views = [v for v in self.store.all_views() if v.text.strip()]
                self._lex = (BM25([v.text for v in views]), views)
                self._lex_key = key
            return self._lex

    def idf(self, term: str) -> float:
        """How distinctive a query term is in this course (rare or absent terms weigh most)."""
        bm25, _ = self._lexical_index()
        return bm25.idf_of(term)

    def views_by_id(self) -> dict[str, StoredView]:
        _, views = self._lexical_index()
        return {v.vector_id: v for v in views}

    @staticmethod
    def _allowed(v: StoredView, q: Query) -> bool:
        return (not q.sources or v.chunk.source in q.sources) and (not q.kinds or v.chunk.kind in q.kinds)

    @staticmethod
    def _where(q: Query) -> dict | None:
        clauses = []
        if q.sources:
            clauses.append({"source": {"$in": list(q.sources)}})
        if q.kinds:
            clauses.append({"kind": {"$in": list(q.kinds)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def _dense(self, q: Query, n: int, seen: dict[str, StoredView]) -> _Ranked:
        text = q.text or q.image_text or None
        image = q.image if self.embeds_images else None
        if not text and image is None:
            return _Ranked()
        vec = self.embedder.embed_query(text=text, image=image, image_mime=q.image_mime)
        out = _Ranked()
        if not len(vec):  # nothing to search with (e.g. a picture without readable text, offline)
            return out
        for rank, v in enumerate(self.store.query(vec, n, self._where(q)), start=1):
            seen[v.vector_id] = v
            out.ranks[v.vector_id], out.scores[v.vector_id] = rank, v.score
        return out

    def _lexical(self, q: Query, n: int, seen: dict[str, StoredView]) -> _Ranked:
        words = q.words()
        out = _Ranked()
        if not words.strip():
            return out
        bm25, views = self._lexical_index()
        rank = 0
        for i, score in bm25.top(words, n * 4):
            v = views[i]
            if not self._allowed(v, q):
                continue
            rank += 1
            seen.setdefault(v.vector_id, v)
            out.ranks[v.vector_id], out.scores[v.vector_id] = rank, score
            if rank >= n:
                break
        return out

    def _image(self, q: Query, n: int, seen: dict[str, StoredView]) -> _Ranked:
        out = _Ranked()
        if q.image is None or self.image_search is None:
            return out
        by_id = self.views_by_id()
        rank = 0
        for vid, score in self.image_search(q.image, n * 2):
            v = by_id.get(vid)
            if v is None or not self._allowed(v, q):
                continue
            rank += 1
            seen.setdefault(vid, v)
            out.ranks[vid], out.scores[vid] = rank, score
            if rank >= n:
                break
        return out

    # -- fusion -----------------------------------------------------------------------------
    def search(self, q: Query, k: int | None = None) -> list[Hit]:
        """Top-k hits for a query, one per chunk, PDF slices refined to their best page."""
        k = k or self.settings.k
        n = max(self.settings.candidates, k)
        if q.image is not None and self.image_text is not None and not q.image_text:
            q.image_text = self.image_text(q.image)
        seen: dict[str, StoredView] = {}
        dense = self._dense(q, n, seen)
        lexical = self._lexical(q, n, seen)
        image = self._image(q, n, seen)
        # An image match verified geometrically is the strongest evidence an image query has.
        weights = ((dense, 1.0), (lexical, 1.0), (image, 2.0))
        rrf_k = self.settings.rrf_k
        best_max = sum(w for r, w in weights if r.ranks) / (rrf_k + 1) or 1.0

        per_chunk: dict[str, dict] = {}
        for vid, v in seen.items():
            c = per_chunk.setdefault(v.chunk.id, {"chunk": v.chunk, "views": {}, "best": {}})
            contrib = 0.0
            for idx, (r, w) in enumerate(weights):
                if vid in r.ranks:
                    contrib += w / (rrf_k + r.ranks[vid])
                    prev = c["best"].get(idx)
                    if prev is None or r.ranks[vid] < prev[0]:
                        c["best"][idx] = (r.ranks[vid], r.scores[vid])
            c["views"][v.view] = (contrib, v)
        hits = []
        for c in per_chunk.values():
            fused = sum(w / (rrf_k + c["best"][i][0]) for i, (_, w) in enumerate(weights) if i in c["best"])
            views = sorted(c["views"].items(), key=lambda kv: -kv[1][0])
            refined = self._refine(c["chunk"], [v for _, (_, v) in views], q)
            b = c["best"]
            hits.append(Hit(
                chunk=c["chunk"], score=round(fused / best_max, 6), views=tuple(name for name, _ in views),
                refined=refined,
                dense_rank=b[0][0] if 0 in b else None, dense_score=b[0][1] if 0 in b else None,
                lexical_rank=b[1][0] if 1 in b else None, lexical_score=b[1][1] if 1 in b else None,
                image_rank=b[2][0] if 2 in b else None, image_score=b[2][1] if 2 in b else None,
            ))
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    @staticmethod
    def _refine(chunk, views: list[StoredView], q: Query) -> PageSpan | None:
        """A PDF slice becomes its best page: the best-ranked page view, else the best word overlap."""
        if not isinstance(chunk.locator, PageSpan):
            return None
        for v in views:
            if v.page is not None:
                return PageSpan(first=v.page, last=v.page)
        if not chunk.page_texts:
            return None
        want = set(tokens(q.words()))
        overlaps = [len(want & set(tokens(t))) for t in chunk.page_texts]
        best = max(range(len(overlaps)), key=lambda i: (overlaps[i], -i))
        page = chunk.locator.first + best
        return PageSpan(first=page, last=page)
