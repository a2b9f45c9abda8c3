"""The chat UI (Gradio): ask with text or a picture; a sources panel plays lecture moments and shows pages."""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from agent.answer import ask
from agent.offline import OFFLINE_LABEL
from rag.citations import clock
from rag.errors import LectureLensError
from rag.factory import Services
from rag.index import Manifest, ManifestEntry, page_render
from rag.types import Answer, Citation, PageSpan, TimeSpan

AnswerFn = Callable[..., Answer]  # same call as agent.answer.ask(services, question, image, image_mime=...)

_CSS = """
.ll-cite button, button.ll-cite { justify-content: flex-start; text-align: left; }
#ll-status { opacity: 0.85; }
"""
_NO_SOURCES = (
    "*The places the latest answer cites appear here. "
    "Click one to play the lecture at that moment or see the page.*"
)
_DECLINE_HINT = (
    "Sorry, I couldn't find this in the course, so I won't guess. "
    "Try other words, or ask about a topic from the lectures or slides."
)


def served_paths(services: Services) -> list[str]:
    """The files the UI may serve: exactly the indexed sources, plus the index's page and keyframe renders."""
    paths = [e.path for e in Manifest(services.index_dir).sources.values() if e.path]
    return [*paths, str(services.media_dir)]


def _mode_line(services: Services) -> str:
    offline = services.settings.resolved_answerer() != "gemini"
    mode = (
        "**Offline** — answers are extractive, quoted from the course, no language model"
        if offline
        else "**Gemini** — answers written by a language model from cited course evidence"
    )
    return f"Mode: {mode} · Embedder: `{services.embedder_label}`"


def _render(ans: Answer) -> str:
    """The chat text of one answer: mode label, the answer with its [S n] labels, the sources in brief."""
    if ans.declined:
        return f"**Not in this course.** {_DECLINE_HINT}"
    parts = [f"*{OFFLINE_LABEL}*"] if ans.mode == "offline" else []
    parts.append(ans.text)
    if ans.citations:
        parts.append("Sources: " + " · ".join(f"[{c.label}] {c.display}" for c in ans.citations))
    return "\n\n".join(parts)


def _button_text(c: Citation) -> str:
    icon = "▶" if isinstance(c.locator, TimeSpan) else "▤"  # plain glyphs: emoji fonts are not everywhere
    return f"{icon} [{c.label}] {c.display}"


def _page_image(entry: ManifestEntry, page: int) -> Any:
    """The stored render of a PDF page, else a fresh render (indexes built without page images)."""
    render = page_render(entry.media_dir, page)
    if entry.media_dir and render.is_file():
        return str(render)
    import pypdfium2

    pdf = pypdfium2.PdfDocument(entry.path)
    try:
        return pdf[page - 1].render(scale=1.5).to_pil()
    finally:
        pdf.close()


def _open(services: Services, served: frozenset[str], c: Citation) -> tuple[Any, Any, Any, Any]:
    """Updates for (caption, video, audio, page image) that show one citation."""
    hide = gr.update(visible=False)
    manifest = Manifest(services.index_dir)
    entry = manifest.get(c.source)
    if entry is None or not entry.path or not Path(entry.path).is_file():
        msg = (
            f"**{c.display}**: `{c.source}` is no longer where the index says. "
            "Re-run `lecturelens ingest` on the course folder."
        )
        return msg, hide, hide, hide
    if entry.path not in served:  # Gradio serves only the paths given at launch
        msg = (
            f"**{c.display}**: `{c.source}` was ingested after the chat started. Restart `lecturelens chat`."
        )
        return msg, hide, hide, hide
    loc = c.locator
    if isinstance(loc, TimeSpan):
        caption = f"**[{c.label}] {c.display}** — playing from {clock(loc.start_s)}"
        media = gr.update(value=entry.path, playback_position=loc.start_s, visible=True)
        page = hide
        if c.slide is not None:  # the deck page the lecture shows at that moment
            slide = manifest.get(c.slide.source)
            if slide is not None:
                page = gr.update(
                    value=_page_image(slide, c.slide.page),
                    visible=True,
                    label=f"{Path(c.slide.source).name} p. {c.slide.page}",
                )
        if c.kind == "audio":
            return caption, hide, media, page
        return caption, media, hide, page
    assert isinstance(loc, PageSpan)
    caption = f"**[{c.label}] {c.display}**" + (f" — showing p. {loc.first}" if loc.last > loc.first else "")
    name = f"{Path(c.source).name} p. {loc.first}"
    image = gr.update(value=_page_image(entry, loc.first), visible=True, label=name)
    return caption, hide, hide, image


def _question(message: dict[str, Any] | None) -> tuple[str, str | None]:
    message = message or {}
    files = message.get("files") or []
    image = files[-1] if files else None
    if isinstance(image, dict):
        image = image.get("path")
    return (message.get("text") or "").strip(), image


def build_app(services: Services, *, answer_fn: AnswerFn | None = None) -> gr.Blocks:
    """The LectureLens chat: a chat column (text + image upload) and a sources panel that opens citations."""
    answer_fn = answer_fn or ask
    served = served_paths(services)
    # Indexed files are served in place: no copy of a lecture video into Gradio's cache per click.
    gr.set_static_paths(served)

    def respond(message, history) -> Iterator[tuple[Any, Any, Any]]:
        text, image = _question(message)
        if not text and not image:
            yield history, gr.update(), gr.update()
            return
        history = list(history or [])
        if image:
            history.append({"role": "user", "content": {"path": image}})
        if text:
            history.append({"role": "user", "content": text})
        yield history + [{"role": "assistant", "content": "*Searching the course…*"}], None, gr.update()
        data = Path(image).read_bytes() if image else None
        mime = (mimetypes.guess_type(image)[0] or "image/jpeg") if image else "image/jpeg"
        try:
            ans = answer_fn(services, text or None, data, image_mime=mime)
        except LectureLensError as e:  # the UI handler is a boundary: show the remedy, keep the session
            yield history + [{"role": "assistant", "content": f"⚠️ {e}"}], None, []
            return
        yield history + [{"role": "assistant", "content": _render(ans)}], None, list(ans.citations)

    with gr.Blocks(title="LectureLens", fill_height=True) as demo:
        gr.Markdown(
            "# LectureLens\nAsk about the course: every answer cites lecture moments and slide pages."
        )
        gr.Markdown(_mode_line(services), elem_id="ll-status")
        cites = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=520, elem_id="ll-chat", buttons=["copy"])
                box = gr.MultimodalTextbox(
                    placeholder="Ask a question, or attach a photo of a slide…",
                    file_types=["image"],
                    file_count="single",
                    sources=["upload"],
                    show_label=False,
                    elem_id="ll-ask",
                    submit_btn=True,
                )
            with gr.Column(scale=2, elem_id="ll-sources"):
                gr.Markdown("### Sources")

                @gr.render(inputs=cites)
                def _sources(items: list[Citation]) -> None:
                    if not items:
                        gr.Markdown(_NO_SOURCES)
                        return
                    for c in items:
                        btn = gr.Button(_button_text(c), size="sm", elem_classes=["ll-cite"])
                        btn.click(functools.partial(_open, services, frozenset(served), c), None, viewer)

                caption = gr.Markdown(elem_id="ll-caption")
                video = gr.Video(
                    visible=False, autoplay=True, interactive=False, label="Lecture", elem_id="ll-video"
                )
                # Plain <audio> player: the waveform one drops a playback_position sent with a new file.
                audio = gr.Audio(
                    visible=False,
                    autoplay=True,
                    interactive=False,
                    label="Audio",
                    elem_id="ll-audio",
                    waveform_options=gr.WaveformOptions(show_recording_waveform=False),
                )
                page = gr.Image(
                    visible=False, interactive=False, label="Page", elem_id="ll-page", type="filepath"
                )
                viewer = [caption, video, audio, page]
        box.submit(respond, [box, chat], [chat, box, cites])
    return demo


def serve(
    services: Services,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    answer_fn: AnswerFn | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Serve the chat UI on host:port (127.0.0.1 by default: course material stays on this machine).

    `block=False` returns the running app at once (tests; close it with `.close()`).
    """
    demo = build_app(services, answer_fn=answer_fn)
    # Gradio 6 takes css at launch. allowed_paths: gr.Video checks a returned file against them.
    demo.queue().launch(
        server_name=host,
        server_port=port,
        allowed_paths=served_paths(services),
        css=_CSS,
        show_error=True,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo
