"""IDs from content: re-ingesting the same bytes writes the same IDs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.types import Locator, PageSpan, TimeSpan


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(bufsize):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a string's UTF-8 bytes (callers cut it to the length they need)."""
    return hashlib.sha256(text.encode()).hexdigest()


def chunk_id(source_sha256: str, locator: Locator, source: str) -> str:
    """Hash of the source bytes' hash, its path in the course and the locator (rounded to ms for time spans).

    The path is in it because two byte-identical files (a lecture copied under two names, the same deck twice)
    are two sources a user sees and cites: with the bytes alone they shared IDs, the second file's vectors
    never reached the store, and deleting either copy left the other unsearchable."""
    if isinstance(locator, TimeSpan):
        loc = f"t:{locator.start_s:.3f}-{locator.end_s:.3f}"
    elif isinstance(locator, PageSpan):
        loc = f"p:{locator.first}-{locator.last}"
    else:  # pragma: no cover - the union is closed
        raise TypeError(locator)
    return sha256_text(f"{source_sha256}|{source}|{loc}")[:24]
