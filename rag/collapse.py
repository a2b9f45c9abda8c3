"""Collapse near-duplicate hits: one slide on screen across touching segments is one moment.

A slide shown over three segments in a row comes back as one hit spanning them (the best-scoring
segment's chunk and score, the earliest start and latest end). The same page at another time of the
lecture, or in another lecture, stays a separate entry: it is another place a student can go to.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Hit, PageSpan, TimeSpan

TOUCH_S = 0.5  # spans this close count as touching (segment boundaries are rounded to ms)


def _key(hit: Hit) -> tuple[str, str, int] | None:
    slide = hit.chunk.slide
    if hit.chunk.kind != "video" or slide is None or not isinstance(hit.locator, TimeSpan):
        return None
    return hit.chunk.source, slide.source, slide.page


def _span(hit: Hit) -> TimeSpan:
    loc = hit.locator
    assert isinstance(loc, TimeSpan)  # only video hits are grouped
    return loc


def _merge(group: Sequence[Hit]) -> Hit:
    best = max(group, key=lambda h: h.score)
    spans = [_span(h) for h in group]
    span = TimeSpan(start_s=min(s.start_s for s in spans), end_s=max(s.end_s for s in spans))
    views = tuple(dict.fromkeys(v for h in sorted(group, key=lambda h: -h.score) for v in h.views))

    def best_of(rank: str, score: str) -> tuple[int | None, float | None]:
        ranked = [h for h in group if getattr(h, rank) is not None]
        if not ranked:
            return None, None
        top = min(ranked, key=lambda h: getattr(h, rank))
        return getattr(top, rank), getattr(top, score)

    dr, ds = best_of("dense_rank", "dense_score")
    lr, ls = best_of("lexical_rank", "lexical_score")
    ir, iscore = best_of("image_rank", "image_score")
    return best.model_copy(update={
        "refined": span, "views": views, "dense_rank": dr, "dense_score": ds, "lexical_rank": lr,
        "lexical_score": ls, "image_rank": ir, "image_score": iscore})


def collapse(hits: Sequence[Hit], touch_s: float = TOUCH_S) -> list[Hit]:
    """Merge video hits of one source that show the same aligned page over touching spans.

    Keeps the order of `hits` (best first): a merged hit takes the place of its best member.
    """
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, h in enumerate(hits):
        key = _key(h)
        if key is not None:
            groups.setdefault(key, []).append(i)
    replace: dict[int, Hit] = {}
    drop: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: _span(hits[i]).start_s)
        runs: list[list[int]] = [[members[0]]]
        for i in members[1:]:
            prev_end = max(_span(hits[j]).end_s for j in runs[-1])
            if _span(hits[i]).start_s <= prev_end + touch_s:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            if len(run) < 2:
                continue
            lead = min(run)  # the best-ranked member keeps its place
            replace[lead] = _merge([hits[i] for i in run])
            drop.update(i for i in run if i != lead)
    return [replace.get(i, h) for i, h in enumerate(hits) if i not in drop]


def moments_before_pages(hits: Sequence[Hit]) -> list[Hit]:
    """For an image query: each matched deck page comes right after the lecture moments showing it.

    A moment found through the same picture as a page is the same evidence, so it takes the page's
    score when that is higher (text channels may have lifted the page alone), and the moments lifted
    to one page's score keep the picture's order (image rank) among themselves.
    """
    out = list(hits)
    i = 0
    while i < len(out):
        page = out[i]
        loc = page.locator
        if page.chunk.kind == "pdf" and page.image_rank is not None and isinstance(loc, PageSpan) \
                and loc.first == loc.last:
            want = (page.chunk.source, loc.first)
            later = [j for j in range(i + 1, len(out)) if _shows(out[j], want)]
            if later:
                moved = [out[j].model_copy(update={"score": max(out[j].score, page.score)}) for j in later]
                moved.sort(key=lambda h: (-h.score, h.image_rank if h.score == page.score else 0))
                skip = set(later)
                rest = [h for j, h in enumerate(out) if j not in skip]
                out = rest[:i] + moved + rest[i:]
                i += len(moved)
        i += 1
    return out


def _shows(hit: Hit, page: tuple[str, int]) -> bool:
    slide = hit.chunk.slide
    return (hit.chunk.kind == "video" and hit.image_rank is not None and slide is not None
            and (slide.source, slide.page) == page)
