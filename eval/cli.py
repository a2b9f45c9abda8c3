"""`lecturelens eval` (the eval harness plugs in here)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Entry point hook: nothing to add until the eval harness lands."""
