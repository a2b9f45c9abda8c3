"""Keyframes showing a deck page take the page's text instead of OCR; each distinct picture is read once;
alignment reuses the search."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from ingest.deck_text import DeckText, SearchMemo
from ingest.video import read_pictures
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
    frame = _jpg(_capture(make_slide(4)))
    assert deck(frame) == "page 4 words"
    assert deck(_jpg(make_unrelated(2))) is None  # a camera shot: OCR reads it
    assert deck(_jpg(_capture(make_slide(40)))) is None  # a slide of a deck not in the course
    assert deck.used == 1

    kf = tmp_path / "kf_4.0.jpg"
    kf.write_bytes(frame)
    before = memo.hits
    again = memo.search(kf, 5, allowed=frozenset(keys))  # what alignment asks later, by file
    assert memo.hits == before + 1 and again[0].key == "deck:p4"
    memo.search(kf, 5, allowed=frozenset(keys) | {"lec:kf1.0"})
    assert memo.hits == before + 1  # other allowed keys: another question, searched again

    # the same slide later, the speaker elsewhere: declared the same picture, answered from the memo
    later = _capture(make_slide(4))
    later[100:300, 960:1030] = 60
    later_jpg = _jpg(later)
    memo.same_pictures({hashlib.sha256(later_jpg).hexdigest(): hashlib.sha256(frame).hexdigest()})
    assert memo.search(later_jpg, 5, allowed=frozenset(keys))[0].key == "deck:p4"
    assert memo.hits == before + 2


def test_no_decks_means_ocr(tmp_path):
    deck = DeckText(SearchMemo(ImageIndex(tmp_path / "images")), {}, {})
    assert deck(_jpg(make_slide(1))) is None and deck.used == 0


def _small(img: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (160, 90), interpolation=cv2.INTER_AREA)


def test_each_distinct_picture_is_read_once():
    """Keyframes of one slide with the speaker elsewhere share one reading; a build step (a new bullet)
    and another slide are read again; a deck page's text is marked as such."""
    slide, other = make_slide(5), make_slide(6)
    build = slide.copy()
    cv2.putText(build, "- one more bullet with several words", (70, 520), cv2.FONT_HERSHEY_SIMPLEX, 1.1,
                (30, 30, 30), 2)
    pictures = {1.0: _capture(slide), 20.0: _capture(slide), 40.0: _capture(build), 60.0: _capture(other)}
    pictures[20.0][100:300, 960:1030] = 60  # the speaker moved
    mask = np.ones((90, 160), bool)
    mask[:, 115:] = False  # the speaker box is volatile (what the analysis measures)
    frames = {t: _jpg(img) for t, img in pictures.items()}
    smalls = {t: _small(img) for t, img in pictures.items()}
    calls: list[bytes] = []

    def ocr(jpg: bytes) -> str:
        calls.append(jpg)
        return f"text {len(calls)}"

    got = read_pictures(frames, smalls, mask, ocr)
    assert got.text == {1.0: "text 1", 20.0: "text 1", 40.0: "text 2", 60.0: "text 3"} and got.read == 3
    sha = {t: hashlib.sha256(b).hexdigest() for t, b in frames.items()}
    assert got.same == {sha[20.0]: sha[1.0]} and not got.from_deck

    got = read_pictures(frames, smalls, None, ocr)  # no mask: the moved speaker makes another picture
    assert got.read == 4

    page = {frames[1.0]: "page five words"}
    got = read_pictures(frames, smalls, mask, lambda _b: "ocr", page.get)
    assert got.text[20.0] == "page five words" and got.from_deck == {1.0, 20.0} and got.text[60.0] == "ocr"
