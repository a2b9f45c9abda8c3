"""Sentence-level moments: the caption cue(s) of a segment that support the query, in hits, citations, eval."""

from __future__ import annotations

from eval.datasets import ExpectedSpan
from eval.metrics import best_tiou
from rag.citations import cite
from rag.contracts import hit_json
from rag.moments import best_cues, moment
from rag.types import Chunk, Hit, PageSpan, TimeSpan

CUES = (
    (30.0, 34.0, "To fit the model we minimise a loss with gradient descent."),
    (34.5, 38.0, "Each step moves the weights along the negative gradient."),
    (38.5, 43.0, "If the learning rate is too large, gradient descent diverges."),
    (43.5, 47.0, "So we pick a small learning rate and decay it over time."),
)


def _chunk(cues=CUES, start=30.0, end=47.0) -> Chunk:
    return Chunk(id="c1", source="lectures/l1.mp4", source_sha256="x", kind="video", title="Lecture 1",
                 locator=TimeSpan(start_s=start, end_s=end), text=" ".join(c[2] for c in cues), cues=cues)


def test_the_cue_with_the_distinctive_term_wins():
    idf = {"diverg": 5.0, "gradient": 1.0, "descent": 1.0, "learn": 2.0, "rate": 2.0}.get
    assert best_cues(CUES, "why does gradient descent diverge?", lambda t: idf(t, 1.0)) == (2, 2)
    # without weights, the cue with more shared terms wins; a neighbour joins only when it adds a term
    assert best_cues(CUES, "negative gradient step", None) == (1, 1)
    assert best_cues(CUES, "negative gradient, decay over time", None) == (2, 3)  # 3 terms beat 2


def test_a_window_grows_only_with_new_terms_and_stays_short():
    assert best_cues(CUES, "weights diverges", None) == (1, 2)  # the answer spans two sentences
    assert best_cues(CUES, "minimise loss", None) == (0, 0)


def test_no_shared_word_falls_back_to_the_most_similar_cue():
    assert best_cues(CUES, "divergent", None) == (2, 2)  # no shared term: the most similar characters


def test_moment_spans_the_cue_and_degrades_to_the_segment():
    m = moment(_chunk(), "when does gradient descent diverge", None)
    assert m == TimeSpan(start_s=38.5, end_s=43.0)
    assert moment(_chunk(cues=()), "anything", None) == TimeSpan(start_s=30.0, end_s=47.0)
    pdf = Chunk(id="p", source="s.pdf", source_sha256="x", kind="pdf", title="s",
                locator=PageSpan(first=1, last=1))
    assert moment(pdf, "anything") is None


def test_moment_reaches_search_json_citations_and_tiou():
    chunk = _chunk()
    hit = Hit(chunk=chunk, score=1.0, moment=TimeSpan(start_s=38.5, end_s=43.0))
    row = hit_json(1, hit)
    assert (row["start"], row["end"]) == (30.0, 47.0)  # the segment: the unit of retrieval
    assert row["moment"] == {"start": 38.5, "end": 43.0}
    c = cite("S1", hit)
    assert c.locator == TimeSpan(start_s=38.5, end_s=43.0) and c.segment == chunk.locator
    assert "0:38–0:43" in c.display
    exp = [ExpectedSpan(source="lectures/l1.mp4", start=38.5, end=43.0)]
    assert best_tiou([row], exp) == 1.0
    assert abs(best_tiou([{**row, "moment": None}], exp) - 4.5 / 17.0) < 1e-9  # no moment: the segment
