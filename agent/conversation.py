"""A chat conversation over the course, without any UI: turns, follow-ups, slide navigation, streaming.

The Gradio app (agent/app.py) keeps one `Conversation` per browser session and renders it; everything
here is plain Python so it is tested without a server.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from agent.moments import localize, quoted, slide_at
from agent.offline import page_quote
from agent.overview import page_title
from rag.citations import cite, clock, located_text
from rag.errors import LectureLensError
from rag.lexical import STOPWORDS
from rag.types import Answer, Citation, Hit, PageSpan, SlideRef, SourceKind, TimeSpan

Mode = Literal["offline", "gemini"]
AnswerFn = Callable[..., Answer]  # agent.answer.ask(services, question, image, image_mime=..., sources=...)

_NEXT = re.compile(r"\b(next|following)\s+(slide|page)\b", re.I)
_PREV = re.compile(r"\b(previous|prior|preceding|last)\s+(slide|page)\b|\b(slide|page)\s+before\b", re.I)
_REFER = re.compile(r"\b(it|its|that|this|these|those|them|they|there|more|further|again|same|else|then)\b", re.I)
_OPENER = re.compile(r"^\s*(and|also|so|but|what about|how about|why|example|e\.g\.)\b", re.I)
_WORD = re.compile(r"[^\W_][\w\-']*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MARKER = re.compile(r"\s*\[S\d+\]")


@dataclass(frozen=True)
class Source:
    """One clickable place of one answer: its citation, where it plays from, a preview and a thumbnail."""

    key: str  # "t<turn>:<label>", unique in the conversation
    turn: int
    citation: Citation
    play_s: float | None = None  # video/audio: the second the cited sentence starts
    preview: str = ""  # the quoted caption lines, or the page's text
    thumb: str | None = None  # a keyframe or page render on disk
    machine_transcript: bool = False  # the words come from speech-to-text, not a caption file
    closest: bool = False  # a declined answer's nearest place (Answer.closest): where to look, not a citation


@dataclass(frozen=True)
class Turn:
    """One question and its answer (possibly still streaming)."""

    question: str
    query: str  # what was searched: the question, a follow-up rewritten with the earlier one's key terms
    image_name: str | None = None
    image_path: str | None = None
    text: str = ""  # the answer with its [S n] markers
    mode: str = "offline"
    declined: bool = False
    reason: str = ""  # why it was declined, in words
    error: bool = False
    done: bool = False
    sources: tuple[Source, ...] = ()
    # a decline's nearest places: clickable, but never a citation, so no follow-up or "next slide" starts there
    closest: tuple[Source, ...] = ()


@dataclass
class Conversation:
    """Every turn of one chat session."""

    turns: list[Turn] = field(default_factory=list)

    def source(self, key: str) -> Source | None:
        for turn in self.turns:
            for s in (*turn.sources, *turn.closest):
                if s.key == key:
                    return s
        return None

    def history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs of the finished, successful turns, for an answerer that reads history."""
        # Without the [S n] markers: labels are per answer, and an old one must not be cited again.
        return [(t.query or t.question, _MARKER.sub("", t.text)) for t in self.turns
                if t.done and not t.error and t.text]


# -- follow-ups ---------------------------------------------------------------------------------------
def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS and not _REFER.fullmatch(w)]


def rewrite(turns: Sequence[Turn], text: str) -> str:
    """A follow-up ("tell me more about that", "and why?") searched with the previous question's key terms;
    a question that stands on its own is left alone."""
    prev = next((t for t in reversed(turns) if not t.error and t.query), None)
    if prev is None or not text:
        return text
    own = _content_words(text)
    if len(own) >= 3 or (not _REFER.search(text) and not _OPENER.search(text) and len(own) >= 2):
        return text
    carried = [w for w in _content_words(prev.query) if w.lower() not in {o.lower() for o in own}][:8]
    return f"{text} ({' '.join(carried)})" if carried else text


def slide_step(text: str) -> int:
    """+1 for "the next slide", -1 for "the previous slide", else 0."""
    if _NEXT.search(text):
        return 1
    if _PREV.search(text):
        return -1
    return 0


def last_page(turns: Sequence[Turn]) -> tuple[str, int] | None:
    """The deck page the conversation was last at: the latest answer's first cited page, or the slide on
    screen at its first cited lecture moment."""
    for turn in reversed(turns):
        for s in turn.sources:
            loc = s.citation.locator
            if isinstance(loc, PageSpan):
                return s.citation.source, loc.first
            if s.citation.slide is not None:
                return s.citation.slide.source, s.citation.slide.page
    return None


# -- building a turn ----------------------------------------------------------------------------------
def _sources(services: Any, turn_no: int, answer: Answer, starts: dict[str, float],
             closest: bool = False) -> tuple[Source, ...]:
    """The clickable places of one answer: its citations, or (`closest`) a decline's nearest places."""
    from agent.moments import hit_of

    out = []
    for c in answer.closest if closest else answer.citations:
        hit = hit_of(answer, c)
        play = starts.get(c.label)
        out.append(Source(
            key=f"t{turn_no}:{c.label}", turn=turn_no, citation=c, play_s=play,
            preview=_preview(hit, c, play), thumb=_thumb(services, hit, c, play),
            machine_transcript=bool(hit is not None and _machine(hit)), closest=closest,
        ))
    return tuple(out)


def _machine(hit: Hit) -> bool:
    # Set by speech-to-text ingest on chunks whose words were (partly) transcribed, not read from a caption file.
    return hit.chunk.transcript in ("machine", "mixed")


def _preview(hit: Hit | None, c: Citation, play: float | None, limit: int = 320) -> str:
    if hit is None:
        return ""
    if isinstance(c.locator, TimeSpan) and hit.chunk.cues:
        start = play if play is not None else c.locator.start_s
        lines = [txt for a, b, txt in hit.chunk.cues if b > start + 0.05][:3]
        text = " ".join(lines)
    elif isinstance(c.locator, PageSpan):
        text = page_quote(hit)  # the page's statements, not its raw text layer with a chart's tick values
    else:
        text = " ".join(located_text(hit).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _thumb(services: Any, hit: Hit | None, c: Citation, play: float | None) -> str | None:
    """A keyframe on screen at the cited second, or the cited page's render; None when there is none."""
    from agent.media import keyframe_file, page_file

    if hit is None:
        return None
    if isinstance(c.locator, PageSpan):
        return page_file(services, c.source, c.locator.first)
    if hit.chunk.kind == "video" and hit.chunk.keyframes:
        t = play if play is not None else c.locator.start_s
        before = [k for k in hit.chunk.keyframes if k <= t + 0.05]
        return keyframe_file(services, c.source, before[-1] if before else hit.chunk.keyframes[0])
    return None


def finished(services: Any, turn: Turn, turn_no: int, answer: Answer) -> Turn:
    """The turn with its answer: citations labelled with the slide on screen, sources resolved."""
    alignment = getattr(services.retriever, "alignment", None) if services.retriever is not None else None
    answer, starts = localize(answer, alignment, turn.query)
    return replace(turn, text=answer.text, mode=answer.mode, declined=answer.declined, reason=answer.reason,
                   sources=_sources(services, turn_no, answer, starts),
                   closest=_sources(services, turn_no, answer, starts, closest=True))


def page_answer(services: Any, source: str, page: int, step: int, mode: Mode) -> Answer:
    """The answer to "next/previous slide": that page, quoted, and the lecture moments that show it."""
    chunks = services.store.chunks_of(source)
    pages = [c for c in chunks if isinstance(c.locator, PageSpan)]
    count = max((c.locator.last for c in pages if isinstance(c.locator, PageSpan)), default=0)
    name = Path(source).name
    if page < 1 or page > count:
        edge = "first" if page < 1 else "last"
        return Answer(text=f"p. {page - step} was the {edge} page of {name}, so there is no "
                           f"{'previous' if step < 0 else 'next'} slide.", mode=mode)
    chunk = next(c for c in pages if isinstance(c.locator, PageSpan) and c.locator.first <= page <= c.locator.last)
    hits = [Hit(chunk=chunk, score=1.0, refined=PageSpan(first=page, last=page))]
    alignment = services.retriever.alignment
    shown: list[str] = []
    for cid in alignment.showing(source, page) if alignment is not None else ():
        seg = alignment.get(cid)
        spans = seg.spans_showing(source, page) if seg is not None else []
        video = next((c for c in services.store.chunks_of(seg.source) if c.id == cid), None) if seg else None
        if video is None or not spans:
            continue
        slide = SlideRef(source=source, page=page, confidence=1.0)
        video = video.model_copy(update={"slide": slide})
        hits.append(Hit(chunk=video, score=0.9, refined=TimeSpan(start_s=spans[0][0], end_s=spans[-1][1])))
        shown.append(f"{video.title} at {clock(spans[0][0])} [S{len(hits)}]")
    title = page_title(located_text(hits[0]))
    where = "Next" if step > 0 else "Previous"
    text = f"{where} slide: {name} p. {page}" + (f", “{title}”" if title else "") + " [S1]."
    if shown:
        text += " It is on screen in " + ", ".join(shown) + "."
    labelled = {f"S{i}": h for i, h in enumerate(hits, start=1)}
    return Answer(text=text, citations=tuple(cite(k, h) for k, h in labelled.items()), mode=mode, hits=tuple(hits))


def _mode(services: Any) -> Mode:
    return "gemini" if services.settings.resolved_answerer() == "gemini" else "offline"


def answer_stream(services: Any, conv: Conversation, question: str, *, image: bytes | None = None,
                  image_mime: str = "image/jpeg", image_name: str | None = None, image_path: str | None = None,
                  sources: Sequence[str] | None = None, kinds: Sequence[SourceKind] | None = None,
                  answer_fn: AnswerFn | None = None) -> Iterator[Turn]:
    """Answer one chat message, yielding the turn as it grows: first empty (searching), then sentence by
    sentence with the sources of the sentences so far, then done. Errors propagate to the caller."""
    from agent.answer import ask

    answer_fn = answer_fn or ask
    turn_no = len(conv.turns) + 1
    step = slide_step(question) if image is None else 0
    here = last_page(conv.turns) if step else None
    query = question if (image is not None or step) else rewrite(conv.turns, question)
    turn = Turn(question=question, query=query, image_name=image_name, image_path=image_path)
    yield turn
    streamed = False
    if here is not None:
        answer = page_answer(services, here[0], here[1] + step, step, _mode(services))
    else:
        kwargs: dict[str, Any] = {"image_mime": image_mime}
        if sources:
            kwargs["sources"] = list(sources)
        if kinds:
            kwargs["kinds"] = list(kinds)
        history = conv.history()
        if history:
            kwargs["history"] = history
        prev = next((t for t in reversed(conv.turns) if t.done and not t.error), None)
        if image is None and query != question and prev is not None and prev.sources:  # a follow-up
            kwargs["cited_before"] = tuple(s.citation for s in prev.sources)  # "tell me more": prefer other places
        if _mode(services) == "gemini":  # the model's tokens are shown as they come
            streamed = True
            for partial in _tokens(lambda on_token: answer_fn(services, query or None, image, on_token=on_token,
                                                              **kwargs)):
                if isinstance(partial, Answer):
                    answer = partial
                else:
                    yield replace(turn, text=_MARKER.sub("", partial).strip())
        else:
            answer = answer_fn(services, query or None, image, **kwargs)
    full = _said_before(conv.turns, finished(services, turn, turn_no, answer))
    if streamed or full.declined or not full.sources:
        yield replace(full, done=True)
        return
    shown = ""  # offline answers are complete at once: shown sentence by sentence, sources filling in
    for sentence in _SENTENCE_END.split(full.text):
        shown = f"{shown} {sentence}".strip()
        cited = [s for s in full.sources if f"[{s.citation.label}]" in shown]
        yield replace(full, text=shown, sources=tuple(cited))
    yield replace(full, done=True)


NOTHING_MORE = "That is all the course says on this; the cited places have the whole passage."


def _said_before(turns: Sequence[Turn], turn: Turn) -> Turn:
    """A follow-up whose answer repeats the previous one word for word says so instead of pretending to add."""
    prev = next((t for t in reversed(turns) if t.done and not t.error), None)
    if prev is None or turn.declined or turn.query == turn.question or not turn.text:
        return turn
    if _MARKER.sub("", prev.text).strip() != _MARKER.sub("", turn.text).strip():
        return turn
    return replace(turn, text=f"{turn.text} {NOTHING_MORE}")


def _tokens(run: Callable[[Callable[[str], None]], Answer]) -> Iterator[str | Answer]:
    """Run a streaming answerer in a thread: the text so far after each token, then the Answer.
    The answerer's exception is raised here, in the caller's thread."""
    q: queue.Queue[str | None] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = run(q.put)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            result["error"] = e
        finally:
            q.put(None)

    threading.Thread(target=work, daemon=True, name="lecturelens-answer").start()
    text = ""
    while (token := q.get()) is not None:
        text += token
        yield text
    if "error" in result:
        raise result["error"]
    yield result["answer"]


def failed(turn: Turn, error: BaseException) -> Turn:
    """The turn closed with a message the user can act on (never a raw traceback)."""
    if isinstance(error, LectureLensError):
        msg = str(error)
    else:
        msg = ("Something went wrong while answering this question, so there is no answer. "
               "Try again, or rephrase the question. (The details are in the server log.)")
    return replace(turn, text=msg, error=True, done=True, sources=(), closest=())


__all__ = ["Conversation", "Turn", "Source", "answer_stream", "failed", "rewrite", "quoted", "slide_at"]
