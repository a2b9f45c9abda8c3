"""Offline OCR: RapidOCR (PP-OCR ONNX models shipped inside the `rapidocr` wheel) on onnxruntime.

Fallback, only when RapidOCR cannot load: the `tesseract` command line tool, if it is installed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import ConfigError
from rag.vision import ImageInput, load_bgr

log = logging.getLogger(__name__)

# The three models the rapidocr 3.x wheel carries in rapidocr/models/. We pass explicit paths so
# rapidocr never takes its "model_root_dir + download" branch; the v6 rec model embeds its
# character list, so no dictionary is fetched either.
_RAPIDOCR_MODELS = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}
MIN_SCORE = 0.5


@dataclass(frozen=True)
class OcrLine:
    """One line of text found in an image; `box` is its 4 corners (x, y) in image pixels."""

    text: str
    score: float
    box: tuple[tuple[float, float], ...]


class _Engine:
    """A loaded OCR backend; calls are serialised (rapidocr's wrapper keeps per-call state)."""

    def __init__(self, kind: Literal["rapidocr", "tesseract"], impl: Any = None):
        self.kind = kind
        self.impl = impl
        self.lock = threading.Lock()

    def run(self, img: np.ndarray) -> list[OcrLine]:
        with self.lock:
            if self.kind == "rapidocr":
                return _run_rapidocr(self.impl, img)
            return _run_tesseract(img)


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _threads() -> int:
    # ORT's default spins one thread per core and oversubscribes when ingest runs other work
    # (decoding, embedding) alongside; 2 intra-op threads was as fast as 4 on a 2-core box.
    return max(1, min(2, os.cpu_count() or 1))


def _load_rapidocr() -> Any:
    import rapidocr
    from rapidocr import RapidOCR

    model_dir = Path(rapidocr.__file__).resolve().parent / "models"
    params: dict[str, Any] = {
        "Global.log_level": "error",  # "text detection result is empty" is normal for a camera frame
        "Global.use_cls": False,  # slides and photos of slides are upright; saves ~10%
        "EngineConfig.onnxruntime.intra_op_num_threads": _threads(),
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    for part, name in _RAPIDOCR_MODELS.items():
        path = model_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not in the installed rapidocr wheel")
        params[f"{part}.model_path"] = str(path)
    return RapidOCR(params=params)


def get_engine() -> _Engine:
    """The process-wide OCR engine, loaded on first use (RapidOCR, else tesseract as a fallback)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                _engine = _Engine("rapidocr", _load_rapidocr())
            except Exception as e:  # any load failure: try the fallback before giving up
                if shutil.which("tesseract") is None:
                    raise ConfigError(
                        f"OCR is unavailable: RapidOCR could not load ({e}). Reinstall it with "
                        "`pip install --force-reinstall 'rapidocr>=3,<4' onnxruntime`, install the "
                        "tesseract-ocr package as a fallback, or set chunking.ocr: false.") from e
                log.warning("RapidOCR could not load (%s); falling back to the tesseract CLI.", e)
                _engine = _Engine("tesseract")
        return _engine


def ocr_image(image: ImageInput, *, min_score: float = MIN_SCORE) -> list[OcrLine]:
    """Text lines in an image (PNG/JPEG bytes, a path, or a BGR array) in reading order."""
    # Both backends already return lines top to bottom, left to right within a row.
    return [ln for ln in get_engine().run(load_bgr(image)) if ln.text.strip() and ln.score >= min_score]


def ocr_text(image: ImageInput, *, min_score: float = MIN_SCORE) -> str:
    """All text in an image, one detected line per line; "" when there is none."""
    return "\n".join(ln.text.strip() for ln in ocr_image(image, min_score=min_score))


def _run_rapidocr(engine: Any, img: np.ndarray) -> list[OcrLine]:
    res = engine(img, use_cls=False)
    if res.boxes is None or res.txts is None:
        return []
    return [
        OcrLine(text=str(t), score=float(s), box=tuple((float(x), float(y)) for x, y in np.asarray(b)))
        for b, t, s in zip(res.boxes, res.txts, res.scores, strict=True)
    ]


def _run_tesseract(img: np.ndarray) -> list[OcrLine]:
    import cv2

    ok, png = cv2.imencode(".png", img)
    if not ok:
        return []
    proc = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "3", "tsv"], input=png.tobytes(),
                          capture_output=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise ConfigError(f"The tesseract OCR fallback failed: {proc.stderr.decode(errors='replace')[:300]}")
    return _parse_tesseract_tsv(proc.stdout.decode("utf-8", errors="replace"))


def _parse_tesseract_tsv(tsv: str) -> list[OcrLine]:
    # Words (level 5) grouped into tesseract's (block, paragraph, line) lines.
    groups: dict[tuple[str, str, str], list[list[str]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        groups.setdefault((cols[2], cols[3], cols[4]), []).append(cols)
    lines = []
    for words in groups.values():
        x0 = min(float(w[6]) for w in words)
        y0 = min(float(w[7]) for w in words)
        x1 = max(float(w[6]) + float(w[8]) for w in words)
        y1 = max(float(w[7]) + float(w[9]) for w in words)
        conf = sum(max(float(w[10]), 0.0) for w in words) / len(words) / 100.0
        lines.append(OcrLine(text=" ".join(w[11] for w in words), score=conf,
                             box=((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
    return lines
