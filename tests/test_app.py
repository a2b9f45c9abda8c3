"""The chat UI's handlers without a server: bad uploads, failures, streaming, follow-ups, slide navigation,
viewer resets, the slide on screen at the cited second, and the safe-bind rule."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from PIL import Image

from agent.app import build_app, check_bind, on_clear, open_source, parse_auth, respond
from agent.conversation import rewrite, slide_step
from agent.moments import cue_start, localize
from agent.render import SEARCHING
from rag import alignment as align_file
from rag.alignment import Alignment, AlignmentFile, KeyframeSlide, SegmentSlides
from rag.citations import cite
from rag.errors import ConfigError, ProviderError
from rag.factory import Services
from rag.index import Manifest, ManifestEntry
from rag.settings import load_settings
from rag.types import Answer, Chunk, Hit, PageSpan, SlideRef, TimeSpan
from tests.conftest_course import COURSE
from tests.test_uploads import _png_header_only

VIDEO = "lectures/lecture1_supervised.mp4"
DECK = "slides/ml_basics.pdf"
CUES = ((48.4, 52.0, "Neural networks stack layers of neurons."), (52.0, 56.0, "Each layer has weights."),
        (56.0, 60.0, "and a bias term."), (60.0, 66.0, "Backpropagation uses the chain rule."))
LECTURE = Chunk(id="v1", source=VIDEO, source_sha256="0" * 64, kind="video", title="Lecture 1",
                locator=TimeSpan(start_s=48.4, end_s=71.5), cues=CUES, keyframes=(48.6, 60.0),
                text=" ".join(c[2] for c in CUES), slide=SlideRef(source=DECK, page=10, confidence=0.9))
DECK_CHUNK = Chunk(id="d1", source=DECK, source_sha256="1" * 64, kind="pdf", title="ml_basics",
                   locator=PageSpan(first=1, last=6),
                   page_texts=tuple(f"diagram\nTopic {i}\n• point {i} of the deck" for i in range(1, 7)))


def _slide(page: int) -> SlideRef:
    return SlideRef(source=DECK, page=page, confidence=0.9)


@pytest.fixture
def services(tmp_path) -> Services:
    """Services over the sample course's real files: a manifest, an alignment (a segment showing p. 4 from
    48.4 s, p. 10 from 59.6 s, then a camera shot from 68 s) and a store that lists chunks."""
    index = tmp_path / "idx"
    manifest = Manifest(index)
    for rel, kind in ((VIDEO, "video"), (DECK, "pdf")):
        manifest.put(rel, ManifestEntry(sha256="", path=str(COURSE / rel), kind=kind, root=str(COURSE), title=rel,
                                        media_dir=str(index / "media" / kind), duration_s=104.0, has_captions=True,
                                        page_count=6 if kind == "pdf" else None))
    seg = SegmentSlides(source=VIDEO, start=48.4, end=71.5, slide=_slide(10), keyframes=(
        KeyframeSlide(t=48.6, start=48.4, end=59.6, slide=_slide(4)),
        KeyframeSlide(t=60.0, start=59.6, end=68.0, slide=_slide(10)),
        KeyframeSlide(t=68.5, start=68.0, end=71.5, slide=None)))
    align_file.write(index, AlignmentFile(segments={"v1": seg}))
    store = SimpleNamespace(chunks_of=lambda src: [LECTURE] if src == VIDEO else [DECK_CHUNK] if src == DECK else [])
    settings = load_settings(index_dir=index, embedding={"provider": "fake"}, chunking={"ocr": False})
    return Services(settings=settings, embedder=SimpleNamespace(provider="fake", model="hashing", dimension=64),
                    store=store, retriever=SimpleNamespace(alignment=Alignment(index)),  # type: ignore[arg-type]
                    image_index=None, fingerprint="test")


class Scripted:
    """An answerer that records its calls: a cited answer about neural networks, a decline otherwise."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, services, question, image, **kw):
        self.calls.append({"question": question, "image": image, **kw})
        if image is not None or "network" in (question or "") or "bias" in (question or ""):
            hits = (Hit(chunk=LECTURE, score=1.0), Hit(chunk=DECK_CHUNK, score=0.8, refined=PageSpan(first=4, last=4)))
            return Answer(text="Each layer has weights and a bias term [S1]. The deck lists it [S2].",
                          citations=(cite("S1", hits[0]), cite("S2", hits[1])), mode="offline", hits=hits)
        return Answer(text="This is not covered in this course's material.", mode="offline", declined=True,
                      reason="the course material does not mention “France”")


def _run(services, message, conv=None, answer_fn=None, **kw):
    outs = list(respond(services, message, conv, None, None, answer_fn=answer_fn or Scripted(), pause_s=0, **kw))
    return outs


def _assistant(out) -> str:
    return out[0][-1]["content"]


# -- bad uploads ------------------------------------------------------------------------------------
def _bad_uploads(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Every bad upload of the issue, made in tmp (never committed), with what the user must be told."""
    def png(name, w, h):
        Image.new("RGB", (w, h), (10, 200, 10)).save(tmp / name)
        return tmp / name

    jpeg = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 10, 10)).save(jpeg, format="JPEG")
    (tmp / "cut.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 3])
    (tmp / "notes.png").write_text("My lecture notes, not a picture.\n" * 20)
    (tmp / "deck.png").write_bytes(b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n")
    with open(tmp / "huge.jpg", "wb") as f:
        f.truncate(60 * 1024 * 1024)  # sparse: 60 MB on paper
    (tmp / "bomb.png").write_bytes(_png_header_only(20000, 20000))
    return {
        "1x1": (png("dot.png", 1, 1), r"dot\.png: the image is only 1×1 px"),
        "2000x1": (png("line.png", 2000, 1), r"line\.png: the image is only 2000×1 px"),
        "truncated": (tmp / "cut.jpg", r"cut\.jpg: the JPEG file is damaged or cut off"),
        "text": (tmp / "notes.png", r"notes\.png: it is a text file, not an image"),
        "pdf": (tmp / "deck.png", r"deck\.png: it is a PDF, not an image"),
        "60MB": (tmp / "huge.jpg", r"huge\.jpg: the file is 60 MB; the limit is 25 MB"),
        "20000x20000": (tmp / "bomb.png", r"bomb\.png: the image has 400 megapixels"),
        "16x2000": (png("strip.png", 16, 2000), r"strip\.png: the image is a thin strip"),
    }


@pytest.mark.parametrize("case", ["1x1", "2000x1", "truncated", "text", "pdf", "60MB", "20000x20000", "16x2000"])
def test_bad_upload_is_a_friendly_message_and_the_session_goes_on(services, tmp_path, case):
    import re

    path, expected = _bad_uploads(tmp_path)[case]
    answer = Scripted()
    outs = _run(services, {"text": "which slide is this?", "files": [str(path)]}, answer_fn=answer)
    chat, box, _, conv, caption, video, *_ = outs[-1]
    msg = _assistant(outs[-1])
    assert re.search(expected, msg), msg
    assert "Traceback" not in msg and "Error:" not in msg and msg != SEARCHING
    assert box == {"text": "which slide is this?", "files": []}  # the typed question is kept
    assert answer.calls == []  # rejected before any search
    assert video["visible"] is False and caption == ""
    # The same session answers the next question.
    outs = _run(services, {"text": "what do neural networks have?", "files": []}, conv, answer_fn=answer)
    assert "weights and a bias term" in _assistant(outs[-1])
    assert [m["content"] for m in outs[-1][0] if m["role"] == "user"][-1] == "what do neural networks have?"


def test_small_valid_picture_is_searched_as_one_jpeg(services, tmp_path):
    Image.new("RGB", (64, 64), (10, 10, 200)).save(tmp_path / "small.png")
    answer = Scripted()
    outs = _run(services, {"text": "", "files": [str(tmp_path / "small.png")]}, answer_fn=answer)
    assert answer.calls[0]["image"][:3] == b"\xff\xd8\xff" and answer.calls[0]["image_mime"] == "image/jpeg"
    assert "weights and a bias term" in _assistant(outs[-1])


@pytest.mark.parametrize("error,expected", [
    (RuntimeError("cv2.error: (-215:Assertion failed) !ssize.empty()"), "Something went wrong"),
    (ProviderError("Gemini answered 503 after 5 retries. Try again in a minute."), "Gemini answered 503"),
])
def test_any_failure_is_a_message_never_raw(services, error, expected):
    def broken(*a, **kw):
        raise error

    outs = _run(services, {"text": "what do neural networks have?", "files": []}, answer_fn=broken)
    msg = _assistant(outs[-1])
    assert expected in msg and "cv2" not in msg and "Assertion" not in msg
    assert outs[-1][1] == {"text": "what do neural networks have?", "files": []}
    assert all(_assistant(o) != SEARCHING for o in outs[-1:])
    outs = _run(services, {"text": "what do neural networks have?", "files": []}, outs[-1][3])
    assert "weights and a bias term" in _assistant(outs[-1])


# -- streaming, viewer resets, sources ---------------------------------------------------------------
def test_answer_streams_sentence_by_sentence_and_resets_the_viewer(services):
    outs = _run(services, {"text": "what do neural networks have?", "files": []})
    texts = [_assistant(o) for o in outs]
    assert texts[0] == SEARCHING
    partial = [t for t in texts if "weights and a bias term" in t and "deck lists it" not in t]
    assert partial, texts  # the first sentence is shown before the second
    first, last = outs[0], outs[-1]
    assert first[5]["visible"] is False and first[6]["visible"] is False and first[7]["visible"] is False
    assert 'data-ll-open="t1:S1"' in last[2].replace("'", '"') and "t1:S2" in last[2]
    assert "(#ll-open-t1-S1)" in _assistant(last)  # inline marker opens that source
    # sources panel fills as citations resolve: S2 appears only with its sentence
    assert "t1:S2" not in outs[1][2]
    streaming = next(o for o in outs if "t1:S1" in o[2] and "t1:S2" not in o[2])
    assert streaming[3].source("t1:S1") is not None  # clickable while the answer still streams
    # the box is emptied once, when the question is taken; no later update touches it, so a question typed (or
    # sent, deferred by trigger_mode "always_last") while the answer streams is not wiped by its last update
    assert first[1] is None and len(outs) > 2 and all(o[1] == {"__type__": "update"} for o in outs[1:])


def test_decline_and_clear_reset_the_viewer(services):
    outs = _run(services, {"text": "what do neural networks have?", "files": []})
    conv = outs[-1][3]
    decline = _run(services, {"text": "capital of France?", "files": []}, conv)
    assert "Not in this course" in _assistant(decline[-1])
    assert "Why: the course material does not mention “France”." in _assistant(decline[-1])  # says why
    assert decline[0][5]["visible"] is False and decline[0][7]["visible"] is False
    assert "t1:S1" in decline[-1][2]  # earlier answers' sources stay clickable
    state, panel, caption, video, audio, page = on_clear()
    assert state.turns == [] and "appear here" in panel and video["visible"] is False and page["visible"] is False


def test_citation_plays_from_the_cited_sentence_with_the_slide_on_screen(services):
    outs = _run(services, {"text": "what do neural networks have?", "files": []})
    conv = outs[-1][3]
    s1 = conv.source("t1:S1")
    assert s1.play_s == 52.0  # "Each layer has weights." — not the segment start 48.4
    assert s1.citation.slide.page == 4 and s1.citation.display == "Lecture 1 · 0:48–1:12 (slides p. 4)"
    served = frozenset({str(COURSE / VIDEO), str(COURSE / DECK)})
    caption, video, audio, page = open_source(services, served, s1)
    assert video["playback_position"] == 52.0 and video["visible"] is True
    assert "ml_basics.pdf p. 4" in page["label"] and "0:52" in caption
    caption, video, audio, page = open_source(services, served, conv.source("t1:S2"))
    assert video["visible"] is False and page["label"] == "ml_basics.pdf p. 4"


def test_slide_label_follows_the_cited_second_and_camera_shots_get_none(services):
    align = Alignment(services.index_dir)
    for quote, start, page in (("Backpropagation uses the chain rule", 60.0, 10),
                               ("Neural networks stack layers", 48.4, 4)):
        hit = Hit(chunk=LECTURE, score=1.0)
        ans = Answer(text=f"{quote} [S1].", citations=(cite("S1", hit),), mode="offline", hits=(hit,))
        out, starts = localize(ans, align)
        assert starts["S1"] == start and out.citations[0].slide.page == page
    camera = Chunk(**{**LECTURE.model_dump(), "cues": ((68.2, 71.0, "Look at the whiteboard here."),)})
    hit = Hit(chunk=camera, score=1.0)
    ans = Answer(text="Look at the whiteboard here [S1].", citations=(cite("S1", hit),), mode="offline", hits=(hit,))
    out, starts = localize(ans, align)
    assert starts["S1"] == 68.2 and out.citations[0].slide is None and "slides p." not in out.citations[0].display


def test_a_sentence_over_two_cues_starts_at_the_first():
    assert cue_start(CUES, "Each layer has weights and a bias term") == 52.0
    assert cue_start(CUES, "nothing in common") is None


# -- conversation -----------------------------------------------------------------------------------
def test_follow_ups_carry_the_previous_key_terms(services):
    answer = Scripted()
    outs = _run(services, {"text": "what do neural networks have?", "files": []}, answer_fn=answer)
    outs = _run(services, {"text": "tell me more about that", "files": []}, outs[-1][3], answer_fn=answer)
    assert answer.calls[-1]["question"] == "tell me more about that (neural networks)"
    assert answer.calls[-1]["history"] == [("what do neural networks have?",
                                            "Each layer has weights and a bias term. The deck lists it.")]
    assert "searched as" in _assistant(outs[-1])
    assert "That is all the course says on this" in _assistant(outs[-1])  # the same passage again, said so
    assert rewrite([], "and why?") == "and why?"
    turns = outs[-1][3].turns
    assert rewrite(turns, "How does backpropagation use the chain rule?") == \
        "How does backpropagation use the chain rule?"


def test_next_and_previous_slide_follow_the_last_cited_place(services):
    outs = _run(services, {"text": "what do neural networks have?", "files": []})
    conv = outs[-1][3]
    assert slide_step("and the next slide?") == 1 and slide_step("show the previous slide") == -1
    nxt = _run(services, {"text": "and the next slide?", "files": []}, conv)
    text = _assistant(nxt[-1])
    # S1 played over p. 4 at its cited second, so the next slide is p. 5
    assert "Next slide: ml_basics.pdf p. 5, “Topic 5”" in text
    prev = _run(services, {"text": "previous slide please", "files": []}, nxt[-1][3])
    assert "Previous slide: ml_basics.pdf p. 4" in _assistant(prev[-1])
    # p. 4 is on screen in the lecture from 0:48: that moment is cited too
    assert any(s.citation.kind == "video" and s.play_s == 48.4 for s in prev[-1][3].turns[-1].sources)
    conv = prev[-1][3]
    for _ in range(4):  # back to p. 1, then off the front of the deck
        conv = _run(services, {"text": "previous slide", "files": []}, conv)[-1][3]
    assert "p. 1 was the first page of ml_basics.pdf, so there is no previous slide." in conv.turns[-1].text
    assert not conv.turns[-1].declined and not conv.turns[-1].error


def test_filters_reach_the_answerer(services):
    answer = Scripted()
    list(respond(services, {"text": "what do neural networks have?", "files": []}, None, [DECK], ["pdf"],
                 answer_fn=answer, pause_s=0))
    assert answer.calls[0]["sources"] == [DECK] and answer.calls[0]["kinds"] == ["pdf"]


def test_the_app_builds_with_an_overview_and_examples(services):
    demo = build_app(services, answer_fn=Scripted())
    cfg = demo.get_config_file()
    text = str(cfg)
    assert "Course overview" in text and "What does the course say about topic" in text
    assert "page text" in text and "captions" in text and "lecturelens ingest" in text


# -- safe by default --------------------------------------------------------------------------------
def test_public_bind_needs_a_password():
    assert check_bind("127.0.0.1", None) is None and check_bind("localhost", None) is None
    with pytest.raises(ConfigError, match="Refusing to serve the course on 0.0.0.0.*--auth"):
        check_bind("0.0.0.0", None)
    assert "Warning" in check_bind("0.0.0.0", ("ta", "s3cret"))
    with pytest.raises(ConfigError, match="user:password"):
        parse_auth("nopassword")


def test_chat_command_refuses_a_public_bind_without_auth(tmp_path, monkeypatch):
    from rag.cli import _register_plugins, cli

    _register_plugins()
    monkeypatch.delenv("LECTURELENS_UI__AUTH", raising=False)
    result = CliRunner().invoke(cli, ["chat", "--host", "0.0.0.0", "--index", str(tmp_path / "idx")])
    assert result.exit_code == 1
    assert "Refusing to serve the course on 0.0.0.0" in result.output


def test_retrieval_moment_sets_playback_and_the_slide_then(services):
    hit = Hit(chunk=LECTURE, score=1.0, moment=TimeSpan(start_s=60.0, end_s=66.0))
    ans = Answer(text="Each layer has weights [S1].", citations=(cite("S1", hit),), mode="offline", hits=(hit,))
    out, starts = localize(ans, Alignment(services.index_dir))
    c = out.citations[0]
    assert starts["S1"] == 60.0  # the moment wins over the quoted sentence's cue (52 s)
    assert c.slide.page == 10 and c.display == "Lecture 1 · 1:00–1:06 (slides p. 10)"
    assert c.segment == TimeSpan(start_s=48.4, end_s=71.5)


def test_a_page_source_quotes_its_statements_not_its_chart_ticks(services):
    """The source panel quoted a page's raw text layer: "1 2 3 4 5 6 7 8 number of clusters k 20 40 100 …"."""
    chart = ("1 2 3 4 5 6 7 8\nnumber of clusters k\n20\n40\n100\nwithin-cluster sum of squares\nelbow\n"
             "Choosing k: the elbow method\n• Plot the within-cluster sum of\nsquares against k\n"
             "• Pick k where the curve bends (the\nelbow)")
    deck = DECK_CHUNK.model_copy(update={"page_texts": (*DECK_CHUNK.page_texts[:3], chart, *DECK_CHUNK.page_texts[4:])})
    hit = Hit(chunk=deck, score=1.0, refined=PageSpan(first=4, last=4))

    def answer(services, question, image, **kw):
        return Answer(text="• Pick k where the curve bends (the elbow) [S1]", citations=(cite("S1", hit),),
                      mode="offline", hits=(hit,))

    conv = _run(services, {"text": "how do I choose k?", "files": []}, answer_fn=answer)[-1][3]
    assert conv.source("t1:S1").preview == ("Choosing k: the elbow method\n• Plot the within-cluster sum of squares "
                                            "against k\n• Pick k where the curve bends (the elbow)")
    # a figure without statements: its lines that read as words, not its tick values
    figure = deck.model_copy(update={"page_texts": ("0.2 0.4 0.6\nRelative number of births\n0 10 20\nPosterior "
                                                    "draws\nθ",) * 6})
    hit = Hit(chunk=figure, score=1.0, refined=PageSpan(first=4, last=4))
    conv = _run(services, {"text": "how do I choose k?", "files": []}, answer_fn=answer)[-1][3]
    assert conv.source("t1:S1").preview == "Relative number of births\nPosterior draws"


# -- a decline's closest places -----------------------------------------------------------------------
class Declining(Scripted):
    """Scripted, but a question about ReLU is declined for a missing term, with its closest places."""

    def __call__(self, services, question, image, **kw):
        if "ReLU" not in (question or ""):
            return super().__call__(services, question, image, **kw)
        self.calls.append({"question": question, "image": image, **kw})
        hits = (Hit(chunk=LECTURE, score=1.0, moment=TimeSpan(start_s=60.0, end_s=66.0)),
                Hit(chunk=DECK_CHUNK, score=0.8, refined=PageSpan(first=4, last=4)))
        return Answer(text="This is not covered in this course's material.", mode="offline", declined=True,
                      hits=hits, reason="the course material does not mention “ReLU”",
                      closest=(cite("C1", hits[0]), cite("C2", hits[1])))


def test_a_decline_shows_its_closest_places_clickable_and_never_as_citations(services):
    answer = Declining()
    conv = _run(services, {"text": "what do neural networks have?", "files": []}, answer_fn=answer)[-1][3]
    outs = _run(services, {"text": "what does ReLU do?", "files": []}, conv, answer_fn=answer)
    msg, panel, conv = _assistant(outs[-1]), outs[-1][2], outs[-1][3]
    assert msg.startswith("**Not in this course.**") and "Why: the course material does not mention “ReLU”" in msg
    # the slide on screen at the moment's second (p. 10 from 59.6 s), as for a citation; links open the entries
    assert ("*Closest material (not an answer; the course may word it differently):* "
            "[▶ Lecture 1 · 1:00–1:06 (slides p. 10)](#ll-open-t2-C1) · "
            "[▤ ml\\_basics.pdf p. 4](#ll-open-t2-C2)") in msg
    turn = conv.turns[-1]
    assert turn.declined and turn.sources == () and [s.key for s in turn.closest] == ["t2:C1", "t2:C2"]
    assert "Closest material (not an answer)" in panel and "the course may word it differently" in panel
    assert "data-ll-open='t2:C1'" in panel and "[C1]" not in panel and "[S1]" in panel  # answer 1 stays listed
    served = frozenset({str(COURSE / VIDEO), str(COURSE / DECK)})
    caption, video, audio, page = open_source(services, served, conv.source("t2:C1"))
    assert video["playback_position"] == 60.0 and "ml_basics.pdf p. 10" in page["label"]
    assert caption.startswith("**Closest material (not an answer): Lecture 1 · 1:00–1:06")
    caption, video, audio, page = open_source(services, served, conv.source("t2:C2"))
    assert video["visible"] is False and page["label"] == "ml_basics.pdf p. 4"
    # a declined turn is no follow-up's context: nothing "cited before" reaches the answerer, and "next slide"
    # goes on from the last answer's place (S1 played over p. 4), not from a closest place (p. 10)
    more = _run(services, {"text": "tell me more about that", "files": []}, conv, answer_fn=answer)[-1][3]
    assert "cited_before" not in answer.calls[-1]
    nxt = _run(services, {"text": "and the next slide?", "files": []}, more, answer_fn=answer)
    assert "Next slide: ml_basics.pdf p. 5" in _assistant(nxt[-1])


def test_an_off_topic_decline_and_an_answer_list_no_closest_material(services):
    outs = _run(services, {"text": "what do neural networks have?", "files": []})
    conv = _run(services, {"text": "capital of France?", "files": []}, outs[-1][3])[-1][3]
    assert all(t.closest == () for t in conv.turns)
    from agent.render import chat_messages, sources_html

    assert not any("Closest material" in m["content"] for m in chat_messages(conv.turns))
    assert "Closest material" not in sources_html(conv.turns)
