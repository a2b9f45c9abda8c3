"""Citation labels as real models write them: grouped, ranged, out of order; renumbered by first use."""

from __future__ import annotations

import pytest

from rag.citations import evidence_labels, labels_in, resolve
from rag.types import Chunk, Hit, PageSpan


def _hits(n: int) -> dict[str, Hit]:
    hits = []
    for i in range(1, n + 1):
        chunk = Chunk(id=f"c{i}", source="slides/deck.pdf", source_sha256="x", kind="pdf", title="Deck",
                      locator=PageSpan(first=i, last=i), text=f"page {i}")
        hits.append(Hit(chunk=chunk, score=1.0 / i))
    return evidence_labels(hits)


@pytest.mark.parametrize("written, expected", [
    ("S1, S2", ["S1", "S2"]),
    ("S1; S3", ["S1", "S3"]),
    ("S1-S3", ["S1", "S2", "S3"]),
    ("S1–S3", ["S1", "S2", "S3"]),
    ("S2-4", ["S2", "S3", "S4"]),
    ("S1, S3-S4", ["S1", "S3", "S4"]),
    ("S2, S2", ["S2"]),
])
def test_labels_in_groups_and_ranges(written, expected):
    assert labels_in(written) == expected


@pytest.mark.parametrize("text", [
    "Gamma discounts rewards [S1, S2].",
    "Gamma discounts rewards [S1; S2].",
    "Gamma discounts rewards [S1-S2].",
    "Gamma discounts rewards [S1–S2].",
])
def test_grouped_labels_resolve_to_citations(text):
    clean, cites = resolve(text, _hits(3))
    assert [c.label for c in cites] == ["S1", "S2"]
    assert [c.locator.first for c in cites] == [1, 2]
    assert clean == "Gamma discounts rewards [S1, S2]."


def test_labels_are_renumbered_in_order_of_first_use_without_gaps():
    text = "First [S4]. Then [S2; S9]. Again [S4] and [S1-S2]."
    clean, cites = resolve(text, _hits(5))
    assert clean == "First [S1]. Then [S2]. Again [S1] and [S3, S2]."
    assert [c.label for c in cites] == ["S1", "S2", "S3"]
    assert [c.locator.first for c in cites] == [4, 2, 1]  # each new label still points at its own page


def test_unknown_labels_and_empty_groups_are_removed():
    clean, cites = resolve("Nothing here [S7, S8]. Something [S3].", _hits(3))
    assert clean == "Nothing here. Something [S1]." and [c.locator.first for c in cites] == [3]
    clean, cites = resolve("No citation at all.", _hits(3))
    assert cites == [] and clean == "No citation at all."
    assert resolve("Not a label [1] or [note].", _hits(3))[0] == "Not a label [1] or [note]."
