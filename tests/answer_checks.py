"""What an offline answer may never contain: number-only or fragment "sentences" (tick rows, axis labels,
title fragments). Shared by the sample-course and devcorpus end-to-end eval tests."""

from __future__ import annotations

import re

_LABEL = re.compile(r"\s*\[S\d+\]\.?")
_WORD = re.compile(r"[^\W\d_]{2,}")


def statements(answer: str) -> list[str]:
    """The quoted statements of an answer: each bullet line, and each cited sentence of a prose line."""
    out = []
    for line in answer.splitlines():
        line = line.strip()
        if not line or line.startswith("This picture is shown in") or line.startswith("See "):
            continue
        for part in re.split(r"(?<=\])\.?\s+", line.lstrip("• ")):
            body = _LABEL.sub("", part).strip()
            if body:
                out.append(body)
    return out


def fragments(answer: str) -> list[str]:
    """Statements that are not statements: fewer than three real words (a defining formula such as
    "Precision = TP / (TP + FP)" excepted), or rows of numbers."""
    bad = []
    for s in statements(answer):
        words = _WORD.findall(s)
        left = s.partition("=")[0]
        formula = "=" in s and any(len(w) >= 3 for w in _WORD.findall(left))
        numbers = sum(bool(re.fullmatch(r"[-−+]?[\d.,%]+", t)) for t in s.split())
        if (len(words) < 3 and not formula) or numbers >= 3 and numbers > len(words):
            bad.append(s)
    return bad
