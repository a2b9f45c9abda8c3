"""The devcorpus eval set is honest: paraphrases share no four-word run with the pages they expect, and the
neighbouring topics' named terms appear nowhere in the five decks (checked over the decks' own text)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from eval.datasets import ExpectedPages, load_dataset

ROOT = Path(__file__).resolve().parents[1]
DEVCORPUS = ROOT / "eval" / "datasets" / "devcorpus.yaml"


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return re.findall(r"[^\W_]+", text)


@cache
def dataset():
    return load_dataset(DEVCORPUS)


@cache
def page_words(source: str) -> tuple[tuple[str, ...], ...]:
    """Every page of a deck as its word sequence (pdfium's text layer, what ingest reads)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(dataset().corpus / source))
    try:
        return tuple(tuple(words(doc[i].get_textpage().get_text_range())) for i in range(len(doc)))
    finally:
        doc.close()


def grams(seq, n: int = 4) -> set[tuple[str, ...]]:
    return {tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)}


def test_dataset_loads_with_its_corpus_beside_the_repo():
    data = dataset()
    assert data.corpus is not None and data.corpus.name == "slides"
    assert len(list(data.corpus.glob("*.pdf"))) == 5
    families = Counter(c.family for c in data.cases)
    assert families["para"] >= 60 and families["gen"] >= 10 and families["near"] >= 100, families
    assert families["hpara"] >= 20 and families["hnear"] >= 30, families  # held out from tuning
    # the second held-out set (session 16): 8 paraphrases and 10 neighbouring topics per deck
    # the third (session 17, written blind before that session's decline round) and the fourth (session 17,
    # written blind before the lead measured anything on it): the same counts; the fifth (session 17, likewise
    # written blind), the sixth (session 18, likewise written blind) and the seventh (session 19, likewise written
    # blind): 10 paraphrases and 10 neighbouring topics per deck
    for family, per_deck in (("xpara", 8), ("xnear", 10), ("ypara", 8), ("ynear", 10), ("zpara", 8), ("znear", 10),
                             ("wpara", 10), ("wnear", 10), ("vpara", 10), ("vnear", 10), ("upara", 10), ("unear", 10)):
        decks = Counter(c.id.split("-")[1] for c in data.cases if c.family == family)
        assert len(decks) == 5 and set(decks.values()) == {per_deck}, (family, decks)
    decks = Counter(c.id.split("-")[1] for c in data.cases if c.family == "near")
    assert len(decks) == 5 and min(decks.values()) >= 20, decks  # >= 40 neighbouring topics per two decks


def test_paraphrases_share_no_four_word_run_with_their_pages():
    bad = []
    for case in dataset().cases:
        if case.family not in ("para", "hpara", "xpara", "ypara", "zpara", "wpara", "vpara", "upara"):
            continue
        q = grams(words(case.question or ""))
        for e in case.expected:
            assert isinstance(e, ExpectedPages)
            pages = page_words(e.source)
            for p in e.pages:
                shared = q & grams(pages[p - 1])
                if shared:
                    bad.append((case.id, p, sorted(" ".join(g) for g in shared)))
    assert not bad, bad


def test_generic_questions_are_short():
    long = [c.id for c in dataset().cases if c.family == "gen" and len(words(c.question or "")) > 7]
    assert not long


@pytest.mark.parametrize("family", ["near", "hnear", "xnear", "ynear", "znear", "wnear", "vnear", "unear"])
def test_neighbouring_terms_appear_nowhere_in_the_decks(family):
    seq = [w for pdf in sorted(dataset().corpus.glob("*.pdf")) for p in page_words(pdf.name) for w in p]
    text = f" {' '.join(seq)} "
    glued = {"".join(seq[i:i + n]) for n in (2, 3) for i in range(len(seq) - n + 1)}  # "add path" as "addpath"
    found = []
    for case in dataset().cases:
        if case.family != family:
            continue
        assert case.unanswerable and case.absent, case.id
        for term in case.absent:
            w = words(term)
            assert w and all(x in words(case.question or "") for x in w), (case.id, term)  # the term is asked
            if f" {' '.join(w)} " in text or f" {''.join(w)} " in text or (len(w) > 1 and "".join(w) in glued):
                found.append((case.id, term))
    assert not found, found


def test_absent_terms_are_checked_by_the_loader(tmp_path):
    from eval.datasets import DatasetError

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncases:\n  - id: q1\n    question: hi\n    absent: [Gibbs]\n"
                   "    expected: [{source: a.pdf, pages: [1]}]\n")
    with pytest.raises(DatasetError, match="lists `absent` terms but is answerable"):
        load_dataset(bad)
