"""Bytes per chunk on disk and in RAM at 384 / 768 / 1536 / 3072 dimensions, and so how big a course one
24 GB machine holds.

Synthetic chunks (bench/synthetic_index.py: one vector and 40-80 words of text per chunk) in an embedded
Chroma collection plus the on-disk lexical index, at two sizes; the per-chunk numbers are the slope between
them (what one more chunk costs, without the fixed costs of an empty index). Disk: the index folder's bytes.
RAM: resident memory of a new process after opening the index and answering one query (Chroma loads the HNSW
graph and the vectors; the lexical index is memory-mapped, the pages it touched count) minus the same
process before opening. The picture index of image search (bench/image_query.py's, 3,500 pictures) is
measured the same way, per picture. A video hour is ~450 stored vectors (~180 segments + ~270 keyframe
views) and ~270 pictures.

    python -m bench.bytes_per_chunk [--sizes 1000,5000]
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
from bench.synthetic_index import build, disk_bytes, space  # noqa: E402

CACHE = ROOT / "bench/.cache/bytes_per_chunk"
OUT = ROOT / "bench/results/bytes_per_chunk.json"
DIMS = (384, 768, 1536, 3072)
VECTORS_PER_VIDEO_HOUR = 450  # ~180 segments/h x (segment + ~1.5 keyframe views), measured on the generated course
PICTURES_PER_VIDEO_HOUR = 270  # the keyframes among them (each also in the picture index)
MACHINE_GB = 24
HEADROOM_GB = 4  # OS, the Python process, MiniLM, OCR models, page cache for media


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def probe(index: Path, dim: int) -> dict:
    """RSS growth (kB) of this process from opening the index and one query (dim 0: the picture index)."""
    # Libraries are imported before the baseline so only the index's own memory is counted.
    import bm25s  # noqa: F401
    import chromadb  # noqa: F401
    import numpy as np

    from rag.image_index import ImageIndex
    from rag.lexical_index import LexicalIndex
    from rag.store import ChromaStore

    before = _rss_kb()
    if dim == 0:
        pictures = ImageIndex(index)
        pictures.warm()  # the search tables a first image query builds
        return {"ram_kb": _rss_kb() - before, "pictures": len(pictures)}
    store = ChromaStore(index, space(dim)[2])
    store.query(np.ones(dim) / np.sqrt(dim), 10)
    lex = LexicalIndex.load(index)
    assert lex is not None
    lex.top("gradient descent learning rate", 50)
    return {"ram_kb": _rss_kb() - before}


def _ram_bytes(index: Path, dim: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bytes_per_chunk", "--probe", str(index), "--dim", str(dim)],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {**res, "ram_bytes": res["ram_kb"] * 1024}


def _pictures() -> dict:
    from bench import image_query
    from bench.synthetic_index import picture_ids

    picture_ids()  # builds bench/image_query.py's picture index when it is missing
    ram = _ram_bytes(image_query.CACHE, 0)
    n = ram["pictures"]
    return {"pictures": n, "disk_bytes_per_picture": round(disk_bytes(image_query.CACHE) / n),
            "ram_bytes_per_picture": round(ram["ram_bytes"] / n)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--probe")
    ap.add_argument("--dim", type=int)
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(Path(args.probe), args.dim)))
        return {}
    small, large = (int(x) for x in args.sizes.split(","))
    res: dict = {"load_avg_start": os.getloadavg(), "sizes": [small, large], "dims": {}}
    pics = res["pictures"] = _pictures()
    usable = (MACHINE_GB - HEADROOM_GB) * 1e9
    for dim in DIMS:
        at = {}
        for n in (small, large):
            index, built = build(n, dim, CACHE)
            at[n] = {"disk": disk_bytes(index), "ram": _ram_bytes(index, dim)["ram_bytes"], "built": built}
        per_disk = (at[large]["disk"] - at[small]["disk"]) / (large - small)
        per_ram = (at[large]["ram"] - at[small]["ram"]) / (large - small)
        hour_ram = VECTORS_PER_VIDEO_HOUR * per_ram + PICTURES_PER_VIDEO_HOUR * pics["ram_bytes_per_picture"]
        hour_disk = VECTORS_PER_VIDEO_HOUR * per_disk + PICTURES_PER_VIDEO_HOUR * pics["disk_bytes_per_picture"]
        res["dims"][str(dim)] = {
            "disk_bytes_per_chunk": round(per_disk), "ram_bytes_per_chunk": round(per_ram),
            "raw_vector_bytes": dim * 4,
            **{f"{what}_mb_at_{n}": round(at[n][what] / 1e6, 1) for n in (small, large) for what in ("disk", "ram")},
            "ram_mb_per_video_hour": round(hour_ram / 1e6, 2), "disk_mb_per_video_hour": round(hour_disk / 1e6, 2),
            # what one 24 GB machine holds in RAM (4 GB left for everything else), chunks and video hours
            "chunks_per_24gb_machine": round(usable / per_ram),
            "video_hours_per_24gb_machine": round(usable / hour_ram)}
        print(dim, res["dims"][str(dim)], flush=True)
    note = ("shared 2-core machine (see load_avg); per chunk = slope between the two sizes; RAM = RSS growth of a "
            "fresh process after opening the index and one query; a 24 GB machine keeps 4 GB for the rest; "
            "media files (keyframe JPEGs, page renders) are on disk only and not counted")
    return save_result(OUT, res, note)


if __name__ == "__main__":
    main()
