"""The `lecturelens` command: a thin root group. Subcommands of the other packages plug in through the
`lecturelens.commands` entry point group (so `rag` imports no outer package)."""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn

import click

from rag.errors import LectureLensError


def index_option(f):
    """`--index DIR` on every command."""
    return click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Index folder (default: index_dir in config.yaml, else ./.lecturelens).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(f)


def settings_from(index_dir: Path | None, **extra: Any):
    """Settings with CLI flags on top (CLI > env > config.yaml > defaults)."""
    from rag.settings import load_settings

    return load_settings(index_dir=index_dir, **extra)


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(e: LectureLensError, as_json: bool = False) -> NoReturn:
    """Report a LectureLens error at the boundary and exit 1."""
    if as_json:
        emit({"error": str(e), "type": type(e).__name__})
    else:
        click.secho(f"Error: {e}", fg="red", err=True)
    sys.exit(1)


@click.group()
@click.version_option(package_name="lecturelens")
def cli() -> None:
    """LectureLens: ask a course folder (lecture videos, slide PDFs, audio) and get cited answers."""


@cli.command()
@click.argument("query", required=False)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Image query (photo/screenshot).")
@click.option("-k", "k", type=int, default=None, help="Number of hits.")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["video", "pdf", "audio"]), help="Only this kind.")
@index_option
@json_option
def search(query, image, k, sources, kinds, index_dir, as_json):
    """Search the course: ranked lecture moments and pages."""
    from rag.factory import build
    from rag.retrieval import Query
    from rag.uploads import load_image

    if not query and not image:
        raise click.UsageError("give a QUERY, an --image, or both")
    try:
        upload = load_image(image) if image else None  # before build: a bad photo fails fast, with its name
        services = build(settings_from(index_dir))
        q = Query(text=query, image=upload.data if upload else None,
                  image_mime=upload.mime if upload else "image/jpeg", sources=sources or None, kinds=kinds or None)
        result = services.retriever.search(q, k)
        hits = result.hits
        declined = not query and _picture_not_in_course(services, result)
    except LectureLensError as e:
        fail(e, as_json)
    from rag.contracts import hit_json

    rows = [] if declined else [hit_json(i, h) for i, h in enumerate(hits, start=1)]
    expanded = [{"asked": asked, "added": added} for asked, added in result.expansion.pairs]
    if as_json:
        emit({"query": query, "image": str(image) if image else None, "embedder": services.embedder_label,
              "expanded": expanded, "hits": rows, "declined": declined})
        return
    click.echo(f"embedder: {services.embedder_label}")
    if expanded:  # the course's glossary: "GRE" also searched as "Generic Routing Encapsulation"
        click.echo("also searched with: " + "; ".join(f"{e['added']} (for “{e['asked']}”)" for e in expanded))
    if declined:
        click.echo("not in this course: no slide, page or lecture frame matches this picture")
    elif not rows:
        click.echo("no hits")
    from rag.citations import transcript_mark

    for r in rows:
        click.echo(f"{r['rank']:>2}. {r['display']}{transcript_mark(r.get('transcript'))}  [{r['score']:.3f}]")
        if r["text"]:
            click.echo(f"    {' '.join(r['text'].split())[:160]}")


def _picture_not_in_course(services, result) -> bool:
    """An image-only search is declined when neither a verified picture match nor the words read from
    it support any hit (the same judgement `ask` makes)."""
    from rag.confidence import judge

    return not judge(result, weight=services.retriever.idf).answerable


@cli.command()
@click.argument("source")
@index_option
@json_option
def segments(source, index_dir, as_json):
    """List a video or audio file's segments: span, keyframes, the slide page each shows, its spoken text."""
    from rag.alignment import Alignment
    from rag.citations import clock, transcript_mark
    from rag.contracts import segment_rows
    from rag.factory import build

    try:
        services = build(settings_from(index_dir))
        align = services.retriever.alignment or Alignment(services.index_dir)
        rows = segment_rows(services.store, align, source)
    except LectureLensError as e:
        fail(e, as_json)
    if as_json:
        emit({"source": source, "segments": rows})
        return
    for r in rows:
        s = r["slide"]
        slide = f"{s['source']} p. {s['page']} ({r['confidence']:.2f})" if s else "no slide"
        shown = {k["t"]: k["slide"] for k in r["keyframe_slides"]}
        kfs = ", ".join(clock(t) + (f" p. {shown[t]['page']}" if shown.get(t) else "")
                        for t in r["keyframes"])
        click.echo(f"{clock(r['start']):>7}–{clock(r['end']):<7} {slide}   keyframes {kfs}"
                   f"{transcript_mark(r.get('transcript'))}")
        if r.get("text"):
            click.echo(f"{'':>16}{' '.join(r['text'].split())[:160]}")


@cli.command()
@index_option
@json_option
def status(index_dir, as_json):
    """What the index holds: sources, chunks, vectors, embedder, fingerprint."""
    from rag.contracts import index_status

    try:
        data = index_status(settings_from(index_dir))
    except LectureLensError as e:
        fail(e, as_json)
    if as_json:
        emit(data)
        return
    click.echo(f"index: {data['index']}")
    click.echo(f"embedder: {data['embedder']}  fingerprint: {data['fingerprint']}")
    click.echo(f"sources: {len(data['sources'])}  chunks: {data['chunks']}  vectors: {data['vectors']}")
    for s in data["sources"]:
        click.echo(f"  {s['kind']:<5} {s['source']}  ({s['chunks']} chunks)")


def _register_plugins() -> None:
    for ep in entry_points(group="lecturelens.commands"):
        ep.load()(cli)


def main() -> None:
    """Console entry point."""
    _register_plugins()
    cli()
