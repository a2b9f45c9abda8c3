"""Files the UI shows: indexed sources, their page renders and keyframes (nothing else is ever served)."""

from __future__ import annotations

from typing import Any

from rag.index import Manifest, ManifestEntry, keyframe_image, page_render


def entry(services: Any, source: str) -> ManifestEntry | None:
    """The manifest entry of one indexed source."""
    return Manifest(services.index_dir).get(source)


def entries(services: Any) -> dict[str, ManifestEntry]:
    """Every indexed source's manifest entry."""
    return Manifest(services.index_dir).sources


def served_paths(services: Any) -> list[str]:
    """The files the UI may serve: exactly the indexed sources, plus the index's page and keyframe renders."""
    paths = [e.path for e in entries(services).values() if e.path]
    return [*paths, str(services.media_dir)]


def page_file(services: Any, source: str, page: int) -> str | None:
    """The stored render of a PDF page, or None (indexes built without page images)."""
    e = entry(services, source)
    if e is None or not e.media_dir:
        return None
    f = page_render(e.media_dir, page)
    return str(f) if f.is_file() else None


def keyframe_file(services: Any, source: str, t: float) -> str | None:
    """The stored keyframe of a video at keyframe time `t`, or None."""
    e = entry(services, source)
    if e is None or not e.media_dir:
        return None
    f = keyframe_image(e.media_dir, t)
    return str(f) if f.is_file() else None


def page_image(services: Any, source: str, page: int) -> Any:
    """A PDF page to show: its stored render, else a fresh render of the indexed file."""
    stored = page_file(services, source, page)
    if stored:
        return stored
    e = entry(services, source)
    if e is None:
        return None
    import pypdfium2

    pdf = pypdfium2.PdfDocument(e.path)
    try:
        return pdf[page - 1].render(scale=1.5).to_pil()
    finally:
        pdf.close()
