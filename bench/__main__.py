"""`make bench` (`python -m bench`): run the benchmarks of issue 9 in order, time each, write JSON + a short
table to bench/results/ (summary.md, with each benchmark's wall and CPU time and the total).

    python -m bench                      # the issue-9 run (budget: 20 min on 2 cores, built indexes cached)
    python -m bench query_latency        # one benchmark (comma-separate several); `all` adds the extras
    python -m bench --list               # what runs, in which order
"""

from __future__ import annotations

import importlib
import os
import resource
import sys
import time
import traceback
from pathlib import Path

from bench import RUN_FILE, save_result

# The run order of `make bench`: the benchmarks of issue 9 (its numbers in brackets).
ISSUE_9 = (
    ("ingest_throughput", "offline ingest of a generated capture course + re-ingest (1, 2)"),
    ("llamaindex_baseline", "LlamaIndex default pipeline vs LectureLens on the sample course (4)"),
    ("gemini_concurrency", "Gemini embedding via the fake server at concurrency 1/4/8/16 (5)"),
    ("image_query", "image query with verification over a 10-hour course's pictures (3, image target)"),
    ("query_latency", "query latency 1k/10k/100k chunks, cold and warm, embedded and Chroma server (3)"),
    ("bytes_per_chunk", "bytes per chunk on disk and in RAM at 384-3072 dimensions (6)"),
    ("segment", "segmentation of a two-hour lecture"),
)
# Slower quality studies of other issues: run by name, or with `all`.
EXTRAS = (
    ("devcorpus_images", "photo -> page and frame -> page on the dev-corpus decks"),
    ("image_match", "which-slide-is-this-photo accuracy and speed"),
    ("transcribe", "offline speech-to-text speed and WER (about half an hour on 2 cores)"),
)
BUDGET_S = 20 * 60


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (benchmarks run probes as subprocesses)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run_one(name: str) -> dict:
    mod = importlib.import_module(f"bench.{name}")
    t0, c0 = time.perf_counter(), _cpu_s()
    status = "ok"
    try:
        mod.main([]) if "argv" in mod.main.__code__.co_varnames else mod.main()
    except Exception:  # one failing benchmark must not lose the others' results
        traceback.print_exc()
        status = "failed"
    return {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(_cpu_s() - c0, 1), "status": status,
            "load_avg_end": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    known = dict(ISSUE_9 + EXTRAS)
    if "--list" in args:
        for name, what in ISSUE_9 + EXTRAS:
            print(f"{name:<20} {what}{'' if name in dict(ISSUE_9) else '  (extra)'}")
        return 0
    if not args:
        names = [n for n, _ in ISSUE_9]
    elif args[0] == "all":
        names = [n for n, _ in ISSUE_9 + EXTRAS]
    else:
        names = args[0].split(",")
        unknown = [n for n in names if n not in known]
        if unknown:
            print(f"unknown benchmark(s) {', '.join(unknown)}; `python -m bench --list` shows them", file=sys.stderr)
            return 2
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    run: dict = {"load_avg_start": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
                 "benchmarks": {}}
    t0, c0 = time.perf_counter(), _cpu_s()
    for name in names:
        print(f"== bench.{name}: {known[name]}", flush=True)
        run["benchmarks"][name] = _run_one(name)
        print(f"== bench.{name}: {run['benchmarks'][name]}", flush=True)
    run["total_wall_s"] = round(time.perf_counter() - t0, 1)
    run["total_cpu_s"] = round(_cpu_s() - c0, 1)
    run["budget_s"] = BUDGET_S
    run["full_run"] = names == [n for n, _ in ISSUE_9]
    if run["full_run"]:  # the summary shows the times of the last full run; a partial run only prints its own
        save_result(results / f"{RUN_FILE}.json", run, "python -m bench (the issue-9 run)")
    else:
        print(f"== times of this partial run (not saved): {run}")
    from bench import summary

    summary.main()
    return 0 if all(r["status"] == "ok" for r in run["benchmarks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
