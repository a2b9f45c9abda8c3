"""bench/results/summary.md: one markdown table of the headline numbers of every results JSON (run last)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import RUN_FILE

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict:
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def _fmt(x) -> str:
    return "–" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def rows() -> list[tuple[str, str, str, str]]:
    """(benchmark, measure, before / baseline, after)"""
    out: list[tuple[str, str, str, str]] = []
    out += ingest_rows(_load("ingest_throughput"))
    one = _load("ingest_one_lecture")
    if one:
        b = one["before"]
        for key in ("default", "after"):
            r = one[key]
            out.append(("ingest, one 4-min lecture", f"{r['label']}: CPU s / wall s / OCR CPU s",
                        f"{b['cpu_s']} / {b['wall_s']} / {b['stages_cpu_s'].get('ocr', 0.0)}",
                        f"{r['cpu_s']} / {r['wall_s']} / {r['stages_cpu_s'].get('ocr', 0.0)}"))
    out += query_rows(_load("query_latency"))
    b = _load("bytes_per_chunk")
    for dim, r in b.get("dims", {}).items():
        out.append(("size", f"{dim}-d: bytes per chunk on disk / in RAM (raw vector {r['raw_vector_bytes']})", "",
                    f"{r['disk_bytes_per_chunk']} / {r['ram_bytes_per_chunk']}"))
        out.append(("size", f"{dim}-d: one 24 GB machine holds (RAM; 4 GB kept for the rest)", "",
                    f"{r['chunks_per_24gb_machine']:,} chunks = {r['video_hours_per_24gb_machine']:,} h of video "
                    f"({r['ram_mb_per_video_hour']} MB RAM per hour incl. pictures)"))
    if b.get("pictures"):
        p = b["pictures"]
        out.append(("size", "picture index (image search): bytes per picture on disk / in RAM", "",
                    f"{p['disk_bytes_per_picture']} / {p['ram_bytes_per_picture']}"))
    iq = _load("image_query")
    if iq:
        out.append(("image query", f"{iq['entries']:,} pictures: picture search (ORB shortlist + RANSAC) p50 / p95 ms",
                    f"{iq['baseline_exhaustive_ms_estimate']:g} (every picture verified)",
                    f"{iq['search_ms_median']:g} / {iq['search_ms_p95']:g}"))
        out.append(("image query", "whole query p50 / p95 ms: photo of a course slide; of an unknown slide (+ OCR)", "",
                    f"{iq['matched_query_ms_median']:g} / {iq['matched_query_ms_p95']:g}; "
                    f"{iq['unmatched_query_ms_median']:g} / {iq['unmatched_query_ms_p95']:g} (budget 1000)"))
    g = _load("gemini_concurrency")
    for c, r in g.get("levels", {}).items():
        out.append(("gemini fake 300 ms", f"concurrency {c}: wall s ({g['items']} items)", "",
                    f"{r['wall_s']} ({r['speedup_vs_1']}x)"))
    li = _load("llamaindex_baseline")
    if li:
        out.append(("vs LlamaIndex", "ingest s (LlamaIndex: PDFs + captions only)", _fmt(li["llamaindex"]["ingest_s"]),
                    _fmt(li["lecturelens"]["ingest_s"])))
        out.append(("vs LlamaIndex", f"hit@5 / hit@1 on {li['cases']} text cases",
                    f"{li['llamaindex']['hit@5']} / {li['llamaindex']['hit@1']}",
                    f"{li['lecturelens']['hit@5']} / {li['lecturelens']['hit@1']}"))
    return out


def ingest_rows(ing: dict) -> list[tuple[str, str, str, str]]:
    """Ingest throughput rows (bench/ingest_throughput.py): the whole course, re-ingest, one lecture before/after."""
    if not ing:
        return []
    out: list[tuple[str, str, str, str]] = []
    a, c = ing["course_ingest"], ing["course"]
    what = f"{c['video_s'] / 60:g} min of 25 fps 720p video ({c['lectures']} lectures) + {c['pages']} PDF pages"
    out.append(("ingest", f"{what}: real-time factor (wall) / video s per CPU s", "",
                f"{a['real_time_factor']}x ({a['wall_s']} s) / {a['video_s_per_cpu_s']} ({a['cpu_s']} CPU s)"))
    out.append(("ingest", "PDF pages/s / peak RSS MB", "", f"{_fmt(a.get('pages_per_s'))} / {_fmt(a['peak_rss_mb'])}"))
    out.append(("ingest", "stage wall s, summed over threads (thread CPU s)", "",
                ", ".join(f"{k} {v} ({a['stages_thread_cpu_s'].get(k)})" for k, v in a["stages_s"].items())))
    r = ing["reingest_unchanged"]
    out.append(("ingest", "re-ingest of the unchanged course: ingest s / whole process s", "",
                f"{r['ingest_paths_s']} / {r['process_wall_s']}"))
    one = ing.get("one_lecture")
    if one:
        b, n = one["before"], one["after"]
        out.append(("ingest", f"one lecture ({one['video_s'] / 60:g} min + its {one['pages']}-page deck), "
                    f"main at {one['before_ref']} vs now: wall s / CPU s / real-time factor",
                    f"{b['wall_s']} / {b['cpu_s']} / {b['real_time_factor']}x",
                    f"{n['wall_s']} / {n['cpu_s']} / {n['real_time_factor']}x "
                    f"({one['wall_speedup']}x wall, {one['cpu_speedup']}x CPU)"))
    return out


def _p(d: dict, scale: float = 1.0) -> str:
    return f"{d['p50'] * scale:g} / {d['p95'] * scale:g}"


def query_rows(q: dict) -> list[tuple[str, str, str, str]]:
    """Query latency rows: build time, cold CLI starts, warm p50/p95 per kind, embedded and server."""
    out: list[tuple[str, str, str, str]] = []
    for n, r in q.get("sizes", {}).items():
        b = r["built"]
        out.append(("query", f"{int(n):,} chunks: building the synthetic index (store + lexical), s", "",
                    f"{b['store_s']} + {b['lexical_build_s']} ({b['disk_mb']} MB)"))
        before = r.get("rebuild (before)")
        for where in ("embedded", "server"):
            e = r.get(where)
            if not e or "cold" not in e:  # absent, or written by an older version of the benchmark
                continue
            label = f"{int(n):,} chunks, {'Chroma server' if where == 'server' else 'embedded'}"
            if where == "embedded" and before:
                out.append(("query", f"{label}: new process to first answer (in-process probe), s",
                            f"{before['cold_total_s']:.2f} (BM25 rebuilt from every view)",
                            f"{e['open']['cold_total_s']:.2f} (open {e['open']['open_s']:.2f})"))
            out.append(("query", f"{label}: cold `lecturelens search` to first result p50 / p95 s, text; image; "
                        "text+image", "", "; ".join(_p(e["cold"][k]["s"]) for k in ("text", "image", "text+image"))))
            out.append(("query", f"{label}: warm p50 / p95 ms, text; image; text+image", "",
                        "; ".join(_p(e[f"warm_{k}_ms"]) for k in ("text", "image", "text+image"))))
    return out


def run_times() -> list[str]:
    """Wall and CPU seconds of each benchmark in the last full `make bench`, and the total against the budget."""
    run = _load(RUN_FILE)
    if not run:
        return []
    lines = ["", f"Run time of the last full `make bench` ({run['cpus']} cores; load average at its start "
             f"{tuple(run['load_avg_start'])}, at its end {tuple(round(x, 1) for x in run['load_avg_end'])}):", "",
             "| benchmark | wall s | CPU s | load (1 min) at its end | status |", "|---|---|---|---|---|"]
    for name, r in run["benchmarks"].items():
        lines.append(f"| {name} | {r['wall_s']} | {r['cpu_s']} | {r['load_avg_end'][0]} | {r['status']} |")
    lines.append(f"| **total** | **{run['total_wall_s']}** (budget {run['budget_s']}) | {run['total_cpu_s']} | | |")
    return lines


def main() -> None:
    lines = ["| benchmark | measure | before / baseline | after |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows()]
    loads = {name: _load(name).get("load_avg_start") or _load(name).get("load_avg_at_write") for name in
             ("ingest_throughput", "query_latency", "bytes_per_chunk", "gemini_concurrency", "llamaindex_baseline",
              "ingest_one_lecture")}
    lines += ["", "Load average (1/5/15 min) when each started — the 2-core machine was shared: "
              + "; ".join(f"{k} {tuple(round(x, 1) for x in v)}" for k, v in loads.items() if v)
              + " (ingest_one_lecture and query_latency record the load when written)"]
    lines += run_times()
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
