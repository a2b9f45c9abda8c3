"""Declining's trade-off: the share of neighbouring-topic questions the answerer declines against the share of
answerable questions it wrongly declines, per held-out set, at the shipped decision and at looser and stricter
ones, with issue 12's goal (>= 0.90 declined, <= 0.05 wrongly declined) drawn in.

    python -m bench.decline_tradeoff --run eval/datasets/devcorpus.yaml=DIR [--run YAML=DIR ...]

Each `--run` pairs an eval dataset with an index of its course (README, *Evaluating*, says how to build the
devcorpus, spoken-lecture and sample-course indexes). Every text case is searched once, as the eval runner does;
then `rag.confidence.judge` decides it at each operating point. An operating point shifts the decision's
strictness constants together by `s` (rag/confidence.py: THRESHOLD, LOOSE_DENSE, SENT_LOOSE, PHRASE_SIM,
SYNONYM): s > 0 declines more. This is a what-if study of the shipped rule, not a setting of the product.

Families group by their held-out set: `u*` (`unear`, `upara`, `uspk`, `uunans`) is the seventh set, written blind
and measured once before anything was tuned on it (README, *Evaluating*, has that measurement); earlier letters
(`v`, `w`, `x`, `y`, `z`) were blind once and have been tuned on since; the rest were tuned on from the start
(`near`, `para`, `spk`, `unans`, ...) or, like `hnear`/`hpara` (held out from the first round only), long since.

Writes bench/results/decline_tradeoff.json and bench/results/decline_tradeoff.png. The indexes' stored vectors
are only read (a stale lexical index is rebuilt in the index folder, as any search does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import save_result  # noqa: E402

OUT = ROOT / "bench/results/decline_tradeoff.json"
PICTURE = ROOT / "bench/results/decline_tradeoff.png"
STRICTNESS = (-0.08, -0.04, 0.0, 0.04, 0.08, 0.12)  # shifts of the constants below; 0 = the shipped rule
KNOBS = ("THRESHOLD", "LOOSE_DENSE", "SENT_LOOSE", "PHRASE_SIM", "SYNONYM")
HELD_OUT = "xyzwvu"  # letters of the held-out sets, oldest first ... newest
KINDS = ("near", "para", "spk", "unans")
GOAL_DECLINED, GOAL_WRONG = 0.90, 0.05


def held_out_set(family: str) -> str:
    """The held-out set a family belongs to ("u" for `unear`), or "tuned" for the families tuned on for rounds
    (`near`, `para`, `unans`, and `hnear`/`hpara`, held out from the first round only)."""
    if len(family) > 1 and family[0] in HELD_OUT and family[1:] in KINDS:
        return family[0]
    return "tuned"


@contextmanager
def strictness(shift: float) -> Iterator[None]:
    """The decision's constants shifted by `shift` for the duration (restored after)."""
    from rag import confidence

    old = {k: getattr(confidence, k) for k in KNOBS}
    try:
        for k, v in old.items():
            setattr(confidence, k, v + shift)
        yield
    finally:
        for k, v in old.items():
            setattr(confidence, k, v)


def searched(dataset: Path, index: Path) -> list[dict[str, Any]]:
    """Every text case of the dataset with its search result and the index's idf (searched once)."""
    from eval.datasets import load_dataset
    from rag.factory import build
    from rag.index import read_meta
    from rag.retrieval import Query
    from rag.settings import load_settings

    data = load_dataset(dataset)
    meta = read_meta(index)  # the index's own chunking settings (a spoken index is built without OCR)
    services = build(load_settings(index_dir=index, chunking=meta.chunking if meta else None))
    k = services.settings.retrieval.k
    rows = []
    for case in data.cases:
        if case.image is not None or not case.question:
            continue
        result = services.retriever.search(Query(text=case.question), k)
        rows.append({"id": case.id, "family": case.family, "unanswerable": case.unanswerable, "result": result,
                     "idf": services.retriever.idf})
    return rows


def tally(rows: Sequence[dict[str, Any]], shift: float) -> dict[str, dict[str, int]]:
    """Per held-out set (and "all"): neighbouring questions declined / asked, answerable ones declined / asked."""
    from rag.confidence import judge

    out: dict[str, dict[str, int]] = {}
    with strictness(shift):
        for r in rows:
            declined = not judge(r["result"], weight=r["idf"]).answerable
            for key in (held_out_set(r["family"]), "all"):
                t = out.setdefault(key, {"near": 0, "near_declined": 0, "answerable": 0, "wrongly_declined": 0})
                if r["unanswerable"]:
                    t["near"] += 1
                    t["near_declined"] += declined
                else:
                    t["answerable"] += 1
                    t["wrongly_declined"] += declined
    return out


def rates(t: dict[str, int]) -> tuple[float, float]:
    """(wrongly declined share, declined share) of one tally."""
    return t["wrongly_declined"] / max(t["answerable"], 1), t["near_declined"] / max(t["near"], 1)


def draw(points: dict[str, dict[str, dict[str, int]]], out: Path) -> None:
    """Declined vs wrongly declined: one line per set over the strictness shifts, the shipped rule marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.2), dpi=110)
    ax.add_patch(plt.Rectangle((0, GOAL_DECLINED), GOAL_WRONG, 1 - GOAL_DECLINED, color="#2e7d32", alpha=0.15,
                               label="issue 12's goal"))
    sets = sorted({k for p in points.values() for k in p}, key=lambda k: ("tuned", *HELD_OUT, "all").index(k))
    for key in sets:
        xs, ys = zip(*(rates(points[s][key]) for s in points), strict=True)
        blind = key == HELD_OUT[-1]
        label = {"tuned": "tuned on (the first families, h*)", "all": "all families"}.get(
            key, f"{key}* (newest held-out set)" if blind else f"{key}* (held out once, tuned on since)")
        style = {"all": dict(color="black", lw=2.2), "tuned": dict(color="#1565c0", lw=1.6)}.get(
            key, dict(color="#c62828", lw=2.2) if blind else dict(color="grey", lw=0.9, alpha=0.7))
        ax.plot(xs, ys, marker=".", label=label, **style)  # type: ignore[arg-type]
        x0, y0 = rates(points["0.0"][key])
        ax.plot([x0], [y0], marker="o", ms=8, color=style["color"], mfc="white", mew=2)
        ax.annotate(key, (x0, y0), textcoords="offset points", xytext=(6, -10), fontsize=8, color=style["color"])
    ax.set_xlabel("answerable questions wrongly declined (share)")
    ax.set_ylabel("neighbouring-topic questions declined (share)")
    ax.set_title("Declining: each line sweeps the rule's strictness; circles = the shipped rule", fontsize=10)
    ax.set_xlim(0, max(0.3, ax.get_xlim()[1]))
    ax.set_ylim(min(0.5, ax.get_ylim()[0]), 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", required=True, metavar="YAML=DIR",
                   help="an eval dataset and an index of its course (repeat for several)")
    p.add_argument("--picture", type=Path, default=PICTURE)
    args = p.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()
    rows: list[dict[str, Any]] = []
    for spec in args.run:
        yaml_path, _, index = spec.partition("=")
        if not index:
            p.error(f"--run {spec!r}: write it as DATASET.yaml=INDEX_DIR")
        rows += searched(Path(yaml_path), Path(index))
    t_search = time.perf_counter() - t0
    points = {str(s): tally(rows, s) for s in STRICTNESS}
    draw(points, args.picture)
    res = {"runs": args.run, "strictness": list(STRICTNESS), "knobs": list(KNOBS), "cases": len(rows),
           "points": points, "search_wall_s": round(t_search, 1), "wall_s": round(time.perf_counter() - t0, 1),
           "cpu_s": round(time.process_time() - c0, 1), "load_avg": [round(x, 2) for x in os.getloadavg()]}
    save_result(OUT, res, "python -m bench.decline_tradeoff --run YAML=INDEX ...", echo=False)
    print(f"{'set':6s} {'s':>6s} {'declined':>14s} {'wrongly':>14s}")
    for s, per in points.items():
        for key, t in per.items():
            w, d = rates(t)
            print(f"{key:6s} {s:>6s} {t['near_declined']:4d}/{t['near']:<4d}{d:5.3f} "
                  f"{t['wrongly_declined']:4d}/{t['answerable']:<4d}{w:5.3f}")
    print(f"picture: {args.picture}")


if __name__ == "__main__":
    main()
