"""Which-slide-is-this-photo accuracy and speed of rag.vision on the dev corpus.

Renders every page of /work/shared/devcorpus/slides/*.pdf (longest side 1000 px), indexes them,
then queries with distorted "phone photos" of 30 figure pages (6 per deck) and with unrelated
images. Writes bench/results/image_match.json.

    python bench/image_match.py [--corpus DIR] [--big 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag import image_index, vision  # noqa: E402
from tests.synthetic_images import DISTORTIONS, distort, make_unrelated, render_pdf_page  # noqa: E402

# 1-based "pages with figures" from the corpus SOURCES.md
FIGURE_PAGES = {
    "hbc-ngs_sequencing_technologies.pdf": [1, 2, 3, 4, 5, 10, 11, 12, 13, 18],
    "hbc-ngs_alignment_quantification.pdf": [1, 2, 3, 4, 5, 6, 8, 9, 13, 15, 16, 17, 19, 21, 26, 29],
    "aalto-bda_lecture_8a_model_checking.pdf": [12, 16, 17, 18, 19, 20, 24, 27, 29, 30, 31, 32, 34, 35, 36,
                                                37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52,
                                                53, 54, 55, 57, 58, 59, 60, 61, 62, 69, 70, 71],
    "aalto-bda_lecture_10b_normal_approximation.pdf": [4, 12, 13, 25, 26, 27, 28, 29, 36, 37, 38, 39, 40,
                                                       41, 42, 43, 44, 45, 50, 51, 52, 53, 54, 55],
    "ucl-cnp3_11-VPN.pdf": [2, 4, 6, 7, 8, 10, 12, 13, 16, 17, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29, 30,
                            31, 32, 33, 34, 35, 37, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54],
}
PER_DECK = 6


def _pick(pages: list[int], n: int) -> list[int]:
    idx = np.linspace(0, len(pages) - 1, n).round().astype(int)
    return [pages[i] for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/devcorpus/slides"))
    ap.add_argument("--big", type=int, default=3000, help="index size for the speed test (0 = skip)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/image_match.json")
    args = ap.parse_args()
    import pypdfium2 as pdfium

    pages: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    for pdf in sorted(args.corpus.glob("*.pdf")):
        n = len(pdfium.PdfDocument(str(pdf)))
        for i in range(n):
            pages[f"{pdf.name}:p{i + 1}"] = render_pdf_page(pdf, i)
    render_s = time.perf_counter() - t0
    print(f"rendered {len(pages)} pages in {render_s:.1f}s", flush=True)

    index = image_index.ImageIndex(tempfile.mkdtemp())
    t0 = time.perf_counter()
    for key, img in pages.items():
        index.add(key, img)
    add_ms = (time.perf_counter() - t0) / len(pages) * 1000
    print(f"indexed: {add_ms:.0f} ms/page", flush=True)

    targets = [f"{deck}:p{p}" for deck, figs in FIGURE_PAGES.items() for p in _pick(figs, PER_DECK)
               if f"{deck}:p{p}" in pages]
    results: dict[str, dict] = {}
    wrong_inliers_all: list[int] = []
    other_deck_inliers: list[int] = []  # a photo of a slide that is not indexed at all
    true_top1_inliers: list[int] = []
    other_deck_strong: list[dict] = []
    query_ms: list[float] = []
    for kind in DISTORTIONS:
        top1 = top3 = shortlisted = matched = 0
        true_inl, wrong_inl = [], []
        misses = []
        for j, key in enumerate(targets):
            photo = distort(pages[key], kind, seed=j)
            t0 = time.perf_counter()
            hits = index.search(photo, k=40)
            query_ms.append((time.perf_counter() - t0) * 1000)
            keys = [h.key for h in hits]
            top1 += keys[0] == key
            top3 += key in keys[:3]
            shortlisted += key in keys
            matched += keys[0] == key and hits[0].matched
            true_inl.append(next((h.inliers for h in hits if h.key == key), 0))
            wrong_inl.append(max((h.inliers for h in hits if h.key != key), default=0))
            deck = key.split(":")[0]
            others = [h for h in hits if not h.key.startswith(deck)]
            other = max(others, key=lambda h: h.inliers, default=None)
            other_deck_inliers.append(other.inliers if other else 0)
            if other and other.inliers >= vision.MATCH_MIN_INLIERS // 2:
                other_deck_strong.append({"query": key, "distortion": kind, "other": other.key,
                                          "inliers": other.inliers})
            if keys[0] == key:
                true_top1_inliers.append(hits[0].inliers)
            if keys[0] != key:
                misses.append({"query": key, "top1": keys[0], "top1_inliers": hits[0].inliers,
                               "true_inliers": true_inl[-1], "true_shortlisted": key in keys})
        wrong_inliers_all += wrong_inl
        n = len(targets)
        results[kind] = {
            "queries": n, "top1": round(top1 / n, 3), "top3": round(top3 / n, 3),
            "true_in_shortlist": round(shortlisted / n, 3), "top1_and_is_match": round(matched / n, 3),
            "true_inliers_median": statistics.median(true_inl),
            "best_wrong_inliers_median": statistics.median(wrong_inl),
            "misses": misses,
        }
        print(f"{kind:12s} top1={top1}/{n} top3={top3}/{n} shortlisted={shortlisted}/{n} "
              f"matched={matched}/{n} inliers true~{statistics.median(true_inl)} "
              f"wrong~{statistics.median(wrong_inl)}", flush=True)

    unrelated = []
    for s in range(20):
        hits = index.search(make_unrelated(s), k=3)
        unrelated.append(hits[0].inliers if hits else 0)
    print(f"other-deck inliers {_percentiles(other_deck_inliers)}; "
          f"true top-1 inliers {_percentiles(true_top1_inliers)}", flush=True)
    print(f"unrelated photos: max inliers {max(unrelated)}, false matches "
          f"{sum(vision.is_match(x) for x in unrelated)}/20", flush=True)

    speed = {"add_ms_per_image": round(add_ms, 1), "render_s_total": round(render_s, 1),
             f"query_ms_median_{len(index)}": round(statistics.median(query_ms), 1)}
    if args.big:
        speed.update(_big_index_speed(index, pages, targets, args.big))
    out = {
        "corpus": str(args.corpus), "pages_indexed": len(pages), "targets": targets,
        "index_version": image_index.INDEX_VERSION, "match_min_inliers": vision.MATCH_MIN_INLIERS,
        "distortions": results,
        "unrelated": {"count": len(unrelated), "max_inliers": max(unrelated),
                      "false_matches": sum(vision.is_match(x) for x in unrelated)},
        "best_wrong_inliers_max": max(wrong_inliers_all),
        "other_deck_inliers": _percentiles(other_deck_inliers),
        "other_deck_strong": other_deck_strong,
        "true_top1_inliers": _percentiles(true_top1_inliers),
        "speed": speed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(speed), f"\nwrote {args.out}")


def _percentiles(xs: list[int]) -> dict[str, float]:
    a = np.array(xs or [0])
    return {"min": int(a.min()), "p5": float(np.percentile(a, 5)), "median": float(np.median(a)),
            "p95": float(np.percentile(a, 95)), "max": int(a.max())}


def _big_index_speed(index: image_index.ImageIndex, pages: dict, targets: list[str], size: int) -> dict:
    # Grow the index to `size` entries by re-adding stored entries under new keys (copying their
    # features, which is what a real add would compute again); query cost depends on the shortlist
    # and the global matrix size, not on where entries came from.
    base = index.keys()
    entries = {k: (index._glob[index._pos[k]], index._thumbs[index._pos[k]], index._feats[index._pos[k]])
               for k in base}
    i = 0
    while len(index) < size:
        k = base[i % len(base)]
        index._pos[f"dup{i}:{k}"] = len(index._keys)
        index._keys.append(f"dup{i}:{k}")
        index._glob.append(entries[k][0])
        index._thumbs.append(entries[k][1])
        index._feats.append(entries[k][2])
        i += 1
    index._matrix = index._votes = None
    t0 = time.perf_counter()
    index.search(distort(pages[targets[-1]], "phone", seed=99), k=5)
    first_ms = (time.perf_counter() - t0) * 1000  # includes building the vote tables
    times = []
    for j, key in enumerate(targets[:15]):
        photo = distort(pages[key], "phone", seed=j)
        t0 = time.perf_counter()
        index.search(photo, k=5)
        times.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as d:
        index.folder = Path(d)
        t0 = time.perf_counter()
        index.save()
        save_s = time.perf_counter() - t0
        npz_mb = (Path(d) / "index.npz").stat().st_size / 1e6
        t0 = time.perf_counter()
        image_index.ImageIndex(d)
        load_s = time.perf_counter() - t0
    print(f"{len(index)} entries: first query {first_ms:.0f} ms (builds vote tables), then median "
          f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms; "
          f"save {save_s:.1f}s load {load_s:.1f}s, {npz_mb:.0f} MB", flush=True)
    return {f"first_query_ms_{len(index)}": round(first_ms, 1),
            f"query_ms_median_{len(index)}": round(statistics.median(times), 1),
            f"query_ms_max_{len(index)}": round(max(times), 1),
            f"save_s_{len(index)}": round(save_s, 2), f"load_s_{len(index)}": round(load_s, 2),
            f"npz_mb_{len(index)}": round(npz_mb, 1)}


if __name__ == "__main__":
    main()
