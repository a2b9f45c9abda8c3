"""The one progress bar of long commands (ingest, eval): rich, transient, off in tests and --json runs."""

from __future__ import annotations

from typing import Any


def progress_bar(show: bool = True) -> Any:
    """A `rich.progress.Progress` context: description, bar, done/total, elapsed; disabled unless `show`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True, disable=not show)
