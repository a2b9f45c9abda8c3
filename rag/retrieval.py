"""Hybrid retrieval: dense (Chroma) + BM25 (+ image matches) fused by reciprocal rank, grouped by chunk."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.alignment import Alignment
from rag.collapse import collapse, moments_before_pages
from rag.embedders.base import Embedder
from rag.lexical import tokens
from rag.lexical_index import LexicalIndex, ViewRow
from rag.moments import moment
from rag.settings import RetrievalSettings
from rag.store import ChromaStore, StoredView
from rag.types import Hit, PageSpan, SlideRef, SourceKind, TimeSpan

log = logging.getLogger(__name__)

# (image bytes, n) -> [(vector id "<chunk_id>:<view>", score)] best first, only real matches.
ImageSearch = Callable[[bytes, int], list[tuple[str, float]]]
# image bytes -> text read from it (OCR), so an image query also searches words.
ImageText = Callable[[bytes], str]


QUERY_OCR_SIDE = 1280  # px: a phone photo is read at this size


def _ocr_sized(image: bytes) -> bytes:
    """The query picture shrunk for OCR: text detection time grows with pixels, while a slide's words
    in a phone photo stay legible at 1280 px (measured: 1.2 s -> 0.8 s on 2 cores, the same words)."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if img is None or max(img.shape[:2]) <= QUERY_OCR_SIDE:
        return image  # unreadable pictures fail later with a clear message; small ones stay as they are
    s = QUERY_OCR_SIDE / max(img.shape[:2])
    small = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return buf.tobytes() if ok else image


@dataclass
class Query:
    """What a user asked: text, an image, or both, with optional filters."""

    text: str | None = None
    image: bytes | None = None
    image_mime: str = "image/jpeg"
    sources: Sequence[str] | None = None
    kinds: Sequence[SourceKind] | None = None
    # filled by the retriever for lexical search and answers: the text of the slide or frame the
    # picture was verified to show, else OCR of the picture
    image_text: str = ""

    def words(self) -> str:
        return " ".join(t for t in (self.text or "", self.image_text) if t)


_Moment = tuple[SlideRef | None, TimeSpan | None]


@dataclass
class _Ranked:
    ranks: dict[str, int] = field(default_factory=dict)  # vector id -> 1-based rank
    scores: dict[str, float] = field(default_factory=dict)
    # image queries: video chunk id -> (the page it was found through, the stretch showing it)
    moments: dict[str, _Moment] = field(default_factory=dict)
    words: str = ""  # image queries: the text of the best verified match


class Retriever:
    """Search one index. Thread-safe for concurrent queries (the lexical cache is locked)."""

    def __init__(self, store: ChromaStore, embedder: Embedder, settings: RetrievalSettings, *,
                 image_search: ImageSearch | None = None, image_text: ImageText | None = None,
                 embeds_images: bool = False, alignment: Alignment | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.image_search = image_search
        self.image_text = image_text
        self.embeds_images = embeds_images  # True for a multimodal space (Gemini): images go to dense search
        self.alignment = alignment  # which deck page each video segment shows (None: no slides attached)
        self._lock = threading.Lock()
        self._lex_key: tuple[int, int] | None = None
        self._lex: LexicalIndex | None = None

    # -- candidates -------------------------------------------------------------------------
    def _views(self) -> LexicalIndex:
        """The lexical index and view tables: loaded from <index>/lexical/ (memory-mapped) when it matches
        the store, else rebuilt from every stored view and saved for the next process."""
        with self._lock:
            count = self.store.count()
            key = (count, self.store.version)
            if self._lex is None or key != self._lex_key:
                lex = LexicalIndex.load(self.store.index_dir) if self._lex is None else None
                if lex is None or lex.count != count:
                    lex = LexicalIndex.build(self.store.all_views(), count)
                    try:
                        lex.save(self.store.index_dir)
                    except OSError as e:  # a read-only index still answers, it rebuilds per process
                        log.warning("could not save the lexical index in %s: %s", self.store.index_dir, e)
                self._lex, self._lex_key = lex, key
            return self._lex

    def refresh(self) -> None:
        """Bring the on-disk lexical index in line with the store (ingest calls this when it is done)."""
        self._views()

    def idf(self, term: str) -> float:
        """How distinctive a query term is in this course (rare or absent terms weigh most)."""
        return self._views().idf_of(term)

    def views_by_id(self) -> dict[str, StoredView]:
        """Every stored view by vector id (reads the whole store: for listings, not per query)."""
        return {v.vector_id: v for v in self.store.all_views()}

    @staticmethod
    def _allowed(r: ViewRow, q: Query) -> bool:
        return (not q.sources or r.source in q.sources) and (not q.kinds or r.kind in q.kinds)

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
        rank = 0
        for r, score in self._views().top(words, n * 4):
            if not self._allowed(r, q):
                continue
            rank += 1
            out.ranks[r.vector_id], out.scores[r.vector_id] = rank, score
            if rank >= n:
                break
        missing = [vid for vid in out.ranks if vid not in seen]
        seen.update(self.store.get(missing))
        return out

    def _image(self, q: Query, n: int, seen: dict[str, StoredView]) -> _Ranked:
        out = _Ranked()
        if q.image is None or self.image_search is None:
            return out
        views = self._views()
        found: dict[str, float] = {}  # vector id -> score
        pages: dict[tuple[str, int], float] = {}  # deck page -> how surely the picture shows it
        direct: dict[str, list[str]] = {}  # video chunk id -> its matched keyframe views
        for vid, score in self.image_search(q.image, n * 2):
            r = views.by_id.get(vid)
            if r is None:
                continue
            if not out.words:
                out.words = self._words_of(r)
            found[vid] = max(found.get(vid, 0.0), score)
            if r.page is not None:
                key = (r.source, r.page)
                pages[key] = max(pages.get(key, 0.0), score)
            elif r.kind == "video":
                direct.setdefault(r.chunk_id, []).append(r.view)
                slide = self._keyframe_slide(r)
                if slide is not None:  # a frame of a slide: its page is (nearly) as sure
                    key = (slide.source, slide.page)
                    pages[key] = max(pages.get(key, 0.0), score * slide.confidence)
        out.moments = self._moments(pages, direct, found, views)
        for key, score in pages.items():
            if key in views.pages:
                vid = views.pages[key].vector_id
                found[vid] = max(found.get(vid, 0.0), score)
        # Moments first, then the page they show: equal scores rank video before PDF.
        order = sorted(((vid, sc) for vid, sc in found.items() if self._allowed(views.by_id[vid], q)),
                       key=lambda t: (-t[1], views.by_id[t[0]].kind == "pdf", t[0]))[:n]
        fetched = self.store.get([vid for vid, _ in order if vid not in seen])
        for rank, (vid, score) in enumerate(order, start=1):
            if vid in fetched:
                seen.setdefault(vid, fetched[vid])
            out.ranks[vid], out.scores[vid] = rank, round(score, 6)
        return out

    def _words_of(self, r: ViewRow) -> str:
        """The words of a matched picture: a page's text, a keyframe's OCR, else its aligned page's text."""
        slide = self._keyframe_slide(r) if r.kind == "video" else None
        page = self._views().pages.get((slide.source, slide.page)) if slide is not None else None
        got = self.store.get([r.vector_id] + ([page.vector_id] if page is not None else []))
        own = got.get(r.vector_id)
        if own is not None and own.text.strip():
            return own.text
        return got[page.vector_id].text if page is not None and page.vector_id in got else ""

    def _keyframe_slide(self, r: ViewRow) -> SlideRef | None:
        seg = self.alignment.get(r.chunk_id) if self.alignment is not None else None
        if seg is None:
            return None
        return next((k.slide for k in seg.keyframes if f"kf{k.t:.1f}" == r.view), None)

    def _moments(self, pages: dict[tuple[str, int], float], direct: dict[str, list[str]],
                 found: dict[str, float], views: LexicalIndex) -> dict[str, _Moment]:
        """Video segments an image query found, directly or through the page they show, with that page
        and the stretch of the segment where it is on screen."""
        page_of: dict[str, tuple[float, tuple[str, int]]] = {}  # chunk id -> (score, best page it shows)
        if self.alignment is not None:
            for key, score in pages.items():
                for cid in self.alignment.showing(*key):
                    v = views.by_chunk.get(cid)
                    if v is None:
                        continue
                    found[v.vector_id] = max(found.get(v.vector_id, 0.0), score)
                    if cid not in page_of or score > page_of[cid][0]:
                        page_of[cid] = (score, key)
        out: dict[str, _Moment] = {}
        for cid in set(direct) | set(page_of):
            seg = self.alignment.get(cid) if self.alignment is not None else None
            if seg is None:
                out[cid] = (None, None)
                continue
            key = page_of[cid][1] if cid in page_of else None
            stretches = [(k.start, k.end) for k in seg.keyframes if f"kf{k.t:.1f}" in direct.get(cid, ())]
            slide = None
            if key is not None:
                stretches += seg.spans_showing(*key)
                slide = next(k.slide for k in seg.keyframes
                             if k.slide and (k.slide.source, k.slide.page) == key)
            span = TimeSpan(start_s=min(a for a, _ in stretches), end_s=max(b for _, b in stretches)) \
                if stretches else None
            out[cid] = (slide, span)
        return out

    # -- fusion -----------------------------------------------------------------------------
    def search(self, q: Query, k: int | None = None) -> list[Hit]:
        """Top-k hits for a query, one per chunk, PDF slices refined to their best page."""
        k = k or self.settings.k
        n = max(self.settings.candidates, k)
        image_seen: dict[str, StoredView] = {}
        image = self._image(q, n, image_seen)
        if q.image is not None and self.image_text is not None and not q.image_text:
            # A picture verified to show a slide or frame has that slide's words (its text layer, or
            # the OCR done at ingest); reading the photo again would cost ~0.7 s of the 1 s budget.
            q.image_text = image.words or self.image_text(_ocr_sized(q.image))
        seen: dict[str, StoredView] = {}
        dense = self._dense(q, n, seen)
        lexical = self._lexical(q, n, seen)
        for vid, v in image_seen.items():
            seen.setdefault(vid, v)
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
            chunk = c["chunk"]
            refined = self._refine(chunk, [v for _, (_, v) in views], q)
            slide, span = image.moments.get(chunk.id, (None, None))
            if self.alignment is not None and chunk.kind == "video":
                chunk = self.alignment.attach(chunk, slide)
                refined = span or refined
            b = c["best"]
            hits.append(Hit(
                chunk=chunk, score=round(fused / best_max, 6), views=tuple(name for name, _ in views),
                refined=refined,
                dense_rank=b[0][0] if 0 in b else None, dense_score=b[0][1] if 0 in b else None,
                lexical_rank=b[1][0] if 1 in b else None, lexical_score=b[1][1] if 1 in b else None,
                image_rank=b[2][0] if 2 in b else None, image_score=b[2][1] if 2 in b else None,
            ))
        hits.sort(key=lambda h: -h.score)
        hits = collapse(hits)
        if q.image is not None:
            hits = moments_before_pages(hits)
        return [self._with_moment(h, q) for h in hits[:k]]

    def _with_moment(self, hit: Hit, q: Query) -> Hit:
        """A video/audio hit with its sentence-level moment: where the picture of an image query is on
        screen, else the caption cue(s) that best support the query's words."""
        if not isinstance(hit.chunk.locator, TimeSpan):
            return hit
        shown = hit.refined if hit.image_rank is not None and isinstance(hit.refined, TimeSpan) else None
        found = shown or moment(hit.chunk, q.words(), self.idf)
        return hit.model_copy(update={"moment": found})

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
