"""Query latency at 1k / 10k / 100k chunks: cold (a new process, as a CLI call) and warm, p50/p95,
text / image / text+image, embedded Chroma and (at the largest size) a `chroma run` server on loopback.

The index is synthetic: one 384-d random unit vector per chunk (MiniLM's dimension; the query is embedded
by the real offline MiniLM), texts of 40-80 words drawn Zipf-like from a 20k-word vocabulary, 70 % video
segments (`seg` views) and 30 % PDF pages (`p<n>` views). "image" times the retrieval side of an image
query with a stand-in image search that returns 10 stored keyframe/page ids (the ORB/RANSAC search over
the picture index is measured by bench/image_query.py and adds its own p95).

Baseline in the same run: the lexical side as it was before the on-disk index, i.e. every stored view
read from Chroma and BM25 built in memory at the first query of every process (`rebuild`).
Built indexes are cached under bench/.cache/query_latency/ (gitignored).

    python -m bench.query_latency [--sizes 1000,10000,100000] [--cold-runs 5] [--no-server]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import save_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench/.cache/query_latency"
OUT = ROOT / "bench/results/query_latency.json"
DIM = 384
FP = "benchquery"
QUERIES = ("how does the discount factor weight future rewards", "gradient descent learning rate schedule",
           "what is a convolution kernel", "explain k-means centroid initialisation",
           "bias variance trade-off in regression", "attention heads in a transformer",
           "dropout as regularisation", "bellman equation for the value function")


def _vocab(n: int = 20_000) -> list[str]:
    rng = random.Random(1)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "fi", "gu", "ha", "je", "ku"]
    real = " ".join(QUERIES).replace("-", " ").split()
    words = list(dict.fromkeys(real))
    while len(words) < n:
        words.append("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return words


def _chunks(n: int, dim: int = DIM):
    """(chunk, view, vector) triples, deterministic."""
    from rag.types import Chunk, EmbedItem, PageSpan, TimeSpan, View

    rng = np.random.default_rng(n)
    vocab = np.array(_vocab())
    zipf = 1 / np.arange(1, len(vocab) + 1) ** 1.05
    zipf /= zipf.sum()
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i in range(n):
        text = " ".join(rng.choice(vocab, size=int(rng.integers(40, 81)), p=zipf))
        if i % 10 < 7:
            lec, k = divmod(i, 300)
            chunk = Chunk(id=f"v{i:06d}", source=f"lectures/lecture{lec:03d}.mp4", source_sha256="b" * 64,
                          kind="video", title=f"Lecture {lec}", locator=TimeSpan(start_s=k * 20.0, end_s=k * 20.0 + 20),
                          text=text)
            view = View(name="seg", item=EmbedItem(text=text), text=text)
        else:
            deck, page = divmod(i, 200)
            chunk = Chunk(id=f"d{i:06d}", source=f"slides/deck{deck:03d}.pdf", source_sha256="c" * 64, kind="pdf",
                          title=f"deck{deck}", locator=PageSpan(first=page + 1, last=page + 1), text=text,
                          page_texts=(text,))
            view = View(name=f"p{page + 1}", item=EmbedItem(text=text), page=page + 1, text=text)
        yield chunk, view, vecs[i]


def build(n: int, dim: int = DIM, cache: Path = CACHE) -> tuple[Path, dict]:
    """The cached index of n chunks (built once), and how long building took."""
    from rag.lexical_index import LexicalIndex
    from rag.store import ChromaStore

    d = cache / (str(n) if dim == DIM else f"{n}x{dim}")
    stamp = d / "built.json"
    if stamp.is_file():
        return d, json.loads(stamp.read_text())
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    store = ChromaStore(d, FP)
    batch = []
    for chunk, view, vec in _chunks(n, dim):
        batch.append((chunk, [view], [vec]))
        if len(batch) == 5000:
            store.add_many(batch)
            batch = []
    store.add_many(batch)
    t_store = time.perf_counter() - t0
    t1 = time.perf_counter()
    LexicalIndex.build(store.all_views(), store.count()).save(d)
    info = {"store_s": round(t_store, 1), "lexical_build_s": round(time.perf_counter() - t1, 1),
            "disk_mb": round(sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6, 1)}
    stamp.write_text(json.dumps(info))
    return d, info


# ---------------------------------------------------------------- the probe (runs in a new process)


def probe(index: Path, url: str | None, mode: str, warm: int) -> dict:
    """One cold start + first query, then `warm` queries per kind, in this process."""
    t_start = float(os.environ.get("BENCH_T0", time.time()))
    from rag.embedders.local import LocalEmbedder
    from rag.lexical_index import LexicalIndex
    from rag.retrieval import Query, Retriever
    from rag.settings import RetrievalSettings
    from rag.store import ChromaStore

    if mode == "rebuild":  # the old behaviour: nothing on disk, every view read at the first query
        LexicalIndex.load = classmethod(lambda cls, d: None)  # type: ignore[method-assign]
        LexicalIndex.save = lambda self, d: None  # type: ignore[method-assign]
    t_imports = time.time()
    store = ChromaStore(index, FP, url=url)
    ids = [f"v{i:06d}:seg" if i % 10 < 7 else f"d{i:06d}:p{i % 200 + 1}" for i in range(0, store.count(), 97)]
    rng = random.Random(0)

    def image_search(_img: bytes, n: int) -> list[tuple[str, float]]:
        return [(vid, 0.9 - 0.01 * k) for k, vid in enumerate(rng.sample(ids, min(10, len(ids))))]

    retriever = Retriever(store, LocalEmbedder(), RetrievalSettings(), image_search=image_search)
    t0 = time.time()
    first = retriever.search(Query(text=QUERIES[0])).hits
    t1 = time.time()
    out = {"imports_s": t_imports - t_start, "open_s": t0 - t_imports, "first_query_s": t1 - t0,
           "cold_total_s": t1 - t_start, "hits": len(first)}
    if warm:
        for kind in ("text", "image", "text+image"):
            times = []
            for k in range(warm):
                q = Query(text=QUERIES[k % len(QUERIES)] if kind != "image" else None,
                          image=b"jpeg" if kind != "text" else None)
                ts = time.perf_counter()
                retriever.search(q)
                times.append(time.perf_counter() - ts)
            out[f"warm_{kind}_ms"] = _pcts([t * 1000 for t in times])
    return out


def _pcts(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return {"p50": round(statistics.median(xs), 1), "p95": round(p95, 1), "n": len(xs)}


def _run_probe(index: Path, url: str | None, mode: str, warm: int) -> dict:
    env = {**os.environ, "BENCH_T0": repr(time.time()), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "bench.query_latency", "--probe", str(index), "--mode", mode, "--warm", str(warm)]
    if url:
        cmd += ["--url", url]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"probe failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _server(path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("chroma run did not start within 120 s")


def _cold(index: Path, url: str | None, mode: str, runs: int) -> dict:
    res = [_run_probe(index, url, mode, 0) for _ in range(runs)]
    return {"cold_total_s": _pcts([r["cold_total_s"] for r in res]),
            "first_query_s": _pcts([r["first_query_s"] for r in res]),
            "open_s": round(statistics.median(r["open_s"] for r in res), 3),
            "imports_s": round(statistics.median(r["imports_s"] for r in res), 3)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--warm", type=int, default=40)
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--probe")
    ap.add_argument("--mode", default="disk")
    ap.add_argument("--url")
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(Path(args.probe), args.url, args.mode, args.warm)))
        return {}
    results: dict = {"load_avg_start": os.getloadavg(), "cpus": os.cpu_count(), "dim": DIM, "sizes": {}}
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        index, built = build(n)
        r: dict = {"built": built}
        r["embedded"] = {"disk": {**_cold(index, None, "disk", args.cold_runs),
                                  **{k: v for k, v in _run_probe(index, None, "disk", args.warm).items()
                                     if k.startswith("warm_")}},
                         "rebuild (before)": _cold(index, None, "rebuild", max(1, args.cold_runs - 1))}
        a, b = r["embedded"]["rebuild (before)"]["cold_total_s"]["p50"], r["embedded"]["disk"]["cold_total_s"]["p50"]
        r["embedded"]["cold_speedup"] = round(a / b, 2)
        if n == max(sizes) and not args.no_server:
            proc, url = _server(index / "chroma")
            try:
                r["server"] = {"disk": {**_cold(index, url, "disk", args.cold_runs),
                                        **{k: v for k, v in _run_probe(index, url, "disk", args.warm).items()
                                           if k.startswith("warm_")}}}
            finally:
                proc.terminate()
                proc.wait(30)
        results["sizes"][str(n)] = r
        print(n, json.dumps(r))
    note = ("machine shared with ~6 engineers' processes (see load_avg); run under nice -n 10; "
            "1 vector per chunk; image = retrieval side with a stand-in image search")
    return save_result(OUT, results, note)


if __name__ == "__main__":
    main()
