"""Test doubles shipped inside the package, shared by tests, the demo and eval smoke runs."""

from rag.testing.fake_gemini import FakeGeminiServer, RecordedRequest, embed_parts

__all__ = ["FakeGeminiServer", "RecordedRequest", "embed_parts"]
