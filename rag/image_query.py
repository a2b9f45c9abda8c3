"""Image queries: the verified picture matches as a ranked channel, the lecture moments they point at,
the words of what the picture shows, and the photo shrunk for OCR (OpenCV is used here, not in retrieval)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rag.alignment import Alignment
from rag.fusion import Ranked
from rag.index import keyframe_name
from rag.store import StoredView
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
class ViewLookup:
    """Stored views by the keys image queries need."""

    by_id: dict[str, StoredView]  # every view
    by_chunk: dict[str, StoredView]  # one view per chunk (its `seg` view when it has one)
    pages: dict[tuple[str, int], StoredView]  # (pdf source, page) -> its page view


@dataclass
class ImageMatches:
    """What an image query found."""

    ranked: Ranked = field(default_factory=Ranked)
    seen: dict[str, StoredView] = field(default_factory=dict)  # the views it ranked
    moments: dict[str, Moment] = field(default_factory=dict)  # video chunk id -> moment
    words: str = ""  # the text of the best verified match


def keyframe_slide(alignment: Alignment | None, v: StoredView) -> SlideRef | None:
    """The deck page a stored keyframe view shows, by the alignment."""
    seg = alignment.get(v.chunk.id) if alignment is not None else None
    if seg is None:
        return None
    return next((k.slide for k in seg.keyframes if keyframe_name(k.t) == v.view), None)


def words_of(v: StoredView, lookup: ViewLookup, alignment: Alignment | None) -> str:
    """The words of a matched picture: a page's text, a keyframe's OCR, else its aligned page's text."""
    if v.text.strip():
        return v.text
    slide = keyframe_slide(alignment, v) if v.chunk.kind == "video" else None
    page = lookup.pages.get((slide.source, slide.page)) if slide is not None else None
    return page.text if page is not None else ""


def match_image(image: bytes, n: int, search: ImageSearch, lookup: ViewLookup, alignment: Alignment | None,
                allowed: Callable[[StoredView], bool]) -> ImageMatches:
    """Rank the views a picture shows: direct matches, the deck pages they are (or show), and the
    video segments showing those pages; moments first, then the page they show."""
    out = ImageMatches()
    found: dict[str, float] = {}  # vector id -> score
    pages: dict[tuple[str, int], float] = {}  # deck page -> how surely the picture shows it
    direct: dict[str, list[str]] = {}  # video chunk id -> its matched keyframe views
    for vid, score in search(image, n * 2):
        v = lookup.by_id.get(vid)
        if v is None:
            continue
        if not out.words:
            out.words = words_of(v, lookup, alignment)
        found[vid] = max(found.get(vid, 0.0), score)
        if v.page is not None:
            key = (v.chunk.source, v.page)
            pages[key] = max(pages.get(key, 0.0), score)
        elif v.chunk.kind == "video":
            direct.setdefault(v.chunk.id, []).append(v.view)
            slide = keyframe_slide(alignment, v)
            if slide is not None:  # a frame of a slide: its page is (nearly) as sure
                key = (slide.source, slide.page)
                pages[key] = max(pages.get(key, 0.0), score * slide.confidence)
    out.moments = _moments(pages, direct, found, lookup, alignment)
    for key, score in pages.items():
        if key in lookup.pages:
            vid = lookup.pages[key].vector_id
            found[vid] = max(found.get(vid, 0.0), score)
    # Moments first, then the page they show: equal scores rank video before PDF.
    order = sorted(((vid, sc) for vid, sc in found.items() if allowed(lookup.by_id[vid])),
                   key=lambda t: (-t[1], lookup.by_id[t[0]].chunk.kind == "pdf", t[0]))
    for rank, (vid, score) in enumerate(order[:n], start=1):
        out.seen.setdefault(vid, lookup.by_id[vid])
        out.ranked.add(vid, rank, round(score, 6))
    return out


def _moments(pages: dict[tuple[str, int], float], direct: dict[str, list[str]], found: dict[str, float],
             lookup: ViewLookup, alignment: Alignment | None) -> dict[str, Moment]:
    """Video segments an image query found, directly or through the page they show, with that page
    and the stretch of the segment where it is on screen (adds the segments to `found`)."""
    page_of: dict[str, tuple[float, tuple[str, int]]] = {}  # chunk id -> (score, best page it shows)
    if alignment is not None:
        for key, score in pages.items():
            for cid in alignment.showing(*key):
                v = lookup.by_chunk.get(cid)
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
