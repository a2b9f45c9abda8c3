"""A tiny Gemini-mode index built through the strict fake server (text pages only: fast)."""

from __future__ import annotations

from pathlib import Path

from rag.factory import Services, build
from rag.ids import chunk_id
from rag.settings import load_settings
from rag.types import Chunk, EmbedItem, PageSpan, View

KEY = "AIzaFAKE-defects-key-0123456789"
PAGES = [
    "The discount factor gamma weighs future rewards against immediate rewards in reinforcement learning.",
    "A value function estimates the expected discounted return from a state under a policy.",
    "Gradient descent updates the weights by a step along the negative gradient scaled by the learning rate.",
    "K-means clustering assigns each point to the nearest centroid and then moves each centroid to the mean.",
]


def gemini_settings(index: Path, url: str, **gemini):
    opts = {"base_url": url, "retries": 1, "retry_initial_s": 0.01, "retry_max_s": 0.05, **gemini}
    return load_settings(index_dir=index, embedding={"provider": "gemini"}, gemini=opts, chunking={"ocr": False})


def tiny_index(index: Path, url: str, **gemini) -> Services:
    """Four PDF pages of `slides/deck.pdf`, embedded by GeminiEmbedder through the fake at `url`."""
    services = build(gemini_settings(index, url, **gemini), create=True)
    chunks, views = [], []
    for page, text in enumerate(PAGES, start=1):
        loc = PageSpan(first=page, last=page)
        chunks.append(Chunk(id=chunk_id("deck", loc, "slides/deck.pdf"), source="slides/deck.pdf",
                            source_sha256="deck", kind="pdf",
                            title="Deck", locator=loc, text=text, page_texts=(text,)))
        views.append(View(name=f"p{page}", item=EmbedItem(text=text, title="Deck"), page=page, text=text))
    vectors = services.embedder.embed_documents([v.item for v in views], label="slides/deck.pdf")
    for chunk, view, vec in zip(chunks, views, vectors, strict=True):
        services.store.add(chunk, [view], [vec])
    return services
