"""The course's own glossary: acronyms and the words they stand for, found in the indexed text, so a
question that uses one side also searches with the other.

An offline embedder does not know most acronyms ("what is GRE for?" scores 0.12 MiniLM cosine against the
narrated sentence "Generic Routing Encapsulation can be used to carry network layer packets inside IP
packets"), and BM25 cannot match "label switched path" to a deck that only writes "LSP". The course itself
usually says what its acronyms stand for, in one of three ways this module reads:

1. explicitly, in parentheses: "Sequence Alignment Map (SAM)", "VPN Routing and Forwarding table (VRF)",
   "GRE (Generic Routing Encapsulation)";
2. implicitly, as a run of capitalised words whose initials spell an acronym of three letters or more:
   "Generic Routing Encapsulation" on one slide, "GRE Tunnel" on the next. The course need not write the
   acronym itself, so a title ("Regression and Other Stories") is read as ROS too: it only matters when a
   question says ROS, and then the added words are shown ("also searched with");
3. not at all: the deck writes "LSP" only. A question's run of words whose initials spell such an acronym
   ("label switched path") then searches with the acronym too.

Conservative by construction: initials must match letter for letter (stopwords such as "and", "of" may sit
inside a written-out form and are skipped), an acronym is a word of 2-6 capitals that is not an everyday
English word set in capitals ("THE", "AND" in a heading), and an implicit pair (2.) needs three letters or
more. The glossary is built with the lexical index from the same stored texts and saved beside it, so it is
rebuilt whenever the lexical index is (rag/lexical_index.py).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rag.lexical import STOPWORDS, tokens
from rag.terms import ACRONYM_LETTERS, is_acronym, zipf

__all__ = ["Expansion", "Glossary"]

FILE = "glossary.json"
FORMAT = 3  # 3: capitalised runs found by one regular expression
MIN_LEN, MAX_LEN = ACRONYM_LETTERS  # an acronym is a word of 2-6 capitals that is no everyday word (terms.is_acronym)
# Written-out forms kept per acronym (the most used first): enough for a deck that writes one both ways.
MAX_FORMS = 2
# A lower-case run of question words spells an acronym only when none of its words is this common in English:
# "the only thing core provider" is no TCP ("thing" 5.72), "mean squared error" is an MSE ("mean" 5.53). A thin
# margin, set on these two examples: a wrong rewrite adds one acronym to the words searched with.
RUN_ZIPF = 5.6
# Words that may sit inside a written-out form without an initial: "VPN Routing and Forwarding", "Point of Presence".
_LINKS = frozenset("and of for the in on to a an by with de".split())
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_CAPITALISED = r"[A-ZÀ-ÖØ-Þ][^\W_]*(?:[-'’][^\W_]+)*"
# Capitalised words (and linking words between them) separated by spaces only: punctuation and line breaks end a run.
_RUN = re.compile(rf"(?<![\w'’-]){_CAPITALISED}(?:[ \t]+(?:(?:{'|'.join(sorted(_LINKS))})[ \t]+)*{_CAPITALISED})*")
_CAPS = f"([A-Z]{{{MIN_LEN},{MAX_LEN}}})"  # an acronym's letters
_ACRONYM = re.compile(rf"(?<![\w-]){_CAPS}(s?)(?![\w])")
_PAREN_AFTER = re.compile(rf"\(\s*{_CAPS}s?\s*\)")  # "Sequence Alignment Map (SAM)"
_PAREN_BEFORE = re.compile(rf"(?<![\w-]){_CAPS}s?\s*\(([^()]{{3,80}})\)")  # "GRE (Generic Routing Encapsulation)"
_DEFINED = re.compile(rf"(?<![\w-]){_CAPS}\s*[:=–]\s*([^\n]{{3,80}})")  # "ATM : Asynchronous Transfer Mode"


def _initials(words: Iterable[str]) -> str:
    """Initials of a written-out form, linking words ("and", "of") skipped: "VPN Routing and Forwarding" -> VRF."""
    return "".join(w[0] for w in words if w.lower() not in _LINKS).upper()


def _spelled(acronym: str, words: list[str], *, tail: int) -> str | None:
    """The words that spell the acronym and end at most `tail` words before the end of `words` (which end
    where the acronym's parenthesis starts), linking words allowed inside; None when none do."""
    for skip in range(tail + 1):
        end = len(words) - skip
        picked: list[str] = []
        i = end - 1
        need = len(acronym)
        while i >= 0 and need:
            w = words[i]
            if w.lower() in _LINKS:
                if not picked:
                    break  # a form does not end on "and"
                picked.append(w)
            elif w[0].upper() == acronym[need - 1]:
                picked.append(w)
                need -= 1
            else:
                break
            i -= 1
        if not need:
            return " ".join(reversed(picked))
    return None


def _leading(acronym: str, text: str) -> str | None:
    """The first words of `text` when they spell the acronym (linking words allowed inside)."""
    picked: list[str] = []
    for w in _WORD.findall(text):
        if len(picked) and w.lower() in _LINKS:
            picked.append(w)
            continue
        if w[0].upper() != acronym[len(_initials(picked))]:
            return None
        picked.append(w)
        if len(_initials(picked)) == len(acronym):
            return " ".join(picked)
    return None


def _sentences(text: str) -> list[str]:
    """Lines and sentences: a written-out form never spans a line break or a full stop."""
    return [s for line in text.splitlines() for s in re.split(r"(?<=[.!?;:])\s+|\s+[•▪●■–-]\s+", line) if s.strip()]


def _capital_runs(text: str) -> Iterator[list[str]]:
    """Maximal runs of capitalised words (linking words allowed inside) that are not acronyms themselves: one
    regular expression over the whole text, as an index of 100k views reads every text once."""
    for m in _RUN.finditer(text):
        run: list[str] = []
        for w in [*m.group(0).split(), None]:  # an acronym ends a run ("VPN Routing and Forwarding"), as does the end
            if w is None or w.isupper():
                while run and run[-1].lower() in _LINKS:
                    run.pop()
                if run:
                    yield run
                run = []
            elif run or w.lower() not in _LINKS:
                run.append(w)


@dataclass(frozen=True)
class Expansion:
    """What a question searches with besides its own words."""

    words: tuple[str, ...] = ()  # added forms, each an acronym or a written-out form
    pairs: tuple[tuple[str, str], ...] = ()  # (as asked, added) for each rewrite

    def apply(self, text: str) -> str:
        """The question followed by the added forms (for retrieval only)."""
        return f"{text} ({'; '.join(self.words)})" if self.words else text


@dataclass(frozen=True)
class Glossary:
    """Acronym -> written-out forms found in the course, and how often the course writes each side."""

    forms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    uses: Mapping[str, int] = field(default_factory=dict)  # acronym or written-out form -> times written

    # -- build -----------------------------------------------------------------------------
    @classmethod
    def build(cls, texts: Iterable[str]) -> Glossary:
        """Read acronyms and their written-out forms from the course's texts."""
        texts = [unicodedata.normalize("NFKC", t) for t in texts if t and t.strip()]
        used: Counter[str] = Counter()
        for t in texts:
            used.update(m.group(1) for m in _ACRONYM.finditer(t))
        found: dict[str, Counter[str]] = {}

        def add(acr: str, form: str | None, weight: int) -> None:
            # an explicit pair ("Sequence Alignment Map (SAM)") names an acronym even when it is also a word
            if form and (weight > 1 or is_acronym(acr)) and _initials(form.split()) == acr:
                found.setdefault(acr, Counter())[form] += weight
                used[form] += 1

        for t in texts:
            for m in _PAREN_AFTER.finditer(t):  # "Sequence Alignment Map (SAM)"
                head = _sentences(t[max(0, m.start() - 200):m.start()])
                add(m.group(1), _spelled(m.group(1), _WORD.findall(head[-1]) if head else [], tail=1), 10)
            for m in _PAREN_BEFORE.finditer(t):  # "GRE (Generic Routing Encapsulation)"
                inside = _WORD.findall(m.group(2))
                if _initials(inside) == m.group(1):
                    add(m.group(1), " ".join(inside), 10)
            for m in _DEFINED.finditer(t):  # "ATM : Asynchronous Transfer Mode"
                add(m.group(1), _leading(m.group(1), m.group(2)), 10)
            for run in _capital_runs(t):  # "Generic Routing Encapsulation", for a "GRE" of the course or a question
                # the whole run, not a part of it: "Cooperative Route Filtering Capability" is no "RFC"
                if len(_initials(run)) >= 3:
                    add(_initials(run), " ".join(run), 1)
        forms = {a: tuple(f for f, _ in c.most_common(MAX_FORMS)) for a, c in sorted(found.items())}
        kept = {f for fs in forms.values() for f in fs}
        return cls(forms, {k: n for k, n in sorted(used.items()) if " " not in k or k in kept})

    # -- query time ------------------------------------------------------------------------
    def expand(self, question: str | None) -> Expansion:
        """The side of each glossary pair the question uses that the course writes more: an acronym's written-out
        form when the course writes that more often than the acronym ("GRE" in a lecture that only says "Generic
        Routing Encapsulation"), or the acronym of a run of question words that spells one the course writes
        ("label switched path" in a deck that only writes "LSP")."""
        if not question or not self.uses:
            return Expansion()
        text = unicodedata.normalize("NFKC", question)
        have = set(tokens(text))
        added: dict[str, str] = {}
        for m in _ACRONYM.finditer(text):
            acr = m.group(1)
            for form in self.forms.get(acr, ()):
                # A course that writes the acronym as often is found by it (BM25); adding the form then only
                # pulls the question to the title slide ("Virtual Private Networks" for every VPN question).
                if self.uses.get(form, 0) > self.uses.get(acr, 0) and not set(tokens(form)) <= have:
                    added.setdefault(form, acr)
        words = [w.group(0) for w in _WORD.finditer(text)]
        for i in range(len(words)):
            for n in range(MAX_LEN, 1, -1):
                run = words[i:i + n]
                if len(run) < n or run[0].lower() in _LINKS or run[-1].lower() in _LINKS:
                    continue
                if any(w.lower() in STOPWORDS and w.lower() not in _LINKS for w in run):
                    continue  # "how much capacity" is no HMC
                if any(w.isupper() and len(w) > 1 for w in run):
                    continue  # already an acronym inside
                acr = _initials(run)
                if not self.uses.get(acr) or not is_acronym(acr):
                    continue
                # two lower-case words spell a two-letter acronym of the course by chance too often ("read end")
                lower = [w for w in run if w.lower() not in _LINKS and not w[:1].isupper()]
                if lower and (len(acr) < 3 or any(zipf(w.lower()) >= RUN_ZIPF for w in lower)):
                    continue
                if acr.lower() not in have:
                    added.setdefault(acr, " ".join(run))
        pairs = tuple((asked, form) for form, asked in added.items())
        return Expansion(tuple(added), pairs)

    # -- persist -----------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write <folder>/glossary.json."""
        data = {"format": FORMAT, "forms": {a: list(f) for a, f in self.forms.items()}, "uses": dict(self.uses)}
        (folder / FILE).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def load(cls, folder: Path) -> Glossary | None:
        """The saved glossary; None when there is none or it has another format."""
        try:
            data = json.loads((folder / FILE).read_text())
            if data.get("format") != FORMAT:
                return None
            return cls({a: tuple(f) for a, f in data["forms"].items()}, {k: int(n) for k, n in data["uses"].items()})
        except (OSError, ValueError, KeyError, TypeError):
            return None
