"""A deterministic test embedder: hashed bag of words + character trigrams, 256-d.

Meaningful on purpose: texts sharing words (or word pieces) get similar vectors, unrelated texts
get near-orthogonal ones, so retrieval tests exercise ranking rather than pass trivially.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from rag.embedders.base import TEXT_ONLY
from rag.types import EmbedItem

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("a an and are as at be by for from in is it of on or that the this to was what with"
                  .split())


def _slot(feature: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, (1.0 if (h >> 63) & 1 else -1.0)


class FakeEmbedder:
    """Embedder for provider "fake": no model, no network, same output on every machine."""

    provider = "fake"
    model = "fake-hash-256"
    # Text only, like the offline model, so ingest makes no clips; media bytes given anyway still count.
    modalities = TEXT_ONLY
    local = True

    def __init__(self, dimension: int = 256):
        self.dimension = dimension

    def _features(self, text: str, media: Sequence[bytes] = ()) -> dict[str, float]:
        feats: dict[str, float] = {}
        for word in _WORD.findall(text.lower()):
            if word in _STOP:
                continue
            feats[f"w:{word}"] = feats.get(f"w:{word}", 0.0) + 1.0
            padded = f"#{word}#"
            for i in range(len(padded) - 2):  # trigrams: "gradients" stays close to "gradient"
                key = f"c:{padded[i:i + 3]}"
                feats[key] = feats.get(key, 0.0) + 0.3
        for data in media:  # identical bytes -> identical feature; nothing else is "seen"
            feats[f"m:{hashlib.sha256(data).hexdigest()[:16]}"] = 3.0
        return feats

    def _vector(self, feats: dict[str, float]) -> list[float]:
        vec = [0.0] * self.dimension
        for name, weight in feats.items():
            i, sign = _slot(name, self.dimension)
            vec[i] += sign * math.sqrt(weight)  # sublinear: repeating a word adds less each time
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec] if norm > 0 else []

    def accepts(self, item: EmbedItem) -> bool:
        """True when the item has text or media."""
        return bool(item.text.strip() or item.media)

    def embed_documents(self, items: Sequence[EmbedItem], *, label: str = "") -> list[list[float]]:
        """One vector per item from its title, text and media bytes."""
        out = []
        for i, item in enumerate(items):
            vec = self._vector(self._features(f"{item.title} {item.text}", [m.data for m in item.media]))
            if not vec:
                where = f" of {label}" if label else ""
                raise ValueError(f"Item {i}{where} has nothing to embed; filter items with accepts() first.")
            out.append(vec)
        return out

    def embed_query(self, text: str | None = None, image: bytes | None = None,
                    image_mime: str = "image/jpeg") -> list[float]:
        """Vector of the text and/or image bytes; an empty list when there is nothing to embed."""
        if text is None and image is None:
            raise ValueError("embed_query needs text, an image, or both.")
        return self._vector(self._features(text or "", [image] if image else []))
