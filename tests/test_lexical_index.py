"""The on-disk lexical index (bm25s): same scores as the reference BM25, saved, memory-mapped, and used by
a fresh retriever without reading every stored view."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from rag.embedders.fake import FakeEmbedder
from rag.lexical import BM25, tokens
from rag.lexical_index import LEXICAL_DIR, LexicalIndex
from rag.retrieval import Query, Retriever
from rag.settings import RetrievalSettings
from rag.store import ChromaStore, StoredView
from rag.types import Chunk, EmbedItem, PageSpan, TimeSpan, View

WORDS = ("gradient descent bellman equation reward policy cluster kmeans centroid variance bias overfitting "
         "regularization dropout learning rate momentum discount factor value iteration epsilon greedy").split()


def _docs(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30))) for _ in range(n)]
    out[3] = "The discount factor gamma weights future rewards; gamma near 1 is far-sighted."
    return out


def _views(docs: list[str]) -> list[StoredView]:
    out = []
    for i, d in enumerate(docs):
        chunk = Chunk(id=f"c{i}", source=f"s{i % 3}.pdf", source_sha256="x", kind="pdf", title="t",
                      locator=PageSpan(first=1, last=1), text=d)
        out.append(StoredView(vector_id=f"c{i}:p1", chunk=chunk, view="p1", page=1, text=d))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_the_reference_bm25(seed):
    docs = _docs(seed, 200)
    ref = BM25([d for d in docs if d.strip()])
    lex = LexicalIndex.build(_views(docs), count=len(docs))
    assert lex.n_docs == sum(bool(d.strip()) for d in docs)
    for q in ("discount factor", "gradient descent momentum", "kmeans kmeans centroid", "photosynthesis",
              "the policy of value iteration"):
        np.testing.assert_allclose(lex.scores(q), ref.scores(q), rtol=1e-9, atol=1e-12)
        assert [round(s, 9) for _, s in lex.top(q, 10)] == [round(s, 9) for _, s in ref.top(q, 10)]
    for term in ("gradient", "gamma", "never-seen"):
        assert lex.idf_of(tokens(term)[0]) == pytest.approx(ref.idf_of(tokens(term)[0]))
    best, _ = lex.top("gamma far-sighted", 1)[0]
    assert best.vector_id == "c3:p1" and best.source == "s0.pdf" and best.page == 1


def test_saved_index_is_memory_mapped_and_scores_the_same(tmp_path):
    docs = _docs(5, 120)
    lex = LexicalIndex.build(_views(docs), count=120)
    lex.save(tmp_path)
    again = LexicalIndex.load(tmp_path)
    assert again is not None and again.count == 120 and again.rows == lex.rows
    assert isinstance(again._model.scores["data"], np.memmap)
    np.testing.assert_allclose(again.scores("reward policy"), lex.scores("reward policy"))
    lex.save(tmp_path)  # saving over an existing index swaps it in
    assert sorted(p.name for p in tmp_path.iterdir()) == [LEXICAL_DIR]
    (tmp_path / LEXICAL_DIR / "rows.json").write_text("{not json")
    assert LexicalIndex.load(tmp_path) is None  # a damaged cache is rebuilt, not an error


def test_empty_and_textless_indexes(tmp_path):
    lex = LexicalIndex.build(_views(["", "  "]), count=2)
    assert lex.top("anything", 5) == [] and lex.n_docs == 0
    lex.save(tmp_path)
    again = LexicalIndex.load(tmp_path)
    assert again is not None and len(again.rows) == 2 and again.top("anything", 5) == []


def _fill(store: ChromaStore, emb: FakeEmbedder) -> None:
    lec = Chunk(id="v1", source="lec/a.mp4", source_sha256="x", kind="video", title="Lecture 1",
                locator=TimeSpan(start_s=0, end_s=20), text="the discount factor weights future rewards")
    deck = Chunk(id="d1", source="slides/b.pdf", source_sha256="y", kind="pdf", title="b.pdf",
                 locator=PageSpan(first=1, last=2), text="kmeans centroids\nbellman equation",
                 page_texts=("kmeans centroids", "bellman equation"))
    for chunk, views in ((lec, [View(name="seg", item=EmbedItem(text=lec.text), text=lec.text),
                                View(name="kf3.0", item=EmbedItem(text="x"), text="")]),
                         (deck, [View(name="p1", item=EmbedItem(text="k"), page=1, text="kmeans centroids"),
                                 View(name="p2", item=EmbedItem(text="b"), page=2, text="bellman equation")])):
        store.add(chunk, views, emb.embed_documents([v.item for v in views]))


def test_fresh_retriever_loads_the_index_instead_of_reading_every_view(tmp_path: Path, monkeypatch):
    emb = FakeEmbedder()
    store = ChromaStore(tmp_path, "fp")
    _fill(store, emb)
    first = Retriever(store, emb, RetrievalSettings())
    first.refresh()  # what ingest does when it is done
    assert (tmp_path / LEXICAL_DIR / "rows.json").is_file()
    want = [(h.chunk.id, h.lexical_score) for h in first.search(Query(text="bellman equation")).hits]

    fresh_store = ChromaStore(tmp_path, "fp")  # a new CLI call
    monkeypatch.setattr(ChromaStore, "all_views", lambda *a, **k: pytest.fail("read every stored view"))
    fresh = Retriever(fresh_store, emb, RetrievalSettings())
    hits = fresh.search(Query(text="bellman equation")).hits
    assert [(h.chunk.id, h.lexical_score) for h in hits] == want
    assert hits[0].chunk.id == "d1" and hits[0].refined == PageSpan(first=2, last=2)
    only_video = fresh.search(Query(text="bellman equation discount", kinds=["video"])).hits
    assert [h.chunk.id for h in only_video] == ["v1"] and only_video[0].lexical_rank == 1
    monkeypatch.undo()

    # another process added vectors: the count no longer matches, so the index is rebuilt and saved
    more = Chunk(id="v2", source="lec/c.mp4", source_sha256="z", kind="video", title="Lecture 2",
                 locator=TimeSpan(start_s=0, end_s=20), text="bellman equation again")
    ChromaStore(tmp_path, "fp").add(more, [View(name="seg", item=EmbedItem(text=more.text), text=more.text)],
                                    emb.embed_documents([EmbedItem(text=more.text)]))
    later = Retriever(ChromaStore(tmp_path, "fp"), emb, RetrievalSettings())
    assert "v2" in {h.chunk.id for h in later.search(Query(text="bellman equation")).hits}
    assert LexicalIndex.load(tmp_path).count == 5


def test_a_live_retriever_counts_the_store_at_most_once_a_second(tmp_path: Path, monkeypatch):
    """Several searches in a burst ask Chroma for its count once; another process's writes are seen after
    RECOUNT_S."""
    import rag.retrieval

    emb = FakeEmbedder()
    store = ChromaStore(tmp_path, "fp")
    _fill(store, emb)
    retriever = Retriever(store, emb, RetrievalSettings())
    monkeypatch.setattr(rag.retrieval, "RECOUNT_S", 60.0)  # a slow (busy) machine stays within the window
    counts = []
    real = ChromaStore.count
    monkeypatch.setattr(ChromaStore, "count", lambda self: (counts.append(1), real(self))[1])
    for _ in range(3):
        retriever.search(Query(text="bellman equation"))
    assert len(counts) == 1

    more = Chunk(id="v2", source="lec/c.mp4", source_sha256="z", kind="video", title="Lecture 2",
                 locator=TimeSpan(start_s=0, end_s=20), text="bellman equation again")
    ChromaStore(tmp_path, "fp").add(more, [View(name="seg", item=EmbedItem(text=more.text), text=more.text)],
                                    emb.embed_documents([EmbedItem(text=more.text)]))
    assert "v2" not in {h.chunk.id for h in retriever.search(Query(text="bellman again")).hits if h.lexical_rank}
    monkeypatch.setattr(rag.retrieval, "RECOUNT_S", 0.0)
    assert "v2" in {h.chunk.id for h in retriever.search(Query(text="bellman again")).hits if h.lexical_rank}


def test_a_reingest_that_keeps_the_vector_count_makes_the_saved_index_and_glossary_stale(tmp_path: Path):
    """One page's text changes and the deck keeps its page count, so the store keeps its vector count: the next
    process must still search the new words by BM25 and expand the new acronym (the cache keyed on the count
    alone loaded the old BM25 index and glossary)."""
    from ingest.pipeline import ingest_paths
    from rag.factory import build
    from rag.settings import load_settings
    from tests.test_pdf import make_pdf

    course, index = tmp_path / "course", tmp_path / "index"
    course.mkdir()

    def services():  # a new CLI call: a new store and retriever over the same index folder
        return build(load_settings(index_dir=index, embedding={"provider": "fake"}, chunking={"ocr": False}),
                     create=True)

    def ingest(second_page: list[str]) -> int:
        make_pdf(course / "routing.pdf", [["Distance vector routing", "Bellman equation for shortest paths"],
                                          second_page])
        s = services()
        report = ingest_paths([course], s, show_progress=False)
        assert report.failed == [] and report.ingested == ["routing.pdf"]
        return s.store.count()

    before = ingest(["Link state routing", "Every router floods its link state adverts"])
    hits = services().retriever.search(Query(text="how do wombats gossip?")).hits
    assert not [h for h in hits if h.lexical_rank]
    after = ingest(["Wombat Gossip Protocol", "Every router gossips its wombat adverts"])
    assert after == before  # the case the count alone cannot tell

    fresh = services().retriever
    hits = fresh.search(Query(text="how do wombats gossip?")).hits
    assert [h.refined for h in hits if h.lexical_rank][:1] == [PageSpan(first=2, last=2)]
    assert fresh.search(Query(text="What is WGP for?")).expansion.words == ("Wombat Gossip Protocol",)
    assert LexicalIndex.load(index).generation == fresh.store.generation() != ""


def test_a_failed_save_keeps_the_previous_index(tmp_path, monkeypatch):
    """The lexical index and the cue windows are written by `rag.files.replace_folder`: a write that fails half
    way leaves the saved folder as it was."""
    lex = LexicalIndex.build(_views(_docs(1, 20)), count=20, generation="g1")
    lex.save(tmp_path)
    broken = LexicalIndex.build(_views(_docs(2, 30)), count=30, generation="g2")
    from rag.glossary import Glossary

    monkeypatch.setattr(Glossary, "save", lambda self, folder: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        broken.save(tmp_path)
    again = LexicalIndex.load(tmp_path)
    assert again is not None and again.state == (20, "g1") and again.rows == lex.rows
    assert sorted(p.name for p in tmp_path.iterdir()) == [LEXICAL_DIR]  # no half-written sibling left behind


def test_files_of_two_saves_are_not_read_as_one_index(tmp_path):
    """A folder whose BM25 model belongs to another save (here copied by hand) is rejected, not searched."""
    import shutil

    LexicalIndex.build(_views(_docs(1, 20)), count=20, generation="g1").save(tmp_path / "a")
    LexicalIndex.build(_views(_docs(2, 30)), count=30, generation="g2").save(tmp_path / "b")
    for f in (tmp_path / "b" / LEXICAL_DIR).glob("*.index.*"):
        shutil.copy(f, tmp_path / "a" / LEXICAL_DIR / f.name)
    assert LexicalIndex.load(tmp_path / "a") is None


def test_a_load_during_another_save_reads_one_whole_index(tmp_path, monkeypatch):
    """A process loads the index while another one swaps a new save in: the load once paired the old rows with
    the new glossary and BM25 model; now it reads the new save whole."""
    from rag.glossary import Glossary

    old = LexicalIndex.build(_views(_docs(1, 20)), count=20, generation="g1")
    old.save(tmp_path)
    new = LexicalIndex.build(_views(["GRE means Generic Routing Encapsulation", *_docs(2, 29)]), count=30,
                             generation="g2")
    real = Glossary.load
    swaps = []

    def load_after_a_swap(folder):
        if not swaps:  # the other process saves between our reads of rows.json and glossary.json
            swaps.append(1)
            new.save(tmp_path)
        return real(folder)

    monkeypatch.setattr(Glossary, "load", load_after_a_swap)
    got = LexicalIndex.load(tmp_path)
    assert got is not None and got.state == (30, "g2") and got.rows == new.rows
    assert got.glossary.forms == new.glossary.forms != {} and got.n_docs == new.n_docs


def test_a_load_between_the_two_renames_of_a_save_waits_for_the_new_folder(tmp_path, monkeypatch):
    """For a moment a save has moved the old folder aside and not yet renamed the new one in: a load then waits
    briefly for it instead of making the caller rebuild the index from every stored view."""
    import rag.lexical_index

    new = LexicalIndex.build(_views(_docs(2, 30)), count=30, generation="g2")
    new.save(tmp_path / "staged")
    LexicalIndex.build(_views(_docs(1, 20)), count=20, generation="g1").save(tmp_path)
    folder = tmp_path / LEXICAL_DIR
    folder.rename(tmp_path / f"{LEXICAL_DIR}.old-1-2")  # the writer's first rename

    def sleep(seconds):  # the writer's second rename happens while the reader waits
        if seconds and not folder.exists():
            (tmp_path / "staged" / LEXICAL_DIR).rename(folder)

    monkeypatch.setattr(rag.lexical_index.time, "sleep", sleep)
    got = LexicalIndex.load(tmp_path)
    assert got is not None and got.state == (30, "g2") and got.rows == new.rows
    (tmp_path / f"{LEXICAL_DIR}.old-1-2").rename(tmp_path / "gone")
    folder.rename(tmp_path / "gone2")
    assert LexicalIndex.load(tmp_path) is None  # no index and no save under way: nothing to wait for


def test_a_live_retriever_loads_what_another_process_saved_after_its_writes(tmp_path: Path, monkeypatch):
    """The UI keeps its retriever while `lecturelens ingest` rewrites a source (same vector count) and saves the
    lexical index at its end: the UI's next search after RECOUNT_S uses the new texts, loaded, not rebuilt."""
    import rag.retrieval

    emb = FakeEmbedder()
    store = ChromaStore(tmp_path, "fp")
    _fill(store, emb)
    live = Retriever(store, emb, RetrievalSettings())
    live.refresh()
    assert not [h for h in live.search(Query(text="wombat gossip")).hits if h.lexical_rank]

    other = ChromaStore(tmp_path, "fp")  # the ingest process: lecture 1 has new captions, one segment as before
    count = other.count()
    other.delete_source("lec/a.mp4")
    lec = Chunk(id="v9", source="lec/a.mp4", source_sha256="x2", kind="video", title="Lecture 1",
                locator=TimeSpan(start_s=0, end_s=20), text="wombats gossip about their burrows")
    other.add(lec, [View(name="seg", item=EmbedItem(text=lec.text), text=lec.text),
                    View(name="kf3.0", item=EmbedItem(text="x"), text="")],
              emb.embed_documents([EmbedItem(text=lec.text), EmbedItem(text="x")]))
    assert other.count() == count
    Retriever(other, emb, RetrievalSettings()).refresh()  # what ingest does at its end

    monkeypatch.setattr(rag.retrieval, "RECOUNT_S", 0.0)
    monkeypatch.setattr(ChromaStore, "all_views", lambda *a, **k: pytest.fail("rebuilt instead of loading"))
    hits = live.search(Query(text="wombat gossip")).hits
    assert [h.chunk.id for h in hits if h.lexical_rank] == ["v9"]
