"""OCR each distinct picture once: exact bytes and near-identical frames share a result; builds do not."""

from __future__ import annotations

import cv2
import numpy as np

from rag.ocr_cache import OcrCache
from tests.synthetic_images import _font, make_slide


def _jpg(img: np.ndarray, quality: int = 85) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _with_word(img: np.ndarray, word: str) -> np.ndarray:
    """The slide one build step later: one more short bullet."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(img[:, :, ::-1].copy())
    ImageDraw.Draw(pil).text((70, 470), "- " + word, font=_font(28), fill=(30, 30, 30))
    return np.asarray(pil)[:, :, ::-1].copy()


class _CountingOcr:
    def __init__(self):
        self.calls = 0

    def __call__(self, image: bytes) -> str:
        self.calls += 1
        return f"text {self.calls}"


def test_same_picture_is_read_once_builds_and_other_slides_again(tmp_path):
    slide = make_slide(7)
    noisy = np.clip(slide.astype(np.int16) + np.random.default_rng(0).normal(0, 3, slide.shape), 0, 255)
    ocr = _CountingOcr()
    cache = OcrCache(tmp_path / "ocr_cache")
    read = cache.wrap(ocr)
    first = read(_jpg(slide))
    assert read(_jpg(slide)) == first  # exact bytes
    assert read(_jpg(noisy.astype(np.uint8), 70)) == first  # another frame of the same slide
    assert ocr.calls == 1 and cache.stats.to_json() == {"exact": 1, "similar": 1, "misses": 1}
    assert read(_jpg(_with_word(slide, "a"))) != first  # a build step adds a bullet: read again
    assert read(_jpg(make_slide(8))) != first
    assert read(_jpg(cv2.resize(slide, (960, 720)))) != first  # another shape is another picture
    assert ocr.calls == 4
    assert read(b"not an image") == "text 5" and read(b"not an image") == "text 6"  # never cached

    cache.save()
    again = OcrCache(tmp_path / "ocr_cache")  # the next ingest (another lecture, a re-ingest)
    ocr2 = _CountingOcr()
    assert again.wrap(ocr2)(_jpg(noisy.astype(np.uint8), 60)) == first and ocr2.calls == 0
    assert len(again) == 4


def test_damaged_cache_starts_empty(tmp_path):
    folder = tmp_path / "ocr_cache"
    folder.mkdir()
    (folder / "entries.json").write_text("{")
    cache = OcrCache(folder)
    assert len(cache) == 0
    ocr = _CountingOcr()
    cache.wrap(ocr)(_jpg(make_slide(1)))
    cache.save()
    assert len(OcrCache(folder)) == 1
