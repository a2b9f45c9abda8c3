"""What a declined answer's closest material is worth, on an eval set and its index: per family, how many
questions `ask` declines, how many of those list closest material (Answer.closest), and for answerable
questions wrongly declined how often an expected place is among it (a wrong decline then costs one click).
Unanswerable families show how often a right decline still points at nearby material.

    python -m bench.closest_material --index DIR [--dataset eval/datasets/devcorpus.yaml] [--families a,b]

Writes bench/results/closest_material.json (one entry per dataset name, so runs on several sets add up).
The index's stored vectors are only read, but like any search this run rebuilds and saves `<index>/lexical/`
when it is stale for the store (caption-cue windows are only loaded): point it at a copy to keep the folder
unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import save_result  # noqa: E402

OUT = ROOT / "bench/results/closest_material.json"


def measure(dataset: Path, index: Path, families: set[str] | None = None) -> dict[str, Any]:
    """Run `ask` on every text case of the dataset (searched once, as the eval runner does)."""
    from agent.answer import ask
    from eval.datasets import load_dataset
    from eval.metrics import matches
    from rag.contracts import answer_json
    from rag.factory import build
    from rag.index import read_meta
    from rag.retrieval import Query
    from rag.settings import load_settings

    data = load_dataset(dataset)
    meta = read_meta(index)  # the index's own chunking settings (a spoken index is built without OCR)
    services = build(load_settings(index_dir=index, chunking=meta.chunking if meta else None))
    k = services.settings.retrieval.k
    rows: dict[str, dict[str, Any]] = {}
    missed: list[dict[str, Any]] = []  # wrongly declined questions whose closest material lacks the expected place
    t0, c0 = time.perf_counter(), time.process_time()
    for case in data.cases:
        if case.image is not None or not case.question or (families and case.family not in families):
            continue
        row = rows.setdefault(case.family, {"unanswerable": case.unanswerable, "cases": 0, "declined": 0,
                                            "with_closest": 0, "expected_in_closest": 0,
                                            "expected_moment_in_closest": 0})
        row["cases"] += 1
        result = services.retriever.search(Query(text=case.question), k)
        ans = answer_json(ask(services, case.question, searched=result))
        if not ans["declined"]:
            continue
        row["declined"] += 1
        row["with_closest"] += bool(ans["closest"])
        if case.unanswerable:
            continue
        # a place matches on its segment, as hit@k does; `moment`: on the sentence-level span it plays from
        found = any(matches(_segment(c), e) for c in ans["closest"] for e in case.expected)
        row["expected_in_closest"] += found
        row["expected_moment_in_closest"] += any(matches(c, e) for c in ans["closest"] for e in case.expected)
        if not found:
            missed.append({"id": case.id, "question": case.question, "reason": ans.get("reason"),
                           "closest": [c["display"] for c in ans["closest"]]})
    wrong = [r for r in rows.values() if not r["unanswerable"]]
    right = [r for r in rows.values() if r["unanswerable"]]
    return {"dataset": data.name, "index": str(index), "families": rows,
            "answerable_wrongly_declined": sum(r["declined"] for r in wrong),
            "of_those_with_closest": sum(r["with_closest"] for r in wrong),
            "of_those_expected_in_closest": sum(r["expected_in_closest"] for r in wrong),
            "of_those_expected_moment_in_closest": sum(r["expected_moment_in_closest"] for r in wrong),
            "unanswerable_declined": sum(r["declined"] for r in right),
            "unanswerable_with_closest": sum(r["with_closest"] for r in right),
            "wrong_declines_missing_the_place": missed,
            "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def _segment(place: dict[str, Any]) -> dict[str, Any]:
    """A closest place's row with its whole segment as start/end (a page place as it is)."""
    seg = place.get("segment")
    return {**place, "start": seg["start"], "end": seg["end"]} if seg else place


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True,
                   help="an index of the dataset's course (its vectors are only read; a stale lexical index is "
                   "rebuilt and saved in it)")
    p.add_argument("--dataset", type=Path, default=ROOT / "eval/datasets/devcorpus.yaml")
    p.add_argument("--families", default="", help="comma-separated families (default: every text family)")
    args = p.parse_args(argv)
    res = measure(args.dataset, args.index, set(filter(None, args.families.split(","))) or None)
    old = json.loads(OUT.read_text()) if OUT.is_file() else {}
    runs = {**old.get("runs", {}), res["dataset"]: res}
    save_result(OUT, {"runs": runs}, "python -m bench.closest_material --index DIR --dataset YAML", echo=False)
    print(json.dumps({k: v for k, v in res.items() if k != "wrong_declines_missing_the_place"}, indent=1))


if __name__ == "__main__":
    main()
