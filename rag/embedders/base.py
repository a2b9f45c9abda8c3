"""The embedder interface: documents (multimodal items) and queries (text, image, or both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from rag.types import EmbedItem

Modality = Literal["text", "image", "video", "audio", "pdf"]
TEXT_ONLY: frozenset[Modality] = frozenset({"text"})
MULTIMODAL: frozenset[Modality] = frozenset({"text", "image", "video", "audio", "pdf"})


@runtime_checkable
class Embedder(Protocol):
    """Turns items into L2-normalised vectors in one space."""

    # Read-only members (a class attribute or a property satisfies each).
    @property
    def provider(self) -> str:
        """Registry name: "gemini" | "local" | one registered by tests ("fake")."""
        ...

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def modalities(self) -> frozenset[Modality]:
        """What it can see in an item: ingest only makes the media it can embed."""
        ...

    @property
    def local(self) -> bool:
        """Runs on this machine with no network (labelled offline)."""
        ...

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


def sees(embedder: Embedder, modality: Modality) -> bool:
    """True when the embedder can embed this kind of content (an image, a clip, a PDF...)."""
    return modality in embedder.modalities
