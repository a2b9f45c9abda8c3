"""Citation rendering and label resolution. Every human label is made here, nowhere else."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from rag.types import Chunk, Citation, Hit, PageSpan, TimeSpan, TranscriptOrigin

# A bracket the model wrote as a citation: `[S1]`, grouped `[S1, S2]` / `[S1; S3]`, ranged `[S1-S3]` /
# `[S1–S3]` (hyphen, en or em dash; `[S1-3]` too), and mixes such as `[S1, S3-S5]`.
_ITEM = r"S\d+(?:\s*[-–—]\s*S?\d+)?"
_GROUP = re.compile(rf"\[\s*({_ITEM}(?:\s*[,;]\s*{_ITEM})*)\s*\]", re.IGNORECASE)
_RANGE = re.compile(r"S(\d+)(?:\s*[-–—]\s*S?(\d+))?", re.IGNORECASE)
MAX_RANGE = 50  # a range wider than this is a typo, not a citation
# Above a decline's nearest places (Answer.closest), in the CLI and the chat: they are where to look, not an answer.
CLOSEST_HEADING = "Closest material (not an answer; the course may word it differently)"


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


def transcript_mark(origin: TranscriptOrigin | None) -> str:
    """` · machine transcript` after a moment whose words a machine transcribed (quotes may be misheard)."""
    if origin == "machine":
        return " · machine transcript"
    if origin == "mixed":
        return " · partly machine transcript"
    return ""


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
                    segment=hit.locator if hit.moment is not None and isinstance(hit.locator, TimeSpan) else None,
                    transcript=hit.chunk.transcript)


def evidence_labels(hits: Sequence[Hit]) -> dict[str, Hit]:
    """`S1`… for the hits shown to a model, in rank order."""
    return {f"S{i}": h for i, h in enumerate(hits, start=1)}


def labels_in(group: str) -> list[str]:
    """`S1, S3-S5` -> ["S1", "S3", "S4", "S5"] (ranges expanded, duplicates kept once, order kept)."""
    out: list[str] = []
    for m in _RANGE.finditer(group):
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        span = range(first, last + 1) if first <= last <= first + MAX_RANGE else [first, last]
        out += [f"S{n}" for n in span if f"S{n}" not in out]
    return out


def resolve(text: str, labelled: dict[str, Hit]) -> tuple[str, list[Citation]]:
    """Map the labels in model text to Citations, renumbered S1, S2, ... in order of first use.

    Grouped and ranged labels are understood; labels never retrieved are removed from the text; every
    surviving label is rewritten to its new number, so the text, the JSON and the UI agree and have no gaps.
    """
    new: dict[str, str] = {}  # old label -> new label

    def rewrite(m: re.Match[str]) -> str:
        kept = []
        for old in labels_in(m.group(1)):
            if old in labelled:
                kept.append(new.setdefault(old, f"S{len(new) + 1}"))
        return f"[{', '.join(kept)}]" if kept else ""

    clean = _GROUP.sub(rewrite, text)
    clean = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", clean)).strip()
    return clean, [cite(label, labelled[old]) for old, label in new.items()]
