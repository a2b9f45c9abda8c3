"""Citation rendering and label resolution. Every human label is made here, nowhere else."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from rag.types import Chunk, Citation, Hit, PageSpan, TimeSpan

_LABEL = re.compile(r"\[S(\d+)\]")


def clock(seconds: float) -> str:
    """12:30, or 1:02:03 past the hour."""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _printed(chunk: Chunk, page: int) -> str | None:
    if not chunk.page_labels or not isinstance(chunk.locator, PageSpan):
        return None
    i = page - chunk.locator.first
    if 0 <= i < len(chunk.page_labels) and chunk.page_labels[i] != str(page):
        return chunk.page_labels[i]
    return None


def display(chunk: Chunk, locator: TimeSpan | PageSpan | None = None) -> str:
    """`Lecture 3 · 12:30–12:55 (slides p. 14)` or `week3.pdf p. 14` / `week3.pdf pp. 7–12`."""
    loc = locator or chunk.locator
    if isinstance(loc, TimeSpan):
        text = f"{chunk.title} · {clock(loc.start_s)}–{clock(loc.end_s)}"
        if chunk.slide is not None:
            text += f" (slides p. {chunk.slide.page})"
        return text
    name = PurePosixPath(chunk.source).name
    if loc.first == loc.last:
        label = _printed(chunk, loc.first)
        return f"{name} p. {loc.first}" + (f" (printed {label})" if label else "")
    return f"{name} pp. {loc.first}–{loc.last}"


def located_text(hit: Hit) -> str:
    """The text of exactly the cited place: the refined page of a PDF slice, else the chunk's text."""
    loc = hit.locator
    if isinstance(loc, PageSpan) and hit.chunk.page_texts and isinstance(hit.chunk.locator, PageSpan):
        first = loc.first - hit.chunk.locator.first
        last = loc.last - hit.chunk.locator.first
        if 0 <= first <= last < len(hit.chunk.page_texts):
            return "\n".join(hit.chunk.page_texts[first:last + 1])
    return hit.chunk.text


def cite(label: str, hit: Hit) -> Citation:
    """The Citation for one retrieved hit under an `[S n]` label; a video/audio citation starts at the
    hit's sentence-level moment (the whole segment stays in `segment`)."""
    loc = hit.moment or hit.locator
    return Citation(label=label, source=hit.chunk.source, kind=hit.chunk.kind, locator=loc,
                    display=display(hit.chunk, loc), slide=hit.chunk.slide,
                    segment=hit.locator if hit.moment is not None and isinstance(hit.locator, TimeSpan) else None)


def evidence_labels(hits: Sequence[Hit]) -> dict[str, Hit]:
    """`S1`… for the hits shown to a model, in rank order."""
    return {f"S{i}": h for i, h in enumerate(hits, start=1)}


def resolve(text: str, labelled: dict[str, Hit]) -> tuple[str, list[Citation]]:
    """Map `[S n]` labels in model text to Citations; labels never retrieved are removed from the text."""
    cited: dict[str, Citation] = {}

    def keep(m: re.Match[str]) -> str:
        label = f"S{m.group(1)}"
        if label not in labelled:
            return ""
        cited.setdefault(label, cite(label, labelled[label]))
        return m.group(0)

    clean = _LABEL.sub(keep, text)
    clean = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", clean)).strip()
    return clean, list(cited.values())
