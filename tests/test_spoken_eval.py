"""`lecturelens eval` on the spoken lectures over the devcorpus decks end to end (slow): the videos are
generated on demand (eval/datasets/make_spoken.py, cached by content hash in bench/.cache/spoken/), ingested
once per test session (offline embedder; keyframe OCR off: the captions already say the slide's words and
OCR would cost ~3 s a keyframe), and every family is gated by floors just below the measured numbers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag.cli import _register_plugins, cli
from rag.index import cue_windows_dir
from tests.answer_checks import deck_titles, held_out, pointer_only, titles
from tests.spoken import load

# Floors sit just below the measured numbers (README, Evaluating: "Spoken lectures over the real decks").
# The answer floors: a citation starts at the caption sentence the offline answer quotes (spk+sib precision /
# recall 0.530 / 0.544 before, when it started at the segment's closest cue instead).
CI_FLOORS = ("spk.hit@1=0.78", "spk.hit@5=0.95", "spk.tiou=0.72", "sib.hit@1=0.86", "sib.hit@5=0.99",
             "sib.tiou=0.82", "sib.citation_precision=0.6", "sib.citation_recall=0.74",
             "spk.citation_precision=0.47", "spk.citation_recall=0.47", "near.decline_accuracy=0.92",
             "spk.answered=0.86", "sib.answered=0.95", "xspk.hit@5=0.84", "xspk.answered=0.76")
# decline floors (session 16): spoken `near` 0.95, wrongly declined spk 5 of 46, sib 0 of 22, held-out xspk 5 of 25
ENV = {"LECTURELENS_EMBEDDING__PROVIDER": "local", "LECTURELENS_CHUNKING__OCR": "false"}

_register_plugins()


@pytest.fixture(scope="session")
def spoken_dataset():
    """The generated dataset YAML (media made on the first run, then reused)."""
    return load().generate()


@pytest.fixture(scope="session")
def spoken_index(spoken_dataset, tmp_path_factory):
    """The five spoken lectures ingested once per test session."""
    from eval.datasets import load_dataset
    from ingest.pipeline import ingest_paths
    from rag.factory import build
    from rag.settings import load_settings

    corpus = load_dataset(spoken_dataset).corpus
    index = tmp_path_factory.mktemp("spoken") / "index"
    services = build(load_settings(index_dir=index, embedding={"provider": "local"}, chunking={"ocr": False}),
                     create=True)
    report = ingest_paths([corpus], services, show_progress=False)
    assert report.failed == [] and len(report.ingested) == 5, report.failed
    return index


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_generated_captions_are_the_truth(spoken_dataset):
    from ingest.captions import read_captions

    folder = spoken_dataset.parent
    truth = json.loads((folder / "truth.json").read_text())
    for lec in truth["lectures"].values():
        vtt = (folder / "course" / lec["video"]).with_suffix(".vtt")
        cues = read_captions(vtt, vtt.name)
        assert [(c.start, c.end, c.text) for c in cues] == [(c["start"], c["end"], c["text"]) for c in lec["cues"]]
        pages = lec["pages"]
        assert pages[0]["start"] == 0 and all(a["end"] == b["start"] for a, b in zip(pages, pages[1:], strict=False))
        assert all(any(p["start"] <= c["start"] < c["end"] <= p["end"] for p in pages) for c in lec["cues"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_spoken_eval_meets_its_floors(spoken_dataset, spoken_index, monkeypatch, tmp_path):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["eval", str(spoken_dataset), "--index", str(spoken_index), "--out", str(out),
                                   "--answers", *(f"--min={f}" for f in CI_FLOORS)])
    assert res.exit_code == 0, res.output
    assert "ingested" not in res.output  # the session's index already holds the lectures
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["families"]) == {"spk", "sib", "near", "xspk", "yspk", "zspk", "wspk", "vspk", "uspk"}
    assert rep["families"]["spk"]["cases"] >= 40 and rep["families"]["sib"]["cases"] >= 20
    assert any(cue_windows_dir(spoken_index).glob("*.npy"))  # ingest built the caption-cue vectors
    # an answer quotes a statement (by meaning when no statement has the question's words), never only "See …"
    answered = [c for c in rep["cases"] if c["answer"] and not c["answer"]["declined"]
                and not held_out(c["id"])]
    assert len(answered) >= 50 and not [c["id"] for c in answered if pointer_only(c["answer"]["answer"])]
    # a slide's title read aloud as the slide appears is no statement: 17 tuned answers quoted one before (24 of 101
    # with the held-out families); left: "Reference data versions matter." (a title that is a sentence, said last),
    # twice, and since `yspk`/`zspk` are checked too, yspk-vpn-05's "An alternative to confederations" (a leading
    # determiner reads as a point: units.py's title rule)
    known = deck_titles((load().HERE / load().load_cases()["corpus"]).resolve())
    quoting = {c["id"]: t for c in answered if (t := titles(c["answer"]["answer"], known))}
    assert len(known) > 100 and len(quoting) <= 4, quoting  # 3 measured (17 before)
