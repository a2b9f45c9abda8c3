"""Page text cleaning for slide decks: pure functions over strings, no PDF library here.

Rules, in order (`clean_lines` per page, then `find_boilerplate`/`strip_boilerplate` per deck):
- line breaks: CR/LF variants and U+2028/2029 become "\\n"; tabs and other control characters a space.
- NUL (U+0000, what some Keynote exports use for bullets) becomes a new line starting with "• ".
- invisible format characters (soft hyphen, zero-width, BOM), U+FFFD and private-use glyphs
  (symbol-font bullets) are dropped.
- NFKC per character (ligatures ﬁ→fi, mathematical italic 𝜃→θ, NBSP→space, full-width forms),
  except superscripts, subscripts and vulgar fractions, which NFKC would flatten into misleading
  text (x² → x2, 10⁻³ → 10-3); then NFC to recompose accents.
- a line that starts with one space before its first character starts with "• ": pdfium writes a space
  for a symbol-font bullet glyph it cannot map (the VPN deck's bullets and sub-bullets), so without it a
  sub-bullet starting in lower case reads as the wrapped tail of the bullet above.
- whitespace collapsed inside a line; empty lines and lines made only of plot markers (●, ■, ▲…)
  dropped.
- deck-wide boilerplate: a line (digits masked, so "12/42" and "13/42" are one line) that sits in
  the first or last `ZONE` lines (anywhere, for long numbered lines like "ML-101 · Intro 3 / 15")
  of at least half the distinct slides (overlay build steps count once) is a running header,
  footer or page counter, provided it is the same text on every page or counter-like (at most 3
  words and 2 numbers, like "Page 3 of 9", or a number that only goes up). It is removed where it was counted;
  when it is glued to the end (or start) of a content line, only that part is cut.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

MIN_TEXT_CHARS = 20  # fewer non-space characters than this = "no text layer" (OCR candidate)
ZONE = 3  # lines at each end of a page where running headers/footers live
_KEEP_TAGS = {"<super>", "<sub>", "<fraction>"}
_DIGITS = re.compile(r"\d+")
_TOKEN = re.compile(r"\w+")
_WORD = re.compile(r"[^\W\d_]+")
MAX_COUNTER_WORDS = 3
_GLYPH_GAP = re.compile(r" (?=[^\W\d_])")  # " Support multiple customers": an unmapped bullet glyph before a word


@functools.lru_cache(maxsize=8192)
def _norm_char(ch: str) -> str:
    if ch == "\n":
        return ch
    if ch == "\x00":
        return "\n• "
    cat = unicodedata.category(ch)
    if cat in ("Zl", "Zp"):
        return "\n"
    if cat == "Cc":
        return " "
    if cat in ("Cf", "Co", "Cs") or ch == "\ufffd":
        return ""
    decomp = unicodedata.decomposition(ch)
    if decomp.startswith("<") and decomp.split(" ", 1)[0] in _KEEP_TAGS:
        return ch
    return unicodedata.normalize("NFKC", ch)


def _is_marker_line(line: str) -> bool:
    # scatter-plot points come out as long runs of "●" lines: noise for every kind of search
    return all(c.isspace() or c in "•·" or "\u25a0" <= c <= "\u25ff" for c in line)


def clean_lines(raw: str, glyph_bullets: bool = True) -> list[str]:
    """One page's raw extracted text → its cleaned, non-empty lines (see the module docstring;
    `glyph_bullets=False` leaves a leading space unmarked, as before bullets were recovered from it)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", "".join(_norm_char(c) for c in text))
    lines = (("• " if glyph_bullets and _GLYPH_GAP.match(line) else "") + " ".join(line.split())
             for line in text.split("\n"))
    return [line for line in lines if line and not _is_marker_line(line)]


def line_key(line: str) -> str:
    """A line with every run of digits masked, so page counters compare equal across pages."""
    return _DIGITS.sub("#", line)


def _zone(n: int) -> set[int]:
    return set(range(min(ZONE, n))) | set(range(max(0, n - ZONE), n))


def find_boilerplate(pages: Sequence[Sequence[str]], min_share: float = 0.5,
                     min_pages: int = 4) -> set[str]:
    """Keys (`line_key`) of running headers, footers and page counters of a deck.

    A key counts on a page when it sits in the page's top/bottom zone, or anywhere for a
    distinctive key (some PDF producers emit the footer mid-page). It must occur on at least
    `min_share` of the pages, and be either the same text everywhere or a counter (see _running).
    """
    if len(pages) < min_pages:
        return set()
    seen: dict[str, dict[int, str]] = {}  # key -> {page index: its text there}
    for p, lines in enumerate(pages):
        zone = _zone(len(lines))
        for i, line in enumerate(lines):
            key = line_key(line)
            if i in zone or _distinctive(key):
                seen.setdefault(key, {}).setdefault(p, line)
    need = max(3, math.ceil(min_share * len(pages)))
    return {k for k, by_page in seen.items()
            if len(by_page) >= need and _running(k, [by_page[p] for p in sorted(by_page)])}


def _distinctive(key: str) -> bool:
    # long, wordy and numbered, like "ML-# · Intro to Machine Learning # / #": never body text
    return "#" in key and len(key) >= 12 and len(_WORD.findall(key)) >= 2


def _running(key: str, lines: Sequence[str]) -> bool:
    """Same text on every page, or counter-like: few words and numbers, or a number that only goes up.

    This keeps numbered titles ("Step 3: …") that merely share a shape across pages.
    """
    if len(set(lines)) == 1 or (len(_WORD.findall(key)) <= MAX_COUNTER_WORDS and key.count("#") <= 2):
        return True
    columns = zip(*([int(x) for x in _DIGITS.findall(line)] for line in lines), strict=True)
    return any(len(set(col)) >= 3 and all(a <= b for a, b in itertools.pairwise(col)) for col in columns)


@functools.lru_cache(maxsize=256)
def _affix_pattern(key: str) -> re.Pattern[str] | None:
    # Cut a footer glued onto a content line only when the footer is distinctive: it has letters
    # or at least two numbers ("12 / 42"); a bare "12" at the end of a line may be content.
    if not (re.search(r"[^\W\d_]", key) or key.count("#") >= 2):
        return None
    body = r"\d+".join(re.escape(part) for part in key.split("#")).replace(r"\ ", r"\s*")
    return re.compile(rf"^\s*{body}\s+|\s+{body}\s*$")


def strip_boilerplate(lines: Sequence[str], keys: set[str]) -> list[str]:
    """Drop boilerplate lines from the page's top/bottom zones; cut glued-on footers there."""
    if not keys:
        return list(lines)
    zone = _zone(len(lines))
    out = []
    for i, line in enumerate(lines):
        key = line_key(line)
        if key in keys and (i in zone or _distinctive(key)):
            continue
        if i in zone:
            for key in keys:
                pat = _affix_pattern(key)
                if pat is not None:
                    line = pat.sub(" ", line).strip()
        if line:
            out.append(line)
    return out


def clean_deck(raw_pages: Sequence[str], glyph_bullets: bool = True) -> tuple[list[str], set[str]]:
    """Clean every page of a deck; returns the page texts and the boilerplate keys removed."""
    pages = [clean_lines(raw, glyph_bullets) for raw in raw_pages]
    # Statistics over distinct slides only: the steps of an overlay build would otherwise make
    # the slide's own title look like a running header in a short deck.
    builds = find_builds(["\n".join(lines) for lines in pages])
    keys = find_boilerplate([lines for lines, b in zip(pages, builds, strict=True) if b is None])
    return ["\n".join(strip_boilerplate(lines, keys)) for lines in pages], keys


def clean_page(raw: str, keys: set[str]) -> str:
    """Clean one page (e.g. OCR output) with boilerplate keys already found for its deck."""
    return "\n".join(strip_boilerplate(clean_lines(raw), keys))


def is_tiny(text: str) -> bool:
    """True when a page has (almost) no text: fewer than MIN_TEXT_CHARS non-space characters."""
    return sum(not c.isspace() for c in text) < MIN_TEXT_CHARS


def find_builds(texts: Sequence[str], min_share: float = 0.9, min_tokens: int = 3) -> list[int | None]:
    """For each page, the 1-based page that completes its incremental build, else None.

    Page i is a build step of page i+1 when at least `min_share` of its word tokens (counted with
    multiplicity) reappear on page i+1 and page i+1 is no shorter. Chains follow through, so in a
    three-step overlay pages 1 and 2 both point at page 3, and page 3 (the fullest) gets None.
    """
    toks = [Counter(t.lower() for t in _TOKEN.findall(text)) for text in texts]
    out: list[int | None] = [None] * len(texts)
    for i in range(len(texts) - 2, -1, -1):
        a, b = toks[i], toks[i + 1]
        na = a.total()
        if na >= min_tokens and b.total() >= na and (a & b).total() >= min_share * na:
            out[i] = out[i + 1] or i + 2
    return out
