"""Ingest course folders into an index: discover, diff with the manifest, extract, embed, store."""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.align import pages_of
from ingest.deck_text import DeckText, SearchMemo
from ingest.deck_text import deck_text as make_deck_text
from ingest.extracted import Extracted, ImageRecord
from ingest.prefetch import prefetched
from ingest.sources import Found, content_hash, discover
from ingest.transcribe import Transcriber, make_transcriber
from rag.citations import display
from rag.embedders.base import TEXT_ONLY, Embedder, sees
from rag.errors import ConfigError, IngestError, ItemRejectedError, LectureLensError
from rag.factory import Services
from rag.ids import sha256_file
from rag.image_index import Described, describe
from rag.index import (
    MachineTranscript,
    Manifest,
    ManifestEntry,
    ViewName,
    ocr_cache_dir,
    source_media_dir,
    vector_id,
)
from rag.ocr_cache import OcrCache
from rag.progress import progress_bar
from rag.types import EmbedItem, ImageText

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest run did (the `ingest --json` contract)."""

    ingested: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    vectors: int = 0
    seconds: float = 0.0
    embedder: str = ""
    warnings: list[str] = field(default_factory=list)
    alignment: dict[str, Any] = field(default_factory=dict)  # slides <-> video pass (ingest/align.py)
    ocr_cache: dict[str, int] = field(default_factory=dict)  # pictures read by OCR vs answered by the cache

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def extract(found: Found, services: Services, progress: Callable[[int, int], None] | None = None,
            *, ocr: ImageText | None = None, deck: DeckText | None = None, transcript: Path | None = None) -> Extracted:
    """Run the extractor for one file's kind (`ocr` overrides the retriever's OCR, e.g. a cached one;
    `deck`: a video keyframe surely showing a deck page takes its text; `transcript`: machine captions
    for video/audio)."""
    settings = services.settings.chunking
    media = services.media_dir
    ocr = (ocr or services.retriever.image_text) if settings.ocr else None
    if found.kind == "pdf":
        from ingest.pdf import extract_pdf

        return extract_pdf(found.path, found.rel, media, settings, ocr=ocr, want_media=sees(services.embedder, "pdf"),
                           progress=progress)
    if found.kind == "video":
        from ingest.video import extract_video

        return extract_video(found.path, found.rel, media, settings, ocr=ocr, deck=deck,
                             want_clips=sees(services.embedder, "video"), progress=progress, transcript=transcript)
    from ingest.audio import extract_audio

    return extract_audio(found.path, found.rel, media, settings, want_clips=sees(services.embedder, "audio"),
                         progress=progress, transcript=transcript)


def embed_distinct(embedder: Embedder, items: Sequence[EmbedItem], label: str) -> list[list[float]]:
    """One vector per item, each distinct item (as far as the embedder sees: a text-only model ignores
    media) embedded once: keyframes of one slide share their text, a keyframe view showing a deck page
    the segment's. A rejected item is reported at its first position."""
    text_only = embedder.modalities <= TEXT_ONLY
    seen = [item.model_copy(update={"media": ()}) if text_only and item.media else item for item in items]
    slot: dict[EmbedItem, int] = {}
    first: list[int] = []
    for i, item in enumerate(seen):
        if item not in slot:
            slot[item] = len(first)
            first.append(i)
    if not first:
        return []
    try:
        vectors = embedder.embed_documents([items[i] for i in first], label=label)
    except ItemRejectedError as e:
        e.index = first[e.index]
        raise
    return [vectors[slot[item]] for item in seen]


def _image_key(rec: ImageRecord, views: Sequence[ViewName]) -> str:
    """The image-index key of a stored picture: its own view, its page, else the nearest keyframe view."""
    if rec.view is not None:
        return vector_id(rec.chunk_id, rec.view)
    if rec.page is not None:
        return vector_id(rec.chunk_id, ViewName.of_page(rec.page))
    kfs = [v for v in views if v.is_keyframe]
    best = min(kfs, key=lambda v: abs((v.t or 0.0) - (rec.time_s or 0.0)), default=ViewName.seg())
    return vector_id(rec.chunk_id, best)


def _forget(rel: str, manifest: Manifest, services: Services, keep_media: Path | None = None,
            keep_transcript: Path | None = None) -> None:
    """Remove every trace of a source: vectors, pictures, media files, machine transcript (except the
    folders a new version uses, and those another source still uses: byte-identical files share them)."""
    services.store.delete_source(rel)
    entry = manifest.get(rel)
    if entry is None:
        return
    others = [e for r, e in manifest.sources.items() if r != rel]
    # an index built before chunk IDs hashed the path gave byte-identical copies the same picture keys: keep
    # the ones another source still lists
    shared = {k for e in others for k in e.image_keys}
    services.image_index.remove([k for k in entry.image_keys if k not in shared])
    in_use = {Path(e.media_dir) for e in others if e.media_dir} | {keep_media}
    if entry.media_dir and Path(entry.media_dir) not in in_use:
        shutil.rmtree(Path(entry.media_dir), ignore_errors=True)
    in_use = {Path(e.transcript.path).parent for e in others if e.transcript is not None}
    in_use.add(keep_transcript.parent if keep_transcript else None)
    old = entry.transcript.path if entry.transcript is not None else None
    if old and Path(old).parent not in in_use:
        shutil.rmtree(Path(old).parent, ignore_errors=True)


def _same_bytes(found: Sequence[Found], shas: dict[str, str]) -> list[str]:
    """A note per file whose bytes (and captions) equal an earlier file's: both stay indexed and citable."""
    first: dict[str, str] = {}
    notes = []
    for f in found:
        sha = shas.get(f.rel)
        if sha is None:
            continue
        if sha in first:
            notes.append(f"{f.rel}: the same bytes as {first[sha]}; both are indexed and cited under their own "
                         "names, so a search may list the same passage twice. Delete or --exclude one copy if "
                         "you do not want that.")
        else:
            first[sha] = f.rel
    return notes


def _lost_copies(found: Sequence[Found], shas: dict[str, str], skipped: Sequence[str],
                 services: Services) -> list[_Job]:
    """Unchanged files with a byte-identical twin whose vectors are not in the store: an index made before
    chunk IDs held the path stored only one copy of each pair, so the other one is ingested again."""
    counts: dict[str, int] = {}
    for sha in shas.values():
        counts[sha] = counts.get(sha, 0) + 1
    twins = [f for f in found if f.rel in skipped and counts.get(shas.get(f.rel, ""), 0) > 1]
    return [_Job(f, shas[f.rel], _wants_transcript(f, services.settings.transcribe.mode))
            for f in twins if not services.store.chunks_of(f.rel)]


@dataclass
class Prepared:
    """One file extracted and its pictures described, ready to embed and store."""

    extracted: Extracted
    described: dict[Path, Described]  # picture file -> what the image index keeps of it


def prepare_one(found: Found, services: Services, progress: Callable[[int, int], None] | None = None, *,
                ocr_cache: OcrCache | None = None, deck: DeckText | None = None,
                transcript: tuple[Path, str] | None = None) -> Prepared:
    """The per-file work before embedding: extract (decode, keyframes, deck text or OCR) and describe
    its pictures for the image index. Touches neither the store nor the manifest, so it can run on a
    thread while another file is committed."""
    image_text = services.retriever.image_text
    ocr = ocr_cache.wrap(image_text) if ocr_cache is not None and image_text is not None else image_text
    ex = extract(found, services, progress, ocr=ocr, deck=deck, transcript=transcript[0] if transcript else None)
    if transcript and not ex.source.has_captions and any(c.transcript for c, _ in ex.chunks):
        ex.warnings.append(f"no captions (.vtt/.srt) next to {found.rel}; its words come from a machine "
                           f"transcript ({transcript[1]}) and may contain recognition errors")
    return Prepared(ex, {rec.path: describe(rec.path) for rec in ex.images})


def commit_one(found: Found, sha: str, prepared: Prepared, services: Services, manifest: Manifest, *,
               ocr_cache: OcrCache | None = None, transcript: tuple[Path, str] | None = None
               ) -> tuple[int, int, list[str]]:
    """Embed and store one extracted source; the manifest entry is written last (commit point).

    Embedding (the part that fails) runs before the old version is removed, so a failing new version
    leaves the previous one searchable.
    """
    ex = prepared.extracted
    items: list[EmbedItem] = []
    owners: list[tuple[int, int]] = []
    for ci, (_chunk, views) in enumerate(ex.chunks):
        for vi, view in enumerate(views):
            if services.embedder.accepts(view.item):
                items.append(view.item)
                owners.append((ci, vi))
    try:
        vectors = embed_distinct(services.embedder, items, found.rel)
    except ItemRejectedError as e:  # name the chunk (time or page) and view the API refused
        chunk, views = ex.chunks[owners[e.index][0]]
        view = views[owners[e.index][1]]
        kinds = ", ".join(m.mime_type for m in view.item.media) or "text"
        problem = f"Gemini rejected {display(chunk)} (view {view.name}, {kinds}): {str(e).rstrip('.')}"
        raise IngestError(found.rel, problem,
                          "Everything embedded before it is kept in the vector cache; fix or --exclude the file "
                          "and re-run.") from None
    media_dir = source_media_dir(services.media_dir, ex.source.sha256)
    _forget(found.rel, manifest, services, keep_media=media_dir,  # older version / killed run
            keep_transcript=transcript[0] if transcript else None)
    per_chunk: dict[int, list[tuple[int, list[float]]]] = {}
    for (ci, vi), vec in zip(owners, vectors, strict=True):
        per_chunk.setdefault(ci, []).append((vi, vec))
    batch = [(ex.chunks[ci][0], [ex.chunks[ci][1][vi] for vi, _ in pairs], [v for _, v in pairs])
             for ci, pairs in per_chunk.items()]
    n_vectors = services.store.add_many(batch)
    keys = []
    for rec in ex.images:
        names = next((tuple(ViewName.parse(v.name) for v in vs) for c, vs in ex.chunks if c.id == rec.chunk_id),
                     ())
        key = _image_key(rec, names)
        services.image_index.add(key, rec.path, prepared.described.get(rec.path))
        keys.append(key)
    services.image_index.save()
    if ocr_cache is not None:
        ocr_cache.save()
    s = ex.source
    manifest.put(found.rel, ManifestEntry(
        sha256=sha, kind=s.kind, root=str(found.root), path=str(found.path), title=s.title,
        fingerprint=services.fingerprint, chunks=len(ex.chunks), vectors=n_vectors,
        duration_s=s.duration_s, page_count=s.page_count, has_captions=s.has_captions,
        media_dir=str(media_dir), image_keys=tuple(keys), warnings=tuple(ex.warnings),
        transcript=MachineTranscript(path=str(transcript[0]), by=transcript[1]) if transcript else None,
        ingested_at=time.time(),
    ))
    return len(ex.chunks), n_vectors, ex.warnings


def ingest_one(found: Found, sha: str, services: Services, manifest: Manifest,
               progress: Callable[[int, int], None] | None = None, *, ocr_cache: OcrCache | None = None,
               deck: DeckText | None = None, transcript: tuple[Path, str] | None = None) -> tuple[int, int, list[str]]:
    """Extract, embed and store one source (`prepare_one` then `commit_one`)."""
    prepared = prepare_one(found, services, progress, ocr_cache=ocr_cache, deck=deck, transcript=transcript)
    return commit_one(found, sha, prepared, services, manifest, ocr_cache=ocr_cache, transcript=transcript)


def _advance(bar: Any, task: Any, done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


def _align(services: Services, manifest: Manifest, report: IngestReport, bar: Any, image_index: Any = None) -> None:
    """Match video segments to deck pages (reuses what is already aligned against the same pages)."""
    from ingest.align import align_index

    task = bar.add_task("align slides", total=None)
    try:
        report.alignment = align_index(
            services, manifest, progress=lambda d, t: bar.update(task, completed=d, total=t),
            image_index=image_index).to_json()
    except LectureLensError as e:
        report.warnings.append(f"slide alignment skipped: {e}")
    finally:
        bar.remove_task(task)


def _wants_transcript(found: Found, mode: str) -> bool:
    """Whether a machine transcript feeds this file: `always`, or `missing` and no caption file."""
    if found.kind not in ("video", "audio") or mode == "never":
        return False
    from ingest.captions import find_sidecar

    return mode == "always" or find_sidecar(found.path) is None


def _transcribe(found: Found, transcriber: Transcriber, services: Services, bar: Any) -> tuple[Path, str]:
    """The machine transcript of one file (made once, resumed after an interruption) and who made it."""
    from ingest.transcribe import transcribe_file

    task = bar.add_task(f"  transcribe {found.rel}", total=None)
    try:
        path = transcribe_file(found.path, found.rel, sha256_file(found.path), transcriber, services.index_dir,
                               window_s=services.settings.transcribe.window_s,
                               progress=lambda d, t: bar.update(task, completed=d, total=t))
    except ConfigError as e:
        raise IngestError(found.rel, f"it has no caption file and speech-to-text is unavailable ({e})",
                          "Or add a .vtt/.srt next to it, or ingest with --transcribe never.") from e
    finally:
        bar.remove_task(task)
    return path, transcriber.label


@dataclass
class _Job:
    """One file to (re)ingest."""

    found: Found
    sha: str
    machine: bool  # its words come from a machine transcript


def ingest_paths(paths: Sequence[Path], services: Services, *, exclude: tuple[str, ...] = (),
                 show_progress: bool = True, transcriber: Transcriber | None = None,
                 deck_text: bool = True) -> IngestReport:
    """Bring the index in line with the course folders: add new, redo changed, drop removed, skip the rest.

    Video/audio without a caption file is transcribed first (`transcribe.mode`; `transcriber` overrides
    the one the settings name). Decks are ingested first; `deck_text`: a keyframe that surely shows one
    of their pages takes the page's text instead of OCR (see README "Performance"). Each file is
    extracted on a background thread while the previous one is embedded.
    """
    t0 = time.perf_counter()
    report = IngestReport(embedder=services.embedder_label)
    manifest = Manifest(services.index_dir)
    ocr_cache = OcrCache(ocr_cache_dir(services.index_dir)) if services.settings.chunking.ocr else None
    todo: list[Found] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            report.failed.append({"source": str(p), "error": f"{p} does not exist. Check the path."})
            continue
        found = discover(p, exclude)
        root = found[0].root if found else p.resolve()
        present = {f.rel for f in found}
        if p.is_dir():
            for rel in manifest.under(root):
                if rel not in present:
                    _forget(rel, manifest, services)
                    manifest.drop(rel)
                    report.removed.append(rel)
        todo.extend(found)

    jobs: list[_Job] = []
    shas: dict[str, str] = {}
    for f in todo:
        try:
            machine = _wants_transcript(f, services.settings.transcribe.mode)
            if machine and transcriber is None:
                transcriber = make_transcriber(services.settings.transcribe)
            sha = content_hash(f, transcriber.key if machine and transcriber else None)
        except LectureLensError as e:
            report.failed.append({"source": f.rel, "error": f"Could not ingest {f.rel}: {e}"})
            continue
        shas[f.rel] = sha
        entry = manifest.get(f.rel)
        if entry and entry.sha256 == sha and entry.fingerprint == services.fingerprint:
            report.skipped.append(f.rel)
        else:
            jobs.append(_Job(f, sha, machine))

    report.warnings.extend(_same_bytes(todo, shas))
    for job in _lost_copies(todo, shas, report.skipped, services):
        report.skipped.remove(job.found.rel)
        jobs.append(job)
    memo: SearchMemo | None = None  # the deck pages, keyframe searches remembered for alignment
    deck: DeckText | None = None
    with progress_bar(show_progress) as bar:
        overall = bar.add_task("ingest", total=len(jobs))

        def prepare(job: _Job) -> tuple[Prepared, tuple[Path, str] | None, Any]:
            transcript = _transcribe(job.found, transcriber, services, bar) if job.machine and transcriber else None
            sub = bar.add_task(f"  {job.found.rel}", total=None)
            prepared = prepare_one(job.found, services, functools.partial(_advance, bar, sub), ocr_cache=ocr_cache,
                                   deck=deck, transcript=transcript)
            return prepared, transcript, sub

        # decks first: keyframes showing their pages take their text, so videos start once every deck is in
        for group in ([j for j in jobs if j.found.kind == "pdf"], [j for j in jobs if j.found.kind != "pdf"]):
            if group and group[0].found.kind != "pdf":
                memo = SearchMemo(services.image_index.subset(pages_of(manifest)))
                deck = make_deck_text(services, manifest, memo) if deck_text else None
            for job, future in prefetched(group, prepare):
                f = job.found
                bar.update(overall, description=f"ingest {f.rel}")
                try:
                    prepared, transcript, sub = future.result()
                    if memo is not None:  # alignment searches each distinct picture once
                        memo.same_pictures(prepared.extracted.same_pictures)
                    chunks, vectors, warnings = commit_one(f, job.sha, prepared, services, manifest,
                                                           ocr_cache=ocr_cache, transcript=transcript)
                    bar.remove_task(sub)
                    report.ingested.append(f.rel)
                    report.chunks += chunks
                    report.vectors += vectors
                    report.warnings.extend(f"{f.rel}: {w}" for w in warnings)
                except IngestError as e:
                    report.failed.append({"source": f.rel, "error": str(e)})
                except LectureLensError as e:
                    report.failed.append({"source": f.rel, "error": f"Could not ingest {f.rel}: {e}"})
                except Exception as e:  # the per-file loop is a boundary: one bad file never stops the rest
                    log.debug("ingest of %s failed", f.rel, exc_info=True)
                    report.failed.append({"source": f.rel,
                                          "error": f"Could not ingest {f.rel}: unexpected {type(e).__name__}: {e}"})
                finally:
                    bar.advance(overall)
        if memo is None:
            memo = SearchMemo(services.image_index.subset(pages_of(manifest)))
        _align(services, manifest, report, bar, memo)
    if ocr_cache is not None:
        report.ocr_cache = {**ocr_cache.stats.to_json(), "deck_text": deck.used if deck else 0,
                            "searches_reused": memo.hits}
    services.retriever.refresh()  # the lexical index on disk, so the next process loads instead of rebuilding
    report.seconds = round(time.perf_counter() - t0, 3)
    return report
