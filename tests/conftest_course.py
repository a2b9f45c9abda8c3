"""Shared helpers for tests over the sample course (examples/course)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "examples" / "course"
TRUTH = json.loads((ROOT / "examples" / "course_truth.json").read_text())


def overlaps(hit: dict, source: str, start: float | None = None, end: float | None = None,
             pages: list[int] | None = None) -> bool:
    """Does a `search --json` hit land on the expected place?"""
    if hit["source"] != source:
        return False
    if pages is not None:
        return bool(set(hit["pages"] or []) & set(pages))
    return hit["start"] < end and hit["end"] > start
