"""Query latency at 1k / 10k / 100k chunks: cold (a new `lecturelens search` process, start to first result)
and warm (queries in one live process), p50/p95, text / image / text+image, embedded Chroma and, at the
largest size, a `chroma run` server on loopback (`store.url`).

The index is synthetic (bench/synthetic_index.py): one 384-d random unit vector per chunk (MiniLM's
dimension; queries are embedded by the real offline MiniLM), texts of 40-80 words drawn Zipf-like from a
20k-word vocabulary, 70 % video segments and 30 % PDF pages, written through `ChromaStore` in batches of
5,000 with the on-disk lexical index, and an `index.json` for the offline embedder, so the real CLI opens it.
Image queries are real: the index carries bench/image_query.py's picture index (500 page renders + 3,000
keyframes, a 10-hour course) keyed to stored views, and the queries are distorted phone photos of those
pages, so an image query's time includes the ORB shortlist, RANSAC verification, and the text side over
the whole index with the matched slide's words.

Baseline in the same run: the lexical side as it was before the on-disk index, i.e. every stored view read
from Chroma and BM25 built in memory at the first query of every process (`rebuild`).
Built indexes are cached under bench/.cache/query_latency/ (gitignored), keyed by size, dimension, generator
version and fingerprint; the JSON reports how long the build took.

    python -m bench.query_latency [--sizes 1000,10000,100000] [--cold-runs 3] [--warm 30] [--no-server]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import save_result  # noqa: E402
from bench.synthetic_index import QUERIES, attach_pictures, build, photos  # noqa: E402

OUT = ROOT / "bench/results/query_latency.json"
KINDS = ("text", "image", "text+image")
TARGETS = {"warm_text_p95_ms_at_100k": 150, "image_p95_ms": 1000, "cold_start_s_at_100k": 3.0}


def _env(url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.update(PYTHONPATH=str(ROOT), LECTURELENS_EMBEDDING__PROVIDER="local",
               LECTURELENS_CONFIG=str(ROOT / "config.yaml"))
    if url:
        env["LECTURELENS_STORE__URL"] = url
    else:
        env.pop("LECTURELENS_STORE__URL", None)
    return env


def _args(kind: str, k: int) -> list[str]:
    text = [QUERIES[k % len(QUERIES)]] if kind != "image" else []
    image = ["--image", str(photos()[k % len(photos())][1])] if kind != "text" else []
    return text + image


# ---------------------------------------------------------------- cold: the real CLI in a new process


def cold_once(index: Path, url: str | None, kind: str, k: int) -> dict:
    """Spawn `lecturelens search --json`: seconds until its first byte of output, and its CPU seconds."""
    cmd = [sys.executable, "-c", "from rag.cli import main; main()", "search", *_args(kind, k), "--index", str(index),
           "--json"]
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        # Unbuffered: the first byte is read alone; the child is reaped with wait4 for its own rusage.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=_env(url), cwd=ROOT, bufsize=0)
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        t_first = time.perf_counter() - t0
        out = first + proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        if proc.returncode != 0 or not first:
            raise RuntimeError(f"lecturelens search failed ({proc.returncode}): {err.read().decode()[-2000:]}")
    hits = json.loads(out)["hits"]
    # (not ru_maxrss: after fork + exec it reports the forking bench process's size; the probe reads its RSS)
    return {"s": t_first, "cpu_s": usage.ru_utime + usage.ru_stime, "hits": len(hits)}


def cold(index: Path, url: str | None, runs: int) -> dict:
    out: dict = {}
    for kind in KINDS:
        # image starts cost twice a text start: one run fewer keeps the whole benchmark in its budget
        res = [cold_once(index, url, kind, k) for k in range(runs if kind == "text" else max(1, runs - 1))]
        if not all(r["hits"] for r in res):
            raise RuntimeError(f"a cold {kind} search on {index} returned no hits")
        out[kind] = {"s": _pcts([r["s"] for r in res]), "cpu_s": _pcts([r["cpu_s"] for r in res])}
    return out


# ---------------------------------------------------------------- warm: one live process (the probe)


def probe(index: Path, mode: str, warm: int) -> dict:
    """In this (new) process: open the index as the CLI does, time the first query's parts, then `warm`
    queries of each kind."""
    t_start = float(os.environ.get("BENCH_T0", time.time()))
    from rag.factory import build as services_for
    from rag.lexical_index import LexicalIndex
    from rag.retrieval import Query
    from rag.settings import load_settings

    if mode == "rebuild":  # the old behaviour: nothing on disk, every view read at the first query
        LexicalIndex.load = classmethod(lambda cls, d: None)  # type: ignore[method-assign]
        LexicalIndex.save = lambda self, d: None  # type: ignore[method-assign]
    t_imports = time.time()
    services = services_for(load_settings(index_dir=index))
    retriever = services.retriever
    t_open = time.time()
    first = retriever.search(Query(text=QUERIES[0])).hits
    t_first = time.time()
    out: dict = {"imports_s": t_imports - t_start, "open_s": t_open - t_imports, "first_query_s": t_first - t_open,
                 "cold_total_s": t_first - t_start, "hits": len(first), "rss_after_text_query_mb": _rss_mb(os.getpid())}
    if not warm:
        return out
    pics = [(page, path.read_bytes()) for page, path in photos()]
    # Warm-up as a process that has served a few image queries: the picture index's search tables are built
    # (first search) and the OCR models loaded (first photo that matches no stored picture is read).
    retriever.search(Query(image=pics[0][1]))
    if retriever.image_text is not None:
        retriever.image_text(pics[0][1])
    right, matched = 0, []
    for kind in KINDS:
        times, cpus = [], []
        # image kinds: each photo once (a photo's second search would be the same work)
        for k in range(warm if kind == "text" else min(warm, len(pics))):
            page, jpg = pics[k % len(pics)]
            q = Query(text=QUERIES[k % len(QUERIES)] if kind != "image" else None,
                      image=jpg if kind != "text" else None)
            t, c = time.perf_counter(), time.process_time()
            hits = retriever.search(q).hits
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            if kind == "image":
                right += bool(hits) and hits[0].chunk.id in page
                if any(h.image_rank is not None for h in hits):  # a verified picture match (else it was OCR'd)
                    matched.append(times[-1])
        out[f"warm_{kind}_ms"] = _pcts([t * 1000 for t in times])
        out[f"warm_{kind}_cpu_ms"] = _pcts([t * 1000 for t in cpus])
    out["image_top1_right"] = round(right / min(warm, len(pics)), 3)
    out["warm_image_matched_ms"] = _pcts([t * 1000 for t in matched]) if matched else None
    return out


def _pcts(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return {"p50": round(statistics.median(xs), 3), "p95": round(p95, 3), "n": len(xs)}


def run_probe(index: Path, url: str | None, mode: str, warm: int) -> dict:
    env = {**_env(url), "BENCH_T0": repr(time.time())}
    cmd = [sys.executable, "-m", "bench.query_latency", "--probe", str(index), "--mode", mode, "--warm", str(warm)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"probe failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- a Chroma server on loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(path: Path) -> tuple[subprocess.Popen, str]:
    """`chroma run` (the CLI the chromadb package ships) on a free loopback port, serving `path`."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with {proc.returncode} (serving {path})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("chroma run did not start within 120 s")


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a running process (the Chroma server after the queries)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return None


def _measure(index: Path, url: str | None, cold_runs: int, warm: int) -> dict:
    warm_res = run_probe(index, url, "disk", warm)
    return {"cold": cold(index, url, cold_runs),
            "open": {k: round(warm_res[k], 3) for k in ("imports_s", "open_s", "first_query_s", "cold_total_s")},
            "rss_after_text_query_mb": warm_res.get("rss_after_text_query_mb"),
            **{k: v for k, v in warm_res.items() if k.startswith(("warm_", "image_"))}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--warm", type=int, default=30)
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--probe")
    ap.add_argument("--mode", default="disk")
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(Path(args.probe), args.mode, args.warm)))
        return {}
    t0 = time.perf_counter()
    results: dict = {"load_avg_start": os.getloadavg(), "cpus": os.cpu_count(), "targets": TARGETS, "sizes": {}}
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        index, built = build(n)
        attach_pictures(index)
        r: dict = {"built": built, "embedded": _measure(index, None, args.cold_runs, args.warm)}
        before = run_probe(index, None, "rebuild", 0)
        r["rebuild (before)"] = {k: round(before[k], 3) for k in ("open_s", "first_query_s", "cold_total_s")}
        if n == max(sizes) and not args.no_server:
            # The server gets its own copy: it may compact or rewrite files, and the cache stays as built.
            served = index.parent / f"{index.name}.served"
            shutil.rmtree(served, ignore_errors=True)
            shutil.copytree(index / "chroma", served)
            proc, url = start_server(served)
            try:
                r["server"] = _measure(index, url, args.cold_runs, args.warm)
                r["server"]["server_rss_mb"] = _rss_mb(proc.pid)
            finally:
                proc.terminate()
                proc.wait(30)
                shutil.rmtree(served, ignore_errors=True)
        results["sizes"][str(n)] = r
        print(n, json.dumps(r), flush=True)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    note = ("shared 2-core machine (see load_avg); cold = `lecturelens search --json` spawned until its first "
            "byte of output; warm = the same wiring (rag.factory.build) in one process; image = real picture "
            "search + verification over 3,500 pictures, text side over the whole index")
    return save_result(OUT, results, note)


if __name__ == "__main__":
    main()
