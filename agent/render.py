"""What the chat UI shows, as text: chat messages with clickable [S n] markers, and the sources panel.

Markers and source buttons carry a key (`t<turn>:S<n>`); one click listener (app.py) opens that source,
so the sources of every earlier answer stay clickable, not just the latest.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePosixPath
from urllib.parse import quote

from agent.conversation import Source, Turn
from agent.offline import OFFLINE_LABEL
from rag.citations import CLOSEST_HEADING, clock
from rag.types import TimeSpan

SEARCHING = "*Searching the course…*"
DECLINE_HINT = ("Sorry, I couldn't find this in the course, so I won't guess. "
                "Try other words, or ask about a topic from the lectures or slides.")
PICTURE_HINT = ("This picture does not match any slide or lecture frame of the course. Try a sharper or "
                "closer photo of the slide, or ask in words.")
NO_SOURCES = ("<p class='ll-empty'><em>The places each answer cites appear here. Click one (or an [S n] "
              "marker in the answer) to play the lecture at that sentence or see the page.</em></p>")
CLOSEST_NOTE = ("The course did not answer this question. These are the places nearest to it; the course may "
                "word it differently, so look there before rephrasing.")
_MARK = re.compile(r"\[(S\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def icon(s: Source) -> str:
    # Plain glyphs: emoji fonts are not everywhere.
    return "▶" if isinstance(s.citation.locator, TimeSpan) else "▤"


def button_text(s: Source) -> str:
    if s.closest:  # no [S n]: a nearest place of a decline is not a citation
        return f"{icon(s)} {s.citation.display}"
    return f"{icon(s)} [{s.citation.label}] {s.citation.display}"


def place_title(s: Source) -> str:
    """What the viewer's caption calls an opened source: `[S1] Lecture 3 · 12:30–12:55`, or for a decline's
    nearest place `Closest material (not an answer): week3.pdf p. 14`."""
    if s.closest:
        return f"Closest material (not an answer): {s.citation.display}"
    return f"[{s.citation.label}] {s.citation.display}"


def _anchor(key: str) -> str:
    return "#ll-open-" + key.replace(":", "-")


def _linked(text: str, turn: Turn) -> str:
    """`[S1]` → a link the page script turns into a click on that source (only labels that resolved)."""
    keys = {s.citation.label: s.key for s in turn.sources}

    def link(m: re.Match[str]) -> str:
        key = keys.get(m.group(1))
        return f"[\\[{m.group(1)}\\]]({_anchor(key)})" if key else m.group(0)

    return _MARK.sub(link, text)


def assistant_markdown(turn: Turn) -> str:
    """The assistant's chat message for one turn."""
    if turn.error:
        return f"⚠️ {turn.text}"
    if not turn.text and not turn.done:
        return SEARCHING
    if turn.declined:
        hint = PICTURE_HINT if turn.image_name and not turn.question else DECLINE_HINT
        why = f"\n\n*Why: {turn.reason}.*" if turn.reason else ""
        return f"**Not in this course.** {hint}{why}{_closest_line(turn)}"
    parts = [f"*{OFFLINE_LABEL}*"] if turn.mode == "offline" else []
    if turn.query != turn.question and turn.question:
        parts.append(f"*Follow-up, searched as: “{turn.query}”*")
    parts.append(_linked(turn.text, turn) + ("" if turn.done else " …"))
    return "\n\n".join(parts)


def _md_text(text: str) -> str:
    """Text shown literally inside Markdown (a link's text): its brackets, stars and underscores escaped."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(1), text)


def _closest_line(turn: Turn) -> str:
    """A decline's nearest places as links that open them in the sources panel; empty when there are none."""
    if not turn.closest:
        return ""
    links = " · ".join(f"[{_md_text(button_text(s))}]({_anchor(s.key)})" for s in turn.closest)
    return f"\n\n*{CLOSEST_HEADING}:* {links}"


def chat_messages(turns: list[Turn]) -> list[dict]:
    """The Chatbot's messages (Gradio's messages format) for a conversation."""
    out: list[dict] = []
    for t in turns:
        if t.image_path:
            out.append({"role": "user", "content": {"path": t.image_path}})
        if t.question:
            out.append({"role": "user", "content": t.question})
        out.append({"role": "assistant", "content": assistant_markdown(t)})
    return out


def file_url(path: str) -> str:
    """URL of a file Gradio serves from a static path (relative, so it works under a root path)."""
    return "gradio_api/file=" + quote(path)


def _entry(s: Source, full: bool) -> str:
    key = html.escape(s.key)
    parts = [f"<button class='ll-cite' data-ll-open='{key}' id='ll-src-{key.replace(':', '-')}'>"
             f"{html.escape(button_text(s))}</button>"]
    if full:
        notes = []
        if s.play_s is not None:
            notes.append(f"plays from {clock(s.play_s)}")
        if s.citation.kind == "video" and isinstance(s.citation.locator, TimeSpan) and s.citation.slide is None:
            notes.append("no slide on screen")
        if s.machine_transcript:
            notes.append("words from a machine transcript (no caption file): may contain errors")
        thumb = (f"<img class='ll-thumb' alt='' loading='lazy' src='{html.escape(file_url(s.thumb))}'>"
                 if s.thumb else "")
        note = f"<div class='ll-note'>{html.escape(' · '.join(notes))}</div>" if notes else ""
        quote_ = f"<blockquote>{html.escape(s.preview)}</blockquote>" if s.preview else ""
        parts.append(f"<div class='ll-preview'>{thumb}<div>{note}{quote_}</div></div>")
    return "<div class='ll-source'>" + "".join(parts) + "</div>"


def sources_html(turns: list[Turn]) -> str:
    """Every answer's sources, the latest first and open with previews; earlier ones folded."""
    groups = []
    latest = True
    for t in reversed(turns):
        places = t.sources or t.closest
        if not places:
            continue
        asked = t.question or (f"photo {PurePosixPath(t.image_name).name}" if t.image_name else "photo")
        title = html.escape(asked if len(asked) <= 70 else asked[:67] + "…")
        body = "".join(_entry(s, full=latest) for s in places)
        if not t.sources:  # a decline's nearest places, labelled as such wherever they show
            title += " <span class='ll-closest-tag'>· Closest material (not an answer)</span>"
            body = f"<p class='ll-closest-note'>{html.escape(CLOSEST_NOTE)}</p>{body}"
        groups.append(f"<details class='ll-group' {'open' if latest else ''}>"
                      f"<summary>Answer {places[0].turn}: {title}</summary>{body}</details>")
        latest = False
    return "".join(groups) or NO_SOURCES
