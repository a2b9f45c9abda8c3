"""`lecturelens eval`: parse, run the dataset, write the report, compare, gate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rag.cli import emit, fail, index_option, json_option, settings_from
from rag.errors import LectureLensError


@click.command(name="eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@index_option
@click.option("-k", "k", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Hits kept per case.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: eval-runs/<dataset name>).")
@click.option("--answers", is_flag=True, help="Also run the answerer: citation and must_mention metrics.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An earlier report.json: print and write the diff.")
@click.option("--min", "floors", multiple=True, metavar="METRIC=VALUE",
              help="Exit 1 when a metric is below this floor, e.g. hit@5=0.8 or img.hit@5=0.7 (repeatable).")
@click.option("--filter", "prefix", default=None, metavar="ID_PREFIX", help="Only cases whose id starts so.")
@json_option
def eval_cmd(dataset, index_dir, k, out, answers, baseline, floors, prefix, as_json):
    """Score retrieval (and answers) on a YAML dataset of cases; write report.json/.md/.png."""
    from eval.datasets import load_dataset
    from eval.metrics import aggregate
    from eval.report import check_floors, gate, parse_floor, write
    from eval.runner import run, service_functions
    from rag.factory import build

    old = json.loads(baseline.read_text()) if baseline else None
    try:
        data = load_dataset(dataset).select(prefix)
        if not data.cases:
            raise click.UsageError(f"no case id starts with {prefix!r}")
        try:
            parsed = [parse_floor(f) for f in floors]
            check_floors(parsed, aggregate([], answers=answers), {c.family for c in data.cases})
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--min") from None
        services = build(settings_from(index_dir), create=data.corpus is not None)
        if data.corpus is not None:
            _ingest(data.corpus, services, as_json)
        search, answer = service_functions(services, answers)
        report = run(data, search, k=k, answer=answer, index=str(services.index_dir),
                     embedder=services.embedder_label, show_progress=not as_json)
    except LectureLensError as e:
        fail(e, as_json)
    out = out or Path("eval-runs") / data.name
    d = write(report, out, old, str(baseline) if baseline else "")
    misses = gate(report, parsed)
    if as_json:
        emit({"out": str(out), "metrics": report["metrics"], "families": report["families"],
              "diff": d, "gate": misses})
    else:
        _render(report, out, d, misses)
    raise SystemExit(1 if misses else 0)


def _ingest(corpus: Path, services, as_json: bool) -> None:
    from ingest.pipeline import ingest_paths

    rep = ingest_paths([corpus], services, show_progress=not as_json)
    if not as_json and rep.ingested:
        click.echo(f"ingested {len(rep.ingested)} file(s) of {corpus} in {rep.seconds:.1f} s")
    for f in rep.failed:
        click.secho(f"  ingest failed: {f['error']} (its cases will score as misses)", fg="yellow", err=True)


def _render(report, out: Path, d, misses: list[str]) -> None:
    from eval.report import diff_lines, fmt

    m = report["metrics"]
    click.echo(f"embedder: {report['embedder']}  cases: {m['cases']}  k: {report['k']}")
    cols = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "tiou", "decline_accuracy")
    widths = [max(8, len(c)) + 2 for c in cols]

    def line(name: str, cells) -> str:
        return f"  {name:<8}" + "".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True))

    click.echo(line("family", cols))
    for name, fm in [("all", m), *sorted(report["families"].items())]:
        click.echo(line(name, [fmt(fm.get(c)) for c in cols]))
    if report["answers"]:
        acols = ("citation_precision", "citation_recall", "must_mention", "declined_correctly",
                 "declined_wrongly")
        click.echo("  answers: " + ", ".join(f"{c} {fmt(m.get(c))}" for c in acols)
                   + f", latency p50/p95 {fmt(m.get('answer_latency_p50_ms'))}/"
                     f"{fmt(m.get('answer_latency_p95_ms'))} ms")
    if d is not None:
        for row in diff_lines(d):
            click.echo(row)
    click.echo(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
    for miss in misses:
        click.secho(f"FAIL {miss}", fg="red", err=True)


def register(cli: click.Group) -> None:
    """Entry point hook: add the eval command to the root group."""
    cli.add_command(eval_cmd)
