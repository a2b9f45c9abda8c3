"""`lecturelens eval` in-process: the CLI contract on a fake search (fast), and the sample course end to end
(slow: ingests examples/course into a session-scoped index with the offline embedder)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from eval.runner import Retrieved
from rag.cli import _register_plugins, cli
from tests.answer_checks import code_lines, deck_titles, fragments, held_out, off_topic, pointer_only, titles

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "eval" / "datasets" / "sample-course.yaml"
# What CI runs (see the Evaluating section of README.md); floors sit just below the measured sample-course numbers.
# `unans` is gated on its own: `xunans` (the second held-out set, session 16) has no floor until the lead sets one
# at the end of the session, after the decline rule's last round of tuning, which must not look at it.
# xunans: the held-out neighbouring topics (session 16), 16 of 20 declined when measured once after the decline round
CI_FLOORS = ("hit@1=0.66", "hit@5=0.98", "mrr@10=0.82", "ndcg@10=0.86", "tiou=0.75", "unans.decline_accuracy=0.99",
             "xunans.decline_accuracy=0.75",
             "answered=0.98", "vid.hit@1=0.66", "vid.hit@5=0.99", "vid.tiou=0.65", "page.hit@1=0.35",
             "page.hit@5=0.99", "img.hit@1=0.95", "img.hit@5=0.95", "citation_precision=0.68",
             "citation_recall=0.86", "must_mention=0.8")

_register_plugins()

TOY = """\
name: toy
cases:
  - id: vid-01
    question: "what does the discount factor do?"
    expected: [{source: lectures/rl.mp4, start: 10, end: 20}]
    must_mention: [discount]
  - id: page-01
    question: "formula of the return?"
    expected: [{source: slides/rl.pdf, pages: [8]}]
  - id: unans-01
    question: "capital of Australia?"
    unanswerable: true
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A dataset without a corpus, a fake `build` and a search that the test can make worse."""
    path = tmp_path / "toy.yaml"
    path.write_text(TOY)
    state = {"vid-01": [{"source": "lectures/rl.mp4", "kind": "video", "start": 12.0, "end": 18.0}]}

    def fake_functions(_services, answers):
        def search(case, k):
            rows = state.get(case.id, [{"source": "slides/rl.pdf", "kind": "pdf", "pages": [8]}])
            blank = {"start": None, "end": None, "pages": None, "score": 0.5, "display": "x"}
            rows = [dict(blank, **r, rank=i) for i, r in enumerate(rows, start=1)]
            return Retrieved(rows[:k], declined=case.unanswerable)

        def answer(case):
            return {"answer": "the discount factor weights future rewards", "declined": case.unanswerable,
                    "citations": [] if case.unanswerable else search(case, 1).hits}

        return search, answer if answers else None

    services = SimpleNamespace(index_dir=tmp_path / "idx", embedder_label="fake:toy (test fake)")
    monkeypatch.setattr("rag.factory.build", lambda settings, create=False: services)
    monkeypatch.setattr("eval.runner.service_functions", fake_functions)
    return path, state


def test_cli_writes_report_diffs_and_gates(toy, tmp_path):
    path, state = toy
    runner = CliRunner()
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    res = runner.invoke(cli, ["eval", str(path), "--out", str(out1), "--answers"])
    assert res.exit_code == 0, res.output
    assert "citation_precision 1.000" in res.output
    assert all((out1 / f).is_file() for f in ("report.json", "report.md", "report.png"))
    rep = json.loads((out1 / "report.json").read_text())
    assert {"dataset", "index", "embedder", "k", "metrics", "families", "cases"} <= set(rep)
    case = rep["cases"][0]
    assert {"id", "question", "image", "hits", "declined", "answer", "metrics", "latency_ms"} <= set(case)
    assert set(case["hits"][0]) >= {"rank", "source", "kind", "start", "end", "pages", "score", "display"}
    assert rep["metrics"]["hit@1"] == 1.0 and rep["metrics"]["decline_accuracy"] == 1.0

    res = runner.invoke(cli, ["eval", str(path), "--out", str(out2), "--answers",
                              "--baseline", str(out1 / "report.json")])
    assert res.exit_code == 0 and "no metric changed, no case flipped" in res.output

    state["vid-01"] = []  # a regression: the moment is no longer found
    res = runner.invoke(cli, ["eval", str(path), "--out", str(out2), "--answers", "--baseline",
                              str(out1 / "report.json"), "--min", "hit@5=0.9",
                              "--min", "unans.decline_accuracy=1"])
    assert res.exit_code == 1
    assert "broke vid-01: hit@1" in res.output and "hit@5 = 0.5 is below its floor 0.9" in res.output
    assert "## Compared with baseline" in (out2 / "report.md").read_text()

    res = runner.invoke(cli, ["eval", str(path), "--out", str(out2), "--filter", "page", "--json"])
    data = json.loads(res.output)
    assert res.exit_code == 0 and data["metrics"]["cases"] == 1


def test_cli_rejects_bad_floors_before_running(toy):
    path, _ = toy
    runner = CliRunner()
    res = runner.invoke(cli, ["eval", str(path), "--min", "hit@3=0.5"])
    assert res.exit_code == 2 and "unknown metric" in res.output
    res = runner.invoke(cli, ["eval", str(path), "--min", "img.hit@5=0.5"])
    assert res.exit_code == 2 and "no case family 'img'" in res.output
    res = runner.invoke(cli, ["eval", str(path), "--filter", "zzz"])
    assert res.exit_code == 2 and "no case id starts with" in res.output


def test_cli_reports_dataset_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncases:\n  - id: q1\n    expected: [{source: a.pdf, pages: [0]}]\n"
                   "    question: hi\n")
    res = CliRunner().invoke(cli, ["eval", str(bad)])
    assert res.exit_code == 1 and "page 0 is below 1" in res.output


# -- the sample course, end to end ------------------------------------------------------------------
@pytest.fixture(scope="session")
def eval_index(sample_index) -> Path:
    """The session's offline sample-course index: the eval's own ingest of examples/course then skips
    every file (same bytes, same embedder), so the course is embedded once per test session."""
    return sample_index["index"]


@pytest.fixture
def offline_env(monkeypatch):
    # tests/conftest.py already removed any key and runs the test in an empty directory (no config.yaml)
    monkeypatch.setenv("LECTURELENS_EMBEDDING__PROVIDER", "local")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sample_course_eval_end_to_end(eval_index, offline_env, tmp_path):
    runner = CliRunner()
    first, second = tmp_path / "r1", tmp_path / "r2"

    def lecturelens_eval(*args: str):
        return runner.invoke(cli, ["eval", str(SAMPLE), "--index", str(eval_index), *args])

    # The CI gate: the whole set, with answers, against floors just below the measured numbers.
    floors = [f"--min={f}" for f in CI_FLOORS]
    res = lecturelens_eval("--answers", "--out", str(first), *floors)
    assert res.exit_code == 0, res.output
    assert all((first / f).is_file() for f in ("report.json", "report.md", "report.png"))
    rep = json.loads((first / "report.json").read_text())
    assert rep["metrics"]["cases"] >= 80 and rep["answers"] is True
    # every family is reported, the held-out ones (xunans: session 16, yunans, zunans, wunans: session 17,
    # vunans: session 18, uunans: session 19) included
    assert set(rep["families"]) == {"vid", "page", "img", "unans", "xunans", "yunans", "zunans", "wunans",
                                    "vunans", "uunans"}
    assert all(c["answer"] is not None for c in rep["cases"])
    # offline answers quote statements only: no tick rows, axis labels or title fragments
    bad = {c["id"]: fragments(c["answer"]["answer"]) for c in rep["cases"] if not c["answer"]["declined"]}
    assert not {k: v for k, v in bad.items() if v}
    # ... and no statement picked for one everyday word of the question (text questions; a picture's answer
    # quotes what the picture shows)
    padded = {c["id"]: off_topic(c["question"], c["answer"]["answer"]) for c in rep["cases"]
              if c["question"] and not c["image"] and not c["answer"]["declined"]
              and not held_out(c["id"])}  # held out: measured, not gated
    assert not {k: v for k, v in padded.items() if v}
    code = {c["id"]: code_lines(c["question"] or "", c["answer"]["answer"]) for c in rep["cases"]}
    assert not {k: v for k, v in code.items() if v}
    assert not [c["id"] for c in rep["cases"] if pointer_only(c["answer"]["answer"])]  # always a quote or a place
    # a slide title is no statement, also where the text layer puts it after the chart's labels: 5 answers quoted
    # one bare ("• Reinforcement learning: agent and environment"); it is quoted with its page's first point now
    known = deck_titles(ROOT / "examples" / "course" / "slides")
    quoting = {c["id"]: t for c in rep["cases"]
               if not c["answer"]["declined"] and (t := titles(c["answer"]["answer"], known))}
    assert len(known) >= 10 and not quoting, quoting

    # Re-running against a baseline shows zero deltas (on the text-video family, to keep the suite fast).
    res = lecturelens_eval("--answers", "--filter", "vid", "--out", str(second))
    assert res.exit_code == 0, res.output
    assert "ingested" not in res.output  # incremental: a second run re-ingests nothing
    baseline = str(second / "report.json")
    res = lecturelens_eval("--answers", "--filter", "vid", "--out", str(tmp_path / "r3"), "--baseline", baseline)
    assert res.exit_code == 0, res.output
    assert "no metric changed, no case flipped" in res.output

    res = lecturelens_eval("--out", str(second), "--filter", "vid", "--min", "hit@1=1.01")
    assert res.exit_code == 1 and "below its floor 1.01" in res.output
