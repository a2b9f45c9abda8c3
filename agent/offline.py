"""The offline answerer: extractive, deterministic; every sentence it writes is quoted and cited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.citations import located_text
from rag.lexical import tokens
from rag.types import Hit

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
OFFLINE_LABEL = "Offline answer (extractive: quoted from the course material, no language model)"


def _units(text: str) -> list[str]:
    """Caption prose stays whole; a slide bullet wrapped over lines is joined back; other slide lines
    (titles, diagram labels) stand alone."""
    units: list[str] = []
    bullet: list[str] | None = None
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("•"):
            if bullet:
                units.append(" ".join(bullet))
            bullet = [line.lstrip("• ").strip()]
        elif line and bullet is not None and not line.startswith(("•",)) and line[:1].islower():
            bullet.append(line)  # the wrapped tail of a bullet starts in lower case
        else:
            if bullet:
                units.append(" ".join(bullet))
            bullet = None
            if line:
                units.append(line)
    if bullet:
        units.append(" ".join(bullet))
    return units


def sentences(text: str) -> list[str]:
    """Statements worth quoting: sentences of captions and slide bullets, not questions or labels."""
    out = []
    for unit in _units(text):
        for s in _SENT.split(unit):
            s = s.strip()
            if s.endswith("?") or len(tokens(s, keep_stopwords=True)) < 4:
                continue
            out.append(s)
    return out


def compose(question: str, hits: Sequence[Hit], labels: Sequence[str], max_sentences: int = 3) -> str:
    """Pick the sentences that share the most key terms with the question, each with its [S n] label."""
    want = set(tokens(question))
    scored = []
    for rank, (hit, label) in enumerate(zip(hits, labels, strict=True)):
        for pos, s in enumerate(sentences(located_text(hit))):
            overlap = len(want & set(tokens(s)))
            if overlap:
                # Earlier hits and earlier sentences break ties: retrieval already ranked the evidence.
                scored.append((overlap, -rank, -pos, s, label))
    scored.sort(reverse=True)
    chosen: list[str] = []
    kept: list[set[str]] = []
    for _, _, _, s, label in scored:
        words = set(tokens(s))
        if any(words <= k for k in kept):  # the same point again (a slide bullet and its narration)
            continue
        kept.append(words)
        chosen.append(f"{s.rstrip('.!')} [{label}].")
        if len(chosen) >= max_sentences:
            break
    if not chosen:  # evidence matched by meaning or picture, not words: point at the best places
        chosen = [f"See [{label}]." for label in labels[:2]]
    return " ".join(chosen)
