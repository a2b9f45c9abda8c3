"""Dev eval on the real decks in /work/shared/devcorpus: photo -> page, and video frame -> page.

1. Image queries: phone photos of every figure page listed in the corpus SOURCES.md, at three
   distortion strengths, searched among all 244 pages (`ImageIndex.search`, as `search --image`
   does offline). Reports top-1 / top-5 (exact page, and "equivalent": an overlay build with the
   same text), how often the top-1 is also above the match threshold, and false matches of
   unrelated photos.
2. Alignment: synthetic 640x360 lecture frames of deck pages (full frame and lecture-capture
   layout), camera shots and slides of a deck that is not indexed, aligned with
   `ingest.align.match_keyframe` (picture + OCR). OCR results are cached in bench/.cache/.

Writes bench/results/devcorpus_images.json.    python -m bench.devcorpus_images
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.image_match import FIGURE_PAGES  # noqa: E402 (pages with figures, from SOURCES.md)
from bench.image_query import video_frame  # noqa: E402
from ingest import align  # noqa: E402
from rag import image_index  # noqa: E402
from tests.synthetic_images import _background, _jpeg, make_slide, make_unrelated, render_pdf_page  # noqa: E402

CORPUS = Path("/work/shared/devcorpus/slides")
OUT = ROOT / "bench/results/devcorpus_images.json"
OCR_CACHE = ROOT / "bench/.cache/devcorpus_ocr.json"
# strength -> (corner jitter px at 1280 px, rotation deg, kept fraction of width/height, blur sigma,
#              JPEG quality, brightness gain)
STRENGTHS = {
    "mild": (20, 1.0, 1.0, 0.6, 85, 0.95),
    "medium": (60, 4.0, 0.85, 1.2, 55, 0.75),
    "strong": (110, 9.0, 0.65, 2.0, 30, 0.55),
}
ALIGN_EVERY = 3  # align frames of every 3rd page (OCR is ~1.3 s per frame on 2 cores; cached)


def photo(page: np.ndarray, strength: str, seed: int) -> np.ndarray:
    """A phone photo of a page: a crop, then perspective + rotation on a room background, blur,
    dimming, sensor noise and JPEG, all scaled by `strength`."""
    import cv2

    jitter, rot, keep, sigma, quality, gain = STRENGTHS[strength]
    rng = np.random.default_rng(seed)
    h, w = page.shape[:2]
    if keep < 1.0:
        cw, ch = int(w * keep), int(h * keep)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        page = page[y:y + ch, x:x + cw]
        h, w = page.shape[:2]
    cw, ch = int(w * 1.4), int(h * 1.5)
    s = max(w, h) / 1280
    j = lambda: rng.uniform(-jitter, jitter) * s  # noqa: E731
    ox, oy = (cw - w) / 2, (ch - h) / 2
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[ox + j(), oy + j()], [ox + w + j(), oy + j()], [ox + w + j(), oy + h + j()],
                      [ox + j(), oy + h + j()]])
    m = cv2.getPerspectiveTransform(src, dst)
    r = cv2.getRotationMatrix2D((cw / 2, ch / 2), float(rng.uniform(-rot, rot)), 1.0)
    m = np.vstack([r, [0, 0, 1]]) @ m
    warped = cv2.warpPerspective(page, m, (cw, ch), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (cw, ch)) > 127
    out = np.where(mask[:, :, None], warped, _background(rng, cw, ch))
    out = cv2.GaussianBlur(out, (0, 0), sigma)
    noise = rng.normal(0, 3 + 6 * (1 - gain), out.shape)
    out = np.clip(out.astype(np.float32) * gain + 12 * (1 - gain) + noise, 0, 255).astype(np.uint8)
    return _jpeg(out, quality)


def _load() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    import pypdfium2 as pdfium

    pages, texts = {}, {}
    for pdf in sorted(CORPUS.glob("*.pdf")):
        doc = pdfium.PdfDocument(str(pdf))
        for i in range(len(doc)):
            key = f"{pdf.name}:p{i + 1}"
            pages[key] = render_pdf_page(pdf, i, 1280)
            texts[key] = doc[i].get_textpage().get_text_range()
    return pages, texts


class Equivalence:
    """Same page, or an overlay build of it: same deck, (nearly) the same words (idf over all pages)."""

    def __init__(self, texts: dict[str, str]):
        self.keys = list(texts)
        self.texts = texts
        self.pt = align.PageTexts([(k.split(":")[0], i) for i, k in enumerate(self.keys)],
                                  list(texts.values()))
        self.pos = {k: i for i, k in enumerate(self.keys)}

    def __call__(self, a: str, b: str) -> bool:
        if a == b:
            return True
        if a.split(":")[0] != b.split(":")[0]:
            return False
        return self.pt.similarity(self.texts[a]).get(self.pos[b], (0.0, 0))[0] > 0.95


def image_queries(index: image_index.ImageIndex, pages: dict, same: Equivalence) -> dict:
    targets = [f"{deck}:p{p}" for deck, figs in FIGURE_PAGES.items() for p in figs]
    out: dict = {"targets": len(targets)}
    for strength in STRENGTHS:
        c: Counter[str] = Counter()
        ms = []
        for n, key in enumerate(targets):
            t = time.perf_counter()
            hits = index.search(photo(pages[key], strength, seed=n), k=5)
            ms.append((time.perf_counter() - t) * 1000)
            keys = [h.key for h in hits]
            c["top1"] += bool(keys) and keys[0] == key
            c["top5"] += key in keys
            c["top1_equivalent"] += bool(keys) and same(key, keys[0])
            c["top5_equivalent"] += any(same(key, k) for k in keys)
            c["top1_matched"] += bool(hits) and hits[0].matched and same(key, keys[0])
        n = len(targets)
        out[strength] = {k: round(v / n, 3) for k, v in sorted(c.items())} | {
            "search_ms_median": round(float(np.median(ms)), 1)}
    unrelated = [index.search(make_unrelated(500 + s), k=1) for s in range(20)]
    out["unrelated_false_matches"] = sum(bool(h) and h[0].matched for h in unrelated)
    out["unrelated"] = len(unrelated)
    return out


def _ocr(jpg: bytes, cache: dict[str, str]) -> str:
    key = hashlib.sha256(jpg).hexdigest()
    if key not in cache:
        from rag.ocr import ocr_text

        cache[key] = ocr_text(jpg)
    return cache[key]


def alignment(index: image_index.ImageIndex, pages: dict, texts: dict, same: Equivalence) -> dict:
    import cv2

    cache = json.loads(OCR_CACHE.read_text()) if OCR_CACHE.is_file() else {}
    keys = list(pages)
    page_keys = {k: (k.split(":")[0], int(k.split(":p")[1])) for k in keys}
    pt = align.PageTexts([page_keys[k] for k in keys], [texts[k] for k in keys])
    allowed = frozenset(keys)
    frames: list[tuple[str, str | None, np.ndarray]] = []
    for j, key in enumerate(keys[::ALIGN_EVERY]):
        layout = "fullframe" if j % 2 == 0 else "capture"
        frames.append((layout, key, video_frame(pages[key], layout)))
    for s in range(10):
        frames.append(("camera", None, cv2.resize(make_unrelated(900 + s, (640, 360)), (640, 360))))
    for s in range(15):
        frames.append(("unindexed_deck", None, video_frame(make_slide(7000 + s), "fullframe")))
    c: Counter[tuple[str, str]] = Counter()
    for kind, truth, frame in frames:
        jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
        best = align.match_keyframe(index, jpg, _ocr(jpg, cache), "", pt, page_keys, allowed)
        got = keys[best.page] if best is not None else None
        c[kind, "frames"] += 1
        if truth is None:
            c[kind, "correct_none"] += got is None
        else:
            c[kind, "exact"] += got == truth
            c[kind, "equivalent"] += got is not None and same(truth, got)
            c[kind, "none"] += got is None
    OCR_CACHE.parent.mkdir(parents=True, exist_ok=True)
    OCR_CACHE.write_text(json.dumps(cache))
    out: dict = {}
    for (kind, name), v in sorted(c.items()):
        out.setdefault(kind, {})[name] = v
    return out


def main(argv: list[str] | None = None) -> dict:
    t0 = time.perf_counter()
    pages, texts = _load()
    with tempfile.TemporaryDirectory() as d:
        index = image_index.ImageIndex(d)
        for key, img in pages.items():
            index.add(key, img)
        same = Equivalence(texts)
        queries = image_queries(index, pages, same)
        aligned = alignment(index, pages, texts, same)
    fields = ("corner_jitter_px", "rotation_deg", "kept_side_fraction", "blur_sigma", "jpeg_quality",
              "brightness")
    result = {"corpus": str(CORPUS), "pages": len(pages),
              "strengths": {k: dict(zip(fields, v, strict=True)) for k, v in STRENGTHS.items()},
        "image_queries": queries, "alignment": aligned, "seconds": round(time.perf_counter() - t0, 1)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"photos of {queries['targets']} figure pages among {len(pages)} pages:")
    print(f"  {'strength':<8} {'top-1':>6} {'top-5':>6} {'top-1 eq':>9} {'top-5 eq':>9} {'matched':>8}")
    for s in STRENGTHS:
        r = queries[s]
        print(f"  {s:<8} {r['top1']:>6.2f} {r['top5']:>6.2f} {r['top1_equivalent']:>9.2f} "
              f"{r['top5_equivalent']:>9.2f} {r['top1_matched']:>8.2f}")
    print(f"  unrelated photos matched: {queries['unrelated_false_matches']}/{queries['unrelated']}")
    print("alignment of synthetic lecture frames:", json.dumps(aligned))
    print(f"wrote {OUT}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
