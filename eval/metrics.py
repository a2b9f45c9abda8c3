"""Pure metric functions over ranked hit rows (the dicts report.json keeps), so any report can be re-scored.

A hit row: {"rank", "source", "kind", "start", "end", "pages", "score", "display"}; a timed hit has
start/end (seconds) and pages None, a PDF hit has pages (1-based) and start/end None.

Decisions (see the Evaluating section of README.md):
- Spans are half-open [start, end): touching spans (one ends where the other starts) do NOT overlap.
  A zero-length expected span (a point) matches a hit span that contains it.
- Hit metrics (hit@k, MRR, nDCG, per-kind hits, tIoU) are over answerable cases only; unanswerable
  cases only score decline accuracy.
- nDCG@10 gives a hit gain 1 when it matches an expected entry no earlier hit matched (duplicates of
  one location earn nothing); the ideal ranking puts every expected entry at the top.
- tIoU is the best temporal IoU among the top-k hits that match an expected span, scored on the hit's
  sentence-level `moment` when it has one (else its span); cases whose moment was not found have no
  tIoU (hit@k already counts them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eval.datasets import Case, Expected, ExpectedPages, ExpectedSpan

HitRow = Mapping[str, Any]
KS = (1, 5, 10)
# Case metrics that are pass/fail: the ones a baseline diff reports as flipped.
FLAGS = ("hit@1", "hit@5", "hit@10", "declined_ok", "mentions_all")


# -- matching -------------------------------------------------------------------------------------
def spans_overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> bool:
    """Half-open overlap; a zero-length span overlaps a span that contains it."""
    if a_start == a_end:
        return b_start <= a_start < b_end or a_start == b_start == b_end
    if b_start == b_end:
        return a_start <= b_start < a_end
    return max(a_start, b_start) < min(a_end, b_end)


def matches(hit: HitRow, exp: Expected) -> bool:
    """Does a hit land on an expected location (same source; overlapping span or a listed page)?"""
    if hit.get("source") != exp.source:
        return False
    if isinstance(exp, ExpectedPages):
        return bool(set(hit.get("pages") or ()) & set(exp.pages))
    if hit.get("start") is None or hit.get("end") is None:
        return False
    return spans_overlap(float(hit["start"]), float(hit["end"]), exp.start, exp.end)


def first_rank(hits: Sequence[HitRow], expected: Sequence[Expected]) -> int | None:
    """1-based rank of the first hit matching any expected entry, or None."""
    for i, h in enumerate(hits, start=1):
        if any(matches(h, e) for e in expected):
            return i
    return None


def temporal_iou(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Intersection over union of two time spans (0 when they do not overlap)."""
    inter = max(0.0, min(a_end, b_end) - max(a_start, b_start))
    union = max(a_end, b_end) - min(a_start, b_start)
    return inter / union if union > 0 else (1.0 if a_start == b_start else 0.0)


# -- retrieval --------------------------------------------------------------------------------------
def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg(hits: Sequence[HitRow], expected: Sequence[Expected], k: int = 10) -> float:
    """Binary-gain nDCG@k where each expected entry earns gain once, at the first hit that matches it."""
    if not expected:
        return 0.0
    covered: set[int] = set()
    dcg = 0.0
    for i, h in enumerate(hits[:k], start=1):
        new = {j for j, e in enumerate(expected) if j not in covered and matches(h, e)}
        if new:
            covered |= new
            dcg += 1.0 / math.log2(i + 1)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(expected), k) + 1))
    return dcg / ideal


def best_tiou(hits: Sequence[HitRow], expected: Sequence[Expected], k: int = 10) -> float | None:
    """Best temporal IoU between a top-k hit and an expected span it matches; None when none matches."""
    best = None
    for h in hits[:k]:
        for e in expected:
            if isinstance(e, ExpectedSpan) and matches(h, e):
                m = h.get("moment") or h
                iou = temporal_iou(float(m["start"]), float(m["end"]), e.start, e.end)
                best = iou if best is None else max(best, iou)
    return best


def retrieval_metrics(case: Case, hits: Sequence[HitRow], declined: bool) -> dict[str, Any]:
    """One case's retrieval metrics. Unanswerable cases get only `declined_ok`."""
    if case.unanswerable:
        return {"declined_ok": bool(declined)}
    rank = first_rank(hits, case.expected)
    out: dict[str, Any] = {"rank": rank}
    out.update({f"hit@{k}": hit_at(rank, k) for k in KS})
    out["mrr@10"] = reciprocal_rank(rank, 10)
    out["ndcg@10"] = round(ndcg(hits, case.expected, 10), 6)
    for kind in case.kinds:
        out[f"{kind}_rank"] = first_rank(hits, [e for e in case.expected if e.kind == kind])
    if "moment" in case.kinds:
        iou = best_tiou(hits, case.expected, 10)
        out["tiou"] = None if iou is None else round(iou, 6)
    out["declined_ok"] = not declined  # declining an answerable case is wrong
    return out


# -- answers ----------------------------------------------------------------------------------------
def citation_precision(citations: Sequence[HitRow], expected: Sequence[Expected]) -> float | None:
    """Share of cited locations that match an expected entry; None when nothing is cited."""
    if not citations:
        return None
    return sum(any(matches(c, e) for e in expected) for c in citations) / len(citations)


def citation_recall(citations: Sequence[HitRow], expected: Sequence[Expected]) -> float | None:
    """Share of expected entries that some citation matches; None for a case with no expected entry."""
    if not expected:
        return None
    return sum(any(matches(c, e) for c in citations) for e in expected) / len(expected)


def mention_rate(text: str, terms: Sequence[str]) -> float | None:
    """Share of must_mention terms found in the answer (case-insensitive); None when there are none."""
    if not terms:
        return None
    low = text.lower()
    return sum(t.lower() in low for t in terms) / len(terms)


def answer_metrics(case: Case, answer: Mapping[str, Any]) -> dict[str, Any]:
    """One case's answer metrics from an `answer_json`-shaped dict."""
    declined = bool(answer.get("declined"))
    cites = answer.get("citations") or []
    if case.unanswerable:
        return {"declined_correctly": declined, "cited": len(cites)}
    out: dict[str, Any] = {"declined_wrongly": declined, "cited": len(cites),
                           "citation_precision": citation_precision(cites, case.expected),
                           "citation_recall": citation_recall(cites, case.expected)}
    rate = mention_rate(str(answer.get("answer") or ""), case.must_mention)
    if rate is not None:
        out["must_mention"] = rate
        out["mentions_all"] = rate == 1.0
    return out


# -- aggregation ------------------------------------------------------------------------------------
def mean(values: Iterable[Any]) -> float | None:
    """Mean of the values that are not None (bools count as 0/1); None when there are none."""
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    idx = max(0, math.ceil(q / 100 * len(vals)) - 1)
    return round(vals[idx], 1)


def aggregate(cases: Sequence[Mapping[str, Any]], *, answers: bool) -> dict[str, Any]:
    """Metrics over report case rows ({"unanswerable", "metrics", "latency_ms", "answer"})."""
    ans = [c for c in cases if not c["unanswerable"]]
    una = [c for c in cases if c["unanswerable"]]
    m = [c["metrics"] for c in ans]
    out: dict[str, Any] = {"cases": len(cases), "answerable": len(ans), "unanswerable": len(una)}
    for name in (*(f"hit@{k}" for k in KS), "mrr@10", "ndcg@10"):
        out[name] = mean(x.get(name) for x in m)
    kinds = kind_table(cases)
    for kind in ("moment", "page"):
        for k in KS:
            out[f"{kind}_hit@{k}"] = kinds.get(kind, {}).get(f"hit@{k}")
    out["tiou"] = mean(x.get("tiou") for x in m)
    out["decline_accuracy"] = mean(c["metrics"]["declined_ok"] for c in una)
    out["answered"] = mean(x.get("declined_ok") for x in m)  # answerable cases the answerer would answer
    lat = [c["latency_ms"] for c in cases]
    out["latency_p50_ms"], out["latency_p95_ms"] = percentile(lat, 50), percentile(lat, 95)
    if answers:
        am = [c["answer"]["metrics"] for c in ans if c.get("answer")]
        um = [c["answer"]["metrics"] for c in una if c.get("answer")]
        out["citation_precision"] = mean(x.get("citation_precision") for x in am)
        out["citation_recall"] = mean(x.get("citation_recall") for x in am)
        out["must_mention"] = mean(x.get("must_mention") for x in am)
        out["declined_correctly"] = mean(x["declined_correctly"] for x in um)
        out["declined_wrongly"] = mean(x["declined_wrongly"] for x in am)
        alat = [c["answer"]["latency_ms"] for c in cases if c.get("answer")]
        out["answer_latency_p50_ms"] = percentile(alat, 50)
        out["answer_latency_p95_ms"] = percentile(alat, 95)
    return out


def kind_table(cases: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per expected kind: how often a hit of that kind matched, for cases expecting that kind."""
    out: dict[str, dict[str, Any]] = {}
    for kind in ("moment", "page"):
        ranks = [c["metrics"][f"{kind}_rank"] for c in cases
                 if not c["unanswerable"] and f"{kind}_rank" in c["metrics"]]
        if ranks:
            row: dict[str, Any] = {"cases": len(ranks)}
            row.update({f"hit@{k}": mean(hit_at(r, k) for r in ranks) for k in KS})
            row["mrr@10"] = mean(reciprocal_rank(r, 10) for r in ranks)
            out[kind] = row
    return out


def hit_curve(ranks: Sequence[int | None], k_max: int) -> list[float]:
    """hit@k for k = 1..k_max over a list of first-match ranks."""
    n = len(ranks) or 1
    return [sum(1 for r in ranks if r is not None and r <= k) / n for k in range(1, k_max + 1)]
