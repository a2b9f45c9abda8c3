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

from agent.units import Unit, asks_for_code, caption_units, cue_units, is_code, page_quote, slide_units, units
from rag.citations import clock
from rag.lexical import STOPWORDS, tokens
from rag.terms import PRODUCTIVE, Evidence, fold, general_weight, word_pieces
from rag.types import Hit, PageSpan, TimeSpan

# the statement helpers live in agent/units.py; these names stay importable from here
__all__ = ["OFFLINE_LABEL", "MEANING_LEAD", "Quoted", "Unit", "caption_units", "compose", "cue_units", "is_code",
           "minilm_similarity", "page_quote", "place", "quote", "slide_units", "units"]

OFFLINE_LABEL = "Offline answer (extractive: quoted from the course material, no language model)"
KEEP_SHARE = 0.6  # a quoted sentence carries at least this share of the best sentence's question weight
# ... and at least this share of the weight of the question terms the evidence has at all: one common word
# ("number" in "choose the number of clusters") is not support, however high its IDF in the course
MIN_COVER = 0.4
# a term weighs its course IDF times (1 - GENERAL + GENERAL * its general-English weight): a course's IDF
# calls its own topic word common ("cluster" in a clustering course) and an everyday word rare ("keep")
GENERAL = 0.5
# a hyphenated compound of the question ("ppp-values", "k-means"): its parts are fragments of one term
_COMPOUND = re.compile(r"[^\W_]+(?:[-‐‑][^\W_]+)+")
_SYMBOL = re.compile(r"(?<![\w'’-])(?![aAI]\b)[^\W\d_](?![\w'’-])")  # a lone letter: "k", "n", not "a"/"I"
MAX_SENTENCES = 3
# When no statement carries enough of the question's words (a paraphrase: "glass slide ... oligonucleotides"
# for "A glass surface coated with ... oligos"), the statement of the top MEANING_HITS hits closest to the
# question in meaning is quoted, labelled as such, if its MiniLM cosine (plus LEXICAL_NUDGE times its share of
# the best statement's question-term weight) reaches MIN_MEANING; else the answer points at the places.
MEANING_HITS = 3
MIN_MEANING = 0.4
LEXICAL_NUDGE = 0.2
MEANING_LEAD = "Closest in meaning (no statement here carries enough of the question's words):"
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


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


def _fragments(question: str, want: dict[str, str]) -> dict[str, list[tuple[str, ...]]]:
    """Question terms (folded) that the question writes only inside hyphenated compounds, each with the folded
    parts of those compounds: "why aren't ppp-values used much?" -> {"ppp": [("ppp", "valu")], "valu": [...]}.
    Compounds with an ordinary second part ("IP-based") and terms also asked on their own are left out."""
    alone = {fold(t) for t in _terms(_COMPOUND.sub(" ", question))}
    out: dict[str, list[tuple[str, ...]]] = {}
    for m in _COMPOUND.finditer(question):
        pieces = word_pieces(m.group(0).lower())
        parts = tuple(fold(p) for p in pieces if p not in STOPWORDS)
        if len(parts) < 2 or PRODUCTIVE & set(pieces):
            continue
        for f in {fold(t) for t in _terms(m.group(0))}:
            if f in want and f not in alone:
                out.setdefault(f, []).append(parts)
    return out


def _foreign(question: str, want: dict[str, str], hits: Sequence[Hit], statements: Sequence[Sequence[Unit]]
             ) -> list[set[str]]:
    """Per hit, the question terms that are no support in its statements: the fragments of a question's compound
    ("ppp" of "ppp-values") in a source whose statements never write the compound while another source's do.
    A model-checking deck's "ppp-value" makes the question's "ppp" that one; a VPN deck's "PPP frames" is another
    PPP. In a source that writes the compound, its parts alone still count ("provider" in "provider-provisioned")."""
    fragments = _fragments(question, want)
    if not fragments:
        return [set() for _ in hits]
    texts: dict[str, list[str]] = {}
    for hit, said in zip(hits, statements, strict=True):
        texts.setdefault(hit.chunk.source, []).extend(u.text for u in said)
    compounds = {c for cs in fragments.values() for c in cs}
    written = {}
    for source, said_there in texts.items():
        evidence = Evidence(said_there)
        written[source] = {c for c in compounds if evidence.has_phrase(c, slack=0)}
    anywhere = set().union(*written.values())
    return [{want[f] for f, cs in fragments.items() if anywhere & set(cs) and not written[hit.chunk.source] & set(cs)}
            for hit in hits]


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


def minilm_similarity(text: str, candidates: Sequence[str]) -> list[float]:
    """Cosine of `text` with each candidate in the offline MiniLM space (deterministic)."""
    from rag.embedders.minilm import shared_minilm

    v = shared_minilm().encode([text, *candidates])
    return [float(x) for x in v[1:] @ v[0]]


def _closest(question: str, pool: Sequence[tuple[float, Unit, str]], similar: Similarity) -> tuple[Unit, str] | None:
    """The fallback's statement: the closest in meaning among the top hits' (score, unit, label), in rank order;
    a share of the question's words nudges it; None when none is close enough."""
    if not pool:
        return None
    sims = similar(question, [u.text for _, u, _ in pool])
    top = max(s for s, _, _ in pool) or 1.0
    value = [round(sim + LEXICAL_NUDGE * s / top, 6) for sim, (s, _, _) in zip(sims, pool, strict=True)]
    best = max(range(len(pool)), key=lambda i: (value[i], -i))
    return (pool[best][1], pool[best][2]) if value[best] >= MIN_MEANING else None


def quote(question: str, hits: Sequence[Hit], labels: Sequence[str], max_sentences: int = MAX_SENTENCES, *,
          weight: Callable[[str], float] | None = None, image: bool = False,
          similar: Similarity | None = None) -> Quoted:
    """Quote the statements that carry the most (IDF-weighted) question terms, each with its [S n] label.

    A term weighs its course IDF (`weight`) times its general-English weight, so the question's topic words
    count more than everyday ones. Only statements with at least KEEP_SHARE of the best statement's weight,
    and MIN_COVER of all the weight the evidence can support, are quoted, so a focused answer stays focused;
    an image query's answer starts with where the picture is shown. `similar` (e.g. `minilm_similarity`)
    enables the by-meaning fallback (see MEANING_HITS)."""
    idf = weight or (lambda _t: 1.0)

    def w(t: str) -> float:
        return idf(t) * (1.0 - GENERAL + GENERAL * general_weight(t))

    want = {fold(t): t for t in _terms(question)}  # folded ("mov") -> the question's own term ("move")
    code_ok = asks_for_code(question)  # code is no statement, unless code is what the question asks for
    scored = []
    pool: list[tuple[float, Unit, str]] = []  # the top hits' statements, for the by-meaning fallback
    supported: set[str] = set()
    statements = [units(hit) for hit in hits]
    foreign = _foreign(question, want, hits, statements)  # "PPP frames" does not answer about ppp-values
    for rank, (said_here, label) in enumerate(zip(statements, labels, strict=True)):
        for pos, u in enumerate(said_here):
            if not code_ok and is_code(u.text):
                continue
            shared = {want[f] for f in map(fold, _terms(u.text)) if f in want} - foreign[rank]
            own = sum(w(t) for t in shared)
            if rank < MEANING_HITS:
                pool.append((own, u, label))
            if shared:
                supported |= shared
                # Earlier hits and earlier sentences break ties: retrieval already ranked the evidence.
                scored.append((round(own, 9), -rank, -pos, u, label))
    scored.sort(key=lambda s: s[:3], reverse=True)
    floor = max(KEEP_SHARE * scored[0][0], MIN_COVER * sum(w(t) for t in supported)) if scored else 0.0
    chosen: list[tuple[Unit, list[str]]] = []
    kept: list[set[str]] = []
    said: dict[str, list[TimeSpan]] = {}  # label -> the spans of its quoted caption sentences
    for score, _, _, u, label in scored:
        if score < floor:
            break
        words = set(tokens(u.said))  # a title quoted with its page's first point says that point too
        same = next((i for i, k in enumerate(kept) if words <= k or u.point and k <= words), None)
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
    prose = [f"{u.said.rstrip('.!;:')} {_cite(cites)}." for u, cites in chosen if not u.bullet]
    if prose:
        lines.append(" ".join(prose))
    lines += [f"• {u.said.rstrip('.;:')} {_cite(cites)}" for u, cites in chosen if u.bullet]
    closest = _closest(question, pool, similar) if not chosen and not head and similar is not None else None
    if closest is not None:
        u, label = closest
        said_as = f"• {u.said.rstrip('.;:')} [{label}]" if u.bullet else f"{u.said.rstrip('.!;:')} [{label}]."
        lines = [MEANING_LEAD, said_as]
        if u.span is not None:
            said[label] = [u.span]
    elif not chosen and not head:  # the named fallback: no statement is close enough, point at the best places
        lines = [f"See {place(h)} [{label}]." for h, label in list(zip(hits, labels, strict=True))[:2]]
    # a label quoted for several sentences of one segment starts at the first and ends after the last; an
    # image query's citations keep where the picture is on screen (what the question asks for)
    moments = {} if image else {
        lab: TimeSpan(start_s=min(s.start_s for s in spans), end_s=max(s.end_s for s in spans))
        for lab, spans in said.items()}
    return Quoted("\n".join(lines), moments)
