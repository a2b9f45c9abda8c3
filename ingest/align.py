"""Slides ↔ video alignment: which deck page each video segment shows, written to alignment.json.

Per keyframe: the page renders already in the image index are searched with the keyframe
(ORB + RANSAC, restricted to page keys), and the keyframe's OCR text is compared with every page's
text. Either kind of evidence can align a keyframe (a lecture-capture frame whose slide is small
still reads well; a figure without words still matches visually); the segment's captions only break
ties between pages the picture or OCR already support: a speaker on camera talking about a slide
topic is not a slide on screen.

A segment may show several slides: it gets the page on screen longest (keyframe stretches summed per
page), and every keyframe keeps its own page, so an image query for the other slide still finds the
segment and cites the right page.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import alignment
from rag.alignment import AlignmentFile, KeyframeSlide, SegmentSlides
from rag.factory import PictureIndex, Services
from rag.ids import sha256_text
from rag.index import Manifest, keyframe_image, keyframe_name, split_vector_id, vector_id
from rag.lexical import tokens
from rag.types import Chunk, SlideRef, TimeSpan

if TYPE_CHECKING:
    from rag.vision import ImageInput

log = logging.getLogger(__name__)

# Calibrated on the sample course (18 keyframes, and leave-one-out: each keyframe with its own page
# removed) and on 279 synthetic 640x360 frames of the dev corpus decks (full-frame and
# lecture-capture layouts, camera shots, slides of a deck that is not indexed); see
# bench/devcorpus_images.py. Visual evidence ramps over verified inliers of the enlarged keyframe
# against a page render: true pages 46-362 (full frame), 15-31 for a small capture slide; wrong
# pages of the same template <= 26; camera shots <= 5.
VIS_LO, VIS_HI = 12, 48
# Text evidence ramps over the cosine of the keyframe's OCR with a page text (idf-weighted word
# sets): true pages 0.6-0.95 full frame, 0.25-0.9 capture; the best wrong page of the same course
# 0.40 (a title page listing every topic), of other decks <= 0.33.
TXT_LO, TXT_HI = 0.3, 0.6
TXT_MIN_WORDS = 3  # OCR must share at least this many distinct words with a page to count as text evidence
# Weak picture and weak words agreeing on one page (it is both the visual and the text favourite)
# is strong evidence: a small capture slide (15-30 inliers, cosine 0.25-0.45) is aligned, while
# no negative ever had both.
AGREE_CONFIDENCE = 0.6
AGREE_MIN_TEXT = 0.2
CAPTION_WEIGHT = 0.15  # caption similarity only breaks ties between supported pages
RANK_BONUS = 0.05  # the image index orders near-identical builds by aligned similarity: trust its order
MIN_CONFIDENCE = 0.5  # below this a keyframe shows no page (camera, whiteboard, another deck)
CANDIDATES = 5


@dataclass
class AlignStats:
    """What one alignment pass did (part of the ingest report)."""

    segments: int = 0
    with_slide: int = 0
    reused: int = 0
    keyframes_matched: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"segments": self.segments, "with_slide": self.with_slide, "reused": self.reused,
                "keyframes_matched": self.keyframes_matched, "seconds": round(self.seconds, 3)}


# ---------------------------------------------------------------- page texts


class PageTexts:
    """Idf-weighted word sets of every page; `similarity(text)` = cosine with each page."""

    def __init__(self, pages: Sequence[tuple[str, int]], texts: Sequence[str]):
        self.pages = list(pages)
        words = [set(tokens(t)) for t in texts]
        df = Counter(w for ws in words for w in ws)
        n = len(words)
        # Plain log idf: a word on every page (the course footer, the lecturer's name) weighs ~0, so
        # a short title page made of template words does not look like every frame.
        self.idf = {w: math.log((n + 1) / (f + 0.5)) for w, f in df.items()}
        self.vectors = [{w: self.idf[w] for w in ws} for ws in words]
        self.norms = [math.sqrt(sum(v * v for v in vec.values())) or 1.0 for vec in self.vectors]
        self.postings: dict[str, list[int]] = {}
        for i, ws in enumerate(words):
            for w in ws:
                self.postings.setdefault(w, []).append(i)

    def similarity(self, text: str) -> dict[int, tuple[float, int]]:
        """Page index -> (cosine, shared distinct words) for pages sharing any word with `text`.

        Words that are on no page (a capture tool's banner, a clock) cannot tell pages apart and are
        left out of the query's norm.
        """
        q = {w for w in tokens(text) if w in self.idf}
        if not q:
            return {}
        qnorm = math.sqrt(sum(self.idf[w] ** 2 for w in q))
        dots: dict[int, float] = {}
        shared: Counter[int] = Counter()
        for w in q:
            for i in self.postings[w]:
                dots[i] = dots.get(i, 0.0) + self.idf[w] ** 2
                shared[i] += 1
        return {i: (d / (qnorm * self.norms[i]), shared[i]) for i, d in dots.items()}


# ---------------------------------------------------------------- one keyframe


@dataclass
class Candidate:
    """Evidence that one keyframe shows one page."""

    page: int  # index into PageTexts.pages
    inliers: int = 0
    rank: int | None = None  # 1-based rank among the image index's page results
    text: float = 0.0  # OCR cosine
    words: int = 0
    caption: float = 0.0
    text_top: bool = False  # the best OCR match among the candidates

    @property
    def visual(self) -> float:
        return _ramp(self.inliers, VIS_LO, VIS_HI)

    @property
    def textual(self) -> float:
        return _ramp(self.text, TXT_LO, TXT_HI) if self.words >= TXT_MIN_WORDS else 0.0

    @property
    def evidence(self) -> float:
        """Confidence in [0, 1] that this page is on screen (picture OR words, or both agreeing)."""
        e = 1 - (1 - self.visual) * (1 - self.textual)
        if (self.rank == 1 and self.text_top and self.inliers >= VIS_LO and self.text >= AGREE_MIN_TEXT
                and self.words >= TXT_MIN_WORDS):
            e = max(e, AGREE_CONFIDENCE)
        return e

    @property
    def choice(self) -> float:
        """What picks the page among supported candidates."""
        return self.evidence + CAPTION_WEIGHT * self.caption + (RANK_BONUS if self.rank == 1 else 0.0)


def _ramp(x: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def best_page(cands: Iterable[Candidate]) -> Candidate | None:
    """The page a keyframe shows, or None when no candidate reaches MIN_CONFIDENCE."""
    ok = [c for c in cands if c.evidence >= MIN_CONFIDENCE]
    return max(ok, key=lambda c: (c.choice, c.inliers, -c.page)) if ok else None


def keyframe_candidates(visual: Sequence[tuple[int, int]], ocr: str, caption: str,
                        pages: PageTexts) -> list[Candidate]:
    """Merge visual matches `(page index, inliers)` (image-index order) with OCR and caption similarity."""
    cands: dict[int, Candidate] = {}
    for rank, (i, inliers) in enumerate(visual, start=1):
        c = cands.setdefault(i, Candidate(page=i))
        if inliers > c.inliers:
            c.inliers, c.rank = inliers, c.rank or rank
    by_text = pages.similarity(ocr)
    for i, (sim, words) in sorted(by_text.items(), key=lambda kv: -kv[1][0])[:CANDIDATES]:
        c = cands.setdefault(i, Candidate(page=i))
        c.text, c.words = sim, words
    for i, c in cands.items():  # every candidate gets its text scores, not only the text top-5
        if i in by_text:
            c.text, c.words = by_text[i]
    cap = pages.similarity(caption)
    for i, c in cands.items():
        c.caption = cap.get(i, (0.0, 0))[0]
    top = max(cands.values(), key=lambda c: c.text, default=None)
    if top is not None and top.text > 0:
        top.text_top = True
    return list(cands.values())


# ---------------------------------------------------------------- one segment


def keyframe_stretches(start: float, end: float, times: Sequence[float]) -> list[tuple[float, float]]:
    """The stretch of the segment each keyframe stands for: from it (the first: from the segment
    start) to the next keyframe (the last: to the segment end)."""
    ts = sorted(times)
    bounds = [start] + ts[1:] + [end]
    return [(max(start, bounds[i]), min(end, bounds[i + 1])) for i in range(len(ts))]


def segment_slide(keyframes: Sequence[KeyframeSlide]) -> SlideRef | None:
    """The page on screen longest (summed stretches); ties go to the earlier page; confidence is the
    time-weighted mean of its keyframes' confidences."""
    total: dict[tuple[str, int], float] = {}
    conf: dict[tuple[str, int], float] = {}
    first: dict[tuple[str, int], float] = {}
    for k in keyframes:
        if k.slide is None:
            continue
        key = (k.slide.source, k.slide.page)
        d = max(k.end - k.start, 1e-3)
        total[key] = total.get(key, 0.0) + d
        conf[key] = conf.get(key, 0.0) + d * k.slide.confidence
        first.setdefault(key, k.t)
    if not total:
        return None
    key = max(total, key=lambda p: (round(total[p], 3), -first[p]))
    return SlideRef(source=key[0], page=key[1], confidence=round(conf[key] / total[key], 3))


# ---------------------------------------------------------------- the index pass


@dataclass
class _Video:
    source: str
    media_dir: Path
    chunks: list[Chunk] = field(default_factory=list)
    ocr: dict[str, str] = field(default_factory=dict)  # "<chunk_id>:kf<t>" -> OCR text


def pages_of(manifest: Manifest) -> dict[str, tuple[str, int]]:
    """Image-index key of every PDF page render -> (pdf source, page)."""
    out = {}
    for rel, e in sorted(manifest.sources.items()):
        if e.kind != "pdf":
            continue
        for key in e.image_keys:
            view = split_vector_id(key)[1]
            if view.page is not None:
                out[key] = (rel, view.page)
    return out


def _fingerprint(page_keys: Iterable[str]) -> str:
    # Page keys carry the chunk id, a hash of the PDF bytes: a changed deck changes the fingerprint.
    return sha256_text("\n".join(sorted(page_keys)))[:16]


def align_index(services: Services, manifest: Manifest,
                progress: Callable[[int, int], None] | None = None, *, image_index: Any = None) -> AlignStats:
    """Align every video segment of the index with the indexed deck pages; write alignment.json.

    Segments already aligned against the same page set are reused, so re-running after an
    unrelated change costs a few store reads.
    """
    t0 = time.perf_counter()
    stats = AlignStats()
    page_keys = pages_of(manifest)
    fp = _fingerprint(page_keys)
    old = alignment.read(services.index_dir)
    reuse = old.segments if old.pages == fp else {}
    videos = [_Video(rel, Path(e.media_dir)) for rel, e in sorted(manifest.sources.items()) if e.kind == "video"]
    for v in videos:
        v.chunks = services.store.chunks_of(v.source)
    todo = [(v, c) for v in videos for c in v.chunks if c.id not in reuse]
    pages = _page_texts(services, page_keys) if todo and page_keys else None
    if pages is not None:
        for v in videos:
            if v.source in {vv.source for vv, _ in todo}:
                views = services.store.all_views(where={"source": v.source})
                v.ocr = {sv.vector_id: sv.text for sv in views if sv.view_name.is_keyframe}
    out: dict[str, SegmentSlides] = {}
    allowed = frozenset(page_keys)
    done = 0
    for v in videos:
        for c in v.chunks:
            if c.id in reuse:
                out[c.id] = reuse[c.id]
                stats.reused += 1
            else:
                out[c.id] = _align_chunk(image_index or services.image_index, v, c, page_keys, allowed, pages)
                done += 1
                if progress:
                    progress(done, len(todo))
            stats.segments += 1
            stats.with_slide += out[c.id].slide is not None
            stats.keyframes_matched += sum(k.slide is not None for k in out[c.id].keyframes)
    if todo or out.keys() != old.segments.keys() or old.pages != fp:
        alignment.write(services.index_dir, AlignmentFile(pages=fp, segments=out))
    stats.seconds = time.perf_counter() - t0
    log.info("alignment: %s", stats.to_json())
    return stats


def page_text_map(services: Services, page_keys: dict[str, tuple[str, int]]) -> dict[tuple[str, int], str]:
    """(pdf source, page) -> the page's text, for every page of `page_keys`."""
    wanted = set(page_keys.values())
    texts: dict[tuple[str, int], str] = {}
    for source in sorted({s for s, _ in wanted}):
        for chunk in services.store.chunks_of(source):
            loc = chunk.locator
            if isinstance(loc, TimeSpan):
                continue
            for k, text in enumerate(chunk.page_texts):
                texts[(source, loc.first + k)] = text
    return texts


def _page_texts(services: Services, page_keys: dict[str, tuple[str, int]]) -> PageTexts:
    wanted = sorted(set(page_keys.values()))
    texts = page_text_map(services, page_keys)
    return PageTexts(wanted, [texts.get(p, "") for p in wanted])


def match_keyframe(index: PictureIndex, image: ImageInput, ocr: str, caption: str, pages: PageTexts,
                   page_keys: dict[str, tuple[str, int]], allowed: frozenset[str]) -> Candidate | None:
    """The page one keyframe (path, bytes or array) shows, or None; `pages.pages` must list every page
    of `page_keys`."""
    pos = {p: i for i, p in enumerate(pages.pages)}
    matches = index.search(image, CANDIDATES, allowed=allowed)
    visual = [(pos[page_keys[m.key]], m.inliers) for m in matches if m.inliers > 0]
    return best_page(keyframe_candidates(visual, ocr, caption, pages))


def _align_chunk(index: PictureIndex, video: _Video, chunk: Chunk, page_keys: dict[str, tuple[str, int]],
                 allowed: frozenset[str], pages: PageTexts | None) -> SegmentSlides:
    loc = chunk.locator
    assert isinstance(loc, TimeSpan)
    stretches = keyframe_stretches(loc.start_s, loc.end_s, chunk.keyframes)
    kfs = []
    for t, (s, e) in zip(sorted(chunk.keyframes), stretches, strict=True):
        slide, inliers, text = None, 0, 0.0
        image = keyframe_image(video.media_dir, t)
        if pages is not None and image.is_file():
            caption = " ".join(txt for cs, ce, txt in chunk.cues if cs < e and ce > s)
            ocr = video.ocr.get(vector_id(chunk.id, keyframe_name(t)), "")
            best = match_keyframe(index, image, ocr, caption, pages, page_keys, allowed)
            if best is not None:
                src, page = pages.pages[best.page]
                slide = SlideRef(source=src, page=page, confidence=round(best.evidence, 3))
                inliers, text = best.inliers, round(best.text, 3)
        kfs.append(KeyframeSlide(t=t, start=round(s, 3), end=round(e, 3), slide=slide, inliers=inliers,
                                 text=text))
    return SegmentSlides(source=chunk.source, start=loc.start_s, end=loc.end_s, slide=segment_slide(kfs),
                         keyframes=tuple(kfs))
