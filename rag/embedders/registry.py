"""Embedder providers by name. `local` and `gemini` are built in; tests register their fake here, the
same hook a plugin would use, so the production settings never list it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.embedders.base import Embedder
    from rag.settings import Settings

EmbedderFactory = Callable[["Settings"], "Embedder"]


@dataclass(frozen=True)
class Provider:
    """A named way to build an embedder, and how outputs label it."""

    name: str
    build: EmbedderFactory
    tag: str  # said beside the model in every output: "offline", "Gemini API", "test fake"


def _local(settings: Settings) -> Embedder:
    from rag.embedders.local import LocalEmbedder

    return LocalEmbedder()


def _gemini(settings: Settings) -> Embedder:
    key = settings.api_key()
    if key is None:
        raise ConfigError("embedding.provider is gemini but neither GEMINI_API_KEY nor GOOGLE_API_KEY is set. "
                          "Export one, or set embedding.provider: local.")
    from rag.embedders.gemini import GeminiEmbedder
    from rag.index import vector_cache_path
    from rag.vector_cache import VectorCache

    return GeminiEmbedder(settings.gemini, key, cache=VectorCache(vector_cache_path(settings.index_dir)))


BUILTIN = ("local", "gemini")
_PROVIDERS: dict[str, Provider] = {
    "local": Provider("local", _local, "offline"),
    "gemini": Provider("gemini", _gemini, "Gemini API"),
}


def register_embedder(name: str, build: EmbedderFactory, *, tag: str) -> None:
    """Make `embedding.provider: <name>` build embedders with `build(settings)`."""
    if name in BUILTIN or name == "auto":
        raise ValueError(f"{name!r} is a built-in provider name")
    _PROVIDERS[name] = Provider(name, build, tag)


def unregister_embedder(name: str) -> None:
    if name not in BUILTIN:
        _PROVIDERS.pop(name, None)


def provider_names() -> list[str]:
    return list(_PROVIDERS)


def get_provider(name: str) -> Provider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"unknown embedding provider {name!r}: use one of auto, "
                          f"{', '.join(_PROVIDERS)}. Fix config.yaml or LECTURELENS_EMBEDDING__PROVIDER.") from None


def provider_tag(name: str) -> str:
    """How outputs label a provider (its own name when it is not registered in this process)."""
    p = _PROVIDERS.get(name)
    return p.tag if p is not None else name
