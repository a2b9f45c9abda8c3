"""The offline answerer: extractive, deterministic; every sentence it writes is quoted and cited.

What it quotes are real statements only: caption sentences, and slide bullets (rendered as bullets).
Slide titles, axis labels, tick values and other fragments never become "sentences". It quotes only
the evidence that answers the question (a sentence must carry a good share of the best sentence's
question terms), so a focused answer is not padded with neighbouring topics from lower-ranked hits.
An image query's answer first names where the picture is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.citations import clock, located_text
from rag.lexical import tokens
from rag.terms import fold, general_weight
from rag.types import Hit, PageSpan, TimeSpan

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_BULLET = re.compile(r"^\s*[•◦▪▸►‣✓✦✔\-–*]\s*")
_ALPHA = re.compile(r"[^\W\d_]{2,}")
OFFLINE_LABEL = "Offline answer (extractive: quoted from the course material, no language model)"
KEEP_SHARE = 0.6  # a quoted sentence carries at least this share of the best sentence's question weight
# ... and at least this share of the weight of the question terms the evidence has at all: one common word
# ("number" in "choose the number of clusters") is not support, however high its IDF in the course
MIN_COVER = 0.4
# a term weighs its course IDF times (1 - GENERAL + GENERAL * its general-English weight): a course's IDF
# calls its own topic word common ("cluster" in a clustering course) and an everyday word rare ("keep")
GENERAL = 0.5
_NUMBER = re.compile(r"[-−+]?\d+(?:[.,]\d+)*%?")
# words that make a line a statement rather than a chart label ("100 within-cluster sum of squares elbow")
_SYMBOL = re.compile(r"(?<![\w'’-])(?![aAI]\b)[^\W\d_](?![\w'’-])")  # a lone letter: "k", "n", not "a"/"I"
# a line that ends like this goes on on the next line ("Used by value iteration and" / "Q-learning")
_DANGLING = re.compile(r"\b(?:the|a|an|and|or|of|to|in|on|for|with|by|than|from|into|is|are)\s*:?$", re.IGNORECASE)
_SUB = re.compile(r"^--\s+(?=\S)")  # "-- Genomic origin of reads": a sub-bullet ("--->" is an arrow)
_SECTION = re.compile(r"^\d+(?:\.\d+)+\s+[A-Z]")
# code (R, Python, Stan): an assignment, a block, a call with a named argument, indexing or a dotted/snake name
_ASSIGN = re.compile(r"<-|^\s*[{}]|\{\s*$|\b[a-z_][\w.]*=[\w.]+\(")  # ..., `family=binomial()`
_CALL = re.compile(r"\b[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\)")  # f(...), one level of nesting
_NAMED = re.compile(r"[\w\]]\s*(?<![=<>!])=(?!=)|\w\[")  # `type = "bars"`, `yrep[1:8,]`
# a question that asks for code may be answered with it ("which function plots the ribbon?")
_ASKS_CODE = re.compile(r"\b(?:code|codes|function|functions|command|commands|syntax|snippet|script|package|"
                        r"library|call|calls|R|Python|Stan|brms)\b|\w_\w|\w\(")
_GLUE = frozenset("""is are was were be been being can could will would should must may might do does did has have
had the a an this that these those it its we you they which when if then to for by with than""".split())
MAX_SENTENCES = 3


@dataclass(frozen=True)
class Unit:
    """A quotable statement: a caption/prose sentence or a slide bullet."""

    text: str
    bullet: bool
    span: TimeSpan | None = None  # a caption sentence: the cue(s) it was said in (where its citation starts)


def is_code(text: str) -> bool:
    """A line of code, not a statement: `fit1 <- brm(...)`, `pp_check(fit, ndraws=100)`, `data {`,
    "Probability of stable flight pp_check(fit, ndraws=20)" (a label beside a call). A sentence that names a
    function ("ppc_stat(y, yrep), the default statistic "mean" is usually bad") is a statement."""
    if _ASSIGN.search(text):
        return True
    calls = [m for m in _CALL.finditer(text)
             if re.match(r"[A-Za-z_]\w*[_.]", m.group()) or _NAMED.search(m.group()[m.group().index("("):])]
    if not calls:
        return False
    rest = text
    for m in reversed(calls):
        rest = rest[:m.start()] + " " + rest[m.end():]
    words = _ALPHA.findall(rest)
    return len(words) < 5 or not any(w.lower() in _GLUE for w in words)


def asks_for_code(question: str) -> bool:
    """Does the question ask for code or name a function (then code lines may answer it)?"""
    return bool(_ASKS_CODE.search(question))


def _wordy(text: str, min_words: int) -> bool:
    """Enough real words, and mostly words: not a tick row ("0 1 2 3"), a code line or a label."""
    parts = text.split()
    words = _ALPHA.findall(text)
    if len(words) < min_words or not parts:
        return False
    numeric = sum(any(c.isdigit() for c in p) for p in parts)
    return numeric / len(parts) <= 0.25 and len(words) / len(parts) >= 0.6 and any(w.islower() for w in words)


def _label(text: str, marked: bool = False) -> bool:
    """A chart label: a few words with nothing that makes a statement, and a tick value at either end
    ("100 within-cluster sum of squares") or, unmarked, starting in lower case ("within-cluster sum of
    squares elbow": a slide line starts with a capital, a label need not)."""
    parts = text.split()
    if not parts or len(parts) > 8 or any(p.lower().strip(",;:()") in _GLUE for p in parts):
        return False
    return bool(_NUMBER.fullmatch(parts[0]) or _NUMBER.fullmatch(parts[-1])) or not marked and text[:1].islower()


def _title_case(text: str) -> bool:
    words = [w for w in _ALPHA.findall(text) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) / len(words) > 0.6


def _formula(text: str) -> bool:
    """A definition written as a formula ("Precision = TP / (TP + FP)"), not a plot label ("T = mean")."""
    left, eq, right = text.partition("=")
    named = any(len(w) >= 3 for w in _ALPHA.findall(left))
    numbers = any(re.fullmatch(r"[-−+]?[\d.,%]+", t) for t in left.split())  # tick values glued to a label
    return bool(eq) and bool(right.strip()) and named and not numbers and len(_ALPHA.findall(left + right)) >= 2


def slide_units(text: str) -> list[Unit]:
    """Bullets and full sentences of slide pages (pages separated by a blank line): wrapped lines are
    joined back (a continuation starts in lower case); each page's title (its first line), labels and
    fragments are left out; a formula that defines something stays, as a bullet."""
    out: list[Unit] = []
    for page in re.split(r"\n\s*\n", text):
        out += _page_units(page)
    return out


def _page_units(text: str) -> list[Unit]:
    blocks: list[tuple[str, bool]] = []  # (text, marked as a bullet)
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        marked = bool(_BULLET.match(line)) and not line.startswith("--") or bool(_SUB.match(line))
        body = _BULLET.sub("", _SUB.sub("", line)).strip() if marked else line
        if re.match(r"^(?:\.\.\.|…)", body):  # "...but we need …" continues the slide before, not the line above
            body, marked = re.sub(r"^(?:\.\.\.|…)\s*", "", body), True
        if blocks and not marked and not is_code(body) and (
                body[:1].islower() and not _NUMBER.fullmatch(blocks[-1][0]) or _DANGLING.search(blocks[-1][0])):
            blocks[-1] = (f"{blocks[-1][0]} {body}", blocks[-1][1])  # the wrapped tail of the line above
        else:
            blocks.append((body, marked))
    out = []
    for i, (body, marked) in enumerate(blocks):
        if body.endswith("?") or _SECTION.match(body):
            continue  # a question on a slide is not an answer, a numbered heading ("6.1 The place of …") no statement
        if i > 0 and _formula(body):
            out.append(Unit(body, True))
        elif _label(body, marked):
            continue  # a chart label is not a statement
        elif marked:
            if _wordy(body, 3):
                out.append(Unit(body, True))
        elif i > 0 and _wordy(body, 5) and not _title_case(body):
            # an unmarked line: a sentence when it ends like one, else a bullet-like statement
            sentence = body[-1:] in ".!" and len(_ALPHA.findall(body)) >= 6
            out.append(Unit(body, not sentence))
    return out


def caption_units(text: str) -> list[Unit]:
    """Sentences of a caption transcript (questions and fragments left out)."""
    out = []
    for s in _SENT.split(" ".join(text.split())):
        s = s.strip()
        if s and not s.endswith("?") and _wordy(s, 4):
            out.append(Unit(s, False))
    return out


def cue_units(cues: Sequence[tuple[float, float, str]]) -> list[Unit]:
    """The sentences of a segment's caption cues, each with the span of the cue(s) it was said in: a
    sentence's citation starts where it is said, not at the segment's closest cue (often its neighbour)."""
    cues = [c for c in cues if c[2].strip()]
    texts = [" ".join(c[2].split()) for c in cues]
    ends, pos = [], 0  # each cue's character range in the joined transcript
    for t in texts:
        ends.append((pos, pos + len(t)))
        pos += len(t) + 1
    joined = " ".join(texts)
    out, cursor = [], 0
    for u in caption_units(joined):
        start = joined.find(u.text, cursor)
        if start < 0:  # cannot happen (units are substrings, in order); a unit without a span is still a unit
            out.append(u)
            continue
        cursor, end = start + len(u.text), start + len(u.text)
        said = [c for c, (a, b) in zip(cues, ends, strict=True) if a < end and start < b]
        out.append(Unit(u.text, u.bullet, TimeSpan(start_s=said[0][0], end_s=max(c[1] for c in said))))
    return out


def units(hit: Hit) -> list[Unit]:
    """The quotable statements of exactly the cited place."""
    if isinstance(hit.chunk.locator, TimeSpan):
        # captions are speech; a segment without captions has only OCR'd screen text: no sentences
        return cue_units(hit.chunk.cues)
    loc, chunk = hit.locator, hit.chunk
    if isinstance(loc, PageSpan) and isinstance(chunk.locator, PageSpan) and chunk.page_texts:
        pages = chunk.page_texts[loc.first - chunk.locator.first:loc.last - chunk.locator.first + 1]
        return [u for page in pages for u in slide_units(page)]
    return slide_units(located_text(hit))


def sentences(text: str) -> list[str]:
    """Statements worth quoting from slide or caption text (kept for callers that have bare text)."""
    return [u.text for u in (slide_units(text) if "\n" in text else caption_units(text))]


def place(hit: Hit) -> str:
    """Where a hit is, in words: `Lecture 3 at 0:00–0:26 (slides p. 13)` or `deck.pdf p. 13`."""
    loc = hit.moment or hit.locator
    if isinstance(loc, TimeSpan):
        text = f"{hit.chunk.title} at {clock(loc.start_s)}–{clock(loc.end_s)}"
        if hit.chunk.slide is not None:
            text += f" (slides p. {hit.chunk.slide.page})"
        return text
    assert isinstance(loc, PageSpan)
    name = hit.chunk.source.rsplit("/", 1)[-1]
    return f"{name} p. {loc.first}" if loc.first == loc.last else f"{name} pp. {loc.first}–{loc.last}"


def _where_shown(hits: Sequence[Hit], labels: Sequence[str], limit: int = 3) -> str:
    found = [(h, lab) for h, lab in zip(hits, labels, strict=True) if h.image_rank is not None][:limit]
    if not found:
        return ""
    places = [f"{place(h)} [{lab}]" for h, lab in found]
    listed = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
    return f"This picture is shown in {listed}."


def _cite(labels: Sequence[str]) -> str:
    return "".join(f"[{label}]" for label in labels)


def _terms(text: str) -> list[str]:
    """Key terms as lexical search sees them, plus one-letter symbols ("choose k", "the Pareto k value")."""
    return tokens(text) + [w.lower() for w in _SYMBOL.findall(text)]


@dataclass(frozen=True)
class Quoted:
    """An offline answer: its text with `[S n]` labels, and for each label whose quoted statements are
    caption sentences, the span they were said in (the citation starts there, not at the hit's moment)."""

    text: str
    moments: dict[str, TimeSpan]


def compose(question: str, hits: Sequence[Hit], labels: Sequence[str], max_sentences: int = MAX_SENTENCES, *,
            weight: Callable[[str], float] | None = None, image: bool = False) -> str:
    """The text of `quote` (for callers that only need the words)."""
    return quote(question, hits, labels, max_sentences, weight=weight, image=image).text


def quote(question: str, hits: Sequence[Hit], labels: Sequence[str], max_sentences: int = MAX_SENTENCES, *,
          weight: Callable[[str], float] | None = None, image: bool = False) -> Quoted:
    """Quote the statements that carry the most (IDF-weighted) question terms, each with its [S n] label.

    A term weighs its course IDF (`weight`) times its general-English weight, so the question's topic words
    count more than everyday ones. Only statements with at least KEEP_SHARE of the best statement's weight,
    and MIN_COVER of all the weight the evidence can support, are quoted, so a focused answer stays focused;
    an image query's answer starts with where the picture is shown."""
    idf = weight or (lambda _t: 1.0)

    def w(t: str) -> float:
        return idf(t) * (1.0 - GENERAL + GENERAL * general_weight(t))

    want = {fold(t): t for t in _terms(question)}  # folded ("mov") -> the question's own term ("move")
    code_ok = asks_for_code(question)  # code is no statement, unless code is what the question asks for
    scored = []
    supported: set[str] = set()
    for rank, (hit, label) in enumerate(zip(hits, labels, strict=True)):
        for pos, u in enumerate(units(hit)):
            if not code_ok and is_code(u.text):
                continue
            shared = {want[f] for f in map(fold, _terms(u.text)) if f in want}
            if shared:
                supported |= shared
                # Earlier hits and earlier sentences break ties: retrieval already ranked the evidence.
                scored.append((round(sum(w(t) for t in shared), 9), -rank, -pos, u, label))
    scored.sort(key=lambda s: s[:3], reverse=True)
    floor = max(KEEP_SHARE * scored[0][0], MIN_COVER * sum(w(t) for t in supported)) if scored else 0.0
    chosen: list[tuple[Unit, list[str]]] = []
    kept: list[set[str]] = []
    said: dict[str, list[TimeSpan]] = {}  # label -> the spans of its quoted caption sentences
    for score, _, _, u, label in scored:
        if score < floor:
            break
        words = set(tokens(u.text))
        same = next((i for i, k in enumerate(kept) if words <= k), None)
        if same is not None:  # the same point again (a slide bullet and its narration): cite both places
            cites = chosen[same][1]
            if label not in cites and len(cites) < 2:
                cites.append(label)
                if u.span is not None:
                    said.setdefault(label, []).append(u.span)
            continue
        if len(chosen) < max_sentences:
            kept.append(words)
            chosen.append((u, [label]))
            if u.span is not None:
                said.setdefault(label, []).append(u.span)
    lines: list[str] = []
    head = _where_shown(hits, labels) if image else ""
    if head:
        lines.append(head)
    prose = [f"{u.text.rstrip('.!;:')} {_cite(cites)}." for u, cites in chosen if not u.bullet]
    if prose:
        lines.append(" ".join(prose))
    lines += [f"• {u.text.rstrip('.;:')} {_cite(cites)}" for u, cites in chosen if u.bullet]
    if not chosen and not head:  # evidence matched by meaning or picture, not words: point at the best places
        lines = [f"See {place(h)} [{label}]." for h, label in list(zip(hits, labels, strict=True))[:2]]
    # a label quoted for several sentences of one segment starts at the first and ends after the last; an
    # image query's citations keep where the picture is on screen (what the question asks for)
    moments = {} if image else {
        lab: TimeSpan(start_s=min(s.start_s for s in spans), end_s=max(s.end_s for s in spans))
        for lab, spans in said.items()}
    return Quoted("\n".join(lines), moments)
