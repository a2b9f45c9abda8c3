"""Discover a course folder's files, hash them, and keep the manifest of what is indexed."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.ids import sha256_file
from rag.types import SourceKind

VIDEO_EXT = {".mp4", ".mov", ".webm", ".mkv", ".m4v"}
PDF_EXT = {".pdf"}
AUDIO_EXT = {".mp3", ".wav", ".m4a", ".ogg", ".flac"}
MANIFEST = "manifest.json"


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
            h = hashlib.sha256(f"{h}|{sha256_file(side)}".encode()).hexdigest()
        if transcript_key:
            h = hashlib.sha256(f"{h}|transcript:{transcript_key}".encode()).hexdigest()
    return h


class Manifest:
    """What is in the index, per source. Written atomically after every source, so a killed run resumes."""

    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / MANIFEST
        data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.sources: dict[str, dict[str, Any]] = data.get("sources", {})

    def get(self, rel: str) -> dict[str, Any] | None:
        return self.sources.get(rel)

    def put(self, rel: str, entry: dict[str, Any]) -> None:
        self.sources[rel] = entry
        self.save()

    def drop(self, rel: str) -> None:
        self.sources.pop(rel, None)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"sources": self.sources}, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def under(self, root: Path) -> list[str]:
        """Sources recorded as coming from this course root."""
        r = str(root.resolve())
        return [rel for rel, e in self.sources.items() if e.get("root") == r]
