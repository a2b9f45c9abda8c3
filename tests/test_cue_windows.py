"""Caption-cue windows (rag/cue_windows.py): segments ranked by their closest cue, moments on that cue, the
vectors cached in the index folder, and pages never moved by the cue channel."""

from __future__ import annotations

from rag.cue_windows import CueWindows, windows_of
from rag.embedders.fake import FakeEmbedder
from rag.fusion import Fused, reorder_within
from rag.index import cue_windows_dir
from rag.retrieval import Query, Retriever
from rag.settings import RetrievalSettings
from rag.store import ChromaStore
from rag.types import Chunk, EmbedItem, PageSpan, TimeSpan, View

CUES_1 = ((0.5, 4.0, "Welcome back to the course."), (4.5, 9.0, "Today we look at value functions."),
          (9.5, 19.0, "The Bellman equation relates a state's value to its successors."))
CUES_2 = ((20.5, 25.0, "A short recap of last week."),
          (25.5, 31.0, "The discount factor gamma weights future rewards."), (31.5, 39.5, "Then we take a break."))


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, counting the document texts it embeds."""

    def __init__(self, local: bool = True):
        super().__init__()
        self.embedded: list[str] = []
        self._local = local

    @property  # type: ignore[override]
    def local(self) -> bool:
        return self._local

    def embed_documents(self, items, *, label=""):
        self.embedded += [it.text for it in items]
        return super().embed_documents(items, label=label)


def _segment(cid: str, start: float, end: float, cues) -> Chunk:
    return Chunk(id=cid, source="lec/a.mp4", source_sha256="a", kind="video", title="Lecture 1",
                 locator=TimeSpan(start_s=start, end_s=end), text=" ".join(c[2] for c in cues), cues=cues)


def _store(tmp_path, embedder, chunks) -> ChromaStore:
    store = ChromaStore(tmp_path, "fp")
    for chunk in chunks:
        name, page = ("seg", None) if chunk.kind == "video" else ("p1", 1)
        view = View(name=name, item=EmbedItem(text=chunk.text), page=page, text=chunk.text)
        store.add(chunk, [view], FakeEmbedder().embed_documents([view.item]))
    return store


def _chunks():
    deck = Chunk(id="d1", source="slides/rl.pdf", source_sha256="b", kind="pdf", title="rl",
                 locator=PageSpan(first=1, last=1), text="discount factor gamma", page_texts=("discount factor gamma",))
    return [_segment("v1", 0, 20, CUES_1), _segment("v2", 20, 40, CUES_2), deck]


def test_windows_are_the_cues_clipped_to_their_segment():
    seg = _segment("v9", 5.0, 30.0, ((4.0, 6.0, "starts before"), (7.0, 8.0, " "), (29.0, 33.0, "ends after")))
    assert [(w.cue, w.start_s, w.end_s, w.text) for w in windows_of("v9:seg", seg)] == [
        (0, 5.0, 6.0, "starts before"), (2, 29.0, 30.0, "ends after")]


def test_the_moment_is_the_closest_cue_and_the_vectors_are_cached(tmp_path):
    embedder = CountingEmbedder()
    store = _store(tmp_path, embedder, _chunks())
    retriever = Retriever(store, embedder, RetrievalSettings(k=5))
    retriever.refresh()  # what ingest does at the end: the first query does not embed the cues
    assert sorted(embedder.embedded) == sorted(c[2] for c in CUES_1 + CUES_2)
    hit = next(h for h in retriever.search(Query(text="what do discount factors weight?")).hits
               if h.chunk.id == "v2")
    assert hit.moment == TimeSpan(start_s=25.5, end_s=31.0)
    assert (cue_windows_dir(tmp_path) / "vectors.npy").is_file()

    again = CountingEmbedder()
    fresh = Retriever(ChromaStore(tmp_path, "fp"), again, RetrievalSettings(k=5))
    fresh.refresh()
    assert again.embedded == []  # loaded from <index>/cue_windows/, nothing re-embedded
    assert len(fresh._cue_windows() or ()) == 6

    more = (40.5, 45.0, "Gamma near one is far-sighted."),
    view = View(name="seg", item=EmbedItem(text=more[0][2]), text=more[0][2])
    store.add(_segment("v3", 40, 50, more), [view], FakeEmbedder().embed_documents([view.item]))
    fresh.refresh()
    assert again.embedded == ["Gamma near one is far-sighted."]  # a stale cache re-embeds only new cues


def test_a_paid_embedder_gets_no_cue_vectors(tmp_path):
    embedder = CountingEmbedder(local=False)
    retriever = Retriever(_store(tmp_path, embedder, _chunks()), embedder, RetrievalSettings(k=5))
    hit = next(h for h in retriever.search(Query(text="discount factor gamma")).hits if h.chunk.id == "v2")
    assert embedder.embedded == [] and not cue_windows_dir(tmp_path).exists()
    assert hit.moment == TimeSpan(start_s=25.5, end_s=31.0)  # the lexical moment still finds the sentence


def test_reorder_within_moves_segments_only_among_their_own_places():
    base = [Fused("p", 1.0), Fused("s1", 0.9), Fused("q", 0.8), Fused("s2", 0.7), Fused("s3", 0.6)]
    better = {"s1": Fused("s1", 0.2), "s2": Fused("s2", 0.9), "s3": Fused("s3", 0.5), "p": Fused("p", 0.1)}
    out = reorder_within(base, better, {"s1", "s2", "s3"})
    assert [f.chunk_id for f in out] == ["p", "s2", "q", "s3", "s1"]
    assert [f.score for f in out] == [1.0, 0.9, 0.8, 0.7, 0.6]  # places keep their scores: still sorted


def test_search_over_cues_ranks_each_segment_by_its_closest_cue():
    embedder = FakeEmbedder()
    segs = [_segment("v1", 0, 20, CUES_1), _segment("v2", 20, 40, CUES_2)]
    views = [type("V", (), {"vector_id": f"{s.id}:seg", "chunk": s})() for s in segs]
    cw = CueWindows.build(views, lambda items: embedder.embed_documents(items), count=2)
    found = cw.search(embedder.embed_query("the Bellman equation and successor values"), 5, lambda w: True)
    assert [w.chunk_id for w, _ in found] == ["v1", "v2"] and found[0][0].cue == 2
    assert cw.search(embedder.embed_query("break"), 5, lambda w: w.chunk_id != "v2")[0][0].chunk_id == "v1"


def test_queries_never_build_cue_windows(tmp_path):
    """An index written before cue windows existed searches without them (and fast) until the next ingest."""
    embedder = CountingEmbedder()
    retriever = Retriever(_store(tmp_path, embedder, _chunks()), embedder, RetrievalSettings(k=5))
    hits = retriever.search(Query(text="discount factor gamma")).hits
    assert embedder.embedded == [] and not cue_windows_dir(tmp_path).exists()
    assert next(h for h in hits if h.chunk.id == "v2").moment == TimeSpan(start_s=25.5, end_s=31.0)


def _reingest_with_new_captions(index_dir) -> ChromaStore:
    """What another process's re-ingest does: lecture a's second segment gets a new caption sentence, and the
    store's vector count stays the same."""
    cues = (*CUES_2[:2], (31.5, 39.5, "Wombats gossip about their adverts."))
    other = ChromaStore(index_dir, "fp")
    count = other.count()
    other.delete_source("lec/a.mp4")
    for chunk in (_segment("v1", 0, 20, CUES_1), _segment("v2", 20, 40, cues)):
        view = View(name="seg", item=EmbedItem(text=chunk.text), text=chunk.text)
        other.add(chunk, [view], FakeEmbedder().embed_documents([view.item]))
    assert other.count() == count
    return other


def test_new_captions_with_the_same_vector_count_make_the_saved_windows_stale(tmp_path):
    """A re-ingest in another process that changes a segment's captions keeps the store's vector count: the
    next ingest's refresh still embeds the new cue and a query's moment lands on it."""
    embedder = CountingEmbedder()
    store = _store(tmp_path, embedder, _chunks())
    Retriever(store, embedder, RetrievalSettings(k=5)).refresh()

    _reingest_with_new_captions(tmp_path)

    again = CountingEmbedder()
    fresh = Retriever(ChromaStore(tmp_path, "fp"), again, RetrievalSettings(k=5))
    fresh.refresh()
    assert again.embedded == ["Wombats gossip about their adverts."]
    hit = next(h for h in fresh.search(Query(text="wombats gossip adverts")).hits if h.chunk.id == "v2")
    assert hit.moment == TimeSpan(start_s=31.5, end_s=39.5)


def test_a_live_retriever_loads_the_windows_another_process_saved(tmp_path, monkeypatch):
    """The UI keeps its retriever while `lecturelens ingest` re-ingests a lecture with new captions (same vector
    count) and saves the cue windows at its end: the UI's next searches use the new windows, also when one of
    its searches ran between the ingest's writes and its save (it once kept the old windows until restarted)."""
    import rag.retrieval

    embedder = CountingEmbedder()
    live = Retriever(_store(tmp_path, embedder, _chunks()), embedder, RetrievalSettings(k=5))
    live.refresh()
    assert live._cue_windows() is not None

    other = _reingest_with_new_captions(tmp_path)

    monkeypatch.setattr(rag.retrieval, "RECOUNT_S", 0.0)
    live.search(Query(text="wombats gossip adverts"))  # before the ingest saved its windows: searched without
    assert live._cue_windows() is None
    Retriever(other, CountingEmbedder(), RetrievalSettings(k=5)).refresh()  # what ingest does at its end

    cw = live._cue_windows()
    assert cw is not None and cw.state == other.state()
    assert "Wombats gossip about their adverts." in {w.text for w in cw.windows}
    assert embedder.embedded.count("Wombats gossip about their adverts.") == 0  # loaded, not embedded again
    hit = next(h for h in live.search(Query(text="wombats gossip adverts")).hits if h.chunk.id == "v2")
    assert hit.moment == TimeSpan(start_s=31.5, end_s=39.5)
