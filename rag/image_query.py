"""Image queries: the verified picture matches as a ranked channel, the lecture moments they point at,
the words of what the picture shows, and the photo shrunk for OCR (OpenCV is used here, not in retrieval)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.alignment import Alignment
from rag.fusion import Ranked
from rag.index import keyframe_name
from rag.lexical_index import LexicalIndex, ViewRow
from rag.store import ChromaStore, StoredView
from rag.types import SlideRef, TimeSpan

# (image bytes, n) -> [(vector id "<chunk_id>:<view>", score)] best first, only real matches.
ImageSearch = Callable[[bytes, int], list[tuple[str, float]]]

QUERY_OCR_SIDE = 1280  # px: a phone photo is read at this size

# A video segment an image query found: the page it was found through and the stretch showing it.
Moment = tuple[SlideRef | None, TimeSpan | None]


def ocr_sized(image: bytes) -> bytes:
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
class ImageMatches:
    """What an image query found."""

    ranked: Ranked = field(default_factory=Ranked)
    seen: dict[str, StoredView] = field(default_factory=dict)  # the views it ranked, fetched from the store
    moments: dict[str, Moment] = field(default_factory=dict)  # video chunk id -> moment
    words: str = ""  # the text of the best verified match


def keyframe_slide(alignment: Alignment | None, r: ViewRow) -> SlideRef | None:
    """The deck page a stored keyframe view shows, by the alignment."""
    seg = alignment.get(r.chunk_id) if alignment is not None else None
    if seg is None:
        return None
    return next((k.slide for k in seg.keyframes if keyframe_name(k.t) == r.view), None)


def words_of(r: ViewRow, views: LexicalIndex, store: ChromaStore, alignment: Alignment | None) -> str:
    """The words of a matched picture: a page's text, a keyframe's OCR, else its aligned page's text."""
    slide = keyframe_slide(alignment, r) if r.kind == "video" else None
    page = views.pages.get((slide.source, slide.page)) if slide is not None else None
    got = store.get([r.vector_id] + ([page.vector_id] if page is not None else []))
    own = got.get(r.vector_id)
    if own is not None and own.text.strip():
        return own.text
    return got[page.vector_id].text if page is not None and page.vector_id in got else ""


def match_image(image: bytes, n: int, search: ImageSearch, views: LexicalIndex, store: ChromaStore,
                alignment: Alignment | None, allowed: Callable[[ViewRow], bool]) -> ImageMatches:
    """Rank the views a picture shows: direct matches, the deck pages they are (or show), and the
    video segments showing those pages; moments first, then the page they show."""
    out = ImageMatches()
    found: dict[str, float] = {}  # vector id -> score
    pages: dict[tuple[str, int], float] = {}  # deck page -> how surely the picture shows it
    direct: dict[str, list[str]] = {}  # video chunk id -> its matched keyframe views
    for vid, score in search(image, n * 2):
        r = views.by_id.get(vid)
        if r is None:
            continue
        if not out.words:
            out.words = words_of(r, views, store, alignment)
        found[vid] = max(found.get(vid, 0.0), score)
        if r.page is not None:
            key = (r.source, r.page)
            pages[key] = max(pages.get(key, 0.0), score)
        elif r.kind == "video":
            direct.setdefault(r.chunk_id, []).append(r.view)
            slide = keyframe_slide(alignment, r)
            if slide is not None:  # a frame of a slide: its page is (nearly) as sure
                key = (slide.source, slide.page)
                pages[key] = max(pages.get(key, 0.0), score * slide.confidence)
    out.moments = _moments(pages, direct, found, views, alignment)
    for key, score in pages.items():
        if key in views.pages:
            vid = views.pages[key].vector_id
            found[vid] = max(found.get(vid, 0.0), score)
    # Moments first, then the page they show: equal scores rank video before PDF, and an earlier moment
    # before a later one (a slide is explained where it is first shown; a later showing recaps it).
    def start(r: ViewRow) -> float:
        seg = alignment.get(r.chunk_id) if alignment is not None and r.kind == "video" else None
        return seg.start if seg is not None else math.inf

    order = sorted(((vid, sc) for vid, sc in found.items() if allowed(views.by_id[vid])),
                   key=lambda t: (-t[1], views.by_id[t[0]].kind == "pdf", start(views.by_id[t[0]]), t[0]))[:n]
    fetched = store.get([vid for vid, _ in order])
    for rank, (vid, score) in enumerate(order, start=1):
        if vid in fetched:
            out.seen.setdefault(vid, fetched[vid])
        out.ranked.add(vid, rank, round(score, 6))
    return out


def _moments(pages: dict[tuple[str, int], float], direct: dict[str, list[str]], found: dict[str, float],
             views: LexicalIndex, alignment: Alignment | None) -> dict[str, Moment]:
    """Video segments an image query found, directly or through the page they show, with that page
    and the stretch of the segment where it is on screen (adds the segments to `found`)."""
    page_of: dict[str, tuple[float, tuple[str, int]]] = {}  # chunk id -> (score, best page it shows)
    if alignment is not None:
        for key, score in pages.items():
            for cid in alignment.showing(*key):
                v = views.by_chunk.get(cid)
                if v is None:
                    continue
                found[v.vector_id] = max(found.get(v.vector_id, 0.0), score)
                if cid not in page_of or score > page_of[cid][0]:
                    page_of[cid] = (score, key)
    out: dict[str, Moment] = {}
    for cid in set(direct) | set(page_of):
        seg = alignment.get(cid) if alignment is not None else None
        if seg is None:
            out[cid] = (None, None)
            continue
        shown = page_of[cid][1] if cid in page_of else None
        stretches = [(k.start, k.end) for k in seg.keyframes if keyframe_name(k.t) in direct.get(cid, ())]
        slide = None
        if shown is not None:
            stretches += seg.spans_showing(*shown)
            slide = next(k.slide for k in seg.keyframes
                         if k.slide and (k.slide.source, k.slide.page) == shown)
        span = TimeSpan(start_s=min(a for a, _ in stretches), end_s=max(b for _, b in stretches)) \
            if stretches else None
        out[cid] = (slide, span)
    return out
