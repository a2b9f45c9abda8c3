"""Caption sidecars: parse WebVTT and SRT into cues, find the sidecar next to a video, sentence ends."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IngestError

CAPTION_EXTS = (".vtt", ".srt")

# `01:02:03.456`, `02:03.456`, `01:02:03,456` (SRT), hours optional, 1-3 digit fraction.
_TS = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s+.*)?$")  # anything after the end = cue settings
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.?!…][\"'”’)\]]*$")
_REMEDY = "Fix the caption file (or delete it to index the video from keyframes only)."


@dataclass(frozen=True)
class Cue:
    """One caption cue: seconds from the start of the media, plain text."""

    start: float
    end: float
    text: str


def find_sidecar(media_path: Path) -> Path | None:
    """The `.vtt` or `.srt` with the same stem next to a video/audio file (extension case-insensitive)."""
    folder = media_path.parent
    if not folder.is_dir():
        return None
    found = {
        p.suffix.lower(): p
        for p in sorted(folder.iterdir())
        if p.stem == media_path.stem and p.suffix.lower() in CAPTION_EXTS and p.is_file()
    }
    for ext in CAPTION_EXTS:  # .vtt wins when both exist
        if ext in found:
            return found[ext]
    return None


def read_captions(path: Path, name: str | None = None) -> list[Cue]:
    """Parse a `.vtt` or `.srt` file; `name` (default: the file name) is what errors cite."""
    name = name or path.name
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(name, f"cannot read the caption file ({e.strerror or e})", _REMEDY) from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # old SRTs are often Windows-1252
    return parse_captions(text, name)


def parse_captions(text: str, name: str = "captions") -> list[Cue]:
    """Parse WebVTT (when it starts with `WEBVTT`) or SRT text into cues sorted by start time."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    is_vtt = lines[0].strip().startswith("WEBVTT") if lines else False
    cues: list[Cue] = []
    for first, block in _blocks(lines):
        if is_vtt and first == 0:
            continue  # the WEBVTT header block (may carry metadata lines)
        head = block[0].strip()
        if is_vtt and (head.startswith("NOTE") or head in ("STYLE", "REGION")):
            continue
        cue = _parse_block(block, first, name)
        if cue is not None:
            cues.append(cue)
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks, with the 0-based index of each block's first line."""
    out: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    start = 0
    for i, line in enumerate(lines):
        if line.strip():
            if not cur:
                start = i
            cur.append(line)
        elif cur:
            out.append((start, cur))
            cur = []
    if cur:
        out.append((start, cur))
    return out


def _parse_block(block: list[str], first: int, name: str) -> Cue | None:
    # The timing line is the first or (after a cue identifier / SRT counter) the second line.
    for k in range(min(2, len(block))):
        if "-->" in block[k]:
            break
    else:
        raise IngestError(name, f"line {first + 1}: expected a cue timing line "
                                f"(`00:00:01.000 --> 00:00:04.000`), found {block[0].strip()[:60]!r}",
                          _REMEDY)
    lineno = first + k + 1
    m = _TIMING.match(block[k])
    if not m:
        raise IngestError(name, f"line {lineno}: malformed cue timing {block[k].strip()[:60]!r}", _REMEDY)
    g = m.groups()
    start, end = _seconds(g[0:4]), _seconds(g[4:8])
    if end < start:
        raise IngestError(name, f"line {lineno}: cue ends ({end:.3f}s) before it starts ({start:.3f}s)",
                          _REMEDY)
    body = " ".join(_clean(line) for line in block[k + 1:])
    body = _SPACE.sub(" ", body).strip()
    if not body:
        return None
    return Cue(round(start, 3), round(end, 3), body)


def _seconds(parts: tuple[str | None, ...]) -> float:
    h, m, s, frac = parts
    millis = int((frac or "0").ljust(3, "0"))
    return int(h or 0) * 3600 + int(m or 0) * 60 + int(s or 0) + millis / 1000


def _clean(line: str) -> str:
    # <v Speaker>, <c.color>, <i>, <00:00:01.000> karaoke timestamps, SRT <font>: keep the words only.
    return html.unescape(_TAG.sub("", line)).replace("\xa0", " ")


def sentence_ends(cues: list[Cue], gap_s: float = 0.5) -> list[tuple[float, bool]]:
    """End times of cues that end a sentence (`.?!`) or are followed by a pause ≥ `gap_s`.

    Each item is `(time, punctuated)`: True when the cue text ends with sentence punctuation.
    The last cue always ends a sentence.
    """
    out: list[tuple[float, bool]] = []
    for i, cue in enumerate(cues):
        punct = bool(_SENTENCE_END.search(cue.text))
        last = i == len(cues) - 1
        gap = last or cues[i + 1].start - cue.end >= gap_s
        if punct or gap:
            out.append((cue.end, punct))
    return out
