"""Should the answerer decline? Combines signals, because a raw top score does not separate covered
questions from neighbouring topics (measured: median top cosine 0.44 vs 0.46 with MiniLM)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.lexical import tokens
from rag.types import Hit

# support = COVERAGE_WEIGHT * key-term coverage + best dense cosine (+ AGREE_BONUS when dense and lexical
# search put the same chunk in their top 3). Calibrated on the sample course (README, "Offline mode"):
# covered questions scored >= 0.64, off-topic and neighbouring-topic ones <= 0.38.
COVERAGE_WEIGHT = 0.6
AGREE_BONUS = 0.05
THRESHOLD = 0.55
MIN_IMAGE_SCORE = 0.0  # image matches reaching the retriever are already geometrically verified


@dataclass(frozen=True)
class Support:
    """Why evidence was judged enough (or not)."""

    answerable: bool
    support: float
    coverage: float
    dense: float
    agree: bool
    image: bool
    missing: tuple[str, ...]

    def reason(self) -> str:
        if self.image:
            return "the picture matches course material"
        if not self.answerable and self.missing:
            return "the course material does not mention " + ", ".join(self.missing[:4])
        return f"key-term coverage {self.coverage:.0%}, best similarity {self.dense:.2f}"


def assess(question: str | None, hits: Sequence[Hit], top: int = 3) -> Support:
    """Judge whether the top hits support an answer to the question."""
    if not hits:
        return Support(False, 0.0, 0.0, 0.0, False, False, tuple(tokens(question or "")))
    image = any(h.image_rank is not None and (h.image_score or 0) > MIN_IMAGE_SCORE for h in hits[:top])
    want = list(dict.fromkeys(tokens(question or "")))
    evidence = set()
    for h in hits[:top]:
        evidence.update(tokens(h.chunk.text))
    found = [t for t in want if t in evidence]
    coverage = len(found) / len(want) if want else 0.0
    dense = max((h.dense_score or 0.0) for h in hits[:top])
    agree = any(h.dense_rank is not None and h.lexical_rank is not None and h.dense_rank <= top
                and h.lexical_rank <= top for h in hits[:top])
    support = COVERAGE_WEIGHT * coverage + dense + (AGREE_BONUS if agree else 0.0)
    if not want:  # an image-only query, or a question of stopwords only
        answerable = image
    else:
        answerable = image or support >= THRESHOLD
    return Support(answerable, round(support, 4), round(coverage, 3), round(dense, 4), agree, image,
                   tuple(t for t in want if t not in evidence))
