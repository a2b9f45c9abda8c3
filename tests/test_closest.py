"""A declined answer names its closest places (not an answer, not citations) when the evidence is related and
one distinctive term is missing; an off-topic question gets none; an answer has none. Through the real `ask`
and decline rule, over a scripted retriever, in the CLI (text and --json)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from agent.answer import ask
from rag.cli import _register_plugins, cli
from rag.factory import Services
from rag.retrieval import SearchResult
from rag.settings import load_settings
from rag.types import Chunk, Hit, PageSpan, TimeSpan

_register_plugins()

DECK = "slides/sequencing.pdf"
VIDEO = "lectures/lecture2.mp4"
PLATFORMS = ("Other sequencing platforms\n• Pacific Biosciences sequences long reads of whole transcripts\n"
             "• Oxford Nanopore sequences single molecules")
GAMMA = "The discount factor gamma weighs future rewards against immediate rewards."
CUES = ((40.0, 44.0, "Long read sequencing reads whole transcripts in one go."),
        (44.5, 50.0, "Its error rate per base is higher than short read sequencing."),
        (50.5, 58.0, "So the reads are corrected with short reads."))


def _page(text: str, page: int) -> Chunk:
    return Chunk(id=f"p{page}", source=DECK, source_sha256="d" * 64, kind="pdf", title="sequencing",
                 locator=PageSpan(first=page, last=page), text=text, page_texts=(text,))


SEGMENT = Chunk(id="v1", source=VIDEO, source_sha256="v" * 64, kind="video", title="Lecture 2",
                locator=TimeSpan(start_s=39.0, end_s=60.0), cues=CUES, text=" ".join(c[2] for c in CUES))


def _hits(question: str) -> list[Hit]:
    """What retrieval finds: the platform page, the long-read moment (its sentence-level moment at 44.5 s),
    the gamma page; loosely similar to a sequencing question, far from everything else."""
    seq = "sequenc" in question.lower() or "pacbio" in question.lower()
    gamma = "gamma" in question.lower()
    dense = 0.62 if seq or gamma else 0.05
    hits = [Hit(chunk=_page(PLATFORMS, 20), score=1.0, dense_rank=1, dense_score=dense, lexical_rank=1),
            Hit(chunk=SEGMENT, score=0.9, dense_rank=2, dense_score=dense - 0.02,
                moment=TimeSpan(start_s=44.5, end_s=50.0)),
            Hit(chunk=_page(GAMMA, 3), score=0.8, dense_rank=3, dense_score=dense - 0.04),
            Hit(chunk=_page("Thank you", 30), score=0.1, dense_rank=4, dense_score=0.01)]
    return hits[2::-1] + hits[3:] if gamma else hits


@pytest.fixture
def services(tmp_path) -> Services:
    settings = load_settings(index_dir=tmp_path / "idx", embedding={"provider": "fake"}, chunking={"ocr": False},
                             answer={"provider": "offline"})
    retriever = SimpleNamespace(search=lambda q, k: SearchResult(q, _hits(q.text or "")[:k]),
                                idf=lambda _t: 1.0, alignment=None)
    return Services(settings=settings, embedder=None, store=None, retriever=retriever,  # type: ignore[arg-type]
                    image_index=None, fingerprint="test")  # type: ignore[arg-type]


@pytest.fixture
def cli_ask(services, monkeypatch):
    monkeypatch.setattr("rag.factory.build", lambda *_a, **_k: services)

    def run(*args: str) -> str:
        res = CliRunner().invoke(cli, ["ask", *args], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.stdout

    return run


MINION = "what's the downside of MinION for sequencing whole transcripts?"
BREAD = "how do I bake sourdough bread?"


def test_a_decline_for_a_missing_term_names_the_closest_places(services):
    ans = ask(services, MINION)
    assert ans.declined and ans.citations == () and "MinION" in ans.reason
    # the three hits the decision judged, in rank order, labelled C n (never S n): not the fourth
    assert [c.label for c in ans.closest] == ["C1", "C2", "C3"]
    assert [c.display for c in ans.closest] == ["sequencing.pdf p. 20", "Lecture 2 · 0:44–0:50", "sequencing.pdf p. 3"]
    video = ans.closest[1]  # starts at the hit's sentence-level moment, as a citation does
    assert video.locator == TimeSpan(start_s=44.5, end_s=50.0) and video.segment == SEGMENT.locator


def test_the_gemini_answerer_declines_the_same_way_before_any_model_call(services):
    ans = ask(services, MINION, mode="gemini", chat_model=object())  # the model is never reached
    assert ans.declined and ans.mode == "gemini" and len(ans.closest) == 3
    assert ask(services, BREAD, mode="gemini", chat_model=object()).closest == ()


def test_off_topic_and_answered_questions_have_no_closest_places(services):
    off = ask(services, BREAD)
    assert off.declined and off.reason.startswith("nothing in the course is close") and off.closest == ()
    answered = ask(services, "What does the discount factor gamma do?")
    assert not answered.declined and answered.citations and answered.closest == ()


def test_a_picture_query_that_is_declined_lists_nothing(services):
    photo = b"\xff\xd8\xff\xe0" + b"\0" * 64  # a JPEG as given (no match: the scripted hits carry no image rank)
    assert ask(services, None, photo).closest == ()  # the chat keeps its picture hint
    with_words = ask(services, MINION, photo)
    assert with_words.declined and "MinION" in with_words.reason and with_words.closest == ()


def test_cli_lists_the_closest_places_after_the_reason(cli_ask):
    out = cli_ask(MINION).splitlines()
    why = next(i for i, line in enumerate(out) if line.startswith("(Why: the course material does not mention"))
    assert out[why + 1:] == ["Closest material (not an answer; the course may word it differently):",
                             "  sequencing.pdf p. 20", "  Lecture 2 · 0:44–0:50", "  sequencing.pdf p. 3"]
    assert "Closest material" not in cli_ask(BREAD)
    answered = cli_ask("What does the discount factor gamma do?")
    assert "[S1]" in answered and "Closest material" not in answered


def test_json_keeps_closest_apart_from_citations(cli_ask):
    data = json.loads(cli_ask(MINION, "--json"))
    assert data["declined"] and data["citations"] == []  # eval's citation metrics see no citation
    assert [c["display"] for c in data["closest"]] == ["sequencing.pdf p. 20", "Lecture 2 · 0:44–0:50",
                                                       "sequencing.pdf p. 3"]
    page, moment = data["closest"][0], data["closest"][1]
    assert page == {"source": DECK, "kind": "pdf", "start": None, "end": None, "pages": [20],
                    "display": "sequencing.pdf p. 20"}
    assert (moment["source"], moment["start"], moment["end"]) == (VIDEO, 44.5, 50.0)
    assert moment["segment"] == {"start": 39.0, "end": 60.0} and "label" not in moment
    off = json.loads(cli_ask(BREAD, "--json"))
    assert off["declined"] and off["closest"] == [] and off["citations"] == []
    answered = json.loads(cli_ask("What does the discount factor gamma do?", "--json"))
    assert not answered["declined"] and answered["citations"] and answered["closest"] == []
