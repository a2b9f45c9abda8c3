"""`ask`: retrieve, decide whether the course supports an answer, then answer with cited evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agent.offline import compose
from agent.tools import EvidenceBook, make_tools
from rag.citations import evidence_labels, resolve
from rag.confidence import Support, judge
from rag.factory import Services
from rag.retrieval import Query
from rag.types import Answer, SourceKind

DECLINE = "This is not covered in this course's material, as far as I can find."


def ask(services: Services, question: str | None = None, image: bytes | None = None, *,
        image_mime: str = "image/jpeg", chat_model: Any = None, mode: str | None = None,
        sources: Sequence[str] | None = None, kinds: Sequence[SourceKind] | None = None,
        history: Sequence[tuple[str, str]] = (), on_token: Callable[[str], None] | None = None) -> Answer:
    """Answer one question (text, image, or both) from the course, with citations resolved by code.

    `sources`/`kinds` restrict the search; `history` holds earlier (question, answer) pairs of a chat,
    which the Gemini agent reads (the offline answerer gets follow-ups already rewritten by the chat);
    `on_token` receives the Gemini answer's text as it streams."""
    mode = mode or ("gemini" if services.settings.resolved_provider() == "gemini" or chat_model else "offline")
    q = Query(text=question or None, image=image, image_mime=image_mime, sources=sources or None,
              kinds=kinds or None)
    hits = services.retriever.search(q, services.settings.retrieval.k)
    support = judge(q, hits, weight=services.retriever.idf)
    if not support.answerable:
        return Answer(text=DECLINE, mode=mode, declined=True, hits=tuple(hits))
    if mode == "gemini":
        return _gemini(services, q, hits, chat_model, history, on_token)
    labelled = evidence_labels(hits)
    text = compose(q.words() or "", hits, list(labelled))
    clean, citations = resolve(text, labelled)
    return Answer(text=clean, citations=tuple(citations), mode="offline", hits=tuple(hits))


def _gemini(services: Services, q: Query, hits, chat_model: Any, history: Sequence[tuple[str, str]] = (),
            on_token: Callable[[str], None] | None = None) -> Answer:
    from agent.gemini import make_chat_model, run_agent

    book = EvidenceBook()
    prompt = q.text or ""
    if q.image is not None:
        # The picture was matched by retrieval; the agent sees where it was found as labelled evidence.
        prompt = (prompt + "\n\n" if prompt else "Where in the course is this picture shown, and what is it?\n\n")
        prompt += "Places that match the uploaded picture:\n" + book.render(list(hits))
    model = chat_model or make_chat_model(services.settings)
    tools = make_tools(services.retriever, book, services.settings.retrieval.k, sources=q.sources, kinds=q.kinds)
    text = run_agent(model, tools, prompt,
                     history=history, on_token=on_token)
    clean, citations = resolve(text, book.labelled)
    declined = not citations
    return Answer(text=clean or DECLINE, citations=tuple(citations),
                  mode="gemini", declined=declined, hits=tuple(hits))


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
        if c.slide is not None:
            item["slide"] = {"source": c.slide.source, "page": c.slide.page}
        cites.append(item)
    return {"answer": ans.text, "declined": ans.declined, "mode": ans.mode, "citations": cites}


__all__ = ["ask", "answer_json", "DECLINE", "Support"]
