"""The CLI contract on the sample course, offline: ingest, search (text and image), ask, status."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag.cli import _register_plugins, cli
from tests.conftest_course import TRUTH, overlaps

pytestmark = pytest.mark.slow
_register_plugins()


def run(*args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    out = res.stdout
    return res.exit_code, json.loads(out[out.index("{"):]) if "{" in out else {}


def _expected(fact: dict) -> list[dict]:
    first = {"source": fact["source"], "start": fact.get("start"), "end": fact.get("end"), "pages": fact.get("pages")}
    return [first] + [{"source": a["source"], "pages": a["pages"]} for a in fact.get("also", [])]


def test_ingest_contract_and_idempotence(sample_index):
    report = sample_index["report"]
    assert len(report.ingested) == 5 and report.chunks > 10 and report.vectors >= report.chunks
    assert report.embedder.startswith("local:all-MiniLM-L6-v2")
    code, again = run("ingest", str(sample_index["course"]), "--index", str(sample_index["index"]), "--json")
    assert code == 0
    assert set(again) >= {"ingested", "skipped", "removed", "failed", "chunks", "vectors", "seconds", "embedder"}
    assert again["ingested"] == [] and len(again["skipped"]) == 5 and again["failed"] == []


def test_status(sample_index):
    code, st = run("status", "--index", str(sample_index["index"]), "--json")
    assert code == 0 and len(st["sources"]) == 5 and st["vectors"] == sample_index["report"].vectors
    assert st["embedder"].startswith("local:") and st["fingerprint"]


@pytest.mark.parametrize("fact_id", ["gd", "backprop", "gamma", "bellman", "epsilon", "overfit", "dropout",
                                     "precision", "deck1", "deck2", "elbow"])
def test_search_finds_the_moment_or_page(sample_index, fact_id):
    fact = next(f for f in TRUTH["facts"] if f["id"] == fact_id)
    code, res = run("search", fact["question"], "--index", str(sample_index["index"]), "-k", "3", "--json")
    assert code == 0 and res["embedder"].startswith("local:")
    hits = res["hits"]
    assert {"rank", "source", "kind", "start", "end", "pages", "score", "display", "text"} <= set(hits[0])
    assert any(overlaps(hits[0], **e) for e in _expected(fact)), (fact["question"], hits[0])


def test_pdf_hits_are_single_pages_and_video_hits_spans(sample_index):
    code, res = run("search", "Bellman equation value of the next state", "--index", str(sample_index["index"]),
                    "-k", "10", "--json")
    kinds = {h["kind"] for h in res["hits"]}
    assert {"video", "pdf"} <= kinds
    for h in res["hits"]:
        if h["kind"] == "pdf":
            assert h["start"] is None and len(h["pages"]) == 1 and "p." in h["display"]
        else:
            assert h["pages"] is None and 15 - 1e-6 <= h["end"] - h["start"] <= 30 + 1e-6 or h["end"] < 15


def test_image_query_finds_the_slide(sample_index):
    import cv2

    from tests.synthetic_images import distort

    render = cv2.imread(str(next(sample_index["index"].rglob("p9.png"))))
    photo = sample_index["index"].parent / "photo_p9.jpg"
    cv2.imwrite(str(photo), distort(render, "phone", seed=3))  # perspective, blur, dim, JPEG q=40
    code, res = run("search", "--image", str(photo), "--index", str(sample_index["index"]), "-k", "5", "--json")
    assert code == 0
    top = res["hits"][:3]
    assert any(h["source"] == "slides/ml_basics.pdf" and h["pages"] == [9] for h in top), top
    # Page 9 is on screen in lecture 2 from 31.0 s to 48.4 s and again from 76.8 s.
    assert any(h["source"] == "lectures/lecture2_reinforcement.mp4" and h["start"] < 48.4 and h["end"] > 31.0
               for h in res["hits"]), res["hits"]


def test_ask_cites_and_declines(sample_index):
    code, ans = run("ask", "What does the discount factor gamma do?", "--index", str(sample_index["index"]), "--json")
    assert code == 0 and ans["mode"] == "offline" and not ans["declined"]
    assert "gamma" in ans["answer"].lower() and ans["citations"]
    labels = {c["label"] for c in ans["citations"]}
    assert all(f"[{label}]" in ans["answer"] for label in labels)
    assert any(c["source"] == "lectures/lecture2_reinforcement.mp4" and c["start"] < 30.1 and c["end"] > 15.8
               for c in ans["citations"])
    for q in TRUTH["offtopic"] + TRUTH["neighbouring"]:
        code, off = run("ask", q, "--index", str(sample_index["index"]), "--json")
        assert off["declined"] and off["citations"] == [], q
        assert off["reason"].startswith(("the course material does not mention", "nothing in the course is close")), q
        # closest places only when the evidence is related and a distinctive term is missing
        assert bool(off["closest"]) == off["reason"].startswith("the course material does not mention"), q
    assert "reason" not in ans and ans["closest"] == []  # only a decline says why
    code, adam = run("ask", "How does the Adam optimizer change the learning rate?", "--index",
                     str(sample_index["index"]), "--json")
    assert adam["declined"] and adam["citations"] == [] and "“Adam”" in adam["reason"]
    assert 1 <= len(adam["closest"]) <= 3  # the learning-rate material, to look at
    assert any(c["pages"] == [4] or (c.get("slide") or {}).get("page") == 4 for c in adam["closest"]), adam["closest"]


def test_unreadable_image_is_a_clear_error(sample_index, tmp_path):
    bad = tmp_path / "not_an_image.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    res = CliRunner().invoke(cli, ["search", "--image", str(bad), "--index", str(sample_index["index"])])
    assert res.exit_code == 1 and "not_an_image.jpg: it is a text file, not an image" in res.output
