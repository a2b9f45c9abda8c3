"""`lecturelens ask` and `lecturelens chat`."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli import emit, fail, index_option, json_option, settings_from
from rag.errors import LectureLensError


@click.command()
@click.argument("question", required=False)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Photo or screenshot to ask about.")
@index_option
@json_option
def ask(question, image, index_dir, as_json):
    """Ask a question about the course; the answer cites lecture moments and pages."""
    from agent.answer import ask as ask_fn
    from agent.moments import localize
    from agent.offline import OFFLINE_LABEL
    from rag.contracts import answer_json
    from rag.factory import build
    from rag.uploads import load_image

    if not question and not image:
        raise click.UsageError("give a QUESTION, an --image, or both")
    try:
        upload = load_image(image) if image else None  # before build: a bad photo fails fast, with its name
        services = build(settings_from(index_dir))
        ans = ask_fn(services, question, upload)
        # Each lecture citation names the slide on screen at its cited sentence, not the segment's.
        ans, _ = localize(ans, services.retriever.alignment, question or "")
    except LectureLensError as e:
        fail(e, as_json)
    if as_json:
        emit(answer_json(ans))
        return
    if ans.mode == "offline":
        click.secho(OFFLINE_LABEL, dim=True)
    click.echo(ans.text)
    if ans.declined and ans.reason:
        click.secho(f"(Why: {ans.reason}.)", dim=True)
    from rag.citations import CLOSEST_HEADING, transcript_mark

    for c in ans.citations:
        click.echo(f"  [{c.label}] {c.display}{transcript_mark(c.transcript)}")
    if ans.closest:
        click.secho(CLOSEST_HEADING + ":", dim=True)
        for c in ans.closest:
            click.echo(f"  {c.display}{transcript_mark(c.transcript)}")


@click.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1). Any other address needs --auth.")
@click.option("--port", type=int, default=None, help="Port (default 7860).")
@click.option("--auth", default=None, metavar="USER:PASSWORD",
              help="Require this login (default: LECTURELENS_UI__AUTH). Required for a non-loopback --host.")
@index_option
def chat(host, port, auth, index_dir):
    """Serve the chat UI (Gradio) on 127.0.0.1:7860."""
    from agent.app import check_bind, parse_auth, serve
    from rag.factory import build

    try:
        settings = settings_from(index_dir)
        host = host or settings.ui.host
        auth = auth or (settings.ui.auth.get_secret_value() if settings.ui.auth else None)
        check_bind(host, parse_auth(auth))  # before building anything: a refused bind fails at once
        services = build(settings)
    except LectureLensError as e:
        fail(e)
    serve(services, host=host, port=port or settings.ui.port, auth=auth)


def register(cli: click.Group) -> None:
    """Entry point hook."""
    cli.add_command(ask)
    cli.add_command(chat)
