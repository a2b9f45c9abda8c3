"""`lecturelens eval` on the devcorpus set end to end (slow): the five real decks ingested once per test
session (offline embedder), every family gated by floors just below the measured numbers, and offline
answers free of number-only or fragment sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import _register_plugins, cli
from tests.answer_checks import code_lines, deck_titles, fragments, held_out, off_topic, pointer_only, titles

ROOT = Path(__file__).resolve().parents[1]
DEVCORPUS = ROOT / "eval" / "datasets" / "devcorpus.yaml"
# Floors sit just below the measured numbers (README, Evaluating); `near` is the neighbouring-topic family.
# `hpara`/`hnear` are the first held-out families; the decline rule's session-16 round was tuned on them too.
# `xpara`/`xnear` (second held-out set, written blind at the start of session 16, measured once after that round,
# never used to choose a constant) are gated just below what they measured then: xnear 0.84, xpara hit@5 0.875,
# 3 of 40 wrongly declined. `answered` is gated per family: at most 2, 1, 1 and 4 wrongly declined.
# Session 17: the third held-out set (`ypara`/`ynear`) was tuned on after its first measurement (ynear 0.68, ypara
# 6 of 40 wrongly declined on the old rule); gated just below the end of that round (0.88, 6 of 40). Citation floors
# are per tuned family, about two cases below what they measured (para 0.52/0.66 of 73, gen 0.70/0.81 of 16, hpara
# 0.69/0.81 of 26): totals moved whenever a held-out family was added (the fourth and fifth sets, z and w, are not
# gated).
CI_FLOORS = ("para.hit@5=0.84", "para.hit@1=0.7", "gen.hit@5=0.99", "gen.hit@1=0.75", "near.decline_accuracy=0.92",
             "hpara.hit@5=0.92", "hnear.decline_accuracy=0.88", "para.answered=0.96", "gen.answered=0.93",
             "hpara.answered=0.96", "xnear.decline_accuracy=0.82", "xpara.hit@5=0.85", "xpara.answered=0.9",
             "ynear.decline_accuracy=0.84", "ypara.hit@5=0.87", "ypara.answered=0.82",
             "para.citation_precision=0.48", "para.citation_recall=0.62", "gen.citation_precision=0.6",
             "gen.citation_recall=0.68", "hpara.citation_precision=0.6", "hpara.citation_recall=0.72")

# The one tuned answer left that only points at places: zpara-mc-06 ("Show me how to check the share of zeros in
# count data with bayesplot."). Its pages (model checking pp. 36 and 38) hold nothing but the R code that answers
# it (`ppc_stat(y, yrep, stat = "prop_zero")`); code is quoted only when a question asks for code or names a
# function (agent/units.py `asks_for_code`), which naming the package does not, and no prose statement of the top
# hits is close enough in meaning. Measured when `y` and `z` joined these checks (session 18).
POINTING_ONLY = {"zpara-mc-06"}

_register_plugins()


@pytest.fixture(scope="session")
def devcorpus_index(tmp_path_factory):
    """The five devcorpus decks ingested once per test session (offline embedder, OCR on)."""
    from eval.datasets import load_dataset
    from ingest.pipeline import ingest_paths
    from rag.factory import build
    from rag.settings import load_settings

    corpus = load_dataset(DEVCORPUS).corpus
    index = tmp_path_factory.mktemp("devcorpus") / "index"
    services = build(load_settings(index_dir=index, embedding={"provider": "local"}), create=True)
    report = ingest_paths([corpus], services, show_progress=False)
    assert report.failed == [] and len(report.ingested) == 5, report.failed
    return index


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_devcorpus_eval_meets_its_floors(devcorpus_index, monkeypatch, tmp_path):
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "LECTURELENS_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LECTURELENS_EMBEDDING__PROVIDER", "local")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["eval", str(DEVCORPUS), "--index", str(devcorpus_index), "--answers",
                                   "--out", str(out), *(f"--min={f}" for f in CI_FLOORS)])
    assert res.exit_code == 0, res.output
    assert "ingested" not in res.output  # the session's index already holds the decks
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["families"]) == {"para", "near", "gen", "hpara", "hnear", "xpara", "xnear", "ypara",
                                    "ynear", "zpara", "znear", "wpara", "wnear", "vpara", "vnear", "upara",
                                    "unear"}
    answered = [c for c in rep["cases"] if c["answer"] and not c["answer"]["declined"]]
    assert len(answered) >= 80
    bad = {c["id"]: fragments(c["answer"]["answer"]) for c in answered}
    assert not {k: v for k, v in bad.items() if v}
    # Statements picked for one everyday word of the question: 17 answers before the answer-quality work,
    # 2 after (a question whose own topic is everyday words, "short reads", and "big" matching "big data").
    padded = {c["id"]: off_topic(c["question"], c["answer"]["answer"]) for c in answered
              if not held_out(c["id"])}  # the held-out families are measured, not gated
    assert len({k: v for k, v in padded.items() if v}) <= 2, padded
    # code is no statement: "pp_check(fit, ndraws=100)" answered two questions before it was recognised
    code = {c["id"]: code_lines(c["question"], c["answer"]["answer"]) for c in answered}
    assert not {k: v for k, v in code.items() if v}
    # a paraphrase whose words no statement carries quotes the closest statement in meaning: "See … p. 4 [S1]."
    # alone answered 7 tuned and held-out questions before
    assert not [c["id"] for c in answered if pointer_only(c["answer"]["answer"])
            and not held_out(c["id"]) and c["id"] not in POINTING_ONLY]
    # a page's title below its diagram labels in the text layer is no statement: 3 answers quoted "Hash-based
    # alignment (present day)" bare; it is quoted with its page's first point now
    from eval.datasets import load_dataset

    known = deck_titles(load_dataset(DEVCORPUS).corpus)
    assert not {c["id"]: t for c in answered if (t := titles(c["answer"]["answer"], known))
                and not held_out(c["id"])}
