"""Keyframes showing a deck page take the page's text instead of OCR; alignment reuses the search."""

from __future__ import annotations

import cv2
import numpy as np

from ingest.deck_text import DeckText, SearchMemo, deck_first
from rag.image_index import ImageIndex
from tests.synthetic_images import make_slide, make_unrelated


def _jpg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def _capture(slide: np.ndarray) -> np.ndarray:
    """A lecture-capture frame: the slide at 70 % width, a speaker box beside it."""
    frame = np.full((720, 1280, 3), 40, np.uint8)
    frame[60:564, 16:912] = cv2.resize(slide, (896, 504), interpolation=cv2.INTER_AREA)
    frame[60:312, 928:1264] = 128
    frame[100:300, 1060:1130] = 60
    return frame


def test_keyframe_of_a_deck_page_takes_its_text_and_alignment_reuses_the_search(tmp_path):
    index = ImageIndex(tmp_path / "images")
    for p in range(1, 6):
        index.add(f"deck:p{p}", _jpg(make_slide(p)))
    index.add("lec:kf1.0", _jpg(make_slide(3)))  # a keyframe already indexed: never a page candidate
    memo = SearchMemo(index)
    keys = {f"deck:p{p}": ("slides/deck.pdf", p) for p in range(1, 6)}
    deck = DeckText(memo, keys, {("slides/deck.pdf", p): f"page {p} words" for p in range(1, 6)})
    calls: list[bytes] = []

    def ocr(image: bytes) -> str:
        calls.append(image)
        return "ocr words"

    read = deck_first(deck, ocr)
    frame = _jpg(_capture(make_slide(4)))
    assert read(frame) == "page 4 words" and calls == []
    assert read(_jpg(make_unrelated(2))) == "ocr words" and len(calls) == 1  # a camera shot is read
    assert read(_jpg(_capture(make_slide(40)))) == "ocr words"  # a slide of a deck not in the course
    assert deck.used == 1

    kf = tmp_path / "kf_4.0.jpg"
    kf.write_bytes(frame)
    before = memo.hits
    again = memo.search(kf, 5, allowed=frozenset(keys))  # what alignment asks later, by file
    assert memo.hits == before + 1 and again[0].key == "deck:p4"
    memo.search(kf, 5, allowed=frozenset(keys) | {"lec:kf1.0"})
    assert memo.hits == before + 1  # other allowed keys: another question, searched again


def test_no_decks_means_ocr(tmp_path):
    deck = DeckText(SearchMemo(ImageIndex(tmp_path / "images")), {}, {})
    assert deck_first(deck, lambda _b: "ocr")(_jpg(make_slide(1))) == "ocr" and deck.used == 0
