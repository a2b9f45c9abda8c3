"""The offline answerer: extractive, deterministic; every sentence it writes is quoted and cited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.lexical import tokens
from rag.types import Hit

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
OFFLINE_LABEL = "Offline answer (extractive: quoted from the course material, no language model)"


def sentences(text: str) -> list[str]:
    """Split evidence text into sentences (captions and slide bullets)."""
    parts = []
    for line in re.split(r"\n+|\s*•\s*", text):
        parts.extend(s.strip() for s in _SENT.split(line) if s.strip())
    return [p for p in parts if len(p) >= 12]


def compose(question: str, hits: Sequence[Hit], labels: Sequence[str], max_sentences: int = 3) -> str:
    """Pick the sentences that share the most key terms with the question, each with its [S n] label."""
    want = set(tokens(question))
    scored = []
    for rank, (hit, label) in enumerate(zip(hits, labels, strict=True)):
        for pos, s in enumerate(sentences(hit.chunk.text)):
            overlap = len(want & set(tokens(s)))
            if overlap:
                # Earlier hits and earlier sentences break ties: retrieval already ranked the evidence.
                scored.append((overlap, -rank, -pos, s, label))
    scored.sort(reverse=True)
    chosen, seen = [], set()
    for _, _, _, s, label in scored:
        key = s.lower()
        if key in seen:
            continue
        seen.add(key)
        chosen.append(f"{s.rstrip('.')}. [{label}]")
        if len(chosen) >= max_sentences:
            break
    if not chosen:  # evidence matched by meaning or picture, not words: point at the best places
        chosen = [f"See [{label}]." for label in labels[:2]]
    return " ".join(chosen)
