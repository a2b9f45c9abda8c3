"""Eval metrics on hand-made hits: matching, ranks, nDCG, tIoU, answers, aggregation, diffs and floors."""

from __future__ import annotations

import math

import pytest

from eval.datasets import Case, ExpectedPages, ExpectedSpan
from eval.metrics import (
    aggregate,
    answer_metrics,
    best_tiou,
    citation_precision,
    citation_recall,
    first_rank,
    hit_curve,
    matches,
    mention_rate,
    ndcg,
    percentile,
    retrieval_metrics,
    spans_overlap,
    temporal_iou,
)
from eval.report import changed, check_floors, diff, diff_lines, gate, markdown, parse_floor, plot
from eval.runner import Retrieved, run, score

VID = "lectures/rl.mp4"
PDF = "slides/rl.pdf"


def vhit(start, end, source=VID, rank=1):
    return {"rank": rank, "source": source, "kind": "video", "start": start, "end": end, "pages": None,
            "score": 1.0, "display": f"{source} {start}-{end}"}


def phit(*pages, source=PDF, rank=1):
    return {"rank": rank, "source": source, "kind": "pdf", "start": None, "end": None, "pages": list(pages),
            "score": 1.0, "display": f"{source} p. {pages}"}


SPAN = ExpectedSpan(source=VID, start=312.0, end=398.0)
PAGES = ExpectedPages(source=PDF, pages=(7, 8))


def case(cid="vid-01", expected=(SPAN, PAGES), unanswerable=False, mentions=()):
    return Case(id=cid, question="what does the discount factor do?", expected=tuple(expected),
                unanswerable=unanswerable, must_mention=tuple(mentions))


# -- matching ---------------------------------------------------------------------------------------
def test_touching_spans_do_not_overlap():
    assert not spans_overlap(300.0, 312.0, 312.0, 398.0)
    assert not spans_overlap(398.0, 410.0, 312.0, 398.0)
    assert spans_overlap(300.0, 312.01, 312.0, 398.0)
    assert not matches(vhit(290.0, 312.0), SPAN)
    assert not matches(vhit(398.0, 420.0), SPAN)
    assert matches(vhit(397.9, 420.0), SPAN)


def test_containment_and_points():
    assert matches(vhit(330.0, 340.0), SPAN)  # hit inside the expected span
    assert matches(vhit(0.0, 1000.0), SPAN)  # expected inside the hit
    point = ExpectedSpan(source=VID, start=20.0, end=20.0)
    assert matches(vhit(15.0, 30.0), point)
    assert matches(vhit(20.0, 30.0), point)
    assert not matches(vhit(10.0, 20.0), point)  # half-open: the span ends where the point is


def test_source_and_kind_must_agree():
    assert not matches(vhit(330.0, 340.0, source="lectures/other.mp4"), SPAN)
    assert not matches(phit(7), SPAN)  # a page hit never matches a moment
    assert not matches(vhit(330.0, 340.0, source=PDF), PAGES)  # nor a timed hit a page entry
    assert matches(phit(8), PAGES)
    assert matches(phit(6, 7), PAGES)  # a multi-page hit matches when one of its pages is listed
    assert not matches(phit(9, 10), PAGES)
    assert not matches(phit(7, source="slides/other.pdf"), PAGES)


def test_first_rank_uses_any_expected_entry():
    hits = [vhit(0, 10, rank=1), phit(3, rank=2), phit(8, rank=3), vhit(320, 330, rank=4)]
    assert first_rank(hits, [SPAN, PAGES]) == 3
    assert first_rank(hits, [SPAN]) == 4
    assert first_rank([], [SPAN]) is None
    assert first_rank(hits[:2], [SPAN, PAGES]) is None


# -- retrieval metrics --------------------------------------------------------------------------------
def test_case_retrieval_metrics_multiple_expected():
    hits = [vhit(0, 10), phit(3), phit(8), vhit(320, 330)] + [phit(1)] * 6
    m = retrieval_metrics(case(), hits, declined=False)
    assert m["rank"] == 3 and m["hit@1"] == 0 and m["hit@5"] == 1 and m["hit@10"] == 1
    assert m["mrr@10"] == pytest.approx(1 / 3)
    assert m["moment_rank"] == 4 and m["page_rank"] == 3
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(4) + 1 / math.log2(5)) / ideal, abs=1e-6)
    assert m["tiou"] == pytest.approx(10 / 86, abs=1e-6)
    assert m["declined_ok"] is True


def test_no_hits():
    m = retrieval_metrics(case(), [], declined=True)
    assert m["rank"] is None and m["hit@1"] == m["hit@10"] == m["mrr@10"] == m["ndcg@10"] == 0
    assert m["tiou"] is None  # nothing matched: tIoU is undefined, hit@k counts the miss
    assert m["declined_ok"] is False  # declining an answerable case is wrong


def test_unanswerable_scores_only_declining():
    c = case("unans-01", expected=(), unanswerable=True)
    assert retrieval_metrics(c, [vhit(0, 10)], declined=True) == {"declined_ok": True}
    assert retrieval_metrics(c, [], declined=False) == {"declined_ok": False}


def test_ndcg_duplicates_earn_nothing_and_perfect_is_one():
    assert ndcg([vhit(320, 330), phit(7)], [SPAN, PAGES]) == pytest.approx(1.0)
    # Two hits on the same expected moment: the second adds no gain.
    dup = ndcg([vhit(320, 330), vhit(330, 340)], [SPAN, PAGES])
    assert dup == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg([phit(1), vhit(320, 330)], [SPAN]) == pytest.approx(1 / math.log2(3))
    assert ndcg([], [SPAN]) == 0.0
    # One hit that matches both entries (not possible across files, but well-defined) counts once.
    both = [PAGES, ExpectedPages(source=PDF, pages=(8,))]
    assert ndcg([phit(7, 8)], both) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_temporal_iou():
    assert temporal_iou(0, 10, 0, 10) == 1.0
    assert temporal_iou(0, 10, 5, 15) == pytest.approx(5 / 15)
    assert temporal_iou(0, 10, 10, 20) == 0.0
    assert best_tiou([vhit(300, 320), vhit(310, 400)], [SPAN]) == pytest.approx(86 / 90)
    assert best_tiou([phit(7)], [SPAN, PAGES]) is None


def test_hit_curve_and_percentile():
    assert hit_curve([1, 3, None, 10], 4) == [0.25, 0.25, 0.5, 0.5]
    assert percentile([10, 20, 30, 40], 50) == 20 and percentile([10, 20, 30, 40], 95) == 40
    assert percentile([], 50) is None


# -- answers --------------------------------------------------------------------------------------
def test_citation_precision_recall():
    cites = [vhit(320, 330), phit(3), phit(8)]
    assert citation_precision(cites, [SPAN, PAGES]) == pytest.approx(2 / 3)
    assert citation_recall(cites, [SPAN, PAGES]) == 1.0
    assert citation_recall(cites[:2], [SPAN, PAGES]) == 0.5
    assert citation_precision([], [SPAN]) is None
    assert citation_recall([], [SPAN]) == 0.0


def test_must_mention_and_answer_metrics():
    assert mention_rate("The Discount factor weights rewards", ["discount", "gamma"]) == 0.5
    assert mention_rate("anything", []) is None
    m = answer_metrics(case(mentions=["discount"]), {"answer": "the discount factor…", "declined": False,
                                                     "citations": [vhit(320, 330)]})
    assert m["citation_precision"] == 1.0 and m["citation_recall"] == 0.5 and m["must_mention"] == 1.0
    assert m["mentions_all"] is True and m["declined_wrongly"] is False
    declined = {"answer": "not covered", "declined": True, "citations": []}
    u = answer_metrics(case("unans-1", (), True), declined)
    assert u == {"declined_correctly": True, "cited": 0}


# -- aggregation, report, diff, gate ----------------------------------------------------------------
def _fake_search(table):
    def search(c, k):
        hits, declined = table[c.id]
        return Retrieved([dict(h, rank=i) for i, h in enumerate(hits[:k], start=1)], declined)

    return search


def _dataset(tmp_path):
    from eval.datasets import Dataset

    cases = (case("vid-01", (SPAN,)), case("vid-02", (SPAN,)), case("page-01", (PAGES,)),
             case("unans-01", (), True), case("unans-02", (), True))
    return Dataset(name="toy", path=tmp_path / "toy.yaml", cases=cases)


TABLE = {"vid-01": ([vhit(320, 330)], False), "vid-02": ([phit(1), vhit(0, 5), vhit(350, 360)], False),
         "page-01": ([phit(8)], True), "unans-01": ([vhit(0, 5)], True), "unans-02": ([phit(2)], False)}


def test_run_aggregates_answerable_only(tmp_path):
    rep = run(_dataset(tmp_path), _fake_search(TABLE), k=10, show_progress=False)
    m = rep["metrics"]
    assert (m["cases"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["hit@1"] == pytest.approx(2 / 3, abs=1e-4) and m["hit@5"] == 1.0
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1) / 3, abs=1e-4)
    assert m["decline_accuracy"] == 0.5 and m["answered"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["moment_hit@1"] == 0.5 and m["page_hit@1"] == 1.0
    assert rep["families"]["unans"]["hit@1"] is None and rep["families"]["unans"]["decline_accuracy"] == 0.5
    assert rep["families"]["vid"]["tiou"] == pytest.approx((10 / 86 + 10 / 86) / 2, abs=1e-4)
    assert rep["kinds"]["moment"]["cases"] == 2
    row = rep["cases"][0]
    assert set(row) >= {"id", "question", "image", "hits", "declined", "answer", "metrics", "latency_ms"}
    # The report re-scores to the same numbers from its own rows.
    assert score(rep["cases"], answers=False)["metrics"] == {k: v for k, v in m.items()}


def test_answers_metrics_with_any_answer_function(tmp_path):
    def answer(c):
        if c.unanswerable:
            return {"answer": "no", "declined": c.id == "unans-01", "citations": []}
        return {"answer": "the discount factor", "declined": False, "citations": [vhit(320, 330), phit(7)]}

    rep = run(_dataset(tmp_path), _fake_search(TABLE), answer=answer, show_progress=False)
    m = rep["metrics"]
    assert m["citation_precision"] == pytest.approx(0.5) and m["declined_correctly"] == 0.5
    assert m["declined_wrongly"] == 0.0 and m["answer_latency_p50_ms"] is not None
    assert rep["cases"][2]["declined"] is False  # with answers, `declined` is what the answerer did


def test_diff_zero_then_flips(tmp_path):
    ds = _dataset(tmp_path)
    a = run(ds, _fake_search(TABLE), show_progress=False)
    b = run(ds, _fake_search(TABLE), show_progress=False)
    d = diff(b, a, "old/report.json")
    assert d["flipped"] == [] and changed(d) == []
    assert d["metrics"]["latency_p50_ms"]["delta"] is not None  # timings differ, and are not "changes"
    assert "no metric changed" in diff_lines(d)[1]
    worse = dict(TABLE, **{"vid-01": ([phit(1)] * 6 + [vhit(320, 330)], False)})
    c = run(ds, _fake_search(worse), show_progress=False)
    d = diff(c, a, "old")
    assert {"id": "vid-01", "metric": "hit@1", "old": True, "new": False} in d["flipped"]
    assert d["metrics"]["hit@1"]["delta"] == pytest.approx(-1 / 3, abs=1e-3)
    text = "\n".join(diff_lines(d))
    assert "▼ overall  hit@1" in text and "broke vid-01: hit@5" in text
    md = markdown(c, d)
    assert "## Compared with baseline" in md and "vid-01" in md
    plot(c, tmp_path / "r.png", baseline=a)
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_floors(tmp_path):
    rep = run(_dataset(tmp_path), _fake_search(TABLE), show_progress=False)
    assert parse_floor("hit@5=0.8") == ("", "hit@5", 0.8)
    assert parse_floor("unans.decline_accuracy=0.5") == ("unans", "decline_accuracy", 0.5)
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_floor("hit@5")
    with pytest.raises(ValueError, match="not a number"):
        parse_floor("hit@5=high")
    known = aggregate([], answers=False)
    with pytest.raises(ValueError, match="unknown metric"):
        check_floors([("", "hit@3", 0.5)], known, ["vid"])
    with pytest.raises(ValueError, match="no case family"):
        check_floors([("img", "hit@5", 0.5)], known, ["vid"])
    assert gate(rep, [("", "hit@5", 1.0), ("vid", "hit@1", 0.5)]) == []
    misses = gate(rep, [("", "hit@1", 0.7), ("unans", "hit@1", 0.1)])
    assert misses[0].startswith("hit@1 = 0.6667 is below") and "not measured" in misses[1]
