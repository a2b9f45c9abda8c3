"""Gemini multimodal embedder (google-genai 2.x): one vector per item, text and media fused.

Wire facts, read from google/genai/models.py (2.34):
- On the Developer API `models.embed_content` always POSTs `{model}:batchEmbedContents` with
  `{"requests": [{"model": "models/{m}", "content": {"parts": [...]}, "outputDimensionality": d}]}`.
  For a model name containing `gemini-embedding-2` it first runs `t_contents`, which folds a flat
  list of strings/parts into ONE Content, i.e. one fused vector. So every item is its own Content.
- Parts go out as the SDK dumps them: `{"text": ...}` / `{"inline_data": {"mime_type", "data"}}`
  (base64). `task_type` is ignored by gemini-embedding-2; the task goes in the text instead.
- Sub-3072 MRL vectors are not unit length; we normalise.

Why text-only batches do not go through LlamaIndex's `GoogleGenAIEmbedding` (0.6): it does send one
Content per text (`contents=[[t] for t in texts]`) and honours `http_options.base_url`, but it builds
its own Client (so an injected `client` is bypassed), wraps the SDK in a second tenacity retry layer
(429/502/503/504, so attempts multiply and 500/408 are treated differently), reads
GOOGLE_API_KEY / GOOGLE_GENAI_USE_VERTEXAI from the environment, and adds `taskType`. Our path is
the same single HTTP call with one retry policy and one error translation for text and media alike.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import SecretStr

from rag.embedders.base import MULTIMODAL
from rag.errors import ProviderError
from rag.settings import GeminiSettings
from rag.types import EmbedItem

RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]
# Raw media bytes per call. Inline payloads are capped at 100 MB per request and base64 adds a third,
# so 100 segment clips must not share one call; a single bigger item still goes alone.
MAX_BATCH_BYTES = 40_000_000

_REMEDIES = {
    400: "Gemini rejected the request; check the item against the model limits (text 8192 tokens, "
    "<= 6 images, video <= 120 s, PDF <= 6 pages) and gemini.embedding_model.",
    401: "Check GEMINI_API_KEY / GOOGLE_API_KEY.",
    403: "Check GEMINI_API_KEY / GOOGLE_API_KEY and that the key may use this model.",
    404: "Check gemini.embedding_model and gemini.api_version.",
    429: "Quota or rate limit reached; lower gemini.concurrency or wait, then re-run (ingest resumes).",
}
_SERVER_REMEDY = "Gemini had a server problem; re-run later (ingest resumes)."


def http_options(settings: GeminiSettings) -> Any:
    """`types.HttpOptions` for every Gemini client LectureLens builds (embedding, chat, integrations)."""
    from google.genai import types

    return types.HttpOptions(
        base_url=settings.base_url,
        api_version=settings.api_version,
        timeout=max(1, int(settings.timeout_s * 1000)),  # the SDK takes milliseconds
        retry_options=types.HttpRetryOptions(
            attempts=settings.retries + 1,  # the SDK counts the first call
            initial_delay=settings.retry_initial_s,
            max_delay=settings.retry_max_s,
            # The SDK's default jitter adds up to 1 s per retry whatever the delays; scale it instead.
            jitter=settings.retry_initial_s,
            http_status_codes=RETRY_STATUS_CODES,
        ),
    )


def build_client(settings: GeminiSettings, api_key: SecretStr) -> Any:
    """A `google.genai.Client` (Developer API) with LectureLens' endpoint, timeout and retry policy."""
    from google import genai

    key = api_key.get_secret_value()
    return genai.Client(api_key=key, vertexai=False, http_options=http_options(settings))


class GeminiEmbedder:
    """Embedder over Gemini embedding models (default gemini-embedding-2)."""

    provider = "gemini"
    modalities = MULTIMODAL
    local = False

    def __init__(self, settings: GeminiSettings, api_key: SecretStr, client: Any = None):
        self.settings = settings
        self.model = settings.embedding_model
        self.dimension = settings.dimension
        self._secret = api_key.get_secret_value()
        self._client = client if client is not None else build_client(settings, api_key)

    def __repr__(self) -> str:  # never show the key
        return f"GeminiEmbedder(model={self.model!r}, dimension={self.dimension})"

    def accepts(self, item: EmbedItem) -> bool:
        """True when the item has text or media to embed."""
        return bool(item.text.strip() or item.media)

    def embed_documents(self, items: Sequence[EmbedItem], *, label: str = "") -> list[list[float]]:
        """One L2-normalised vector per item, in order; batched and concurrent per settings."""
        from google.genai import types

        if not items:
            return []
        empty = [i for i, item in enumerate(items) if not self.accepts(item)]
        if empty:
            raise ValueError(f"{label or 'embed_documents'}: items {empty[:5]} have no text or media")
        contents = [types.Content(parts=self._document_parts(item)) for item in items]
        batches = _pack(
            contents,
            [sum(len(m.data) for m in it.media) for it in items],
            self.settings.batch_size,
            MAX_BATCH_BYTES,
        )
        if len(batches) == 1 or self.settings.concurrency == 1:
            return [v for b in batches for v in self._embed_batch(b, label)]
        workers = min(self.settings.concurrency, len(batches))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gemini-embed") as pool:
            futures = [pool.submit(self._embed_batch, b, label) for b in batches]
            try:
                return [v for f in futures for v in f.result()]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def embed_query(
        self, text: str | None = None, image: bytes | None = None, image_mime: str = "image/jpeg"
    ) -> list[float]:
        """One vector for a text query, an image query, or both fused in one Content."""
        from google.genai import types

        parts = []
        if text and text.strip():
            parts.append(types.Part.from_text(text=f"task: search result | query: {text.strip()}"))
        if image:
            parts.append(types.Part.from_bytes(data=image, mime_type=image_mime))
        if not parts:
            raise ValueError("embed_query needs text, image bytes, or both")
        return self._embed_batch([types.Content(parts=parts)], "the query")[0]

    # --- internals ---

    @staticmethod
    def _document_parts(item: EmbedItem) -> list[Any]:
        from google.genai import types

        parts = []
        if item.text.strip():
            # Google's document format for gemini-embedding-2; "none" when there is no title.
            title = item.title.strip() or "none"
            parts.append(types.Part.from_text(text=f"title: {title} | text: {item.text}"))
        parts += [types.Part.from_bytes(data=m.data, mime_type=m.mime_type) for m in item.media]
        return parts

    def _embed_batch(self, contents: list[Any], label: str) -> list[list[float]]:
        from google.genai import types

        try:
            resp = self._client.models.embed_content(
                model=self.model,
                contents=contents,
                config=types.EmbedContentConfig(output_dimensionality=self.dimension),
            )
        except Exception as e:
            err = self._translate(e, label)
            if err is None:
                raise
            raise err from (None if self._secret and self._secret in str(e) else e)
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

    def _translate(self, e: Exception, label: str) -> ProviderError | None:
        """ProviderError for API/transport failures (after the SDK's retries); None for anything else."""
        from google.genai import errors

        what = f"Gemini ({self.model}) could not embed {label or 'the batch'}"
        tries = f"{self.settings.retries + 1} attempt(s)"
        if isinstance(e, errors.APIError):
            code = e.code or 0
            if "API_KEY_INVALID" in str(e.details):  # Gemini answers a bad key with a plain 400
                code_remedy = _REMEDIES[401]
            else:
                code_remedy = _REMEDIES.get(code, _SERVER_REMEDY)
            after = f" after {tries}" if code in RETRY_STATUS_CODES else ""
            detail = (e.message or "").strip().rstrip(".")
            msg = f"{what}: HTTP {code} {e.status or ''}{after}: {detail}. {code_remedy}"
        elif isinstance(e, _transport_errors()):
            if "Timeout" in type(e).__name__:
                problem = f"no answer within {self.settings.timeout_s:g} s"
                remedy = "Raise gemini.timeout_s or make the items smaller, then re-run."
            else:
                problem = f"could not reach {self.settings.base_url or 'the Gemini API'} ({type(e).__name__})"
                remedy = "Check the network and gemini.base_url, then re-run."
            msg = f"{what}: {problem} after {tries}. {remedy}"
        else:
            return None
        return ProviderError(msg.replace(self._secret, "***") if self._secret else msg)


def _transport_errors() -> tuple[type[BaseException], ...]:
    # The SDK uses httpx, or httpx2 when GOOGLE_GENAI_HTTP_CLIENT=httpx2; both raise their own types.
    found: list[type[BaseException]] = []
    for mod in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(mod).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _pack(contents: list[Any], sizes: list[int], max_items: int, max_bytes: int) -> list[list[Any]]:
    """Split into consecutive batches of <= max_items and (unless one item is bigger) <= max_bytes."""
    batches: list[list[Any]] = [[]]
    used = 0
    for content, size in zip(contents, sizes, strict=True):
        if batches[-1] and (len(batches[-1]) >= max_items or used + size > max_bytes):
            batches.append([])
            used = 0
        batches[-1].append(content)
        used += size
    return batches if batches[0] else []
