"""The JSON contracts of the CLI (`search`, `ask`, `segments`, `status --json`), in one place: the CLI
prints them, eval stores them in report.json, tests read them. Plain dicts of JSON types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.citations import display
from rag.index import Manifest, read_meta
from rag.types import Answer, Citation, Hit, Locator, PageSpan, SlideRef, TimeSpan

if TYPE_CHECKING:
    from rag.alignment import Alignment
    from rag.settings import Settings
    from rag.store import ChromaStore


def locator_json(loc: Locator) -> dict[str, Any]:
    """`start`/`end` (seconds) for a time span, `pages` for a page span; the other keys None."""
    if isinstance(loc, TimeSpan):
        return {"start": round(loc.start_s, 3), "end": round(loc.end_s, 3), "pages": None}
    return {"start": None, "end": None, "pages": list(range(loc.first, loc.last + 1))}


def slide_json(slide: SlideRef | None) -> dict[str, Any] | None:
    return {"source": slide.source, "page": slide.page} if slide is not None else None


def hit_json(rank: int, hit: Hit) -> dict[str, Any]:
    """One hit in the `search --json` contract."""
    loc = hit.locator
    out = {"rank": rank, "source": hit.chunk.source, "kind": hit.chunk.kind, **locator_json(loc),
           "score": round(hit.score, 4), "display": display(hit.chunk, loc), "text": hit.chunk.text[:500],
           # video/audio: the caption cue(s) inside [start, end] that best support the query (play from here)
           "moment": {"start": round(hit.moment.start_s, 3), "end": round(hit.moment.end_s, 3)} if hit.moment else None}
    if hit.chunk.slide is not None:
        out["slide"] = slide_json(hit.chunk.slide)
    if hit.chunk.transcript is not None:
        out["transcript"] = hit.chunk.transcript  # captions | machine | mixed (machine words may be misheard)
    return out


def place_json(c: Citation) -> dict[str, Any]:
    """Where one citation (or closest place) points: source, kind, start/end or pages, display, and the
    segment, slide and transcript origin when known."""
    loc = c.locator
    # ask reports citation times unrounded (the span the answer cites, as resolved)
    item: dict[str, Any] = {
        "source": c.source, "kind": c.kind,
        "start": loc.start_s if isinstance(loc, TimeSpan) else None,
        "end": loc.end_s if isinstance(loc, TimeSpan) else None,
        "pages": list(range(loc.first, loc.last + 1)) if isinstance(loc, PageSpan) else None,
        "display": c.display}
    if c.segment is not None:  # start/end are the cited sentence(s); this is the retrieved segment
        item["segment"] = {"start": c.segment.start_s, "end": c.segment.end_s}
    if c.slide is not None:
        item["slide"] = slide_json(c.slide)
    if c.transcript is not None:
        item["transcript"] = c.transcript
    return item


def answer_json(ans: Answer) -> dict[str, Any]:
    """The `ask --json` contract. `closest`: a decline's nearest places (empty otherwise), kept apart from
    `citations` because they are not an answer's evidence."""
    cites = [{"label": c.label, **place_json(c)} for c in ans.citations]
    out: dict[str, Any] = {"answer": ans.text, "declined": ans.declined, "mode": ans.mode, "citations": cites,
                           "closest": [place_json(c) for c in ans.closest]}
    if ans.declined and ans.reason:
        out["reason"] = ans.reason
    return out


def segment_rows(store: ChromaStore, align: Alignment, source: str) -> list[dict[str, Any]]:
    """The `segments --json` rows of one video/audio file: span, keyframe times, aligned slide and confidence,
    spoken text and where it comes from (`transcript`: captions | machine | mixed)."""
    from rag.errors import InputError

    chunks = store.chunks_of(source)
    if not chunks:
        raise InputError(f"No source named {source!r} is in this index. `lecturelens status` lists the "
                         "sources (use the path relative to the course folder, e.g. lectures/week1.mp4).")
    if chunks[0].kind == "pdf":
        raise InputError(f"{source} is a PDF: only videos and audio have time segments. Give a video or audio "
                         "source.")
    rows = []
    for c in chunks:
        assert isinstance(c.locator, TimeSpan)
        seg = align.get(c.id)
        slide = seg.slide if seg is not None else None
        rows.append({
            "chunk_id": c.id, "start": round(c.locator.start_s, 3), "end": round(c.locator.end_s, 3),
            "keyframes": list(c.keyframes),
            "text": " ".join(t for _, _, t in c.cues), "transcript": c.transcript,
            "slide": slide_json(slide),
            "confidence": slide.confidence if slide else None,
            "keyframe_slides": [
                {"t": k.t, "start": k.start, "end": k.end, "slide": slide_json(k.slide),
                 "confidence": k.slide.confidence if k.slide else None}
                for k in (seg.keyframes if seg is not None else ())],
        })
    return rows


def index_status(settings: Settings) -> dict[str, Any]:
    """The `status --json` contract: sources, chunk and vector counts, embedder and fingerprint."""
    from rag.embedders.registry import provider_tag
    from rag.store import ChromaStore

    index = settings.index_dir
    sources = Manifest(index).sources
    meta = read_meta(index)
    vectors = 0
    embedder = None
    if meta:
        # No embedder is built: status must work without the key an index was built with.
        vectors = ChromaStore(index, meta.fingerprint, url=settings.store.url).count()
        embedder = f"{meta.provider}:{meta.model} ({meta.dimension}-d, {provider_tag(meta.provider)})"
    return {
        "index": str(index.resolve()),
        "embedder": embedder or "(no index yet: run `lecturelens ingest COURSE_FOLDER`)",
        "fingerprint": meta.fingerprint if meta else None,
        "sources": [{"source": rel, "kind": e.kind, "chunks": e.chunks, "vectors": e.vectors,
                     "title": e.title, "has_captions": e.has_captions,
                     "transcript": e.transcript.by if e.transcript else None,  # machine transcriber, if one ran
                     "warnings": list(e.warnings)} for rel, e in sorted(sources.items())],
        "chunks": sum(e.chunks for e in sources.values()),
        "vectors": vectors,
    }
