"""bench/results/summary.md: one markdown table of the headline numbers of every results JSON (run last)."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict:
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def _fmt(x) -> str:
    return "–" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def rows() -> list[tuple[str, str, str, str]]:
    """(benchmark, measure, before / baseline, after)"""
    out: list[tuple[str, str, str, str]] = []
    ing = _load("ingest_throughput")
    if ing:
        a, c = ing["after"], ing["course"]
        out.append(("ingest", f"{c['video_s'] / 60:g} min 25 fps 720p video + {c['pages']} pages, --deck-text: "
                    "real-time factor",
                    "", f"{a['real_time_factor']}x ({a['wall_s']} s)"))
        out.append(("ingest", "video seconds per CPU second of the ingest process", "",
                    f"{a['video_s_per_cpu_s']} ({a['cpu_s']} CPU s)"))
        out.append(("ingest", "PDF pages/s", "", _fmt(a.get("pages_per_s"))))
        out.append(("ingest", "peak RSS MB", "", _fmt(ing.get("peak_rss_mb"))))
        out.append(("ingest", "stage wall s (CPU s)", "",
                    ", ".join(f"{k} {v} ({a['stages_cpu_s'].get(k)})" for k, v in a["stages_s"].items())))
        out.append(("ingest", "re-ingest unchanged, s", "", _fmt(ing["reingest_unchanged"]["wall_s"])))
        one = ing.get("one_lecture")
        if one:
            out.append(("ingest", f"one lecture ({one['video_s'] / 60:g} min), --deck-text: wall s / real-time factor",
                        f"{one['before']['wall_s']} / {one['before']['real_time_factor']}x",
                        f"{one['after']['wall_s']} / {one['after']['real_time_factor']}x ({one['speedup']}x faster)"))
            d = one["after_default"]
            out.append(("ingest", "one lecture, default (no --deck-text): wall s / CPU s / OCR s",
                        "", f"{d['wall_s']} / {d['cpu_s']} / {d['stages_s'].get('ocr', 0.0)}"))
            out.append(("ingest", "one lecture: CPU s", _fmt(one["before"]["cpu_s"]),
                        f"{one['after']['cpu_s']} ({one['cpu_speedup']}x less)"))
            out.append(("ingest", "one lecture: OCR s", _fmt(one["before"]["stages_s"].get("ocr")),
                        _fmt(one["after"]["stages_s"].get("ocr", 0.0))))
    one = _load("ingest_one_lecture")
    if one:
        b = one["before"]
        for key in ("default", "after"):
            r = one[key]
            out.append(("ingest, one 4-min lecture", f"{r['label']}: CPU s / wall s / OCR CPU s",
                        f"{b['cpu_s']} / {b['wall_s']} / {b['stages_cpu_s'].get('ocr', 0.0)}",
                        f"{r['cpu_s']} / {r['wall_s']} / {r['stages_cpu_s'].get('ocr', 0.0)}"))
    q = _load("query_latency")
    for n, r in q.get("sizes", {}).items():
        e = r["embedded"]
        out.append(("query", f"{int(n):,} chunks, embedded: cold start + first query p50 s",
                    _fmt(e["rebuild (before)"]["cold_total_s"]["p50"]), _fmt(e["disk"]["cold_total_s"]["p50"])))
        for kind in ("text", "image", "text+image"):
            w = e["disk"].get(f"warm_{kind}_ms")
            if w:
                out.append(("query", f"{int(n):,} chunks, embedded: warm {kind} p50 / p95 ms", "",
                            f"{w['p50']} / {w['p95']}"))
        s = r.get("server", {}).get("disk")
        if s:
            out.append(("query", f"{int(n):,} chunks, chroma server: cold p50 s / warm text p50/p95 ms", "",
                        f"{s['cold_total_s']['p50']} / {s['warm_text_ms']['p50']}/{s['warm_text_ms']['p95']}"))
    b = _load("bytes_per_chunk")
    for dim, r in b.get("dims", {}).items():
        out.append(("size", f"{dim}-d: bytes per chunk disk / RAM; video hours per 8 GB RAM", "",
                    f"{r['disk_bytes_per_chunk']} / {r['ram_bytes_per_chunk']}; {r['video_hours_per_8gb_ram']} h"))
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


def main() -> None:
    lines = ["| benchmark | measure | before / baseline | after |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows()]
    loads = {name: _load(name).get("load_avg_start") or _load(name).get("load_avg_at_write") for name in
             ("ingest_throughput", "query_latency", "bytes_per_chunk", "gemini_concurrency", "llamaindex_baseline",
              "ingest_one_lecture")}
    lines += ["", "Load average (1/5/15 min) when each started — the 2-core machine was shared: "
              + "; ".join(f"{k} {tuple(round(x, 1) for x in v)}" for k, v in loads.items() if v)
              + " (ingest_one_lecture and query_latency record the load when written)"]
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
