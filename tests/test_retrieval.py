"""Retrieval units: fusion weights, page refinement, source/kind filters, and a result that leaves the query alone."""

from __future__ import annotations

import pytest

from rag.embedders.fake import FakeEmbedder
from rag.fusion import WEIGHTS, Channel, Ranked, fuse
from rag.retrieval import Query, Retriever, SearchResult, refine_page
from rag.settings import RetrievalSettings
from rag.store import ChromaStore, StoredView
from rag.types import Chunk, EmbedItem, PageSpan, TimeSpan, View


def _ranked(*vids: str) -> Ranked:
    r = Ranked()
    for rank, vid in enumerate(vids, start=1):
        r.add(vid, rank, 1.0 / rank)
    return r


def test_fusion_adds_weighted_reciprocal_ranks_per_chunk():
    rrf = 60
    channels = {Channel.DENSE: _ranked("a:seg", "b:slice"), Channel.LEXICAL: _ranked("b:p2", "a:seg")}
    cands = [("a:seg", "a"), ("b:slice", "b"), ("b:p2", "b")]
    fused = {f.chunk_id: f for f in fuse(cands, channels, rrf)}
    best = (1 + 1) / (rrf + 1)  # first in both channels that found anything
    assert fused["a"].score == pytest.approx((1 / (rrf + 1) + 1 / (rrf + 2)) / best, abs=1e-6)
    # chunk b: its best view per channel counts (slice: dense rank 2; p2: lexical rank 1)
    assert fused["b"].score == pytest.approx((1 / (rrf + 2) + 1 / (rrf + 1)) / best, abs=1e-6)
    assert fused["b"].best[Channel.DENSE].rank == 2 and fused["b"].best[Channel.LEXICAL].rank == 1
    assert fused["b"].views == ["b:p2", "b:slice"]  # the stronger contribution first
    assert Channel.IMAGE not in fused["a"].best


def test_an_image_match_outweighs_a_text_match():
    """A verified picture match counts twice a dense or lexical first place."""
    assert WEIGHTS[Channel.IMAGE] == 2 * WEIGHTS[Channel.DENSE] == 2 * WEIGHTS[Channel.LEXICAL]
    channels = {Channel.DENSE: _ranked("t:seg"), Channel.LEXICAL: _ranked("t:seg"), Channel.IMAGE: _ranked("i:p1")}
    fused = fuse([("t:seg", "t"), ("i:p1", "i")], channels, 60)
    assert [f.chunk_id for f in fused] == ["t", "i"]  # 1+1 == 2: equal, first seen wins the tie
    assert fused[0].score == fused[1].score == pytest.approx(0.5)
    fused = fuse([("t:seg", "t"), ("i:p1", "i")], {**channels, Channel.LEXICAL: _ranked("x:seg", "t:seg")}, 60)
    assert [f.chunk_id for f in fused] == ["i", "t"]


def test_fusion_of_nothing_is_empty_and_a_lone_channel_scores_one():
    assert fuse([], {Channel.DENSE: Ranked()}, 60) == []
    fused = fuse([("a:seg", "a")], {Channel.DENSE: _ranked("a:seg"), Channel.IMAGE: Ranked()}, 60)
    assert fused[0].score == 1.0


def _pdf(first: int = 4) -> Chunk:
    texts = ("intro to agents", "the bellman equation for values", "q learning updates q values")
    return Chunk(id="d", source="s/deck.pdf", source_sha256="h", kind="pdf", title="deck",
                 locator=PageSpan(first=first, last=first + 2), text="\n".join(texts), page_texts=texts)


def _sv(chunk: Chunk, view: str, page: int | None = None) -> StoredView:
    return StoredView(vector_id=f"{chunk.id}:{view}", chunk=chunk, view=view, page=page, text="")


def test_refine_page_prefers_the_best_ranked_page_view():
    c = _pdf()
    assert refine_page(c, [_sv(c, "slice"), _sv(c, "p6", 6), _sv(c, "p5", 5)], "bellman") == PageSpan(first=6, last=6)


def test_refine_page_falls_back_to_word_overlap_then_the_first_page():
    c = _pdf()
    assert refine_page(c, [_sv(c, "slice")], "bellman equation") == PageSpan(first=5, last=5)
    assert refine_page(c, [_sv(c, "slice")], "learning updates") == PageSpan(first=6, last=6)
    assert refine_page(c, [_sv(c, "slice")], "nothing shared") == PageSpan(first=4, last=4)
    video = Chunk(id="v", source="l.mp4", source_sha256="h", kind="video", title="L",
                  locator=TimeSpan(start_s=0, end_s=20))
    assert refine_page(video, [_sv(video, "seg")], "bellman") is None


@pytest.fixture
def retriever(tmp_path):
    """Three sources (two decks, one lecture) sharing the word 'bellman', in a real embedded Chroma."""
    embedder = FakeEmbedder()
    store = ChromaStore(tmp_path, "fp")
    chunks = [
        (Chunk(id="v1", source="lec/a.mp4", source_sha256="a", kind="video", title="Lecture 1",
               locator=TimeSpan(start_s=0, end_s=20), text="the bellman equation in a lecture"), "seg", None),
        (Chunk(id="d1", source="slides/one.pdf", source_sha256="b", kind="pdf", title="one",
               locator=PageSpan(first=1, last=1), text="bellman equation slide",
               page_texts=("bellman equation slide",)),
         "p1", 1),
        (Chunk(id="d2", source="slides/two.pdf", source_sha256="c", kind="pdf", title="two",
               locator=PageSpan(first=1, last=1), text="bellman backup diagram",
               page_texts=("bellman backup diagram",)),
         "p1", 1),
    ]
    for chunk, name, page in chunks:
        view = View(name=name, item=EmbedItem(text=chunk.text), page=page, text=chunk.text)
        store.add(chunk, [view], embedder.embed_documents([view.item]))
    return Retriever(store, embedder, RetrievalSettings(k=5))


def test_search_returns_a_result_and_leaves_the_query_alone(retriever):
    q = Query(text="bellman equation")
    result = retriever.search(q)
    assert isinstance(result, SearchResult) and result.query is q
    assert {h.chunk.source for h in result.hits} == {"lec/a.mp4", "slides/one.pdf", "slides/two.pdf"}
    assert result.words == "bellman equation" and result.image_words == ""
    assert q == Query(text="bellman equation")
    assert result.top(1).hits == result.hits[:1]


def test_sources_filter_keeps_only_those_sources(retriever):
    hits = retriever.search(Query(text="bellman", sources=["slides/two.pdf"])).hits
    assert [h.chunk.source for h in hits] == ["slides/two.pdf"]
    both = retriever.search(Query(text="bellman", sources=["slides/two.pdf", "lec/a.mp4"])).hits
    assert {h.chunk.source for h in both} == {"slides/two.pdf", "lec/a.mp4"}


def test_kinds_filter_keeps_only_those_kinds(retriever):
    hits = retriever.search(Query(text="bellman", kinds=["video"])).hits
    assert [h.chunk.kind for h in hits] == ["video"]
    pdfs = retriever.search(Query(text="bellman", kinds=["pdf"], sources=["slides/one.pdf"])).hits
    assert [h.chunk.source for h in pdfs] == ["slides/one.pdf"]
    assert all(h.dense_rank is not None and h.lexical_rank is not None for h in pdfs)
