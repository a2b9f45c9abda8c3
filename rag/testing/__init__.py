"""Test doubles shipped inside the package, shared by tests, the demo and eval smoke runs."""

from rag.testing import media
from rag.testing.fake_gemini import FakeGeminiServer, RecordedRequest
from rag.testing.fake_vectors import embed_parts

__all__ = ["FakeGeminiServer", "RecordedRequest", "embed_parts", "media"]
