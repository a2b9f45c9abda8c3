"""`lecturelens ingest`: parse, call ingest_paths, render."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli import emit, fail, index_option, json_option, settings_from
from rag.errors import LectureLensError


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--exclude", multiple=True, help="Glob of course-relative paths to skip (repeatable).")
@click.option("--transcribe", "transcribe", type=click.Choice(["missing", "always", "never"]), default=None,
              help="Offline speech-to-text: for media without a caption file (missing, the default), for every "
                   "video/audio (always; a caption file still wins), or never. Config key: transcribe.mode.")
@click.option("--deck-text/--no-deck-text", default=True, show_default=True,
              help="A keyframe that surely shows a page of an ingested deck is not OCR'd: the page holds its words "
                   "(--no-deck-text: OCR every distinct keyframe picture; see README, Performance).")
@index_option
@json_option
def ingest(paths, exclude, transcribe, deck_text, index_dir, as_json):
    """Ingest course folders (videos + .vtt/.srt captions, slide PDFs, audio) into the index."""
    from ingest.pipeline import ingest_paths
    from rag.factory import build

    try:
        extra = {"transcribe": {"mode": transcribe}} if transcribe else {}
        services = build(settings_from(index_dir, **extra), create=True)
        if not as_json:
            click.echo(f"embedder: {services.embedder_label}")
        report = ingest_paths(list(paths), services, exclude=tuple(exclude), show_progress=True,
                              deck_text=deck_text)
    except LectureLensError as e:
        fail(e, as_json)
    if as_json:
        emit(report.to_json())
    else:
        click.echo(f"ingested {len(report.ingested)}, skipped {len(report.skipped)} unchanged, "
                   f"removed {len(report.removed)}, failed {len(report.failed)}; "
                   f"{report.chunks} chunks, {report.vectors} vectors in {report.seconds:.1f} s")
        for w in report.warnings:
            click.secho(f"  note: {w}", fg="yellow")
        for f in report.failed:
            click.secho(f"  failed: {f['error']}", fg="red", err=True)
    raise SystemExit(1 if report.failed else 0)


def register(cli: click.Group) -> None:
    """Entry point hook: add the ingest command to the root group."""
    cli.add_command(ingest)
