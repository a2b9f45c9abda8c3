"""Distinctive terms of a question, and whether evidence text supports them.

A question about a neighbouring topic ("How does Gibbs sampling update each parameter?") shares most
of its words with the course; what the course lacks is its *distinctive* term. A general-English word
frequency list (wordfreq's, shipped inside its wheel: no network) tells distinctive words ("Gibbs",
"reroute", "WAIC") from common ones ("update", "each"); names and acronyms (capitalised inside the
sentence, mixed case, digits) are distinctive whatever their frequency ("Fisher", "IKEv2", "N50").
Adjacent distinctive words form one term ("rejection sampling", "Bernstein-von Mises"), which the
evidence supports only as a phrase, not as scattered words.
"""

from __future__ import annotations

import difflib
import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.lexical import STOPWORDS, stem

# zipf frequency (log10 of uses per billion words) below which a word is distinctive: "sampling" 3.75,
# "rejection" 3.9 and "hopping" 3.4 are; "effective" 4.9, "update" 4.7 and "method" 4.8 are not.
DISTINCT_ZIPF = 4.0
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_PIECE = re.compile(r"[-‐‑'’]")  # what joins the pieces of one written word: hyphens, apostrophes


def word_pieces(word: str) -> list[str]:
    """The pieces of a written word: "ppp-values" -> ppp, values; "Gelman's" -> Gelman, s."""
    return [p for p in _PIECE.split(word) if p]
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")
_CONTRACTED_IS = re.compile(r"\b(what|that|it|there|here|who|where|how|when|why|which)['’]s\b", re.IGNORECASE)
# An acronym set in capitals is not an everyday word: "IS", "THE", "NOT" in a capitals heading are words.
ACRONYM_LETTERS = (2, 6)
ACRONYM_ZIPF = 4.5
# "X vs Y": the comparison word, in any casing ("VS", "Vs.", "versus"), is no part of a term
_VERSUS = frozenset({"vs", "versus", "v"})
# a question is shouted when this many of its words of SHOUTED_LETTERS letters or more are, and all of them are,
# in capitals ("TCP VS UDP: WHICH IS FASTER?"; "BGP ADD-PATH" is a term written as it is spelt)
SHOUTED_WORDS, SHOUTED_LETTERS = 2, 4
# question scaffolding: never part of a term
_QUESTION_WORDS = frozenset("""
how what why when which who whose where does do did is are was were can could should would may might will
use used using uses get gets make makes need needs mean means compute computed computes work works
""".split())


@functools.lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """General-English frequency of a word on the zipf scale (0 = unknown, 7 = "the")."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_acronym(word: str) -> bool:
    """A word in capitals that reads as an acronym, not as an everyday word set in capitals: "GRE", "WAIC", "RIP";
    not "IS", "THE", "FASTER"."""
    lo, hi = ACRONYM_LETTERS
    return (lo <= len(word) <= hi and word.isupper() and word.isalpha()
            and word.lower() not in STOPWORDS and zipf(word.lower()) < ACRONYM_ZIPF)


def plain_case(question: str) -> str:
    """A question written wholly in capitals as it would be written normally, so that no word is taken for a
    name because the whole question is shouted: "TCP VS UDP: WHICH IS FASTER?" -> "TCP vs UDP: which is
    faster?". Words that still read as acronyms keep their capitals: `is_acronym` and no English word the
    tagger's lexicon knows ("TCP", "WAIC", "GIBBS"; not "RELY", "GENE", "RIP"), or with a digit ("IKEV2"); a
    lone capital stays a symbol ("IN R", "E-VALUE"). The first word is capitalised. Other questions come back
    unchanged."""
    words = [w for w in _WORD.findall(question) if sum(c.isalpha() for c in w) >= SHOUTED_LETTERS]
    if len(words) < SHOUTED_WORDS or not all(w.isupper() for w in words):
        return question

    def part(p: str, after: str) -> str:
        if after and after in "'’":  # "GEWEKE'S": a possessive
            return p.lower()
        keep = len(p) == 1 or any(c.isdigit() for c in p) or is_acronym(p) and not _known(p.lower())
        return p if keep else p.lower()

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        if len(w) == 1:  # a symbol ("R", "K"), or the article "A"
            return w.lower() if w == "A" else w
        if _known(w.lower().replace("’", "'")):  # "WHICH", "AREN'T"
            return w.lower()
        parts = re.split(r"([-'’])", w)
        return "".join(p if i % 2 else part(p, parts[i - 1] if i else "") for i, p in enumerate(parts))

    text = _WORD.sub(word, question)
    first = re.search(r"[^\W\d_]", text)
    return text[:first.start()] + text[first.start()].upper() + text[first.end():] if first else text


def general_weight(word: str) -> float:
    """How much a word says about a topic, from its general-English frequency: "the" 0, "number" 0.3,
    "cluster" 0.8, a word English hardly uses ("centroid", "WAIC") 1. A smooth scale, not a cutoff: a course's
    own IDF calls its main topic word common ("cluster" in a clustering course), English does not."""
    return min(1.0, max(0.0, (6.5 - zipf(word)) / 3.0))


def fold(word: str) -> str:
    """The comparison form of a word: NFKC, lower case, stemmed, a trailing "e" dropped."""
    t = stem(unicodedata.normalize("NFKC", word).lower().replace("’", "'"))
    return t[:-1] if len(t) > 3 and t.endswith("e") else t


@dataclass(frozen=True)
class Term:
    """One distinctive unit of a question: its words as asked, and their folded forms."""

    text: str
    words: tuple[str, ...]
    folded: tuple[str, ...]
    named: bool  # a name or acronym somewhere in it (capitalised inside the sentence, mixed case, digits)
    rarity: float  # DISTINCT_ZIPF minus the zipf of its rarest word (names count as 0 zipf)
    names: tuple[bool, ...] = ()  # per word of `words`: a name or acronym
    zipfs: tuple[float, ...] = ()  # per word of `words`: general-English zipf (its rarest part)


_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*(?:s|%|k|K|M|G|kb|Kb|bp)?")  # "2547", "700", "1880s", "10kb": no name
_PRONOUN_I = re.compile(r"i['’](?:ll|m|ve|d)$", re.IGNORECASE)


def is_amount(word: str) -> bool:
    """A number, alone or with a unit or a decade's "s" ("2547", "700", "1880s", "10kb"): an amount or a year,
    never the name of a method a question could be about."""
    return bool(_AMOUNT.fullmatch(word))


def is_name(word: str) -> bool:
    """A name or acronym by its spelling wherever it stands: two capitals or more ("WAIC", "ChIP", "IKEv2") or a
    digit that is no bare amount ("L2TPv3", not "2547")."""
    return _named(word, first=True)


def _named(word: str, first: bool) -> bool:
    if len(word) < 2 or _PRONOUN_I.match(word):  # a lone capital is a symbol ("R", "K"); "I'll" is a pronoun
        return False
    if is_amount(word):
        return False
    if any(c.isdigit() for c in word):
        return True
    letters = [c for c in word if c.isalpha()]
    if sum(c.isupper() for c in letters) >= 2:  # WAIC, IKEv2, ChIP, MarkDuplicates
        return True
    return not first and word[:1].isupper()


def question_terms(question: str) -> list[Term]:
    """Runs of adjacent distinctive words of the question (hyphenated words stay together)."""
    text = _POSSESSIVE.sub("", unicodedata.normalize("NFKC", question))  # "Geweke's split" asks of Geweke
    out: list[Term] = []
    run: list[tuple[str, bool, float]] = []  # (word, named, zipf)
    last_end = 0

    def flush() -> None:
        if run:
            words = tuple(w for w, _, _ in run)
            folded = tuple(fold(p) for w in words for p in word_pieces(w))
            named = any(n for _, n, _ in run)
            rare = min(0.0 if n else z for _, n, z in run)
            out.append(Term(" ".join(words), words, folded, named, round(DISTINCT_ZIPF - rare, 3),
                            tuple(n for _, n, _ in run), tuple(z for _, _, z in run)))
            run.clear()

    for m in _WORD.finditer(text):
        word = m.group(0)
        gap = text[last_end:m.start()]
        last_end = m.end()
        if run and gap.strip():  # punctuation between words ends a term
            flush()
        low = word.lower()
        parts = word_pieces(low)
        if low in _VERSUS:  # "RIP VS OSPF" is two terms, whatever the casing
            flush()
            continue
        if low in STOPWORDS or low in _QUESTION_WORDS or all(p in STOPWORDS for p in parts) and "-" not in word:
            flush()
            continue
        named = _named(word, first=m.start() == 0)
        z = min(zipf(p) for p in parts) if parts else 7.0
        if "'" in low or "’" in low:  # a contraction is one word to English ("isn't" 5.4), not "isn" (3.1) + "t"
            z = max(z, zipf(low.replace("’", "'")))
        if named or z < DISTINCT_ZIPF or ("-" in word and len(parts) > 1 and not all(p in STOPWORDS for p in parts)
                                          and zipf(low.replace("-", "")) < DISTINCT_ZIPF):
            run.append((word, named, z))
        else:
            flush()
    flush()
    return out


def term_parts(words: Sequence[str]) -> list[str]:
    """A term's words split as evidence words are (at hyphens, apostrophes and dots: "PM2.5" is "pm2" "5"),
    lower case, stopwords left out."""
    return [p.lower() for w in words for p in word_pieces(w) for p in _WORD.findall(p)
            if p.lower() not in STOPWORDS]


def close(a: str, b: str) -> bool:
    """Folded words that name the same thing: equal, or one a long prefix of the other ("tunnel" and
    "tunnell", "optimiz" and "optimizer")."""
    if a == b:
        return True
    s, t = (a, b) if len(a) <= len(b) else (b, a)
    return len(s) >= 4 and t.startswith(s[: max(4, int(0.8 * len(s) + 0.999))]) and len(s) >= 0.5 * len(t)


_CLIPPED = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])")  # "PacBio" -> Pac, Bio; "GridION" -> Grid, ION
_CLAUSE = re.compile(r"[.!?;:]\s+|\n")  # an expansion never runs across a sentence end or a line
ACRONYM_WORD_ZIPF = 4.5  # two lower-case words spell a two-letter acronym only when both are this rare ("MC": no)
_PREFIXES = frozenset("un non in im ir il dis de re pre co sub semi multi over under".split())


class Evidence:
    """Folded word sequences of evidence texts, for word and phrase look-ups."""

    def __init__(self, texts: Iterable[str]):
        self.seqs: list[list[str]] = []
        self.lower: list[list[str]] = []  # the same words as written, lower case (for word similarity)
        self.raw: list[str] = []
        self.cased: list[str] = []
        for t in texts:
            self.cased.append(unicodedata.normalize("NFKC", t))
            self.raw.append(self.cased[-1].lower())
            words = [p for w in _WORD.findall(unicodedata.normalize("NFKC", t)) for p in word_pieces(w)]
            self.seqs.append([fold(w) for w in words if w.lower() not in STOPWORDS])
            self.lower.append([w.lower() for w in words if w.lower() not in STOPWORDS])
        self.vocab = {w for s in self.seqs for w in s}
        self.glued = {s[i] + s[i + 1] for s in self.seqs for i in range(len(s) - 1)}
        # ... and the fold of two words written together: "haplotype caller" is the tool "HaplotypeCaller"
        self.glued |= {fold(s[i] + s[i + 1]) for s in self.lower for i in range(len(s) - 1)}

    def has_text(self, words: str) -> bool:
        """The words as written (case-insensitive, whole words), e.g. "IS-IS"."""
        pattern = re.compile(r"(?<![\w-])" + re.escape(words.lower()) + r"(?![\w-])")
        return any(pattern.search(t) for t in self.raw)

    def has_acronym(self, word: str) -> bool:
        """An acronym of the question inside a compound token of the evidence: "DNA" in "cDNA", "RNA" in
        "scRNA-seq" (a lower-case prefix marks the compound; "DNASE" or "BDNA" is another word)."""
        if len(word) < 2 or not word.isupper():
            return False
        pattern = re.compile(r"(?<![A-Z])" + re.escape(word) + r"(?![A-Za-z])")
        return any(pattern.search(t) for t in self.cased)

    def has_expansion(self, acronym: str) -> bool:
        """An acronym of the question written out in the evidence: "GRE" as "Generic Routing Encapsulation", "BWT"
        as "Burrows-Wheeler Transform", "VI" as "variational inference": initials of adjacent words of one sentence
        or line that are no stopwords. Lower-case initials count too (spoken lectures' captions have no capitals),
        but for two letters only when both words are rare in general English: "soft assignments" is no "SA"."""
        if not 2 <= len(acronym) <= 6 or not acronym.isupper() or not acronym.isalpha():
            return False
        n = len(acronym)
        for t in self.cased:
            for part in _CLAUSE.split(t):
                words = [p for w in _WORD.findall(part) for p in w.split("-") if p and p.lower() not in STOPWORDS]
                for i in range(len(words) - n + 1):
                    run = words[i:i + n]
                    initials = "".join(w[0] for w in run)
                    if initials == acronym or initials.upper() == acronym and (
                            n > 2 or all(zipf(w.lower()) < ACRONYM_WORD_ZIPF for w in run)):
                        return True
        return False

    def has_clipped(self, name: str) -> bool:
        """A name clipped from the words it abbreviates, written out in the evidence: "PacBio" as "Pacific
        Biosciences" (each capital-led piece starts the next word of one sentence or line)."""
        pieces = _CLIPPED.findall(name)
        if len(pieces) < 2 or "".join(pieces) != name or not all(len(p) >= 3 and p.istitle() for p in pieces):
            return False  # "ChIP", "GridION": a piece in capitals is an acronym of its own, no clipped word
        n = len(pieces)
        for t in self.cased:
            for part in _CLAUSE.split(t):
                words = _WORD.findall(part)
                for i in range(len(words) - n + 1):
                    if all(w.startswith(p) and len(w) > len(p) for w, p in zip(words[i:i + n], pieces, strict=True)):
                        return True  # capitalised as the name's pieces are: "package Bioconductor" is no "PacBio"
        return False

    def has_acronym_of(self, words: Sequence[str]) -> bool:
        """Two or more adjacent words of a term abbreviated in the evidence: "customer edge router" as "CE
        router" (the initials as a word written in capitals)."""
        for n in range(min(len(words), 6), 1, -1):  # acronyms of 2-6 letters, as in has_expansion
            for i in range(len(words) - n + 1):
                short = "".join(w[0] for w in words[i:i + n] if w).upper()
                if len(short) < 2 or short.lower() in STOPWORDS or zipf(short.lower()) >= ACRONYM_ZIPF:
                    continue  # "IS", "IT", "AND" in a capitals heading are words, not acronyms
                pattern = re.compile(r"(?<![\w-])" + re.escape(short) + r"(?![A-Za-z])")
                if any(pattern.search(t) for t in self.cased):
                    return True
        return False

    def has_exact(self, w: str) -> bool:
        """The folded word as written (or glued from two evidence words), no inflection or prefix matched."""
        return w in self.vocab or w in self.glued

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Evidence lives for one question
    def has_word(self, w: str) -> bool:
        if self.has_exact(w):
            return True
        if any(len(w) >= 5 and v.endswith(w) and v[:-len(w)] in _PREFIXES for v in self.vocab):
            return True  # "constrained" is there as "unconstrained": the same notion, negated or repeated
        return any(close(w, v) for v in self.vocab if v[:2] == w[:2] or v.endswith(w[-3:]))

    def windows(self, words: Sequence[str], slack: int = 1) -> list[str]:
        """Runs of evidence words (as written, lower case) around each occurrence of one of `words` (folded),
        len(words) - 1 to len(words) + slack long: the candidates a phrase may be written as."""
        want = set(words)
        out: dict[str, None] = {}
        for t in self.cased:
            seq = [w.lower() for w in _WORD.findall(t)]
            folded = [fold(w) for w in seq]
            for i, f in enumerate(folded):
                if f in want:
                    for n in range(max(1, len(words) - 1), len(words) + slack + 1):
                        for a in range(max(0, i - n + 1), i + 1):
                            out[" ".join(seq[a:a + n])] = None
        return list(out)

    def has_close_phrase(self, words: Sequence[str], sim: WordSimilarity, threshold: float, slack: int = 1) -> bool:
        """Each word of a term (as asked, lower case) or a near-synonym of it (MiniLM word cosine >= threshold)
        within len(words) + slack consecutive evidence words, around one of the term's own words: "fast
        aligners" as "quick aligners"; "local alignment" is not "alignment" with an unrelated word nearby."""
        folded = [fold(w) for w in words]
        span = len(words) + slack
        near: dict[str, None] = {}  # candidates: evidence words within a span of one of the term's own words
        for seq, low in zip(self.seqs, self.lower, strict=True):
            for i, v in enumerate(seq):
                if any(close(f, v) for f in folded):
                    near.update(dict.fromkeys(low[max(0, i - span + 1):i + span]))
        if not near:
            return False
        synonyms = [sim.close_words(w, list(near), threshold) for w in words]  # one batch of vectors per word
        for seq, low in zip(self.seqs, self.lower, strict=True):
            for i in range(len(seq)):
                window, raw = seq[i:i + span], low[i:i + span]
                if all(any(close(f, v) for v in window) or not syn.isdisjoint(raw)
                       for f, syn in zip(folded, synonyms, strict=True)):
                    return True
        return False

    def has_phrase(self, words: Sequence[str], slack: int = 1) -> bool:
        """All words within len(words) + slack consecutive evidence words, in any order."""
        if len(words) < 2:
            return self.has_word(words[0]) if words else True
        if "".join(words) in self.vocab:
            return True
        span = len(words) + slack
        for seq in self.seqs:
            for i in range(len(seq)):
                window = seq[i:i + span]
                if all(any(close(w, v) for v in window) for w in words):
                    return True
        return False


_SUBJECTS = frozenset({"i", "you", "we", "they"})
_AUXILIARIES = frozenset("do does did can could should would will shall may might must".split())


def _after_subject(tags: Sequence[tuple[str, str]], low: Sequence[str], i: int) -> bool:
    """Word i follows a subject pronoun that opens the question or follows an auxiliary ("Should I use X", "how do
    you measure X", "I get X"): the question's verb, however tagged. Not after an object ("gives you splice
    junctions") nor a numeral ("type I error")."""
    if i < 1 or low[i - 1] not in _SUBJECTS:
        return False
    return i == 1 or low[i - 2] in _AUXILIARIES or tags[i - 2][1] == "MD"


_ARTICLES = frozenset({"a", "an", "the"})
# a term put first, then asked about: "Carrier supporting carrier: how does it work?", "Dual indexing - why?"
_TERM_FIRST = re.compile(r"^\s*([^\W\d_][\w'’-]*(?: [\w'’-]+){0,7})\s*(?::|\s-|—)\s*"
                         r"(?:how|what|why|when|which|is|are|does|do)\b", re.IGNORECASE)
# ... when the question after it asks about "it" (or is a bare "why?"); else the lead-in is no term ("Quiz 3:")
_ABOUT_IT = re.compile(r"\b(?:it|this|that|they|them|these|those|its)\b|^\W*\w+\W*$", re.IGNORECASE)
# inside a term: "transcripts per million", "sequencing by synthesis" ("of": "the aim of mapping reads")
_INSIDE = frozenset({"per", "by"})
_ASK_VERBS = frozenset("compute calculate estimate interpret read use".split())


def asked_term(question: str) -> tuple[str, ...]:
    """The multi-word term a question is *about*, as asked: X in "What is X?", "How does X work?", "How do
    you compute X?" ("continuous ranked probability score"), "Explain X.", "Tell me about X.", "X: how does it
    work?"; empty when the question has no such frame or
    X is one word. The words of such a term must be there together: each everyday word of it may well be."""
    text = _CONTRACTED_IS.sub(r"\1 is", unicodedata.normalize("NFKC", question))  # "What's X?"
    head = _TERM_FIRST.match(text[:300])  # "Carrier supporting carrier: how does it work?"
    if head:
        rest = text[head.end(1):].lstrip(" \t:-—")
        if not _ABOUT_IT.search(rest):  # "Quiz 3 hint: how does posterior predictive checking work?"
            return asked_term(rest)
        term = tuple(w for w in _WORD.findall(head.group(1)) if w.lower() not in _ARTICLES)
        plain = not any(w.lower() in _QUESTION_WORDS or w.lower() in _VERSUS for w in term)
        return term if plain and 2 <= len(term) <= 6 else ()  # "What material does it …: how" is no term
    words = _WORD.findall(text)
    low = [w.lower() for w in words]
    start, works = None, False
    if len(low) > 2 and low[0] == "what" and low[1] in ("is", "are"):
        start = 4 if low[2:4] == ["meant", "by"] else 2
    elif len(low) > 1 and low[0] in ("explain", "describe", "define"):
        start = 1
    elif len(low) > 3 and low[:3] in (["tell", "me", "about"], ["what", "about", "the"]):
        start = 3
    elif len(low) > 3 and low[0] == "how" and low[1] in ("does", "do") and low[2] not in ("you", "we", "i", "one"):
        start, works = 2, True
    elif len(low) > 4 and low[0] == "how" and low[1] in ("do", "can", "would", "should") \
            and low[2] in ("you", "we", "i", "one") and low[3] in _ASK_VERBS:
        start = 4
    if start is None:
        return ()
    while start < len(low) and low[start] in _ARTICLES:
        start += 1
    end = start
    while end < len(low):
        w = low[end]
        if w in _INSIDE and end + 1 < len(low) and end > start and low[end + 1] not in STOPWORDS:
            end += 1
            continue
        if w in STOPWORDS or w in _QUESTION_WORDS:
            break
        end += 1
    if works and low[end:end + 1] not in (["work"], ["works"]):
        return ()  # "How does X <verb> …": where X ends is a guess; "How does X work?" is not
    term = tuple(w for w in words[start:end] if w.lower() not in _INSIDE)
    return term if len(term) >= 2 else ()


_WH = frozenset("how what why when where which".split())
_AUX = frozenset("does do did is are was were can could should would will has have".split())
# adjectives that date or rate a thing rather than name it: no part of a term
_EVALUATIVE = frozenset("early earlier late later modern typical common standard usual simple basic new newer old "
                        "older current recent classic classical traditional popular main good bad better best".split())
MAX_PHRASE = 8
_OBJECT_START = frozenset({"JJ", "JJR", "JJS", "DT", "PRP$", "CD"})
_QUANTITY = frozenset("lots lot many much few several plenty number numbers kind kinds sort sorts type "
                      "types amount bit couple".split())
_BETWEEN = re.compile(r"\bdifferences?\s+between\s+(?:an?\s+|the\s+)?(.+?)\s+and\s+"
                      r"(?:an?\s+|the\s+)?(.+?)\s*(?:[?.!,;]|$)",
                      re.IGNORECASE)


_TAGGER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _tagger() -> Any:
    # TextBlob's rule-based tagger (Pattern's lexicon and contextual rules, inside its wheel: no corpus download);
    # imported only when a question's subject is needed (~0.5 s, most of it nltk). Its tables load lazily and
    # without a lock, and the chat answers up to four questions at once: load them once, under ours.
    with _TAGGER_LOCK:
        from textblob.en.taggers import PatternTagger

        tagger = PatternTagger()
        tagger.tag("How does the tagger load its lexicon?")
        return tagger


def pos_tags(text: str) -> list[tuple[str, str]]:
    """Penn Treebank tags of a sentence's words ("routing" NN/VBG, "send" VB). A possessive reads as "of"
    ("importance sampling's variance" asks of importance sampling, as "the variance of importance sampling").
    Cached: one question is tagged by several checks."""
    return list(_pos_tags(text))


@functools.lru_cache(maxsize=1024)
def _pos_tags(text: str) -> tuple[tuple[str, str], ...]:
    text = _CONTRACTED_IS.sub(r"\1 is", unicodedata.normalize("NFKC", text))  # "What's X?" is "What is X?"
    return tuple((w, t) for w, t in _tagger().tag(_POSSESSIVE.sub(" of", text)))


def subject_term(question: str) -> tuple[str, ...]:
    """The noun phrase a question asks something *of*, as asked: X in "How does X <verb> …", "What does X
    <verb> …", "Why does X <verb> …", "How is X <verb>ed …" ("anycast routing", "median of ratios method");
    empty when the question has no such frame, its subject is a pronoun ("How do you …") or X is one word.
    A part-of-speech tagger finds where X ends: "How does segment routing steer packets" (steer: verb)."""
    tags = pos_tags(question)
    low = [w.lower() for w, _ in tags]
    if len(tags) < 4 or low[0] not in _WH or low[1] not in _AUX:
        return ()
    run, _ = _noun_run(tags, 2)
    words = tuple(w for w, _ in run)
    return words if sum(w.lower() != "of" for w in words) >= 2 else ()


def _noun_run(tags: Sequence[tuple[str, str]], i: int, low: Sequence[str] | None = None,
              ) -> tuple[list[tuple[str, str]], int]:
    """The noun phrase starting at word i (articles and possessive pronouns skipped), and where it stops; at
    most MAX_PHRASE words (a longer run is a mis-tagged clause, not a term)."""
    low = low if low is not None else [w.lower() for w, _ in tags]
    while i < len(tags) and (low[i] in _ARTICLES or tags[i][1] == "PRP$" or not _WORD.search(tags[i][0])
                             or _after_subject(tags, low, i)):  # "should I use X": "use" is the verb
        i += 1
    run: list[tuple[str, str]] = []
    while i < len(tags):
        word, tag = tags[i]
        if not _WORD.search(word):  # a quote mark or other punctuation ("‘importance sampling’") ends X
            break
        after = tags[i + 1][1] if i + 1 < len(tags) else ""
        clause = tag == "VBG" and (run and run[-1][1].startswith("NN") and after in _OBJECT_START
                                   or not run and after in ("DT", "PRP$"))
        if low[i].rstrip(".") in _VERSUS or clause:
            break  # "X vs Y" is two terms; "the transform grouping identical letters", "validating a model": clauses
        nounish = (tag.startswith(("NN", "JJ", "CD")) or tag == "VBG" or "-" in word.strip("-")
                   or tag == "VB" and i > 0 and tags[i - 1][1] in ("DT", "PRP$"))  # "the hinge loss": no verb
        linking = low[i] == "of" and run and i + 1 < len(tags) and after.startswith(("NN", "JJ"))
        if not (nounish or linking) or low[i] in STOPWORDS and not linking:
            break
        run.append((word, "NN" if tag == "VB" else tag))
        i += 1
        if len(run) >= MAX_PHRASE:
            break
    end = i
    # an adjective or "work" at the end is the predicate ("Why is X harder", "How does X work"), not X; a
    # hyphenated one names a thing ("Q-learning")
    while run and (run[-1][1].startswith("JJ") and "-" not in run[-1][0].strip("-")
                   or run[-1][0].lower() in ("work", "works", "of")):
        run.pop()
    while run and (run[0][0].lower() in _EVALUATIVE or run[0][0].lower() in _QUANTITY and len(run) > 1
                   and run[1][0].lower() == "of"):
        run.pop(0)  # "early hash-table aligners" are hash-table aligners; "lots of paralogs" are paralogs
        while run and run[0][0].lower() == "of":
            run.pop(0)
    return run, end


def noun_phrases(question: str) -> list[tuple[str, ...]]:
    """Every noun phrase of two words or more in the question, as asked (the tagger's runs of nouns and
    adjectives, "of" linking two of them)."""
    return [words for words, _ in _noun_runs(pos_tags(question)) if sum(w.lower() != "of" for w in words) >= 2]


def _noun_runs(tags: Sequence[tuple[str, str]]) -> list[tuple[tuple[str, ...], int]]:
    """The noun phrases of a tagged question, left to right, each with the index where it stopped."""
    low = [w.lower() for w, _ in tags]
    out = []
    i = 0
    while i < len(tags):
        run, end = _noun_run(tags, i, low)
        if run:
            out.append((tuple(w for w, _ in run), end))
        i = max(end, i + 1)
    return out


def verb_words(question: str) -> set[str]:
    """The question's words the tagger reads as finite or bare verbs ("accumulate", "converges"); participles
    are left out: "overclustered", "annealed", "patterned" name the state of a thing."""
    tags = pos_tags(question)
    return {w for i, (w, t) in enumerate(tags) if t in ("VB", "VBD", "VBP", "VBZ") and _known(w)
            and not (i > 0 and tags[i - 1][1] in ("DT", "PRP$"))}  # "the hinge loss": a noun mis-tagged


def _known(word: str) -> bool:
    """The tagger's lexicon has the word: its tag is read, not guessed from the ending ("lysate" is no verb)."""
    from textblob.en import lexicon

    _tagger()  # the lexicon loads under the lock
    return dict.__contains__(lexicon, word) or dict.__contains__(lexicon, word.lower())


def compared_terms(question: str) -> list[tuple[str, ...]]:
    """Both sides of "the difference between X and Y" or "X vs Y", each of two words or more."""
    m = _BETWEEN.search(unicodedata.normalize("NFKC", question))
    sides: list[tuple[str, ...]] = []
    if m:
        # each side's leading noun phrase: "tunnel mode (in IPsec)"; a clause ("validating a model …") has none
        sides = [tuple(w for w, _ in _noun_run(pos_tags(re.split(r"\s+and\s+", g, flags=re.IGNORECASE)[0]), 0)[0])
                 for g in m.groups()]
    if _VERSUS & {w.lower().rstrip(".") for w in question.split()}:
        tags = pos_tags(question)
        runs = _noun_runs(tags)
        for i, (word, _) in enumerate(tags):
            if word.lower().rstrip(".") in _VERSUS:  # the noun phrases that end at "vs" and start after it
                sides += [words for words, end in runs if end == i]
                sides.append(tuple(w for w, _ in _noun_run(tags, i + 1)[0]))
    return [s for s in sides if 2 <= len(s) <= 6]  # a longer "side" is a clause, not a term


_DEGREE = frozenset("very too so more less most least quite rather overly".split())


def descriptive(question: str, word: str) -> bool:
    """The word describes rather than names: right after a degree word ("the prior is very diffuse") or a
    comparative before "to"/"than" ("preferable to one-sided reads"). A rare adjective used so is no topic
    of its own, and the evidence often says it otherwise ("vague", "better")."""
    low = [w.lower() for w in _WORD.findall(unicodedata.normalize("NFKC", question))]
    w = word.lower()
    for i, x in enumerate(low):
        if x == w and (i > 0 and low[i - 1] in _DEGREE or low[i + 1:i + 2] in (["than"], ["to"])
                       and x.endswith(("able", "ible", "er"))):
            return True
    return False


# second parts that make ordinary compounds of any name ("IP-based", "GPU-aware"): not terms of their own
PRODUCTIVE = frozenset("based like level wide free aware specific dependent only style type related driven "
                        "friendly oriented enabled capable compatible side".split())


@dataclass(frozen=True)
class Missing:
    """A distinctive word of the question that the evidence lacks."""

    word: str  # as asked ("Gibbs", "ADD-PATH", "rejection")
    term: str  # the term it belongs to ("Gibbs sampling")
    named: bool  # a name or acronym, or a compound of three words or more: missing it declines outright
    zipf: float
    phrase: bool = False  # a compound whose parts are there, but never together


def missing_words(question: str, evidence: Evidence) -> list[Missing]:
    """The question's distinctive words the evidence does not have; a named hyphenated compound
    ("ADD-PATH", "E-value") or one of three words or more ("leave-one-out") must be there as a compound,
    not as stray words."""
    out = []
    for t in question_terms(question):
        for word, named, z in zip(t.words, t.names, t.zipfs, strict=True):
            pieces = word_pieces(word)
            parts = [fold(p) for p in pieces if p.lower() not in STOPWORDS]  # evidence keeps no stopwords
            compound = len(pieces) > 2 or named and len(pieces) > 1
            if not parts:  # a compound of stopwords ("IS-IS"): look for it as written
                if named and not evidence.has_text(word):
                    out.append(Missing(word, t.text, True, z, phrase=True))
                continue
            # a name is there as spelled: "GridION" is no inflection of the evidence's "Grid" (nor "L2TPv3" of "L2TP")
            spelled = len(pieces) == 1 and is_name(word)
            lacking = [p for p in parts if not (evidence.has_exact(p) if spelled else evidence.has_word(p))]
            if lacking and named and len(pieces) == 1 and (evidence.has_acronym(word) or evidence.has_expansion(word)
                                                           or evidence.has_clipped(word)):
                continue
            if lacking:
                out.append(Missing(word, t.text, named or len(pieces) > 2, z))
            elif compound and not PRODUCTIVE & set(word.lower().split("-")) \
                    and not evidence.has_phrase(parts, slack=0):
                out.append(Missing(word, t.text, True, z, phrase=True))
    return out


def unsupported(terms: Sequence[Term], evidence: Evidence) -> list[tuple[Term, str]]:
    """The terms the evidence does not support, each with why: `word` (a word of it is missing) or
    `phrase` (its words are there, but never together)."""
    out = []
    for t in terms:
        if not all(evidence.has_word(w) for w in t.folded):
            out.append((t, "word"))
        elif len(t.folded) > 1 and not evidence.has_phrase(t.folded):
            out.append((t, "phrase"))
    return out


def _share_root(a: str, b: str, n: int = 5) -> bool:
    """The words share a run of n letters or more that is not just their common ending ("pseudoalignment" and
    "novoalign": two terms built on one root; "computation" and "calculation" share only "ation"), and are not
    spellings of one word ("regularisation" and "regularization")."""
    if difflib.SequenceMatcher(None, a, b).ratio() >= 0.85:
        return False
    return any(a[i:i + n] in b and not (i + n == len(a) and b.endswith(a[i:i + n])) for i in range(len(a) - n + 1))


class WordSimilarity:
    """Cosine similarity of single words in the offline MiniLM space, cached per word: a paraphrase
    word ("downsides", "quicker") has a near-synonym in the evidence ("drawbacks" 0.74, "faster" 0.91);
    a neighbouring topic's term ("rejection", "hopping") has none (best 0.35-0.38 on the devcorpus)."""

    def __init__(self, encode: Callable[[Sequence[str]], Any] | None = None, cache_size: int = 50000):
        self._encode = encode
        self._cache: dict[str, Any] = {}
        self._size = cache_size

    def _vectors(self, words: Sequence[str]) -> Any:
        import numpy as np

        cache = self._cache  # the chat judges up to four questions at once: read one dict, never a cleared one
        got = {w: cache[w] for w in dict.fromkeys(words) if w in cache}
        todo = [w for w in dict.fromkeys(words) if w not in got]
        if todo:
            if self._encode is None:
                from rag.embedders.minilm import shared_minilm

                self._encode = shared_minilm().encode
            vecs = np.asarray(self._encode(todo), dtype=np.float32)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
            got.update(zip(todo, vecs, strict=True))
            if len(cache) + len(todo) > self._size:
                self._cache = cache = {}  # a new dict: a reader holding the old one keeps its entries
            cache.update(zip(todo, vecs, strict=True))
        return np.stack([got[w] for w in words]) if words else np.zeros((0, 1), dtype=np.float32)

    def nearest(self, text: str, candidates: Sequence[str]) -> float:
        """The highest cosine between `text` and any candidate, relatives included (0 without candidates)."""
        cands = list(dict.fromkeys(candidates))
        if not cands:
            return 0.0
        v = self._vectors([text, *cands])
        return float((v[1:] @ v[0]).max())

    def _cosines(self, word: str, candidates: Sequence[str]) -> dict[str, float]:
        """Cosine of `word` with each candidate that is not a relative of it: a candidate that is part of the
        word or contains it ("route" in "reroute", "sam" in "samtools") is another term built on it, not a
        synonym."""
        root = fold(word)
        cands = [c for c in dict.fromkeys(candidates) if fold(c) not in root and root not in fold(c)
                 and not _share_root(word.lower(), c.lower())]
        if not cands:
            return {}
        v = self._vectors([word, *cands])
        return dict(zip(cands, (float(x) for x in v[1:] @ v[0]), strict=True))

    def close_words(self, word: str, candidates: Sequence[str], threshold: float) -> set[str]:
        """The candidates at least `threshold` close to `word` (relatives excluded)."""
        return {c for c, s in self._cosines(word, candidates).items() if s >= threshold}

    def best(self, word: str, candidates: Sequence[str]) -> float:
        """The highest cosine between `word` and any candidate that is not a relative (0 without one)."""
        return max(self._cosines(word, candidates).values(), default=0.0)


_STATEMENT_SPLIT = re.compile(r"\n|(?<=[.!?])\s+")


def statements(texts: Iterable[str], min_words: int = 3) -> list[str]:
    """The evidence's lines and sentences of `min_words` words or more: what one statement of it says."""
    out: dict[str, None] = {}
    for t in texts:
        for line in _STATEMENT_SPLIT.split(unicodedata.normalize("NFKC", t)):
            line = line.strip()
            if len(line.split()) >= min_words:
                out[line] = None
    return list(out)


def evidence_words(texts: Iterable[str], max_zipf: float = 5.0) -> list[str]:
    """Candidate synonyms in evidence: its content words of 3+ letters that are not everyday English."""
    out: dict[str, None] = {}
    for t in texts:
        for w in re.findall(r"[^\W\d_]{3,}", unicodedata.normalize("NFKC", t)):
            low = w.lower()
            if low not in STOPWORDS and low not in out and zipf(low) < max_zipf:
                out[low] = None
    return list(out)
