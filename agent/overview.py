"""The course overview shown above the chat: what is indexed, how, and what to ask."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from rag.citations import clock
from rag.index import Manifest, ManifestEntry

_KIND = {"video": "Lecture", "pdf": "Slides", "audio": "Audio"}
_TITLE = re.compile(r"^[A-Za-z][\w\s\-–'’,:()/&]{3,60}\??$")


def _words_from(e: ManifestEntry) -> str:
    if e.kind == "pdf":
        return "page text"
    # The manifest's `transcript` (path, by) is set when speech-to-text fed the file.
    if e.transcript is not None:
        return "captions + machine transcript" if e.has_captions else "machine transcript"
    if e.has_captions:
        return "captions"
    return "none (on-screen text only)"


def _length(e: ManifestEntry) -> str:
    if e.kind == "pdf":
        return f"{e.page_count or '?'} pages"
    return clock(e.duration_s) if e.duration_s else "?"


def page_title(text: str) -> str:
    """A slide's title: the line just above its first bullet (diagram labels come first in the text
    layer); on a slide without bullets, its first line that reads like a title."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first_bullet = next((i for i, ln in enumerate(lines) if ln.startswith("•")), None)
    if first_bullet:
        return lines[first_bullet - 1] if _TITLE.match(lines[first_bullet - 1]) else ""
    return next((ln for ln in lines if _TITLE.match(ln) and len(ln.split()) >= 2 and ln[0].isupper()), "")


def example_questions(services: Any, n: int = 4) -> list[str]:
    """Questions made from the course itself: titles of deck pages, else lecture titles."""
    titles: list[str] = []
    store = getattr(services, "store", None)
    entries = Manifest(services.index_dir).sources
    if store is not None:
        for rel, e in sorted(entries.items()):
            if e.kind != "pdf":
                continue
            for chunk in store.chunks_of(rel):
                for text in chunk.page_texts[1:] if chunk.locator.first == 1 else chunk.page_texts:
                    title = page_title(text)  # the title page is skipped: it names the course, not a topic
                    if title and 1 <= len(title.split()) <= 6 and title.lower() not in {t.lower() for t in titles}:
                        titles.append(title)
    if len(titles) > n:  # spread over the deck(s), not the first pages only
        titles = [titles[round(i * (len(titles) - 1) / (n - 1))] for i in range(n)]
    questions = [t if t.endswith("?") else f"What does the course say about {_lower(t.rstrip(':'))}?"
                 for t in titles[:n]]
    if not questions:
        questions = [f"What is {e.title or PurePosixPath(rel).stem} about?"
                     for rel, e in sorted(entries.items())][:n]
    return questions


def _lower(title: str) -> str:
    """"Gradient descent" → "gradient descent"; acronyms and names after the first word stay."""
    first, _, rest = title.partition(" ")
    first = first if first.isupper() and len(first) > 1 else first[:1].lower() + first[1:]
    return f"{first} {rest}".strip()


def overview_markdown(services: Any, mode_line: str) -> str:
    """Markdown: counts, one row per source (length, where its words come from), mode, index, how to add."""
    entries = Manifest(services.index_dir).sources
    if not entries:
        return (f"{mode_line}\n\n**The index at `{services.index_dir}` is empty.** Add material with "
                "`lecturelens ingest COURSE_FOLDER --index " + str(services.index_dir) + "`, then restart "
                "`lecturelens chat`.")
    by_kind: dict[str, list[tuple[str, ManifestEntry]]] = {}
    for rel, e in sorted(entries.items()):
        by_kind.setdefault(e.kind, []).append((rel, e))
    counts = []
    for kind, noun in (("video", "lecture"), ("pdf", "slide deck"), ("audio", "audio file")):
        items = by_kind.get(kind, [])
        if not items:
            continue
        size = (f"{sum(e.page_count or 0 for _, e in items)} pages" if kind == "pdf"
                else clock(sum(e.duration_s or 0 for _, e in items)))
        counts.append(f"{len(items)} {noun}{'s' if len(items) != 1 else ''} ({size})")
    rows = ["| | title | file | length | words from |", "|---|---|---|---|---|"]
    for kind in ("video", "pdf", "audio"):
        for rel, e in by_kind.get(kind, []):
            rows.append(f"| {_KIND[kind]} | {e.title or ''} | `{rel}` | {_length(e)} | {_words_from(e)} |")
    return "\n".join([
        f"{mode_line}\n",
        f"**Indexed:** {', '.join(counts)} · index `{services.index_dir}`\n",
        *rows,
        "",
        "**Add material:** put the files in the course folder and run "
        f"`lecturelens ingest COURSE_FOLDER --index {services.index_dir}` (only new or changed files are "
        "processed), then restart `lecturelens chat`. Files cannot be added from this page.",
    ])
