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
