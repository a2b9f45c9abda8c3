"""Sentence-level moments: inside a retrieved video/audio segment, the caption cue(s) that best support
the query. The segment stays the unit of retrieval; the moment is where the player and the citation start.

Scoring is lexical and cheap (no model call per hit): each window of up to `MAX_CUES` consecutive cues
scores the summed weight (the retriever's IDF) of the distinct query terms it contains, so a rare term
("Jacobian") decides over a common one ("model"). A longer window must add a term to win, so the moment
stays one sentence unless the answer spans two. When no cue shares a term with the query (a question
matched by meaning only), the cue with the best character-trigram similarity is taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.lexical import tokens
from rag.terms import close, fold
from rag.types import Chunk, TimeSpan

MAX_CUES = 3  # a moment spans at most this many consecutive cues
MAX_SPAN_S = 15.0  # ... and at most this long (a cue longer than this stays one cue)

Cue = tuple[float, float, str]


def _trigrams(text: str) -> set[str]:
    t = " ".join(text.lower().split())
    return {t[i:i + 3] for i in range(max(0, len(t) - 2))}


def _fallback(cues: Sequence[Cue], query: str) -> int:
    """The cue sharing the most character trigrams with the query (Jaccard), earliest on ties."""
    want = _trigrams(query)
    best, best_i = -1.0, 0
    for i, (_, _, text) in enumerate(cues):
        have = _trigrams(text)
        sim = len(want & have) / (len(want | have) or 1)
        if sim > best:
            best, best_i = sim, i
    return best_i


_QUESTION = re.compile(r"[^.!?]*\?")


def _cue_terms(text: str, want: dict[str, str]) -> tuple[dict[str, float], int]:
    """The query terms a cue says (a term only asked in a question sentence, like "How do we get the
    gradient?", counts half: the answer is a statement), and how many other content words it has."""
    asked = " ".join(_QUESTION.findall(text))
    said = _QUESTION.sub(" ", text)
    out: dict[str, float] = {}
    other = 0
    for part, share in ((said, 1.0), (asked, 0.5)):
        for t in tokens(part):
            hit = want.get(fold(t)) or next((q for k, q in want.items() if close(k, fold(t))), None)
            if hit is None:
                other += share == 1.0
            elif share > out.get(hit, 0.0):
                out[hit] = share
    return out, other


def best_cues(cues: Sequence[Cue], query: str, weight: Callable[[str], float] | None = None
              ) -> tuple[int, int] | None:
    """(first, last) index of the cue window that best supports `query`; None without cues."""
    if not cues:
        return None
    w = weight or (lambda _t: 1.0)
    want = {fold(t): t for t in tokens(query)}  # folded form -> the query's own term (what `weight` knows)
    said = [_cue_terms(text, want) for _, _, text in cues]
    # (score, -length, other words, -first): more query weight, then shorter, more informative, earlier
    best: tuple[float, int, int, int] | None = None
    for i in range(len(cues)):
        if not said[i][0]:
            continue  # a moment starts (and ends) on a cue that says something the query asks
        have: dict[str, float] = {}
        other = 0
        for j in range(i, min(len(cues), i + MAX_CUES)):
            if j > i and cues[j][1] - cues[i][0] > MAX_SPAN_S:
                break
            added = {t: s for t, s in said[j][0].items() if s > have.get(t, 0.0)}
            if j > i and not added:
                break  # a cue that adds no query term never lengthens the moment
            have.update(added)
            other += said[j][1]
            key = (round(sum(w(t) * s for t, s in have.items()), 9), i - j, other, -i)
            if best is None or key > best:
                best = key
    if best is None:
        i = _fallback(cues, query)
        return i, i
    first = -best[3]
    return first, first - best[1]


def moment(chunk: Chunk, query: str, weight: Callable[[str], float] | None = None) -> TimeSpan | None:
    """The stretch of a video/audio chunk that best supports the query: its best caption cue window,
    else (no captions) the whole segment; None for a PDF chunk."""
    loc = chunk.locator
    if not isinstance(loc, TimeSpan):
        return None
    found = best_cues(chunk.cues, query, weight) if query.strip() else None
    if found is None:
        return loc
    first, last = found
    start = max(loc.start_s, chunk.cues[first][0])
    end = min(loc.end_s, chunk.cues[last][1])
    if end <= start:  # a cue clipped away by the segment bounds: keep the segment
        return loc
    return TimeSpan(start_s=round(start, 3), end_s=round(end, 3))
