"""The spoken-lecture eval set is honest (no media needed: the narration is text cleaned from the decks):
every question points at exactly one narrated sentence, paraphrases share no four-word run with it, the
narration is made of sentences, and the dataset the generator writes loads."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import cache

from eval.datasets import ExpectedSpan, load_dataset
from tests.spoken import load

SIBLINGS = {"seq": "aln", "aln": "seq", "chk": "nrm", "nrm": "chk"}


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return re.findall(r"[^\W_]+", text)


def grams(seq, n: int = 4) -> set[tuple[str, ...]]:
    return {tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)}


@cache
def spec():
    return load().load_cases()


@cache
def sentences() -> dict[str, list[tuple[int, str]]]:
    return {key: [(p, s) for p, ss in pages for s in ss] for key, pages in load().scripts(spec()).items()}


def said(case) -> list[str]:
    key, *phrases = case["said"]
    return [s for p in phrases for _, s in sentences()[key] if p.lower() in s.lower()]


def test_every_phrase_names_one_narrated_sentence():
    bad = []
    for case in spec()["cases"]:
        key, *phrases = case["said"]
        for p in phrases:
            n = sum(p.lower() in s.lower() for _, s in sentences()[key])
            if n != 1:
                bad.append((case["id"], p, n))
    assert not bad, bad
    families = Counter(c["id"].split("-")[0] for c in spec()["cases"])
    assert families["spk"] >= 40 and families["sib"] >= 20, families
    # the second to seventh held-out sets: 5 per lecture
    for held_out in ("xspk", "yspk", "zspk", "wspk", "vspk", "uspk"):
        lectures = Counter(c["said"][0] for c in spec()["cases"] if c["id"].startswith(f"{held_out}-"))
        assert len(lectures) == 5 and set(lectures.values()) == {5}, (held_out, lectures)


def test_paraphrases_share_no_four_word_run_with_their_sentence():
    paraphrases = ("spk-", "xspk-", "yspk-", "zspk-", "wspk-", "vspk-", "uspk-")
    bad = [(c["id"], s) for c in spec()["cases"] if c["id"].startswith(paraphrases)
           for s in said(c) if grams(words(c["question"])) & grams(words(s))]
    assert not bad, bad


def test_generic_questions_are_short_and_their_lecture_has_a_sibling():
    for case in spec()["cases"]:
        if case["id"].startswith("sib-"):
            assert len(words(case["question"])) <= 7, case["id"]
            assert case["said"][0] in SIBLINGS, case["id"]


def test_narration_is_sentences_not_labels():
    mk = load()
    assert mk.narration("Flow cell\n• A glass surface coated with oligos\nthat bind the adapters\n"
                        "152139280 152139290\nhttp://example.org/x.html\nfit <- brm(y ~ x)\n"
                        "RR iBGP iBGP eBGP eBGP\nNot commonly used, as") == [
        "A glass surface coated with oligos that bind the adapters."]
    every = [s for ss in sentences().values() for _, s in ss]
    assert len(every) >= 100
    assert all(len(words(s)) >= 4 and s[-1] in ".?!" for s in every)


def test_generated_dataset_resolves_spans_and_loads(tmp_path):
    """The dataset writer on a truth file with made-up times (the real one needs espeak-ng and ~1 min)."""
    mk = load()
    truth = {"lectures": {}}
    for key, lec in spec()["lectures"].items():
        cues = [{"start": 10.0 * i, "end": 10.0 * i + 4, "text": s, "page": p}
                for i, (p, s) in enumerate(sentences()[key])]
        truth["lectures"][key] = {"video": lec["video"], "cues": cues}
        (tmp_path / "course" / lec["video"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "course" / lec["video"]).write_bytes(b"")
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    data = load_dataset(mk.write_dataset(spec(), tmp_path))
    families = Counter(c.family for c in data.cases)
    assert families["near"] >= 100 and families["spk"] == sum(c["id"].startswith("spk-") for c in spec()["cases"])
    case = next(c for c in data.cases if c.id == "spk-seq-01")
    (exp,) = case.expected
    assert isinstance(exp, ExpectedSpan) and exp.source.endswith("ngs_sequencing_technologies.mp4")
    cue = next(c for c in truth["lectures"]["seq"]["cues"] if "glass surface" in c["text"])
    assert (exp.start, exp.end) == (cue["start"], cue["end"])
