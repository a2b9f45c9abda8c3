"""LlamaIndex face of the retriever: a `BaseRetriever` users can plug into their own pipelines."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.citations import display
from rag.retrieval import Query, Retriever
from rag.types import Hit, TimeSpan


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A hit as a LlamaIndex node: chunk text, citation metadata, and the full Hit as JSON."""
    loc = hit.locator
    meta: dict[str, Any] = {"source": hit.chunk.source, "kind": hit.chunk.kind, "display": display(hit.chunk, loc),
                            "hit": hit.model_dump_json()}
    if isinstance(loc, TimeSpan):
        meta.update(start=loc.start_s, end=loc.end_s)
    else:
        meta.update(first_page=loc.first, last_page=loc.last)
    node = TextNode(id_=hit.chunk.id, text=hit.chunk.text, metadata=meta,
                    excluded_llm_metadata_keys=["hit"], excluded_embed_metadata_keys=["hit"])
    return NodeWithScore(node=node, score=hit.score)


def node_to_hit(node: NodeWithScore) -> Hit:
    """Back from a node made by `hit_to_node`."""
    return Hit.model_validate_json(node.node.metadata["hit"])


class CourseRetriever(BaseRetriever):
    """Hybrid course search (dense + BM25 + image) as a LlamaIndex retriever.

    A QueryBundle with `image_path` searches by image (and by its text when `query_str` is set).
    """

    def __init__(self, retriever: Retriever, k: int = 5, **filters: Any):
        super().__init__()
        self._retriever = retriever
        self._k = k
        self._filters = filters  # sources=[...], kinds=[...]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        image = None
        if query_bundle.image_path:
            with open(query_bundle.image_path, "rb") as f:
                image = f.read()
        q = Query(text=query_bundle.query_str or None, image=image, **self._filters)
        return [hit_to_node(h) for h in self._retriever.search(q, self._k).hits]
