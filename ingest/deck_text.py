"""A keyframe that shows a deck page takes the page's text layer instead of OCR.

Before a keyframe is OCR'd, the deck pages (decks are ingested before videos) are searched with it. When
the best page verifies with at least STRONG_INLIERS geometric inliers — where alignment's visual evidence
alone reaches full confidence (ingest.align.VIS_HI) — the keyframe shows that page: it is not OCR'd, and
its words stay with the page (ingest.video.extract_video). Otherwise (a camera shot, a board, a slide of
a deck that is not in the course, a small capture slide) OCR reads it.

The search answers are remembered by picture bytes (`SearchMemo`), so the alignment pass after ingest
reuses them instead of matching every keyframe again; a keyframe showing the same picture as an earlier
one (`Extracted.same_pictures`) takes that one's answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.align import CANDIDATES, VIS_HI, page_text_map, pages_of
from rag.factory import Services
from rag.index import Manifest

STRONG_INLIERS = VIS_HI


class SearchMemo:
    """The image index, its search answers remembered by (picture bytes, k, allowed keys)."""

    def __init__(self, index: Any):
        self.index = index
        self._memo: dict[tuple[str, int, frozenset[str] | None], list[Any]] = {}
        self._same: dict[str, str] = {}  # picture sha -> sha of the picture it is the same as
        self.hits = 0

    def same_pictures(self, same: dict[str, str]) -> None:
        """Pictures (sha256 of their bytes) that show the same thing as another: one search answers both."""
        self._same.update(same)

    def __getattr__(self, name: str) -> Any:  # everything else is the image index's
        return getattr(self.index, name)

    def search(self, image: Any, k: int = 5, *, allowed: Collection[str] | None = None) -> list[Any]:
        data = image.read_bytes() if isinstance(image, Path) else image if isinstance(image, bytes) else None
        if data is None:
            return self.index.search(image, k, allowed=allowed)
        sha = hashlib.sha256(data).hexdigest()
        key = (self._same.get(sha, sha), k, frozenset(allowed) if allowed is not None else None)
        if key in self._memo:
            self.hits += 1
            return self._memo[key]
        found = self.index.search(data, k, allowed=allowed)
        self._memo[key] = found
        return found


@dataclass
class DeckText:
    """`deck_text(jpg)` -> the text of the deck page the picture shows, or None when none is sure."""

    search: SearchMemo
    page_keys: dict[str, tuple[str, int]]  # image key of a page render -> (pdf source, page)
    texts: dict[tuple[str, int], str]
    used: int = 0  # keyframes that took a page's text

    def __post_init__(self) -> None:
        self.allowed = frozenset(self.page_keys)

    def __call__(self, image: bytes) -> str | None:
        if not self.allowed:
            return None
        found = self.search.search(image, CANDIDATES, allowed=self.allowed)
        if not found or found[0].inliers < STRONG_INLIERS:
            return None
        text = self.texts.get(self.page_keys[found[0].key], "").strip()
        if not text:
            return None
        self.used += 1
        return text


def deck_text(services: Services, manifest: Manifest, search: SearchMemo) -> DeckText:
    """Page texts and render keys of every deck ingested so far."""
    keys = pages_of(manifest)
    return DeckText(search, keys, page_text_map(services, keys))
