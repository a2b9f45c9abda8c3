"""Where a cited lecture moment starts playing, and which slide is on screen at that second.

A video/audio citation names a 15–30 s segment, but the sentence that answers is a few seconds of it:
playback starts at the citation's moment (the cues of the caption sentence the offline answer quotes, else
the hit's sentence-level `moment`, rag/moments.py: the caption cues that best support the query), else at
the first caption cue of the sentence the answer quotes; the slide shown beside the
player is the page on screen at that second (per-keyframe alignment), not the segment's majority slide.
Camera stretches get no slide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.alignment import Alignment
from rag.citations import display
from rag.lexical import tokens
from rag.types import Answer, Citation, Hit, SlideRef, TimeSpan

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MARK = re.compile(r"\s*\[S\d+\]")


def quoted(text: str, label: str) -> str:
    """The answer's sentences that cite `label`, markers removed (what a click on it should play)."""
    tag = f"[{label}]"
    return " ".join(_MARK.sub("", s) for s in _SENTENCE.split(text) if tag in s).strip()


def cue_start(cues: Sequence[tuple[float, float, str]], text: str) -> float | None:
    """Start of the first caption cue of the run of cues that best matches `text`; None when none shares
    a word with it. A sentence spread over several cues starts at the first of them."""
    want = set(tokens(text))
    if not want or not cues:
        return None
    cover = []
    for _, _, cue in cues:
        words = set(tokens(cue))
        cover.append(len(words & want) / len(words) if words else 0.0)
    best = max(range(len(cues)), key=lambda i: (cover[i], -i))
    if cover[best] == 0:
        return None
    first = best
    while first > 0 and cover[first - 1] >= 0.5:  # the sentence began in the cue before
        first -= 1
    return float(cues[first][0])


def play_start(hit: Hit, quote: str = "", question: str = "") -> float:
    """The second a citation of `hit` plays from: the sentence-level moment, else the cue of the quoted
    sentence, else the cue best matching the question, else the start of the cited span."""
    loc = hit.locator
    assert isinstance(loc, TimeSpan)
    if hit.moment is not None:  # the sentence-level span retrieval found
        return hit.moment.start_s
    for text in (quote, question):
        t = cue_start(hit.chunk.cues, text)
        if t is not None and loc.start_s - 1e-3 <= t <= loc.end_s:
            return t
    return loc.start_s


def slide_at(alignment: Alignment | None, hit: Hit, t: float) -> SlideRef | None:
    """The deck page on screen at second `t` of a video hit (None: a camera shot, or no deck aligned)."""
    if hit.chunk.kind != "video":
        return None
    seg = alignment.get(hit.chunk.id) if alignment is not None else None
    if seg is None:
        return hit.chunk.slide
    return seg.slide_at(t)


def hit_of(answer: Answer, c: Citation) -> Hit | None:
    """The retrieved hit a citation was made from (same source and place; a citation that starts at a
    sentence inside a segment names that segment)."""
    for h in answer.hits:
        if h.chunk.source == c.source and (c.locator in (h.locator, h.moment) or c.segment == h.locator):
            return h
    return None


def localize(answer: Answer, alignment: Alignment | None, question: str = "") -> tuple[Answer, dict[str, float]]:
    """The answer with each video citation (and each closest place of a decline) labelled with the slide on
    screen at its cited sentence, and the second each time-based one plays from (by label: S1…, C1…)."""
    starts: dict[str, float] = {}
    placed: dict[str, tuple[Citation, ...]] = {}
    for name in ("citations", "closest"):
        out = []
        for c in getattr(answer, name):
            c, t = _placed(answer, c, alignment, question)
            if t is not None:
                starts[c.label] = t
            out.append(c)
        placed[name] = tuple(out)
    return answer.model_copy(update=placed), starts


def _placed(answer: Answer, c: Citation, alignment: Alignment | None,
            question: str) -> tuple[Citation, float | None]:
    """One citation with the slide on screen at the second it plays from, and that second (None: a page)."""
    hit = hit_of(answer, c)
    if hit is None or not isinstance(c.locator, TimeSpan):
        return c, None
    # a citation to a moment inside its segment (the quoted sentence, or retrieval's) plays from there
    t = c.locator.start_s if c.segment is not None else play_start(hit, quoted(answer.text, c.label), question)
    slide = slide_at(alignment, hit, t)
    if slide != c.slide:
        chunk = hit.chunk.model_copy(update={"slide": slide})
        c = c.model_copy(update={"slide": slide, "display": display(chunk, c.locator)})
    return c, t
