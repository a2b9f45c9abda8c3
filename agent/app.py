"""The chat UI (Gradio): a conversation over the course with streamed, cited answers; a sources panel
with previews whose entries (and the answers' inline [S n] markers) play the lecture at the cited
sentence or show the page; a course overview; filters. Every handler is a boundary: whatever goes
wrong, the user sees a sentence they can act on and the session stays usable.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Nothing leaves the machine: Gradio's usage telemetry is off before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from agent.conversation import AnswerFn, Conversation, Source, Turn, answer_stream, failed  # noqa: E402
from agent.media import entries, entry, page_image, served_paths  # noqa: E402
from agent.overview import example_questions, overview_markdown  # noqa: E402
from agent.render import chat_messages, place_title, sources_html  # noqa: E402
from rag.citations import clock  # noqa: E402
from rag.errors import ConfigError, LectureLensError  # noqa: E402
from rag.factory import Services  # noqa: E402
from rag.types import PageSpan, SourceKind, TimeSpan  # noqa: E402

log = logging.getLogger("lecturelens.ui")

STREAM_PAUSE_S = 0.12  # between streamed sentences of an offline answer: readable, not slow
KINDS = [("Lectures", "video"), ("Slides", "pdf"), ("Audio", "audio")]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_CSS = """
#ll-status { opacity: 0.85; }
.ll-source { margin: 0 0 10px 0; }
button.ll-cite { display: block; width: 100%; text-align: left; padding: 6px 10px; border-radius: 6px;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill);
  cursor: pointer; font-size: var(--text-sm); }
button.ll-cite:hover { background: var(--button-secondary-background-fill-hover); }
.ll-preview { display: flex; gap: 8px; margin-top: 4px; font-size: var(--text-sm); }
.ll-preview blockquote { margin: 0; padding-left: 8px; border-left: 3px solid var(--border-color-primary);
                         white-space: pre-line; }
.ll-thumb { width: 112px; height: auto; object-fit: contain; border-radius: 4px; flex: none; }
.ll-note { opacity: 0.75; font-size: var(--text-xs); }
.ll-group summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.ll-closest-tag { font-weight: 400; opacity: 0.8; }
.ll-closest-note { opacity: 0.8; font-size: var(--text-sm); margin: 0 0 6px 0; }
"""
# Inline [S n] markers in answers are links to #ll-open-t<turn>-S<n>; a click opens that source by
# clicking its entry in the sources panel (every answer's entries stay in the panel, folded).
_HEAD = """<script>
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href^="#ll-open-"]');
  if (!a) return;
  e.preventDefault(); e.stopPropagation();
  const id = 'll-src-' + a.getAttribute('href').slice('#ll-open-'.length);
  const b = document.getElementById(id);
  if (b) b.click();
}, true);
</script>"""
_SOURCES_JS = """
element.addEventListener('click', (e) => {
  const b = e.target.closest('[data-ll-open]');
  if (b) trigger('click', {ref: b.dataset.llOpen});
});
"""


def _mode_line(services: Services) -> str:
    offline = services.settings.resolved_answerer() != "gemini"
    mode = ("**Offline** — answers are extractive, quoted from the course, no language model" if offline
            else "**Gemini** — answers written by a language model from cited course evidence")
    return f"Mode: {mode} · Embedder: `{services.embedder_label}`"


def _hidden() -> tuple[Any, Any, Any, Any]:
    """Viewer updates that show nothing: caption, video, audio, page."""
    hide = gr.update(value=None, visible=False)
    return "", hide, hide, hide


def open_source(services: Services, served: frozenset[str], s: Source | None) -> tuple[Any, Any, Any, Any]:
    """Viewer updates (caption, video, audio, page image) that show one source."""
    hide = gr.update(value=None, visible=False)
    if s is None:
        return "*That source belongs to a cleared conversation. Ask again.*", hide, hide, hide
    c = s.citation
    e = entry(services, c.source)
    if e is None or not e.path or not Path(e.path).is_file():
        return (f"**{c.display}**: `{c.source}` is no longer where the index says. "
                "Re-run `lecturelens ingest` on the course folder."), hide, hide, hide
    if e.path not in served:  # Gradio serves only the paths given at launch
        return (f"**{c.display}**: `{c.source}` was ingested after the chat started. "
                "Restart `lecturelens chat`."), hide, hide, hide
    loc = c.locator
    if isinstance(loc, TimeSpan):
        start = s.play_s if s.play_s is not None else loc.start_s
        span = c.segment or loc
        caption = (f"**{place_title(s)}** — playing from {clock(start)} "
                   f"(segment {clock(span.start_s)}–{clock(span.end_s)})")
        media = gr.update(value=e.path, playback_position=start, visible=True)
        page = hide
        if c.slide is not None:  # the deck page on screen at that second
            img = page_image(services, c.slide.source, c.slide.page)
            if img is not None:
                page = gr.update(value=img, visible=True,
                                 label=f"On screen at {clock(start)}: {Path(c.slide.source).name} p. {c.slide.page}")
        elif c.kind == "video":
            caption += " · no slide on screen then"
        if c.kind == "audio":
            return caption, hide, media, page
        return caption, media, hide, page
    assert isinstance(loc, PageSpan)
    caption = f"**{place_title(s)}**" + (f" — showing p. {loc.first}" if loc.last > loc.first else "")
    image = gr.update(value=page_image(services, c.source, loc.first), visible=True,
                      label=f"{Path(c.source).name} p. {loc.first}")
    return caption, hide, hide, image


def _message(message: dict[str, Any] | None) -> tuple[str, str | None, str | None]:
    """(text, uploaded file path, its original name) of a MultimodalTextbox value."""
    message = message or {}
    files = message.get("files") or []
    f = files[-1] if files else None
    path = f.get("path") if isinstance(f, dict) else f
    name = (f.get("orig_name") if isinstance(f, dict) else None) or (Path(path).name if path else None)
    return (message.get("text") or "").strip(), path, name


def respond(services: Services, message: dict[str, Any] | None, conv: Conversation | None,
            sources: list[str] | None, kinds: list[SourceKind] | None, *, answer_fn: AnswerFn | None = None,
            pause_s: float = STREAM_PAUSE_S) -> Iterator[tuple[Any, ...]]:
    """One chat message → updates of (chat, input box, sources panel, state, caption, video, audio, page).

    A boundary: every exception becomes a message in the chat; the typed question goes back into the
    input box so it can be fixed and sent again; the viewer is reset for the new answer."""
    conv = Conversation(list(conv.turns)) if conv else Conversation()
    text, path, name = _message(message)
    if not text and not path:
        yield chat_messages(conv.turns), gr.update(), gr.update(), conv, *([gr.update()] * 4)
        return
    keep = {"text": text, "files": []}  # what goes back into the box when the question could not be answered
    turn = Turn(question=text, query=text, image_name=name, image_path=path)
    try:
        image = mime = None
        if path:
            from rag.uploads import load_image

            upload = load_image(path, name=name)
            image, mime = upload.data, upload.mime
        last = None
        for turn in answer_stream(services, conv, text, image=image, image_mime=mime or "image/jpeg",
                                  image_name=name, image_path=path, sources=sources or None,
                                  kinds=kinds or None, answer_fn=answer_fn):
            turns = [*conv.turns, turn]
            if last is not None and pause_s and not turn.done:
                time.sleep(pause_s)
            # The state holds the answer so far: a source shown while the answer streams opens at once. The box is
            # emptied once, when the question is taken; later updates leave it alone, so the next question typed
            # while this answer streams stays there (and one sent then is asked when this answer completes:
            # trigger_mode "always_last" reads the box at that moment; emptying it on the last update lost it).
            yield (chat_messages(turns), None if last is None else gr.update(), sources_html(turns),
                   Conversation(turns), *(_hidden() if last is None else [gr.update()] * 4))
            last = turn
        conv.turns.append(turn)
        yield chat_messages(conv.turns), gr.update(), sources_html(conv.turns), conv, *([gr.update()] * 4)
    except Exception as e:  # noqa: BLE001 - the UI boundary: nothing reaches the user raw
        if not isinstance(e, LectureLensError):
            log.exception("chat handler failed on %r", text)
        conv.turns.append(failed(turn, e))
        yield chat_messages(conv.turns), keep, sources_html(conv.turns), conv, *_hidden()


def on_clear() -> tuple[Any, ...]:
    """The chat's Clear button: a new conversation, an empty sources panel, the viewer hidden."""
    return Conversation(), sources_html([]), *_hidden()


def build_app(services: Services, *, answer_fn: AnswerFn | None = None,
              pause_s: float = STREAM_PAUSE_S) -> gr.Blocks:
    """The LectureLens chat: overview, chat column (text + image, filters) and a sources panel + viewer."""
    served = frozenset(served_paths(services))
    # Indexed files are served in place: no copy of a lecture video into Gradio's cache per click.
    gr.set_static_paths(sorted(served))
    mode = _mode_line(services)
    try:
        overview, examples = overview_markdown(services, mode), example_questions(services)
        choices = [(e.title or rel, rel) for rel, e in sorted(entries(services).items())]
    except Exception:  # noqa: BLE001 - the overview must never keep the chat from starting
        log.exception("course overview failed")
        overview, examples, choices = mode, [], []

    def on_message(message, conv, sources, kinds):
        yield from respond(services, message, conv, sources, kinds, answer_fn=answer_fn, pause_s=pause_s)

    def on_open(conv: Conversation | None, evt: gr.EventData):
        try:
            ref = getattr(evt, "ref", None) or ""
            return open_source(services, served, (conv or Conversation()).source(ref))
        except Exception:  # noqa: BLE001 - a boundary
            log.exception("opening a source failed")
            return ("*This source could not be opened. Ask again, or re-run `lecturelens ingest`.*",
                    *_hidden()[1:])

    with gr.Blocks(title="LectureLens", fill_height=True, analytics_enabled=False) as demo:
        gr.Markdown("# LectureLens\nAsk about the course: every answer cites lecture moments and slide pages.")
        gr.Markdown(mode, elem_id="ll-status")
        conv = gr.State(Conversation())
        with gr.Accordion("Course overview", open=False, elem_id="ll-overview"):
            gr.Markdown(overview)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=520, elem_id="ll-chat", buttons=["copy"])
                box = gr.MultimodalTextbox(
                    placeholder="Ask a question, or attach a photo of a slide…",
                    file_types=None,  # every file reaches our checks, which say what is wrong with it
                    file_count="single", sources=["upload"], show_label=False, elem_id="ll-ask",
                    submit_btn=True,
                )
                if examples:
                    gr.Examples([{"text": q, "files": []} for q in examples], inputs=box,
                                label="Try asking", elem_id="ll-examples")
                with gr.Accordion("Filters", open=False, elem_id="ll-filters"):
                    only = gr.Dropdown(choices=choices, multiselect=True, label="Only these lectures/decks",
                                       elem_id="ll-only")
                    kinds = gr.CheckboxGroup(choices=KINDS, label="Only these kinds (none ticked: all)",
                                             elem_id="ll-kinds")
            with gr.Column(scale=2, elem_id="ll-sources"):
                caption = gr.Markdown(elem_id="ll-caption")
                video = gr.Video(visible=False, autoplay=True, interactive=False, label="Lecture", show_label=False,
                                 elem_id="ll-video", buttons=["download"], height=300)
                # Plain <audio> player: the waveform one drops a playback_position sent with a new file.
                audio = gr.Audio(visible=False, autoplay=True, interactive=False, label="Audio",
                                 elem_id="ll-audio", buttons=["download"],
                                 waveform_options=gr.WaveformOptions(show_recording_waveform=False))
                page = gr.Image(visible=False, interactive=False, label="Page", elem_id="ll-page", height=240,
                                type="filepath", buttons=["fullscreen", "download"])
                # Below the player, so the player stays in view when a long list of sources is clicked.
                gr.Markdown("### Sources")
                panel = gr.HTML(sources_html([]), elem_id="ll-sources-list", js_on_load=_SOURCES_JS)
        viewer = [caption, video, audio, page]
        # always_last: a question sent while the previous answer's last update is still in flight is asked when
        # it completes (Gradio's default, "once", drops it: a quick follow-up was lost, seen in the browser tests);
        # `respond` leaves the box alone after taking the question, so the deferred run still finds it there
        box.submit(on_message, [box, conv, only, kinds], [chat, box, panel, conv, *viewer], api_name="ask",
                   concurrency_limit=4, trigger_mode="always_last")
        panel.click(on_open, [conv], viewer, api_visibility="private")
        chat.clear(on_clear, None, [conv, panel, *viewer], api_visibility="private")
    return demo


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """`user:password` → (user, password); ConfigError when malformed."""
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth (or LECTURELENS_UI__AUTH) must look like user:password, both non-empty.")
    return user, password


def check_bind(host: str, auth: tuple[str, str] | None) -> str | None:
    """Refuse a network-reachable bind without a password; the warning to print when it is allowed."""
    if host in LOOPBACK or host.startswith("127."):
        return None
    if auth is None:
        raise ConfigError(
            f"Refusing to serve the course on {host}: that address is reachable from other machines and "
            "the chat would be open to anyone there. Add --auth user:password (or set LECTURELENS_UI__AUTH), "
            "or bind 127.0.0.1.")
    return (f"Warning: serving on {host} — anyone on the network who knows the password can read the "
            "indexed course material. Traffic is plain HTTP: put it behind an HTTPS proxy for the open internet.")


def serve(services: Services, host: str = "127.0.0.1", port: int = 7860, *, auth: str | None = None,
          answer_fn: AnswerFn | None = None, block: bool = True, pause_s: float = STREAM_PAUSE_S) -> gr.Blocks:
    """Serve the chat UI on host:port (127.0.0.1 by default: course material stays on this machine).

    `block=False` returns the running app at once (tests; close it with `.close()`)."""
    from rag.uploads import DEFAULT_LIMITS

    credentials = parse_auth(auth)
    warning = check_bind(host, credentials)
    if warning:
        print(warning, file=sys.stderr)
    demo = build_app(services, answer_fn=answer_fn, pause_s=pause_s)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, auth=credentials, share=False,
        allowed_paths=served_paths(services),  # gr.Video checks a returned file against them
        css=_CSS, head=_HEAD, show_error=False, prevent_thread_lock=not block, quiet=not block,
        # Bigger than the upload check's own limit, so an oversized photo gets its friendly message.
        max_file_size=4 * DEFAULT_LIMITS.max_bytes,
        footer_links=["settings"],  # no API page link, no run history synced to outside services
        run_history=False, enable_monitoring=False, mcp_server=False, pwa=False,
    )
    return demo
