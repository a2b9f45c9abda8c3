"""Hybrid retrieval: dense (Chroma) + BM25 (+ image matches) fused by reciprocal rank, grouped by chunk."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rag.alignment import Alignment
from rag.collapse import collapse, moments_before_pages
from rag.cue_windows import ROWS_FILE as CUE_ROWS_FILE
from rag.cue_windows import CueWindows, Window
from rag.embedders.base import Embedder
from rag.fusion import Channel, Fused, Ranked, fuse, reorder_within
from rag.glossary import Expansion
from rag.image_query import ImageMatches, ImageSearch, match_image, ocr_sized
from rag.index import ViewName, cue_windows_dir
from rag.lexical import tokens
from rag.lexical_index import LexicalIndex, ViewRow
from rag.moments import moment
from rag.settings import RetrievalSettings
from rag.store import ChromaStore, StoredView
from rag.types import Chunk, Hit, ImageText, Locator, PageSpan, SourceKind, TimeSpan

__all__ = ["ImageSearch", "ImageText", "Query", "Retriever", "SearchResult"]

log = logging.getLogger(__name__)
SEG = str(ViewName.seg())

# Writes by this process are seen at once (the store's version); another process's within this many seconds.
# A count costs 10-30 ms at 100k vectors, and one search asks for the views several times (lexical, image,
# the IDF of each moment's words).
RECOUNT_S = 1.0


@dataclass(frozen=True)
class Query:
    """What a user asked: text, an image, or both, with optional filters."""

    text: str | None = None
    image: bytes | None = None
    image_mime: str = "image/jpeg"
    sources: Sequence[str] | None = None
    kinds: Sequence[SourceKind] | None = None


@dataclass(frozen=True)
class SearchResult:
    """The hits of one search and the words it searched with."""

    query: Query
    hits: list[Hit]
    # image queries: the text of the slide or frame the picture was verified to show, else OCR of it
    image_words: str = ""
    # what the course's glossary added to the question for retrieval ("GRE" -> "Generic Routing Encapsulation")
    expansion: Expansion = Expansion()

    @property
    def words(self) -> str:
        """Everything lexical search used: the question, the glossary's additions and the picture's words."""
        return " ".join(t for t in (self.query.text or "", *self.expansion.words, self.image_words) if t)

    @property
    def question(self) -> str:
        """What the answer has to cover: the question, else (image-only) the picture's words."""
        return self.query.text or self.image_words

    def top(self, k: int) -> SearchResult:
        """The same result cut to its first k hits."""
        return SearchResult(self.query, self.hits[:k], self.image_words, self.expansion)


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
        self._lex_key: tuple[int, str] | None = None  # the store's state (count, generation) when last read
        self._lex_version = -1  # the store's in-process version then
        self._counted_at = 0.0
        self._lex: LexicalIndex | None = None
        self._cues_lock = threading.Lock()
        self._cues_seen: tuple[int, int, int] | None = None  # the cue-window file last read (inode, mtime, size)
        self._cues: CueWindows | None = None

    # -- candidates -------------------------------------------------------------------------
    def _views(self) -> LexicalIndex:
        """The lexical index and view tables: loaded from <index>/lexical/ (memory-mapped) when it matches
        the store's state (count and write stamp), else rebuilt from every stored view and saved for the next
        process."""
        with self._lock:
            if (self._lex is not None and self._lex_version == self.store.version
                    and time.monotonic() - self._counted_at < RECOUNT_S):
                return self._lex
            self._lex_version = self.store.version
            key = self.store.state()
            self._counted_at = time.monotonic()
            if self._lex is None or key != self._lex_key:
                # another process (an ingest) may have saved the index of this state already: loading it is
                # cheap (memory-mapped), rebuilding reads every stored view
                lex = LexicalIndex.load(self.store.index_dir)
                if lex is None or lex.state != key:
                    lex = LexicalIndex.build(self.store.all_views(), *key)
                    try:
                        lex.save(self.store.index_dir)
                    except OSError as e:  # a read-only index still answers, it rebuilds per process
                        log.warning("could not save the lexical index in %s: %s", self.store.index_dir, e)
                self._lex, self._lex_key = lex, key
            return self._lex

    def _cue_windows(self, build: bool = False) -> CueWindows | None:
        """The caption-cue vectors of every captioned segment, from <index>/cue_windows/ when they match the
        store; `build` (ingest's refresh) re-embeds what is missing (only new cue texts) and saves them.

        Queries never build: reading every segment back and embedding its cues is ingest work (a 100k-chunk
        index takes ~30 s just to read), so an index written before cue windows existed searches without them
        until the next `lecturelens ingest`, and one another process is re-ingesting until that ingest has saved
        them (a live retriever then loads them). Local embedders only: with a paid API every cue would be one
        more embedding call.
        """
        if not self.embedder.local:
            return None
        if build:  # ingest: read the store's state now
            key = self.store.state()
        else:  # a query: the lexical index's (the store is counted at most once per RECOUNT_S)
            self._views()
            with self._lock:
                key = self._lex_key or self.store.state()
        with self._cues_lock:
            cw = self._cues
            if cw is None or cw.state != key:
                # another process (an ingest) may have saved the windows of this state since they were read
                cw = self._load_cues() or cw
                if build and (cw is None or cw.state != key):
                    segs = [v for v in self.store.all_views(where={"kind": {"$in": ["video", "audio"]}})
                            if v.view == SEG]
                    cw = CueWindows.build(segs, lambda items: self.embedder.embed_documents(items, label="captions"),
                                          key[0], previous=cw, generation=key[1])
                    try:
                        cw.save(self.store.index_dir)
                    except OSError as e:  # a read-only index still answers, without cue windows
                        log.warning("could not save the caption-cue windows in %s: %s", self.store.index_dir, e)
                self._cues = cw
            return cw if cw is not None and cw.state == key else None

    def _load_cues(self) -> CueWindows | None:
        """The saved cue windows when their file changed since this retriever last read it (one stat per query
        while the windows on disk are stale, not one parse); None when unchanged or unreadable."""
        path = cue_windows_dir(self.store.index_dir) / CUE_ROWS_FILE
        try:
            st = path.stat()
        except OSError:
            return None
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen == self._cues_seen:
            return None
        self._cues_seen = seen
        return CueWindows.load(self.store.index_dir)

    def refresh(self) -> None:
        """Bring the on-disk lexical index and cue windows in line with the store (ingest calls this when
        it is done, so the first query does not pay for them)."""
        self._views()
        self._cue_windows(build=True)

    def idf(self, term: str) -> float:
        """How distinctive a query term is in this course (rare or absent terms weigh most)."""
        return self._views().idf_of(term)

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

    def _dense(self, q: Query, image_words: str, n: int, seen: dict[str, StoredView],
               expansion: Expansion | None = None) -> tuple[Ranked, list[float]]:
        """Dense candidates and the query vector they were found with ([] when there was nothing to embed)."""
        text = (expansion.apply(q.text) if expansion else q.text) if q.text else image_words or None
        image = q.image if self.embeds_images else None
        out = Ranked()
        if not text and image is None:
            return out, []
        vec = self.embedder.embed_query(text=text, image=image, image_mime=q.image_mime)
        if not len(vec):  # nothing to search with (e.g. a picture without readable text, offline)
            return out, []
        for rank, v in enumerate(self.store.query(vec, n, self._where(q)), start=1):
            seen[v.vector_id] = v
            out.add(v.vector_id, rank, v.score)
        return out, list(vec)

    def _cue_hits(self, cues: CueWindows | None, q: Query, vec: list[float], n: int,
                  seen: dict[str, StoredView]) -> Ranked:
        """Segments ranked by their caption cue closest to a text query (the `seg` view stands for them)."""
        out = Ranked()
        if cues is None or q.image is not None or not vec:
            return out

        def allowed(w: Window) -> bool:
            return (not q.sources or w.source in q.sources) and (not q.kinds or w.kind in q.kinds)

        for rank, (w, score) in enumerate(cues.search(vec, n, allowed), start=1):
            out.add(w.vector_id, rank, score)
        seen.update(self.store.get([vid for vid in out.ranks if vid not in seen]))
        return out

    def _lexical(self, q: Query, words: str, n: int, seen: dict[str, StoredView]) -> Ranked:
        out = Ranked()
        if not words.strip():
            return out
        rank = 0
        for r, score in self._views().top(words, n * 4):
            if not self._allowed(r, q):
                continue
            rank += 1
            out.add(r.vector_id, rank, score)
            if rank >= n:
                break
        missing = [vid for vid in out.ranks if vid not in seen]
        seen.update(self.store.get(missing))
        return out

    def _image(self, q: Query, n: int) -> ImageMatches:
        if q.image is None or self.image_search is None:
            return ImageMatches()
        return match_image(q.image, n, self.image_search, self._views(), self.store, self.alignment,
                           lambda r: self._allowed(r, q))

    # -- fusion -----------------------------------------------------------------------------
    def search(self, q: Query, k: int | None = None) -> SearchResult:
        """Top-k hits for a query, one per chunk, PDF slices refined to their best page."""
        k = k or self.settings.k
        n = max(self.settings.candidates, k)
        image = self._image(q, n)
        image_words = ""
        if q.image is not None and self.image_text is not None:
            # A picture verified to show a slide or frame has that slide's words (its text layer, or
            # the OCR done at ingest); reading the photo again would cost ~0.7 s of the 1 s budget.
            image_words = image.words or self.image_text(ocr_sized(q.image))
        # A question that uses one side of a course glossary pair searches with the other too (an offline
        # embedder does not know "GRE"); the question shown, cited and judged stays as asked.
        expansion = self._views().glossary.expand(q.text) if self.settings.expand else Expansion()
        words = SearchResult(q, [], image_words, expansion).words
        seen: dict[str, StoredView] = {}
        dense, vec = self._dense(q, image_words, n, seen, expansion)
        lexical = self._lexical(q, words, n, seen)
        cues = self._cue_windows() if q.image is None and vec else None
        by_cue = self._cue_hits(cues, q, vec, n, seen)
        for vid, v in image.seen.items():
            seen.setdefault(vid, v)
        channels = {Channel.DENSE: dense, Channel.LEXICAL: lexical, Channel.IMAGE: image.ranked}
        candidates = [(vid, v.chunk.id) for vid, v in seen.items()]
        fused = fuse(candidates, channels, self.settings.rrf_k)
        if cues is not None and by_cue.ranks:
            # The cue channel reorders captioned segments among the places segments already hold; pages keep
            # theirs. Fused as a fourth channel it also lifted segments over the slide page a question was
            # written from (sample course `page` hit@1 0.36 -> 0.08; README, Evaluating).
            with_cues = fuse(candidates, {**channels, Channel.CUES: by_cue}, self.settings.rrf_k)
            fused = reorder_within(fused, {f.chunk_id: f for f in with_cues}, cues.by_chunk)
        hits = [self._hit(f, seen, words, image) for f in fused]
        hits.sort(key=lambda h: -h.score)
        hits = collapse(hits)
        if q.image is not None:
            hits = moments_before_pages(hits)
        return SearchResult(q, [self._with_moment(h, words, cues, vec) for h in hits[:k]], image_words, expansion)

    def _with_moment(self, hit: Hit, words: str, cues: CueWindows | None = None, vec: Sequence[float] = ()) -> Hit:
        """A video/audio hit with its sentence-level moment: where the picture of an image query is on
        screen, else the caption cue closest to the query (cue vectors), else the cue(s) that best support
        the query's words (lexical)."""
        if not isinstance(hit.chunk.locator, TimeSpan):
            return hit
        shown = hit.refined if hit.image_rank is not None and isinstance(hit.refined, TimeSpan) else None
        cue = cues.closest(hit.chunk.id, vec) if cues is not None and shown is None else None
        found = shown or (TimeSpan(start_s=cue.start_s, end_s=cue.end_s) if cue else None) \
            or moment(hit.chunk, words, self.idf)
        return hit.model_copy(update={"moment": found})

    def _hit(self, f: Fused, seen: dict[str, StoredView], words: str, image: ImageMatches) -> Hit:
        views = [seen[vid] for vid in f.views]
        chunk = views[0].chunk
        refined: Locator | None = refine_page(chunk, views, words)
        slide, span = image.moments.get(chunk.id, (None, None))
        if self.alignment is not None and chunk.kind == "video":
            chunk = self.alignment.attach(chunk, slide)
            refined = span or refined
        b = f.best
        d, lx, im = b.get(Channel.DENSE), b.get(Channel.LEXICAL), b.get(Channel.IMAGE)
        return Hit(
            chunk=chunk, score=f.score, views=tuple(v.view for v in views), refined=refined,
            dense_rank=d.rank if d else None, dense_score=d.score if d else None,
            lexical_rank=lx.rank if lx else None, lexical_score=lx.score if lx else None,
            image_rank=im.rank if im else None, image_score=im.score if im else None,
        )


def refine_page(chunk: Chunk, views: Sequence[StoredView], words: str) -> PageSpan | None:
    """A PDF slice becomes its best page: the best-ranked page view, else the page sharing most words."""
    if not isinstance(chunk.locator, PageSpan):
        return None
    for v in views:
        if v.page is not None:
            return PageSpan(first=v.page, last=v.page)
    if not chunk.page_texts:
        return None
    want = set(tokens(words))
    overlaps = [len(want & set(tokens(t))) for t in chunk.page_texts]
    best = max(range(len(overlaps)), key=lambda i: (overlaps[i], -i))
    page = chunk.locator.first + best
    return PageSpan(first=page, last=page)
