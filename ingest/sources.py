"""Discover a course folder's files, hash them, and keep the manifest of what is indexed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rag.ids import sha256_file, sha256_text
from rag.types import SourceKind

VIDEO_EXT = {".mp4", ".mov", ".webm", ".mkv", ".m4v"}
PDF_EXT = {".pdf"}
AUDIO_EXT = {".mp3", ".wav", ".m4a", ".ogg", ".flac"}


def kind_of(path: Path) -> SourceKind | None:
    """The source kind a file's extension says, or None for files LectureLens does not ingest."""
    ext = path.suffix.lower()
    if ext in VIDEO_EXT:
        return "video"
    if ext in PDF_EXT:
        return "pdf"
    if ext in AUDIO_EXT:
        return "audio"
    return None


@dataclass(frozen=True)
class Found:
    """A course file on disk."""

    root: Path
    path: Path
    rel: str  # POSIX path relative to root: the citation name
    kind: SourceKind


def discover(root: Path, exclude: tuple[str, ...] = ()) -> list[Found]:
    """Every ingestible file below root (hidden folders skipped), sorted by relative path."""
    root = root.resolve()
    if root.is_file():
        kind = kind_of(root)
        return [Found(root.parent, root, root.name, kind)] if kind else []
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath) / name
            kind = kind_of(p)
            if kind is None or name.startswith("."):
                continue
            rel = p.relative_to(root).as_posix()
            if any(Path(rel).match(pat) for pat in exclude):
                continue
            out.append(Found(root, p, rel, kind))
    return sorted(out, key=lambda f: f.rel)


def content_hash(found: Found, transcript_key: str | None = None) -> str:
    """Hash of the file, and of its caption sidecar for video/audio (new captions → re-ingest).

    `transcript_key` (the transcriber's identity, given only when a machine transcript feeds this file)
    is mixed in, so switching transcription on/off or changing the model re-ingests exactly the files
    whose words come from it, and nothing else.
    """
    h = sha256_file(found.path)
    if found.kind in ("video", "audio"):
        from ingest.captions import find_sidecar

        side = find_sidecar(found.path)
        if side is not None:
            h = sha256_text(f"{h}|{sha256_file(side)}")
        if transcript_key:
            h = sha256_text(f"{h}|transcript:{transcript_key}")
    return h
