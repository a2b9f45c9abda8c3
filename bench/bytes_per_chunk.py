"""Bytes per chunk on disk and in RAM at 384 / 768 / 1536 / 3072 dimensions, and so how big a course one
machine holds.

Synthetic chunks as in bench/query_latency.py (one vector and ~60 words of text per chunk) in an embedded
Chroma collection plus the on-disk lexical index. Disk: the index folder's bytes / chunks. RAM: resident
memory of a new process after opening the index and answering one query (Chroma loads the HNSW graph and
vectors; the lexical index is memory-mapped, pages it touched count) minus the same process before opening.

    python -m bench.bytes_per_chunk [--chunks 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import save_result  # noqa: E402
from bench.query_latency import FP, build  # noqa: E402

CACHE = ROOT / "bench/.cache/bytes_per_chunk"
OUT = ROOT / "bench/results/bytes_per_chunk.json"
DIMS = (384, 768, 1536, 3072)
VECTORS_PER_VIDEO_HOUR = 450  # ~180 segments/h x (segment + ~1.5 keyframe views), measured on the generated course
VECTORS_PER_PAGE = 1.2  # a page view per page + a slice view per 6 pages


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def probe(index: Path, dim: int) -> dict:
    # Libraries are imported before the baseline so only the index's own memory is counted.
    import bm25s  # noqa: F401
    import chromadb  # noqa: F401
    import llama_index.vector_stores.chroma  # noqa: F401
    import numpy as np

    from rag.lexical_index import LexicalIndex
    from rag.store import ChromaStore

    before = _rss_kb()
    store = ChromaStore(index, FP)
    store.query(np.ones(dim) / np.sqrt(dim), 10)
    lex = LexicalIndex.load(index)
    assert lex is not None
    lex.top("gradient descent learning rate", 50)
    return {"ram_kb": _rss_kb() - before}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--probe")
    ap.add_argument("--dim", type=int)
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(Path(args.probe), args.dim)))
        return {}
    res: dict = {"load_avg_start": os.getloadavg(), "chunks": args.chunks, "dims": {}}
    for dim in DIMS:
        index, built = build(args.chunks, dim, CACHE)
        disk = sum(f.stat().st_size for f in index.rglob("*") if f.is_file() and f.name != "built.json")
        out = subprocess.run([sys.executable, "-m", "bench.bytes_per_chunk", "--probe", str(index), "--dim", str(dim)],
                             capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             timeout=600)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        ram = json.loads(out.stdout.strip().splitlines()[-1])["ram_kb"] * 1024
        per_disk, per_ram = disk / args.chunks, ram / args.chunks
        gb = 1e9
        res["dims"][str(dim)] = {
            "disk_bytes_per_chunk": round(per_disk), "ram_bytes_per_chunk": round(per_ram),
            "raw_vector_bytes": dim * 4,
            # what 8 GB of RAM and 100 GB of disk hold, in hours of lecture video (vectors/h above)
            "video_hours_per_8gb_ram": round(8 * gb / per_ram / VECTORS_PER_VIDEO_HOUR),
            "video_hours_per_100gb_disk": round(100 * gb / per_disk / VECTORS_PER_VIDEO_HOUR)}
        print(dim, res["dims"][str(dim)])
    note = ("machine shared with ~6 engineers' processes; RAM = RSS growth of a fresh process after "
            "opening the index and one query; media files (keyframes, page renders) not included")
    return save_result(OUT, res, note)


if __name__ == "__main__":
    main()
