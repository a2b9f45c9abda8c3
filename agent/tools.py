"""LangChain tools over the course retriever. Docstrings are prompts: written for the model."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.schema import QueryBundle

from rag.citations import display, located_text, transcript_mark
from rag.llama import CourseRetriever, node_to_hit
from rag.retrieval import Retriever
from rag.types import Hit


@dataclass
class EvidenceBook:
    """Every hit shown to the model, under a stable `[S n]` label (the same chunk keeps its label)."""

    labelled: dict[str, Hit] = field(default_factory=dict)
    _by_key: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def label(self, hit: Hit) -> str:
        key = f"{hit.chunk.id}|{hit.locator.model_dump_json()}"
        with self._lock:
            if key not in self._by_key:
                label = f"S{len(self.labelled) + 1}"
                self._by_key[key] = label
                self.labelled[label] = hit
            return self._by_key[key]

    def render(self, hits: list[Hit]) -> str:
        """Evidence text for the model: one block per hit, labelled."""
        if not hits:
            return "No course material matches this search."
        blocks = []
        for h in hits:
            # The model is told when words come from a machine transcript, so it can hedge a quote.
            mark = transcript_mark(h.chunk.transcript)
            blocks.append(f"[{self.label(h)}] {display(h.chunk, h.locator)}{mark}\n{_evidence_text(h)}")
        return "\n\n".join(blocks)


def _evidence_text(hit: Hit, limit: int = 1200) -> str:
    return located_text(hit)[:limit]


def make_tools(retriever: Retriever, book: EvidenceBook, k: int = 5, **filters: Any) -> list:
    """The tools the answering agent may call; `filters` (sources=[...], kinds=[...]) restrict every search."""
    from langchain_core.tools import tool

    course = CourseRetriever(retriever, k=k, **{name: v for name, v in filters.items() if v})

    @tool
    def search_course(query: str) -> str:
        """Search this course's lecture videos, audio and slide PDFs for material relevant to `query`.

        Call it before answering any question about the course, with a short, specific query; call it
        again with other words if the first results do not answer the question. Each result starts
        with a label like [S1] followed by where it is (a lecture moment or a PDF page). Cite results
        by writing their label, e.g. "... uses the chain rule [S2].". Never cite a label you were not
        given, and never answer from outside knowledge: if nothing relevant comes back, say the course
        does not cover it.
        """
        hits = [node_to_hit(n) for n in course.retrieve(QueryBundle(query_str=query))]
        return book.render(hits)

    return [search_course]
