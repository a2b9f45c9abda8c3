"""OCR each distinct picture once: results kept in the index by exact bytes and by a small picture
signature, so frames showing the same slide (in other segments, other lectures, a re-ingest) share one
OCR call.

"The same picture" uses the slide-change detector's own notion of a change, made stricter: two images
are the same when, shrunk to 96x72 gray, no more than SAME_MAX_PIXELS pixels move by more than
PIXEL_DELTA gray levels. Video noise and JPEG re-encoding move none; a build step that adds a word to a
720p slide moves ~12 (a one-letter bullet 2), so builds are OCR'd again. Pictures of different shapes
never match.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1
THUMB = (96, 72)  # (w, h) of the signature
COARSE = (24, 18)  # prefilter: mean gray distance on this size first
COARSE_MAX = 6.0  # mean absolute gray difference allowed by the prefilter
PIXEL_DELTA = 24  # as ingest.video.PIXEL_DELTA: a pixel "changed"
SAME_MAX_PIXELS = 1  # measured on 720p synthetic slides: noise and JPEG q40 move 0, a "- a" bullet 2, a word 12
ASPECT_TOLERANCE = 0.03

Ocr = Callable[[bytes], str]


@dataclass
class CacheStats:
    """How the cache answered during one ingest run."""

    exact: int = 0
    similar: int = 0
    misses: int = 0

    def to_json(self) -> dict[str, int]:
        return {"exact": self.exact, "similar": self.similar, "misses": self.misses}


def signature(image: bytes) -> tuple[np.ndarray, float] | None:
    """The 96x72 gray signature of an encoded picture and its aspect ratio; None if it does not decode."""
    import cv2

    img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None or img.size == 0:
        return None
    h, w = img.shape[:2]
    return cv2.resize(img, THUMB, interpolation=cv2.INTER_AREA), w / h


class OcrCache:
    """Remembered OCR results; `wrap(ocr)` gives an OCR function that asks the cache first."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._by_sha: dict[str, int] = {}
        self._texts: list[str] = []
        self._shas: list[str] = []
        self._aspects: list[float] = []
        self._thumbs = np.zeros((16, THUMB[1], THUMB[0]), np.uint8)  # rows [0, len) used; grows by doubling
        self._coarse = np.zeros((16, COARSE[1], COARSE[0]), np.int16)
        self._dirty = False
        if self.folder is not None:
            self._load()

    def __len__(self) -> int:
        return len(self._texts)

    def _load(self) -> None:
        assert self.folder is not None
        try:
            meta = json.loads((self.folder / "entries.json").read_text())
            thumbs = np.load(self.folder / "thumbs.npy")
            if meta.get("format") != FORMAT or len(thumbs) != len(meta["texts"]):
                return
        except (OSError, ValueError, KeyError) as e:
            if self.folder.exists():
                log.info("OCR cache in %s unreadable (%s); starting empty", self.folder, e)
            return
        self._texts, self._shas, self._aspects = [], list(meta["shas"]), list(meta["aspects"])
        texts = list(meta["texts"])
        for text, thumb in zip(texts, thumbs, strict=True):
            self._append(thumb)
            self._texts.append(text)
        self._by_sha = {s: i for i, s in enumerate(self._shas)}

    def save(self) -> None:
        """Write the cache when it changed (ingest calls this after each source)."""
        if self.folder is None or not self._dirty:
            return
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"thumbs.tmp-{os.getpid()}.npy"
            np.save(tmp, self._thumbs[: len(self)])
            tmp.replace(self.folder / "thumbs.npy")
            meta = {"format": FORMAT, "texts": self._texts, "shas": self._shas, "aspects": self._aspects}
            tmp_json = self.folder / f"entries.tmp-{os.getpid()}.json"
            tmp_json.write_text(json.dumps(meta))
            tmp_json.replace(self.folder / "entries.json")
            self._dirty = False

    def _append(self, thumb: np.ndarray) -> None:
        import cv2

        n = len(self._texts)
        if n == len(self._thumbs):
            self._thumbs = np.concatenate([self._thumbs, np.zeros_like(self._thumbs)])
            self._coarse = np.concatenate([self._coarse, np.zeros_like(self._coarse)])
        self._thumbs[n] = thumb
        self._coarse[n] = cv2.resize(thumb, COARSE, interpolation=cv2.INTER_AREA)

    def _similar(self, thumb: np.ndarray, aspect: float) -> int | None:
        n = len(self)
        if not n:
            return None
        import cv2

        mine = cv2.resize(thumb, COARSE, interpolation=cv2.INTER_AREA).astype(np.int16)
        dist = np.abs(self._coarse[:n] - mine).mean(axis=(1, 2))
        dist[np.abs(np.asarray(self._aspects) - aspect) > ASPECT_TOLERANCE * aspect] = np.inf
        for i in np.argsort(dist)[:4]:
            if dist[i] > COARSE_MAX:
                break
            moved = np.count_nonzero(np.abs(self._thumbs[i].astype(np.int16) - thumb.astype(np.int16)) > PIXEL_DELTA)
            if moved <= SAME_MAX_PIXELS:
                return int(i)
        return None

    def lookup(self, image: bytes) -> tuple[str | None, str, tuple[np.ndarray, float] | None]:
        """(cached text or None, sha of the bytes, signature) of a picture."""
        sha = hashlib.sha256(image).hexdigest()
        with self._lock:
            if sha in self._by_sha:
                self.stats.exact += 1
                return self._texts[self._by_sha[sha]], sha, None
        sig = signature(image)
        if sig is None:
            return None, sha, None
        with self._lock:
            i = self._similar(*sig)
            if i is not None:
                self.stats.similar += 1
                return self._texts[i], sha, sig
        return None, sha, sig

    def put(self, sha: str, sig: tuple[np.ndarray, float] | None, text: str) -> None:
        """Remember the OCR text of a picture (its bytes' sha and signature from `lookup`)."""
        if sig is None:
            return
        with self._lock:
            self._by_sha[sha] = len(self._texts)
            self._append(sig[0])
            self._texts.append(text)
            self._shas.append(sha)
            self._aspects.append(sig[1])
            self._dirty = True

    def wrap(self, ocr: Ocr) -> Ocr:
        """An OCR function that reads each distinct picture once."""

        def cached(image: bytes) -> str:
            text, sha, sig = self.lookup(image)
            if text is not None:
                return text
            self.stats.misses += 1
            text = ocr(image)
            self.put(sha, sig, text)
            return text

        return cached
