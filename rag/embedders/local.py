"""The offline embedder: all-MiniLM-L6-v2 text vectors (numpy), image queries through OCR."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.embedders.base import TEXT_ONLY
from rag.embedders.minilm import DIMENSION, MODEL_NAME, MiniLM, shared_minilm
from rag.types import EmbedItem


def document_text(item: EmbedItem) -> str:
    """What the local model reads for an item: title line + text (media parts are ignored)."""
    text = item.text.strip()
    title = item.title.strip()
    return f"{title}\n{text}" if title and text else text


def query_text_for_image(image: bytes) -> str:
    """OCR text of a query image ("" when it has no readable text); callers can check it first."""
    from rag.ocr import ocr_text

    return ocr_text(image)


class LocalEmbedder:
    """Embedder for provider "local": 384-d MiniLM vectors; no network, no torch.

    Text longer than 256 word pieces (~190 words) is truncated, as in sentence-transformers.
    """

    provider = "local"
    model = MODEL_NAME
    dimension = DIMENSION
    modalities = TEXT_ONLY
    local = True

    def __init__(self, model: MiniLM | None = None):
        self._model = model  # loaded (and hash-checked) on first use unless given

    @property
    def encoder(self) -> MiniLM:
        if self._model is None:
            self._model = shared_minilm()
        return self._model

    def accepts(self, item: EmbedItem) -> bool:
        """False for items without text (a media-only view: this model cannot see it)."""
        return bool(item.text.strip())

    def embed_documents(self, items: Sequence[EmbedItem], *, label: str = "") -> list[list[float]]:
        """One vector per item (title + text). Items must pass `accepts()`."""
        for i, item in enumerate(items):
            if not self.accepts(item):
                where = f" of {label}" if label else ""
                raise ValueError(f"Item {i}{where} has no text; filter items with accepts() first.")
        return self.encoder.encode([document_text(it) for it in items]).tolist()

    def embed_query(self, text: str | None = None, image: bytes | None = None,
                    image_mime: str = "image/jpeg") -> list[float]:
        """Vector of the query text; an image counts through its OCR text.

        Text and image: the normalised mean of both vectors. Returns an empty list when there is
        nothing to search with (blank text and an image without readable text).
        """
        # image_mime is irrelevant here: OCR decodes PNG and JPEG by content.
        if text is None and image is None:
            raise ValueError("embed_query needs text, an image, or both.")
        parts = [t for t in ((text or "").strip(), query_text_for_image(image) if image else "") if t]
        if not parts:
            return []
        vecs = self.encoder.encode(parts)
        fused = vecs.mean(0)
        return (fused / max(float(np.linalg.norm(fused)), 1e-12)).astype(np.float32).tolist()
