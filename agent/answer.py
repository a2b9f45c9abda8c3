"""`ask`: retrieve, decide whether the course supports an answer, then answer with cited evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr

from agent.offline import compose
from agent.tools import EvidenceBook, make_tools
from rag.citations import evidence_labels, resolve
from rag.confidence import Support, judge
from rag.factory import Services
from rag.gemini_provider import GeminiProvider
from rag.retrieval import Query
from rag.types import Answer, SourceKind
from rag.uploads import ImageUpload, load_image

DECLINE = "This is not covered in this course's material, as far as I can find."


def ask(services: Services, question: str | None = None, image: bytes | ImageUpload | None = None, *,
        image_mime: str = "image/jpeg", chat_model: Any = None, mode: str | None = None,
        sources: Sequence[str] | None = None, kinds: Sequence[SourceKind] | None = None,
        history: Sequence[tuple[str, str]] = (), on_token: Callable[[str], None] | None = None) -> Answer:
    """Answer one question (text, image, or both) from the course, with citations resolved by code.

    `sources`/`kinds` restrict the search; `history` holds earlier (question, answer) pairs of a chat,
    which the Gemini agent reads (the offline answerer gets follow-ups already rewritten by the chat);
    `on_token` receives the Gemini answer's text as it streams.
    An image given as bytes of another type than JPEG (WebP, GIF, PNG, HEIC...) is decoded and re-encoded
    once here by rag.uploads, so embedding, OCR and matching all see the same JPEG (the Gemini API takes
    PNG/JPEG only); JPEG bytes (what rag.uploads makes) and an `ImageUpload` are used as they are."""
    mode = mode or ("gemini" if services.settings.resolved_provider() == "gemini" or chat_model else "offline")
    data, mime = _query_image(image, image_mime)
    q = Query(text=question or None, image=data, image_mime=mime, sources=sources or None, kinds=kinds or None)
    hits = services.retriever.search(q, services.settings.retrieval.k)
    support = judge(q, hits, weight=services.retriever.idf)
    if not support.answerable:
        return Answer(text=DECLINE, mode=mode, declined=True, hits=tuple(hits))
    if mode == "gemini":
        return _gemini(services, q, hits, chat_model, history, on_token)
    labelled = evidence_labels(hits)
    text = compose(q.words() or "", hits, list(labelled), weight=services.retriever.idf, image=q.image is not None)
    clean, citations = resolve(text, labelled)
    if not citations:  # an answer no retrieved place supports is never shown as an answer
        return Answer(text=DECLINE, mode="offline", declined=True, hits=tuple(hits))
    return Answer(text=clean, citations=tuple(citations), mode="offline", hits=tuple(hits))


def _query_image(image: bytes | ImageUpload | None, mime: str) -> tuple[bytes | None, str]:
    if image is None:
        return None, mime
    if isinstance(image, ImageUpload):
        return image.data, image.mime
    if mime == "image/jpeg" and image.startswith(b"\xff\xd8\xff"):
        return image, mime
    upload = load_image(image)
    return upload.data, upload.mime


def _gemini(services: Services, q: Query, hits, chat_model: Any, history: Sequence[tuple[str, str]] = (),
            on_token: Callable[[str], None] | None = None) -> Answer:
    from agent.gemini import provider_for, run_agent

    book = EvidenceBook()
    prompt = q.text or ""
    if q.image is not None:
        # The picture was matched by retrieval; the agent sees where it was found as labelled evidence.
        prompt = (prompt + "\n\n" if prompt else "Where in the course is this picture shown, and what is it?\n\n")
        prompt += "Places that match the uploaded picture:\n" + book.render(list(hits))
    provider = provider_for(services.settings, services.embedder) if chat_model is None else None
    model = chat_model or provider.chat_model()  # type: ignore[union-attr]
    tools = make_tools(services.retriever, book, services.settings.retrieval.k, sources=q.sources, kinds=q.kinds)
    try:
        text = run_agent(model, tools, prompt, history=history, on_token=on_token)
    except Exception as e:  # 429, 5xx, retired model...: a ProviderError with a remedy, never a raw traceback
        name = getattr(model, "model", services.settings.gemini.chat_model)
        settings = services.settings
        translator = provider or GeminiProvider(settings.gemini, settings.api_key() or SecretStr(""))
        translator.raise_from(e, f"Gemini ({name}) could not answer", "chat", name)
        raise
    clean, citations = resolve(text, book.labelled)
    if not citations:  # no resolvable label: a decline, never the uncited text
        return Answer(text=DECLINE, mode="gemini", declined=True, hits=tuple(hits))
    return Answer(text=clean, citations=tuple(citations), mode="gemini", hits=tuple(hits))


def answer_json(ans: Answer) -> dict[str, Any]:
    """The `ask --json` contract."""
    from rag.types import TimeSpan

    cites = []
    for c in ans.citations:
        timed = isinstance(c.locator, TimeSpan)
        item = {"label": c.label, "source": c.source, "kind": c.kind,
                "start": c.locator.start_s if timed else None, "end": c.locator.end_s if timed else None,
                "pages": None if timed else list(range(c.locator.first, c.locator.last + 1)),
                "display": c.display}
        if c.segment is not None:  # start/end are the cited sentence(s); this is the retrieved segment
            item["segment"] = {"start": c.segment.start_s, "end": c.segment.end_s}
        if c.slide is not None:
            item["slide"] = {"source": c.slide.source, "page": c.slide.page}
        if c.transcript is not None:
            item["transcript"] = c.transcript
        cites.append(item)
    return {"answer": ans.text, "declined": ans.declined, "mode": ans.mode, "citations": cites}


__all__ = ["ask", "answer_json", "DECLINE", "Support"]
