"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.testing import FakeGeminiServer


@pytest.fixture
def fake_gemini() -> Iterator[FakeGeminiServer]:
    """A fake Gemini REST server on 127.0.0.1; point clients at `fake_gemini.url`."""
    with FakeGeminiServer() as server:
        yield server
