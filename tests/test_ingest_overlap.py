"""Ingest's speed plumbing: the next file is extracted while this one is embedded, and each distinct item
is embedded once."""

from __future__ import annotations

import threading

import pytest

from ingest.pipeline import embed_distinct
from ingest.prefetch import prefetched
from rag.embedders.base import MULTIMODAL, TEXT_ONLY
from rag.errors import ItemRejectedError
from rag.types import EmbedItem, MediaPart


def test_next_item_is_worked_on_while_this_one_is_handled():
    started: list[int] = []
    second_started = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        if i == 2:
            second_started.set()
        if i == 3:
            raise ValueError("file 3 is broken")
        return i * 10

    got = []
    for item, future in prefetched([1, 2, 3, 4], work):
        if item == 1:
            # handling item 1 (embedding it): item 2 is being extracted meanwhile
            assert second_started.wait(5)
        if item == 3:
            with pytest.raises(ValueError, match="file 3"):
                future.result()  # the caller's per-file error handling sees the work's error
            continue
        got.append(future.result())
    assert got == [10, 20, 40] and started == [1, 2, 3, 4]


class _Counting:
    provider, model, dimension, local = "count", "count", 2, True

    def __init__(self, modalities=TEXT_ONLY, reject: str | None = None):
        self.modalities = modalities
        self.reject = reject
        self.calls: list[list[EmbedItem]] = []

    def embed_documents(self, items, *, label=""):
        self.calls.append(list(items))
        for i, it in enumerate(items):
            if it.text == self.reject:
                raise ItemRejectedError("too big", i)
        return [[float(len(it.text)), float(len(it.media))] for it in items]


def test_each_distinct_item_is_embedded_once():
    jpg = (MediaPart(mime_type="image/jpeg", data=b"\xff\xd8 frame"),)
    items = [EmbedItem(text="captions", title="L1"), EmbedItem(text="captions", title="L1", media=jpg),
             EmbedItem(text="page", title="L1"), EmbedItem(text="captions", title="L1")]
    text_only = _Counting()
    vectors = embed_distinct(text_only, items, "l1.mp4")
    # a text model does not see the picture: the keyframe view is the segment's text, embedded once
    assert [len(c) for c in text_only.calls] == [2]
    assert vectors == [[8.0, 0.0], [8.0, 0.0], [4.0, 0.0], [8.0, 0.0]]
    sees_images = _Counting(MULTIMODAL)
    vectors = embed_distinct(sees_images, items, "l1.mp4")
    assert [len(c) for c in sees_images.calls] == [3] and vectors[1] == [8.0, 1.0]
    assert embed_distinct(text_only, [], "x") == []


def test_a_rejected_item_is_reported_at_its_place_in_the_callers_list():
    items = [EmbedItem(text="a"), EmbedItem(text="a"), EmbedItem(text="bad")]
    with pytest.raises(ItemRejectedError) as e:
        embed_distinct(_Counting(reject="bad"), items, "x")
    assert e.value.index == 2
