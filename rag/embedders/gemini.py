"""Gemini multimodal embedder (google-genai 2.x): one vector per item, text and media fused.

Wire facts, read from google/genai/models.py (2.34):
- On the Developer API `models.embed_content` always POSTs `{model}:batchEmbedContents` with
  `{"requests": [{"model": "models/{m}", "content": {"parts": [...]}, "outputDimensionality": d}]}`.
  For a model name containing `gemini-embedding-2` it first runs `t_contents`, which folds a flat
  list of strings/parts into ONE Content, i.e. one fused vector. So every item is its own Content.
- Parts go out as the SDK dumps them: `{"text": ...}` / `{"inline_data": {"mime_type", "data"}}`
  (base64). `task_type` is ignored by gemini-embedding-2; the task goes in the text instead.
- Sub-3072 MRL vectors are not unit length; we normalise.
- Only PNG/JPEG images, MP4/MPEG video, MP3/WAV audio (`audio/mp3`) and PDF are accepted; the strict fake
  (rag/testing/fake_rules.py) cites the docs for each limit.

Why text-only batches do not go through LlamaIndex's `GoogleGenAIEmbedding` (0.6): it does send one
Content per text (`contents=[[t] for t in texts]`) and honours `http_options.base_url`, but it builds
its own Client (so an injected `client` is bypassed), wraps the SDK in a second tenacity retry layer
(429/502/503/504, so attempts multiply and 500/408 are treated differently), reads
GOOGLE_API_KEY / GOOGLE_GENAI_USE_VERTEXAI from the environment, and adds `taskType`. Our path is
the same single HTTP call with one retry policy and one error translation for text and media alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import SecretStr

from rag.embedders.base import MULTIMODAL
from rag.errors import ItemRejectedError, ProviderError
from rag.gemini_provider import GeminiProvider, Purpose
from rag.settings import GeminiSettings
from rag.types import EmbedItem
from rag.vector_cache import VectorCache, item_key

# Longest media per item the model takes, by modality (see rag/testing/fake_rules.py for the sources).
MEDIA_SECONDS = {"video": 120.0, "audio": 80.0}
VERTEX_VIDEO_WITH_AUDIO_S = 80.0
QUERY_IMAGE_MIMES = ("image/png", "image/jpeg")  # the only image types gemini-embedding-2 takes


class GeminiEmbedder:
    """Embedder over Gemini embedding models (default gemini-embedding-2)."""

    provider = "gemini"
    modalities = MULTIMODAL
    local = False

    def __init__(self, settings: GeminiSettings, api_key: SecretStr, client: Any = None, *,
                 cache: VectorCache | None = None, gemini: GeminiProvider | None = None):
        self.settings = settings
        self.model = settings.embedding_model
        self.dimension: int = settings.dimension
        self.gemini = gemini or GeminiProvider(settings, api_key)
        self._client = client if client is not None else self.gemini.client()
        self.cache = cache
        self.calls = 0  # embedding HTTP calls that returned vectors (for reports and tests)

    def __repr__(self) -> str:  # never show the key
        return f"GeminiEmbedder(model={self.model!r}, dimension={self.dimension})"

    @property
    def media_seconds(self) -> dict[str, float]:
        """Longest video/audio clip per item this model takes (Vertex: video with audio <= 80 s)."""
        limits = dict(MEDIA_SECONDS)
        if self.settings.vertex_limits:
            limits["video"] = VERTEX_VIDEO_WITH_AUDIO_S
        return limits

    def accepts(self, item: EmbedItem) -> bool:
        """True when the item has text or media to embed."""
        return bool(item.text.strip() or item.media)

    def embed_documents(self, items: Sequence[EmbedItem], *, label: str = "") -> list[list[float]]:
        """One L2-normalised vector per item, in order; cached per item, batched and concurrent."""
        if not items:
            return []
        empty = [i for i, item in enumerate(items) if not self.accepts(item)]
        if empty:
            raise ValueError(f"{label or 'embed_documents'}: items {empty[:5]} have no text or media")
        texts = [self._document_text(item) for item in items]
        keys = [item_key(self.model, self.dimension, it, t) for it, t in zip(items, texts, strict=True)]
        out: list[list[float] | None] = [None] * len(items)
        if self.cache is not None:
            hit = self.cache.get_many(keys)
            for i, k in enumerate(keys):
                out[i] = hit.get(k)
        todo = [i for i, v in enumerate(out) if v is None]
        sizes = [sum(len(m.data) for m in items[i].media) for i in todo]
        batches = _pack(todo, sizes, self.settings.batch_size, int(self.settings.max_batch_mb * 1_000_000))

        def run(batch: list[int]) -> list[tuple[int, list[float]]]:
            return self._embed_indices(batch, items, texts, keys, label)

        if len(batches) <= 1 or self.settings.concurrency == 1:
            results = [r for b in batches for r in run(b)]
        else:
            workers = min(self.settings.concurrency, len(batches))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gemini-embed") as pool:
                futures = [pool.submit(run, b) for b in batches]
                try:
                    results = [r for f in futures for r in f.result()]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        for i, v in results:
            out[i] = v
        return [v for v in out if v is not None]

    def embed_query(
        self, text: str | None = None, image: bytes | None = None, image_mime: str = "image/jpeg"
    ) -> list[float]:
        """One vector for a text query, an image query (PNG/JPEG bytes), or both fused in one Content."""
        from google.genai import types

        parts = []
        if text and text.strip():
            parts.append(types.Part.from_text(text=f"task: search result | query: {text.strip()}"))
        if image and image_mime not in QUERY_IMAGE_MIMES:
            # Fallback for callers that skipped rag.uploads: the API takes PNG/JPEG only (a WebP is a 400).
            from rag.uploads import load_image

            upload = load_image(image)
            image, image_mime = upload.data, upload.mime
        if image:
            parts.append(types.Part.from_bytes(data=image, mime_type=image_mime))
        if not parts:
            raise ValueError("embed_query needs text, image bytes, or both")
        try:
            return self._call([types.Content(parts=parts)], "the query", "query")[0]
        except _Rejected as r:
            raise ProviderError(r.error) from None

    # --- internals ---

    @staticmethod
    def _document_text(item: EmbedItem) -> str:
        # Google's document format for gemini-embedding-2; "none" when there is no title.
        return f"title: {item.title.strip() or 'none'} | text: {item.text}" if item.text.strip() else ""

    @staticmethod
    def _content(item: EmbedItem, text: str) -> Any:
        from google.genai import types

        parts = [types.Part.from_text(text=text)] if text else []
        parts += [types.Part.from_bytes(data=m.data, mime_type=m.mime_type) for m in item.media]
        return types.Content(parts=parts)

    def _embed_indices(self, batch: list[int], items: Sequence[EmbedItem], texts: list[str], keys: list[str],
                       label: str) -> list[tuple[int, list[float]]]:
        """Embed these items and cache them at once; on a 400 bisect the batch to name the rejected item."""
        contents = [self._content(items[i], texts[i]) for i in batch]
        try:
            got = list(zip(batch, self._call(contents, label, "ingest"), strict=True))
            if self.cache is not None:
                self.cache.put_many((keys[i], v) for i, v in got)
            return got
        except _Rejected as r:
            if len(batch) == 1:
                raise ItemRejectedError(
                    f"Gemini ({self.model}) rejected item {batch[0] + 1} of {label or 'the batch'}: {r.error}",
                    batch[0]) from None
            half = len(batch) // 2
            return (self._embed_indices(batch[:half], items, texts, keys, label)
                    + self._embed_indices(batch[half:], items, texts, keys, label))

    def _call(self, contents: list[Any], label: str, purpose: Purpose) -> list[list[float]]:
        from google.genai import errors, types

        config = types.EmbedContentConfig(output_dimensionality=self.dimension,
                                          http_options=self.gemini.request_options(purpose))
        what = f"Gemini ({self.model}) could not embed {label or 'the batch'}"
        try:
            resp = self.gemini.retry(purpose).run(
                lambda: self._client.models.embed_content(model=self.model, contents=contents, config=config))
        except errors.APIError as e:
            err = self.gemini.error(e, what, purpose, self.model)
            if e.code == 400 and "API_KEY_INVALID" not in str(e.details) and err is not None:
                raise _Rejected(str(err)) from None
            self.gemini.raise_from(e, what, purpose, self.model)
            raise  # pragma: no cover - raise_from always raises
        except Exception as e:
            self.gemini.raise_from(e, what, purpose, self.model)
            raise  # pragma: no cover
        self.calls += 1
        vectors = [list(e.values or []) for e in (resp.embeddings or [])]
        if len(vectors) != len(contents):
            raise ProviderError(
                f"Gemini returned {len(vectors)} embeddings for {len(contents)} items of "
                f"{label or 'the batch'}. Re-run; if it persists, lower gemini.batch_size."
            )
        return [self._normalise(v, label) for v in vectors]

    def _normalise(self, v: list[float], label: str) -> list[float]:
        if len(v) != self.dimension:
            raise ProviderError(
                f"Gemini returned a {len(v)}-d vector for {label or 'the batch'}, expected "
                f"{self.dimension}. Check gemini.dimension and gemini.embedding_model."
            )
        norm = math.sqrt(sum(x * x for x in v))
        if not norm:
            raise ProviderError(f"Gemini returned an all-zero vector for {label or 'the batch'}. Re-run it.")
        return [x / norm for x in v]


class _Rejected(Exception):
    """A 400 for a whole batch: bisect to find the item."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


def _pack(indices: list[int], sizes: list[int], max_items: int, max_bytes: int) -> list[list[int]]:
    """Split into consecutive batches of <= max_items and (unless one item is bigger) <= max_bytes."""
    batches: list[list[int]] = [[]]
    used = 0
    for index, size in zip(indices, sizes, strict=True):
        if batches[-1] and (len(batches[-1]) >= max_items or used + size > max_bytes):
            batches.append([])
            used = 0
        batches[-1].append(index)
        used += size
    return batches if batches[0] else []
