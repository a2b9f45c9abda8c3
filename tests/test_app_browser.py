"""The chat UI in a real browser: cited answers, citation clicks seek the media / show the page, uploads."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.offline import OFFLINE_LABEL
from ingest.sources import Manifest
from rag.citations import cite
from rag.factory import Services
from rag.settings import load_settings
from rag.types import Answer, Chunk, Hit, PageSpan, SlideRef, TimeSpan
from tests.conftest_course import COURSE

pytestmark = [
    pytest.mark.slow,
    # Gradio's queue uses pandas options pandas 3 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"),
]
from playwright import sync_api  # noqa: E402  (installed by make; a missing browser stack must fail, not skip)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIDEO = "lectures/lecture1_supervised.mp4"
DECK = "slides/ml_basics.pdf"
AUDIO = "audio/podcast_overfitting.mp3"


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian chromium is missing: `make sysdeps` installs it"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _running(services: Services, answer_fn=None) -> Iterator[str]:
    from agent.app import serve

    port = _free_port()
    demo = serve(services, "127.0.0.1", port, answer_fn=answer_fn, block=False, pause_s=0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


class _Embedder:  # only its label is shown: the scripted answers below never search
    provider, model, dimension = "fake", "hashing", 64


def _slide_png(tmp: Path, page: int = 4) -> Path:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(COURSE / DECK)
    out = tmp / "slide_photo.png"
    pdf[page - 1].render(scale=1.0).to_pil().save(out)
    pdf.close()
    return out


def _ask(page, text: str = "", image: Path | None = None) -> None:
    box = page.locator("#ll-ask")
    if image is not None:
        box.locator("input[type=file]").set_input_files(str(image))
        page.wait_for_selector("#ll-ask img, #ll-ask .thumbnail-item", timeout=10_000)
    if text:
        box.locator("textarea").fill(text)
    box.locator("button.submit-button, button[aria-label*='ubmit']").first.click()


def _media_at(page, start: float, selector: str = "#ll-video video") -> None:
    """The media element is loaded and positioned at `start` (±1.5 s)."""
    page.wait_for_function(
        """([sel, start]) => { const v = document.querySelector(sel);
                      return v && v.readyState >= 1 && Math.abs(v.currentTime - start) < 1.5; }""",
        arg=[selector, start],
        timeout=15_000,
    )


def _page_shown(page, name: str) -> None:
    img = page.locator("#ll-page img").first
    img.wait_for(state="visible", timeout=15_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('#ll-page img');"
        " return i && i.complete && i.naturalWidth > 100; }",
        timeout=15_000,
    )
    assert name in page.locator("#ll-page").inner_text()


def test_chat_cites_plays_and_shows_pages(browser, tmp_path):
    """Scripted answers with real Citations over the sample course's real files."""
    index = tmp_path / "idx"
    manifest = Manifest(index)
    for rel, kind in ((VIDEO, "video"), (DECK, "pdf"), (AUDIO, "audio")):
        manifest.put(
            rel,
            {
                "path": str(COURSE / rel),
                "kind": kind,
                "root": str(COURSE),
                "media_dir": str(index / "media" / kind),
            },
        )
    settings = load_settings(index_dir=index, embedding={"provider": "fake"}, chunking={"ocr": False})
    services = Services(
        settings=settings,
        embedder=_Embedder(),
        store=None,
        retriever=None,  # type: ignore[arg-type]
        image_index=None,
        fingerprint="test",
    )
    lecture = Chunk(
        id="v1",
        source=VIDEO,
        source_sha256="0" * 64,
        kind="video",
        title="Lecture 1",
        locator=TimeSpan(start_s=26.0, end_s=45.0),
        slide=SlideRef(source=DECK, page=4, confidence=0.9),
    )
    podcast = Chunk(
        id="a1",
        source=AUDIO,
        source_sha256="2" * 64,
        kind="audio",
        title="Podcast",
        locator=TimeSpan(start_s=10.0, end_s=30.0),
    )
    deck = Chunk(
        id="d1",
        source=DECK,
        source_sha256="1" * 64,
        kind="pdf",
        title="ml_basics",
        locator=PageSpan(first=1, last=6),
    )
    calls: list[tuple[str | None, bytes | None, str]] = []

    def answer_fn(services, question, image, *, image_mime="image/jpeg", **_):
        calls.append((question, image, image_mime))
        if image is not None:
            c = cite("S1", Hit(chunk=deck, score=1.0, refined=PageSpan(first=4, last=4)))
            return Answer(text="This is the gradient descent slide [S1].", citations=(c,), mode="offline")
        if "gradient" in (question or ""):
            s1 = cite("S1", Hit(chunk=lecture, score=1.0, refined=TimeSpan(start_s=30.6, end_s=34.7)))
            s2 = cite("S2", Hit(chunk=deck, score=0.9, refined=PageSpan(first=4, last=4)))
            s3 = cite("S3", Hit(chunk=podcast, score=0.8, refined=TimeSpan(start_s=12.0, end_s=20.0)))
            return Answer(
                text="Each step moves the weights downhill, along the negative gradient [S1]. "
                "The learning rate sets the step size [S2]. Too large a step overshoots [S3].",
                citations=(s1, s2, s3),
                mode="offline",
            )
        return Answer(text="This is not covered in this course's material.", mode="offline", declined=True)

    with _running(services, answer_fn) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(url)
        assert "fake:hashing (64-d, test fake)" in page.locator("#ll-status").inner_text()

        _ask(page, "How does gradient descent work?")
        chat = page.locator("#ll-chat")
        chat.get_by_text("along the negative gradient [S1]").wait_for(timeout=15_000)
        assert OFFLINE_LABEL in chat.inner_text()
        s1 = page.get_by_role("button", name="[S1] Lecture 1 · 0:31–0:35 (slides p. 4)")
        s2 = page.get_by_role("button", name="[S2] ml_basics.pdf p. 4")
        s3 = page.get_by_role("button", name="[S3] Podcast · 0:12–0:20")

        s1.click()
        _media_at(page, 30.6)
        src = page.eval_on_selector("#ll-video video", "v => v.src")
        assert "lecture1_supervised.mp4" in src and "/gradio_api/file=" in src
        # Served in place (static path), not copied into Gradio's cache.
        assert str(COURSE) in src.replace("%2F", "/")
        _page_shown(page, "ml_basics.pdf p. 4")  # the slide the lecture shows at that moment

        s3.click()
        _media_at(page, 12.0, "#ll-audio audio")
        assert not page.locator("#ll-video video").is_visible()

        s2.click()
        _page_shown(page, "ml_basics.pdf p. 4")
        assert not page.locator("#ll-video video").is_visible()
        assert not page.locator("#ll-audio").is_visible()

        s1.click()  # back to the lecture: seeks again
        _media_at(page, 30.6)

        _ask(page, image=_slide_png(tmp_path))
        chat.get_by_text("This is the gradient descent slide [S1].").wait_for(timeout=15_000)
        assert (
            # decoded once and re-encoded as one JPEG (rag.uploads) before any search
            calls[-1][0] is None and calls[-1][1][:3] == b"\xff\xd8\xff" and calls[-1][2] == "image/jpeg"
        )
        page.get_by_role("button", name="[S1] ml_basics.pdf p. 4").click()
        _page_shown(page, "ml_basics.pdf p. 4")

        _ask(page, "What is the capital of France?")
        chat.get_by_text("Not in this course.").wait_for(timeout=15_000)
        page.locator("#ll-page img").wait_for(state="hidden", timeout=10_000)  # a decline resets the viewer

        _ask(page, "How does gradient descent work?")
        chat.get_by_text("along the negative gradient [S1]").last.wait_for(timeout=15_000)
        again = page.get_by_role("button", name="[S1] Lecture 1 · 0:31–0:35 (slides p. 4)")
        again.click()
        _media_at(page, 30.6)
        page.screenshot(path="/tmp/ui.png", full_page=True)
        # It plays on from there; a second click on the same citation replays the moment.
        page.wait_for_function(
            "() => document.querySelector('#ll-video video').currentTime > 32.5", timeout=10_000
        )
        again.click()
        _media_at(page, 30.6)


def test_real_ask_over_ingested_course(browser, tmp_path):
    """`ask` end to end: ingest one lecture + the deck with the fake embedder, ask, click what it cites."""
    from ingest.pipeline import ingest_paths
    from rag.factory import build

    course = tmp_path / "course"
    for rel in (VIDEO, "lectures/lecture1_supervised.vtt", DECK):
        (course / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(COURSE / rel, course / rel)
    settings = load_settings(
        index_dir=tmp_path / "idx", embedding={"provider": "fake"}, chunking={"ocr": False}
    )
    services = build(settings, create=True)
    report = ingest_paths([course], services, show_progress=False)
    assert report.failed == [] and len(report.ingested) == 2

    with _running(services) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(url)
        _ask(page, "What does the learning rate set in gradient descent?")
        buttons = page.locator("#ll-sources button.ll-cite")
        buttons.first.wait_for(timeout=20_000)
        assert OFFLINE_LABEL in page.locator("#ll-chat").inner_text()
        labels = buttons.all_inner_texts()
        assert labels and all("[S" in t for t in labels)
        for i, text in enumerate(labels):
            buttons.nth(i).click()
            if text.startswith("▶"):
                page.wait_for_function(
                    "() => { const v = document.querySelector('#ll-video video');"
                    " return v && v.readyState >= 1; }",
                    timeout=15_000,
                )
            else:
                page.locator("#ll-page img").first.wait_for(state="visible", timeout=15_000)
