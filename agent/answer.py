"""`ask`: retrieve, decide whether the course supports an answer, then answer with cited evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr

from agent.offline import minilm_similarity, quote
from agent.tools import EvidenceBook, make_tools
from rag.citations import cite, evidence_labels, located_text, resolve
from rag.confidence import Support, judge
from rag.factory import Services
from rag.gemini_provider import GeminiProvider
from rag.lexical import tokens
from rag.retrieval import Query, SearchResult
from rag.types import Answer, Citation, Hit, PageSpan, SourceKind, TimeSpan
from rag.uploads import ImageUpload, load_image

DECLINE = "This is not covered in this course's material, as far as I can find."
CLOSEST = 3  # a decline's nearest places shown: the first of the hits the decision judged (it judges 4 or more)


def ask(services: Services, question: str | None = None, image: bytes | ImageUpload | None = None, *,
        image_mime: str = "image/jpeg", chat_model: Any = None, mode: str | None = None,
        sources: Sequence[str] | None = None, kinds: Sequence[SourceKind] | None = None,
        history: Sequence[tuple[str, str]] = (), on_token: Callable[[str], None] | None = None,
        searched: SearchResult | None = None, cited_before: Sequence[Citation] = ()) -> Answer:
    """Answer one question (text, image, or both) from the course, with citations resolved by code.

    `sources`/`kinds` restrict the search; `history` holds earlier (question, answer) pairs of a chat,
    which the Gemini agent reads (the offline answerer gets follow-ups already rewritten by the chat);
    `on_token` receives the Gemini answer's text as it streams.
    `searched`: a search already made for this very query with at least `retrieval.k` hits (the eval
    runner's), used instead of searching again.
    An image given as bytes of another type than JPEG (WebP, GIF, PNG, HEIC...) is decoded and re-encoded
    once here by rag.uploads, so embedding, OCR and matching all see the same JPEG (the Gemini API takes
    PNG/JPEG only); JPEG bytes (what rag.uploads makes) and an `ImageUpload` are used as they are.
    `cited_before`: the places the previous answer cited, when this is a chat follow-up ("tell me more"): the offline
    answer then prefers evidence from other places, and falls back to the usual search when those alone do not
    support an answer."""
    mode = mode or ("gemini" if chat_model is not None else services.settings.resolved_answerer())
    data, mime = _query_image(image, image_mime)
    q = Query(text=question or None, image=data, image_mime=mime, sources=sources or None, kinds=kinds or None)
    k = services.settings.retrieval.k
    if cited_before and mode == "offline" and searched is None:
        fresh = _other_places_first(services.retriever.search(q, k + len(cited_before)), cited_before,
                                    services.retriever.idf)
        if fresh is not None:
            answer = ask(services, question, image, image_mime=image_mime, mode=mode, searched=fresh)
            if not answer.declined:
                return answer
    result = searched.top(k) if searched is not None else services.retriever.search(q, k)
    hits = result.hits
    support = judge(result, weight=services.retriever.idf)
    if not support.answerable:
        # Nearest places only when the evidence is related and one distinctive term is missing (often a word
        # the course writes otherwise); an off-topic question (low support) gets none.
        return Answer(text=DECLINE, mode=mode, declined=True, hits=tuple(hits), reason=support.reason(),
                      closest=closest(hits) if support.lacking and q.image is None else ())
    if mode == "gemini":
        return _gemini(services, q, hits, chat_model, history, on_token)
    labelled = evidence_labels(hits)
    quoted = quote(result.words, hits, list(labelled), weight=services.retriever.idf, image=q.image is not None,
                   similar=minilm_similarity)
    # a quoted caption sentence's citation starts where it is said; the hits keep their retrieval moments
    cited = {lab: h.model_copy(update={"moment": quoted.moments[lab]}) if lab in quoted.moments else h
             for lab, h in labelled.items()}
    clean, citations = resolve(quoted.text, cited)
    if not citations:  # an answer no retrieved place supports is never shown as an answer
        return Answer(text=DECLINE, mode="offline", declined=True, hits=tuple(hits),
                      reason="no statement of the retrieved places answers it",
                      closest=closest(hits) if q.image is None else ())
    return Answer(text=clean, citations=tuple(citations), mode="offline", hits=tuple(hits))


def closest(hits: Sequence[Hit]) -> tuple[Citation, ...]:
    """A declined question's nearest places, labelled C1…: where to look, not an answer (a video place starts
    at the hit's sentence-level moment, as a citation does)."""
    return tuple(cite(f"C{i}", h) for i, h in enumerate(hits[:CLOSEST], start=1))


def _other_places_first(result: SearchResult, cited: Sequence[Citation],
                        idf: Callable[[str], float]) -> SearchResult | None:
    """The result with the places not cited yet first, those about the question as much as the cited ones
    (their text holds at least half the idf weight of the query terms that the best cited place holds: the
    next hits of a fused search can be a title slide or a diagram that shares one common word); None: none."""
    terms = set(tokens(result.words))

    def weight(hit: Hit) -> float:
        return sum(idf(t) for t in terms & set(tokens(located_text(hit))))

    old = [h for h in result.hits if any(_same_place(h, c) for c in cited)]
    bar = 0.5 * max((weight(h) for h in old), default=0.0)
    new = [h for h in result.hits if h not in old and weight(h) >= bar]
    if not new:
        return None
    return SearchResult(result.query, new + [h for h in result.hits if h not in new], result.image_words,
                        result.expansion)


def _same_place(hit: Hit, c: Citation) -> bool:
    """The hit is where the citation points: the same segment, or an overlapping page of the same file."""
    if c.source != hit.chunk.source:
        return False
    if isinstance(c.locator, PageSpan):
        loc = hit.locator
        return isinstance(loc, PageSpan) and c.locator.first <= loc.last and loc.first <= c.locator.last
    seg, span = c.segment or c.locator, hit.chunk.locator
    return isinstance(span, TimeSpan) and seg.start_s < span.end_s and span.start_s < seg.end_s


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
        return Answer(text=DECLINE, mode="gemini", declined=True, hits=tuple(hits),
                      reason="the model's reply cited none of the retrieved places",
                      closest=closest(hits) if q.image is None else ())
    return Answer(text=clean, citations=tuple(citations), mode="gemini", hits=tuple(hits))


__all__ = ["ask", "closest", "DECLINE", "Support"]
