"""The embedder interface: documents (multimodal items) and queries (text, image, or both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from rag.types import EmbedItem


@runtime_checkable
class Embedder(Protocol):
    """Turns items into L2-normalised vectors in one space."""

    provider: str  # "gemini" | "local" | "fake"
    model: str
    dimension: int

    def embed_documents(self, items: Sequence[EmbedItem], *, label: str = "") -> list[list[float]]:
        """One vector per item. `label` (e.g. the source path) goes into error messages."""
        ...

    def embed_query(self, text: str | None = None, image: bytes | None = None,
                    image_mime: str = "image/jpeg") -> list[float]:
        """One vector for a query: text, image bytes, or both fused."""
        ...

    def accepts(self, item: EmbedItem) -> bool:
        """False when this embedder has nothing to embed in the item (e.g. media-only for a text model)."""
        ...
