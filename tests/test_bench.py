"""The `make bench` harness: every benchmark in its run order exists and has a main(); names are checked."""

from __future__ import annotations

import importlib
import json

import pytest

from bench import __main__ as harness
from bench import summary


@pytest.mark.parametrize("name", [n for n, _ in harness.ISSUE_9 + harness.EXTRAS])
def test_each_listed_benchmark_has_a_main(name: str) -> None:
    assert callable(importlib.import_module(f"bench.{name}").main)


def test_unknown_benchmark_is_refused(capsys) -> None:
    assert harness.main(["query_latency,nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_run_times_table_reports_each_benchmark_and_the_total(tmp_path, monkeypatch) -> None:
    run = {"cpus": 2, "load_avg_start": [1.0, 1.0, 1.0], "load_avg_end": [2.0, 1.5, 1.2], "budget_s": 1200,
           "total_wall_s": 700.5, "total_cpu_s": 900.0,
           "benchmarks": {"query_latency": {"wall_s": 200.0, "cpu_s": 250.0, "status": "ok", "load_avg_end": [2, 1, 1]},
                          "segment": {"wall_s": 5.0, "cpu_s": 5.0, "status": "failed", "load_avg_end": [2, 1, 1]}}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    table = "\n".join(summary.run_times())
    assert "| query_latency | 200.0 | 250.0 | 2 | ok |" in table
    assert "| segment | 5.0 | 5.0 | 2 | failed |" in table
    assert "**700.5** (budget 1200)" in table


def test_decline_tradeoff_groups_families_by_held_out_set() -> None:
    from bench.decline_tradeoff import held_out_set

    assert [held_out_set(f) for f in ("unear", "uunans", "upara", "uspk", "vnear", "xspk")] == list("uuuuvx")
    # tuned from the start, though some start with a held-out letter
    assert {held_out_set(f) for f in ("unans", "near", "para", "spk", "hnear", "vid", "sib", "gen")} == {"tuned"}


def test_decline_tradeoff_shifts_the_rule_and_restores_it_after_an_error() -> None:
    from bench.decline_tradeoff import KNOBS, strictness
    from rag import confidence

    shipped = {k: getattr(confidence, k) for k in KNOBS}
    with pytest.raises(RuntimeError), strictness(0.05):
        assert all(getattr(confidence, k) == pytest.approx(v + 0.05) for k, v in shipped.items())
        raise RuntimeError("interrupted")
    assert {k: getattr(confidence, k) for k in KNOBS} == shipped


def test_decline_tradeoff_draws_every_set_and_the_goal(tmp_path) -> None:
    from bench.decline_tradeoff import draw

    def tally(declined: int, wrong: int) -> dict[str, int]:
        return {"near": 10, "near_declined": declined, "answerable": 20, "wrongly_declined": wrong}

    points = {str(s): {"tuned": tally(9 + i, i), "u": tally(7 + i, 2 + i), "all": tally(8 + i, 1 + i)}
              for i, s in enumerate((-0.04, 0.0, 0.04))}
    out = tmp_path / "tradeoff.png"
    draw(points, out)
    assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 10_000
