"""Quotable statements: caption sentences (with the cues they were said in) and slide bullets; never slide
titles, chart labels, tick values, fragments or code. What the offline answerer quotes, and what the source
panel shows for a page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.citations import located_text
from rag.types import Hit, PageSpan, TimeSpan

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_BULLET = re.compile(r"^\s*[•◦▪▸►‣✓✦✔\-–*]\s*")
_ALPHA = re.compile(r"[^\W\d_]{2,}")
_NUMBER = re.compile(r"[-−+]?\d+(?:[.,]\d+)*%?")
# a line that ends like this goes on on the next line ("Used by value iteration and" / "Q-learning")
# a line that ends on a colon leads on to what follows (a list, a reference): no statement of its own
_LEADS_ON = re.compile(r":\s*$")
_DANGLING = re.compile(r"\b(?:the|a|an|and|or|of|to|in|on|for|with|by|than|from|into|is|are)\s*:?$", re.IGNORECASE)
# a sub-bullet that only qualifies the bullet above it ("for the service provider", "in this case, the traffic
# …"): it is quoted with that bullet; a bullet that leads into sub-bullets ("A good VPN service should") is none
_QUALIFIER = re.compile(r"^(?:for|from|with|without|by|in|on|to|of|via|through|at|as|when|if|e\.g\.|i\.e\.)\b")
_LEAD_IN = re.compile(r"\b(?:should|must|can|could|will|would|may|might|need|needs|include|includes)\s*:?$")
_SUB = re.compile(r"^--\s+(?=\S)")  # "-- Genomic origin of reads": a sub-bullet ("--->" is an arrow)
_SECTION = re.compile(r"^\d+(?:\.\d+)+\s+[A-Z]")
# code (R, Python, Stan): an assignment, a block, a call with a named argument, indexing or a dotted/snake name
_ASSIGN = re.compile(r"<-|^\s*[{}]|\{\s*$|\b[a-z_][\w.]*=[\w.]+\(")  # ..., `family=binomial()`
_CALL = re.compile(r"\b[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\)")  # f(...), one level of nesting
_NAMED = re.compile(r"[\w\]]\s*(?<![=<>!])=(?!=)|\w\[")  # `type = "bars"`, `yrep[1:8,]`
# a question that asks for code may be answered with it ("which function plots the ribbon?")
_ASKS_CODE = re.compile(r"\b(?:code|codes|function|functions|command|commands|syntax|snippet|script|package|"
                        r"library|call|calls|R|Python|Stan|brms)\b|\w_\w|\w\(")
# words that make a line a statement rather than a chart label ("100 within-cluster sum of squares elbow")
_GLUE = frozenset("""is are was were be been being can could will would should must may might do does did has have
had the a an this that these those it its we you they which when if then to for by with than""".split())
# A lecturer reading a slide's title says a fragment ("Hash-based alignment (present day).", "QC on BAM files."):
# a caption sentence that starts within TITLE_AFTER s of a slide change (a keyframe, or the recording's start),
# has at most TITLE_WORDS words, no finite verb, no leading determiner and no reason, contrast or negation is that
# title, not a statement. Measured on the spoken devcorpus lectures' 136 narrated sentences, 22 of them a slide's
# title (eval/datasets/make_spoken.py's truth): no verb alone flags 58 (22 titles, precision 0.38: "Much less
# memory because of compression.", "A compressed form of suffix arrays." are points); without a determiner and
# short 46 (0.48); the shipped rule 17 (17: precision 1.0, recall 0.77; missed: the VPN lecture's slide changes,
# which ingest did not detect, and a title that is a sentence, "Reference data versions matter.").
TITLE_AFTER = 2.0
LIST_HEADING_WORDS = 4  # see _list_heading
TITLE_WORDS = 10
_DETERMINER = re.compile(r"^(?:a|an|the|this|that|these|those|each|every|some|any|our|your|its|their)\b", re.I)
_FINITE = frozenset({"VBZ", "VBP", "VBD", "MD"})
# a reason, a contrast or a negation makes a verbless line a point, not a title ("Much less memory because of
# compression.", "... information not used in modeling.")
_REASON = re.compile(r"\b(?:because|since|although|though|but|whereas|not|no|never|so|therefore|thus|hence)\b", re.I)


@dataclass(frozen=True)
class Unit:
    """A quotable statement: a caption/prose sentence or a slide bullet."""

    text: str
    bullet: bool
    span: TimeSpan | None = None  # a caption sentence: the cue(s) it was said in (where its citation starts)
    point: str = ""  # a slide title's: the page's first point, quoted after it ("Hash-based alignment — Need to …")

    @property
    def said(self) -> str:
        """The statement as quoted: a title never alone, always with the point it heads."""
        return f"{self.text} — {self.point}" if self.point else self.text


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
    """A definition written as a formula ("Precision = TP / (TP + FP)"), not a plot label ("T = mean") or a
    legend ("weight gamma^k gamma = 0.9 gamma = 0.5": every "=" sets a number)."""
    left, eq, right = text.partition("=")
    named = any(len(w) >= 3 for w in _ALPHA.findall(left))
    numbers = any(re.fullmatch(r"[-−+]?[\d.,%]+", t) for t in left.split())  # tick values glued to a label
    legend = all(re.match(r"\s*[-−+]?\d", after) for after in text.split("=")[1:]) and not any(
        w.lower() in _GLUE for w in _ALPHA.findall(text))  # "with data y = 9, N = 10" is a statement
    return bool(eq) and bool(right.strip()) and named and not numbers and not legend and \
        len(_ALPHA.findall(left + right)) >= 2


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
    out: list[Unit] = []
    title = _late_title(text)
    quoted_title = False  # a late title long enough to be quoted (as a line of words, before it was known as one)
    for i, (body, marked) in enumerate(_nest(blocks)):
        if body == title:
            quoted_title = i > 0 and _wordy(body, 5) and not _title_case(body)
            continue
        if body.endswith("?") or _SECTION.match(body) or _LEADS_ON.search(body):
            continue  # a question on a slide is not an answer, a numbered heading ("6.1 The place of …") no statement,
            # nor a line that leads on to a list or a reference ("BGP confederations are discussed in :")
        if i > 0 and _formula(body):
            out.append(Unit(body, True))
        elif _label(body, marked):
            continue  # a chart label is not a statement
        elif marked:
            if _wordy(body, 3) and not _list_heading(body):
                out.append(Unit(body, True))
        elif i > 0 and _wordy(body, 5) and not _title_case(body):
            # an unmarked line: a sentence when it ends like one, else a bullet-like statement
            sentence = body[-1:] in ".!" and len(_ALPHA.findall(body)) >= 6
            out.append(Unit(body, not sentence))
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if quoted_title and out and (_BULLET.match(first) or not _wordy(first, 2) or _label(first)):
        # the title stays what matches a question about the page, but it is quoted with the page's first point
        # ("Hash-based alignment (present day) — Need to make some concessions on sensitivity …"), never bare; when
        # the page starts with a title of its own (a line of words, not a bullet), the late line is a diagram's
        # caption ("Label switching table of backbone router") and no unit
        out.insert(0, Unit(title, True, point=out[0].text))
    return out


def _list_heading(text: str) -> bool:
    """A bullet of at most LIST_HEADING_WORDS words without a verb names what the bullets below it say
    ("Provider-provisioned BGP/MPLS VPNs", "Customer-provisioned VPNs", "Suffix arrays (Salmon, STAR)"): a heading,
    no statement. It carried a question's topic words in one line and outranked the point that answers ("How does
    MPLS forward packets inside a VPN?" quoted "• Provider-provisioned BGP/MPLS VPNs"). Devcorpus, offline, k 10:
    14 answers change; citation P/R of the tuned families unchanged, held-out `xpara` precision 0.594 → 0.607,
    `ypara` 0.574 → 0.578; sample course and spoken lectures unchanged."""
    return len(text.split()) <= LIST_HEADING_WORDS and not has_verb(text)


def _late_title(text: str) -> str:
    """The page's title when the text layer does not start with it (diagram labels, tick values or the page number
    come first: "14" … "Hash-based alignment (present day)" above the first bullet) and it is no sentence
    ("Birthdays case study uses Pathfinder …" is one); "" otherwise."""
    from agent.overview import page_title

    title = page_title(text)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return title if title and title != first and not has_verb(title) else ""


def _nest(blocks: Sequence[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Bullets with their qualifying sub-bullets: "Find a solution that is as automatic as possible" then
    "for the service provider" and "for the customers of the VPN service" become two statements, each
    "<bullet> <qualifier>" (the bullet alone is then none); a lead-in bullet is no statement."""
    out: list[tuple[str, bool]] = []
    parent: int | None = None
    qualified: set[int] = set()
    for body, marked in blocks:
        if marked and parent is not None and _QUALIFIER.match(body):
            out.append((f"{out[parent][0]} {body}", True))
            qualified.add(parent)
            continue
        out.append((body, marked))
        parent = len(out) - 1 if marked and not _LEAD_IN.search(body) else None
    # ("how mixed a node is" ends a statement: only a modal verb at the end leads in)
    return [b for i, b in enumerate(out) if i not in qualified and not (b[1] and _LEAD_IN.search(b[0]))]


def caption_units(text: str) -> list[Unit]:
    """Sentences of a caption transcript (questions and fragments left out)."""
    out = []
    for s in _SENT.split(" ".join(text.split())):
        s = s.strip()
        if s and not s.endswith("?") and _wordy(s, 4):
            out.append(Unit(s, False))
    return out


def has_verb(text: str) -> bool:
    """Does the sentence have a finite verb (a statement), or is it a noun phrase (a title, a label)?

    The rule-based tagger tags a present-tense verb after a plural noun as base form ("protocols exist", "P routers
    only know how", "PE routers encapsulate VPN packets"): a VB counts unless it is an infinitive ("to reach") or
    between an adjective and a noun ("Short read alignment", "long read technologies"); a VBN counts between a noun
    and its object ("Laplace used this")."""
    from rag.terms import pos_tags

    tags = [t for _, t in pos_tags(text.replace("’", "'"))]
    for i, t in enumerate(tags):
        before, after = tags[i - 1] if i else "", tags[i + 1] if i + 1 < len(tags) else ""
        if t in _FINITE or t == "VB" and before != "TO" and not (before.startswith("JJ") and after.startswith("NN")):
            return True
        if t == "VBN" and before in ("NN", "NNS", "NNP", "PRP") and after in ("DT", "PRP", "PRP$"):
            return True
    return False


def narrated_title(unit: Unit, changes: Sequence[float]) -> bool:
    """A caption sentence that is a slide's title read aloud (see TITLE_AFTER): said as a slide appears
    (`changes`: slide-change times, s), short, no leading determiner, no finite verb."""
    if unit.span is None or unit.bullet:
        return False
    start = unit.span.start_s
    if not any(-0.5 <= start - t <= TITLE_AFTER for t in changes):
        return False
    if len(unit.text.split()) > TITLE_WORDS or _DETERMINER.match(unit.text) or _REASON.search(unit.text):
        return False
    return not has_verb(unit.text)


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
        # captions are speech; a segment without captions has only OCR'd screen text: no sentences. A slide's
        # title read aloud as the slide appears is no statement either.
        changes = (0.0, *hit.chunk.keyframes)
        out: list[Unit] = []
        title: float | None = None  # where the title of the slide that just appeared was read
        for u in cue_units(hit.chunk.cues):
            if u.span is not None and narrated_title(u, changes):
                title = u.span.start_s
                continue
            if title is not None and u.span is not None:
                # the slide's first point is cited from where its title is said: where the slide starts
                u = Unit(u.text, u.bullet, TimeSpan(start_s=title, end_s=u.span.end_s))
            out.append(u)
            title = None
        return out
    loc, chunk = hit.locator, hit.chunk
    if isinstance(loc, PageSpan) and isinstance(chunk.locator, PageSpan) and chunk.page_texts:
        pages = chunk.page_texts[loc.first - chunk.locator.first:loc.last - chunk.locator.first + 1]
        return [u for page in pages for u in slide_units(page)]
    return slide_units(located_text(hit))


def page_quote(hit: Hit) -> str:
    """What the source panel quotes for a page citation: the page's title and statements (bullets as
    bullets), never its chart tick values or axis labels; a page without statements shows its lines that
    read as words (a figure's caption, its title)."""
    from agent.overview import page_title

    text = located_text(hit)
    said = [f"• {u.text}" if u.bullet else u.text for u in units(hit) if not u.point]  # its title heads it
    if said:
        title = page_title(text) or next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        head = [title] if title and not _label(title) and _wordy(title, 1) else []
        return "\n".join(head + said)
    return "\n".join(ln for ln in (x.strip() for x in text.splitlines()) if _wordy(ln, 2) and not _label(ln))


def sentences(text: str) -> list[str]:
    """Statements worth quoting from slide or caption text (kept for callers that have bare text)."""
    return [u.text for u in (slide_units(text) if "\n" in text else caption_units(text))]
