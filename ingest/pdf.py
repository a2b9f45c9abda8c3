"""Slide PDFs → six-page slice chunks with page texts, page renders and per-page views.

pypdf reads the structure (encryption, page count, page labels, /Title) and writes each slice as
its own small PDF; pypdfium2 extracts the text and renders the pages. Text comes from pdfium, not
pypdf, on purpose: pdfium's page-bounded text is what is visible on the page (Beamer overlays
park not-yet-shown bullets outside the page, and pypdf returns them on every build step, so a
page would be cited for a bullet it does not show), and it is 30-50x faster (about 3 ms/page
against 100 ms/page on the Beamer decks). pypdf's text is the fallback when pdfium fails on a page.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pypdf
import pypdfium2 as pdfium

from ingest.extracted import Extracted, ImageRecord
from ingest.pdftext import clean_deck, clean_page, is_tiny
from rag.errors import IngestError
from rag.files import atomic_write_bytes
from rag.ids import chunk_id, sha256_file
from rag.index import ViewName, page_name, page_render, source_media_dir
from rag.settings import ChunkingSettings
from rag.types import Chunk, EmbedItem, ImageText, MediaPart, PageSpan, Source, View

log = logging.getLogger(__name__)

RENDER_WIDTH = 1280  # px; UI display and image matching
RENDER_MAX_HEIGHT = 2400  # px; keeps odd page shapes (long strips) bounded
_ENCRYPTED = ("the file is encrypted", "Remove the password or skip it with --exclude.")
_SKIP = "Re-export the file (e.g. print it to PDF again) or skip it with --exclude."
_GENERIC_TITLE = re.compile(
    r"^(untitled.*|presentation\s*\d*|powerpoint presentation|slide\s*\d+|microsoft \w+ - .*|"
    r".*\.(pdf|pptx?|key|odp|docx?|tex|dvi))$", re.I)

Progress = Callable[[int, int], None]


@dataclass
class PdfStats:
    """Timings of one `extract_pdf` call (pass one in as `stats=` to have it filled)."""

    pages: int = 0
    text_s: float = 0.0  # text extraction + cleaning, whole deck
    render_s: float = 0.0  # render + PNG encode + write, whole deck
    ocr_s: float = 0.0
    ocr_pages: int = 0
    render_ms: list[float] = field(default_factory=list)  # per page


def extract_pdf(path: Path, rel: str, media_dir: Path, settings: ChunkingSettings, *,
                ocr: ImageText | None = None, want_media: bool = False, progress: Progress | None = None,
                stats: PdfStats | None = None) -> Extracted:
    """Extract one slide PDF: slice chunks, their `slice` and `p<N>` views, page renders.

    Raises IngestError when the file is empty, not a readable PDF, encrypted, or has no pages.
    `ocr(png_bytes) -> text` is called for pages with (almost) no text layer when settings.ocr.
    """
    stats = stats if stats is not None else PdfStats()
    name = Path(rel).name
    try:
        empty = path.stat().st_size == 0
        sha = sha256_file(path)
    except OSError as e:
        raise IngestError(rel, f"the file cannot be read ({_why(e)})", "Check that it is readable.") from e
    if empty:
        raise IngestError(rel, "the file is empty (0 bytes)", "Replace it or skip it with --exclude.")
    with _quiet_pypdf():
        reader = _open_reader(path, rel)
        n = _page_count(reader, rel)
        labels = _page_labels(reader, n)
        title = _meta_title(reader) or name
    out_dir = source_media_dir(media_dir, sha)
    doc = _open_pdfium(path, rel, n)
    try:
        texts, pngs, warnings = _read_pages(doc, reader, out_dir, rel, settings, ocr, want_media,
                                            progress, stats)
    finally:
        doc.close()
    source = Source(path=rel, kind="pdf", sha256=sha, title=title, page_count=n, page_labels=labels)
    ex = Extracted(source=source, warnings=warnings)
    for first in range(1, n + 1, settings.pdf_slice_pages):
        last = min(n, first + settings.pdf_slice_pages - 1)
        cid = chunk_id(sha, PageSpan(first=first, last=last), rel)
        page_texts = tuple(texts[first - 1:last])
        slice_pdf = _slice_pdf(reader, first, last, rel) if want_media else None
        chunk = Chunk(id=cid, source=rel, source_sha256=sha, kind="pdf", title=title,
                      locator=PageSpan(first=first, last=last), text="\n\n".join(t for t in page_texts if t),
                      page_texts=page_texts,
                      page_labels=tuple(labels[first - 1:last]) if labels else ())
        ex.chunks.append((chunk, _views(chunk, slice_pdf, pngs[first - 1:last] if want_media else None)))
        ex.images += [ImageRecord(chunk_id=cid, path=page_render(out_dir, p), page=p, view=ViewName.of_page(p))
                      for p in range(first, last + 1)]
    return ex


def _read_pages(doc: pdfium.PdfDocument, reader: pypdf.PdfReader, out_dir: Path, rel: str,
                settings: ChunkingSettings, ocr: ImageText | None, want_media: bool,
                progress: Progress | None, stats: PdfStats) -> tuple[list[str], list[bytes], list[str]]:
    """Every page's cleaned text (OCR where there is none) and render; PNG bytes kept if wanted."""
    n = len(doc)
    t0 = time.perf_counter()
    texts, keys = clean_deck([_raw_text(doc, reader, i) for i in range(n)])
    stats.text_s = time.perf_counter() - t0
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs: list[bytes] = []
    warnings: list[str] = []
    textless: list[int] = []
    for i in range(n):
        png = _render_page(doc, i, page_render(out_dir, i + 1), rel, stats)
        if is_tiny(texts[i]):
            if ocr is not None and settings.ocr:
                texts[i] = _ocr_page(ocr, png, texts[i], keys, i + 1, warnings, stats)
            else:
                textless.append(i + 1)
        if want_media:
            pngs.append(png)
        if progress is not None:
            progress(i + 1, n)
    if textless:
        warnings.append(f"p. {', '.join(map(str, textless))}: no text layer and OCR is off; "
                        "these pages are found by their image only")
    stats.pages = n
    log.debug("%s: %d pages, text %.1f ms/page, render %.1f ms/page, OCR %d pages %.1f s", rel, n,
              1000 * stats.text_s / n, 1000 * stats.render_s / n, stats.ocr_pages, stats.ocr_s)
    return texts, pngs, warnings


def _views(chunk: Chunk, slice_pdf: bytes | None, pngs: list[bytes] | None) -> list[View]:
    # Views with nothing to embed (a blank page without media) are left out: an embedder given
    # empty input returns a meaningless vector that would match random queries.
    assert isinstance(chunk.locator, PageSpan)
    views = []
    media = (MediaPart(mime_type="application/pdf", data=slice_pdf),) if slice_pdf else ()
    if chunk.text or media:
        views.append(View(name=str(ViewName.slice()), item=EmbedItem(text=chunk.text, title=chunk.title, media=media),
                          text=chunk.text))
    for k, text in enumerate(chunk.page_texts):
        page = chunk.locator.first + k
        media = (MediaPart(mime_type="image/png", data=pngs[k]),) if pngs else ()
        if text or media:
            views.append(View(name=page_name(page), item=EmbedItem(text=text, title=chunk.title, media=media),
                              page=page, text=text))
    return views


def _open_reader(path: Path, rel: str) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(path)
    except Exception as e:  # pypdf raises many types on garbage input; each means "not a PDF"
        raise IngestError(rel, f"the file is not a readable PDF ({_why(e)})", _SKIP) from e
    if reader.is_encrypted:
        # Owner-password-only files (print/copy restrictions) open with the empty user password.
        try:
            ok = reader.decrypt("") != pypdf.PasswordType.NOT_DECRYPTED
        except Exception:
            ok = False
        if not ok:
            raise IngestError(rel, *_ENCRYPTED)
    return reader


def _page_count(reader: pypdf.PdfReader, rel: str) -> int:
    try:
        n = len(reader.pages)
    except Exception as e:
        raise IngestError(rel, f"the page tree is damaged ({_why(e)})", _SKIP) from e
    if n == 0:
        raise IngestError(rel, "the PDF has no pages", "Check the file or skip it with --exclude.")
    return n


def _open_pdfium(path: Path, rel: str, n: int) -> pdfium.PdfDocument:
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise IngestError(rel, *_ENCRYPTED) from e
        raise IngestError(rel, f"the file is not a readable PDF ({_why(e)})", _SKIP) from e
    if len(doc) != n:
        # Citations name page positions, so two readers disagreeing is a broken file, not a detail.
        m = len(doc)
        doc.close()
        raise IngestError(rel, f"the page tree is damaged (pypdf reads {n} pages, pdfium {m})", _SKIP)
    return doc


def _page_labels(reader: pypdf.PdfReader, n: int) -> tuple[str, ...] | None:
    try:
        labels = tuple(reader.page_labels)
    except Exception:  # a broken /PageLabels tree only costs us the printed labels
        return None
    if len(labels) != n or labels == tuple(str(p) for p in range(1, n + 1)):
        return None
    return labels


def _meta_title(reader: pypdf.PdfReader) -> str | None:
    """/Title when it reads like a title: several words, not a file name or a tool's default."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    title = " ".join(str(raw or "").split())
    if not (4 <= len(title) <= 120) or " " not in title or _GENERIC_TITLE.match(title):
        return None
    return title


def _raw_text(doc: pdfium.PdfDocument, reader: pypdf.PdfReader, i: int) -> str:
    try:
        page = doc[i]
        try:
            textpage = page.get_textpage()
            try:
                return textpage.get_text_bounded()
            finally:
                textpage.close()
        finally:
            page.close()
    except pdfium.PdfiumError:
        with _quiet_pypdf():
            try:
                return reader.pages[i].extract_text()
            except Exception:
                return ""  # no text layer we can read: the page goes to OCR or stays image-only


def _render_page(doc: pdfium.PdfDocument, i: int, out: Path, rel: str, stats: PdfStats) -> bytes:
    t0 = time.perf_counter()
    if out.is_file() and out.stat().st_size > 0:  # a resumed run: same bytes, same render
        png = out.read_bytes()
    else:
        try:
            page = doc[i]
            try:
                w, h = page.get_size()
                scale = min(RENDER_WIDTH / w, RENDER_MAX_HEIGHT / h)
                bitmap = page.render(scale=scale, rev_byteorder=True)
                image = bitmap.to_pil()
            finally:
                page.close()
        except pdfium.PdfiumError as e:
            raise IngestError(rel, f"page {i + 1} cannot be rendered ({_why(e)})", _SKIP) from e
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=3)  # ~40% faster than 6, ~3% bigger
        png = buf.getvalue()
        atomic_write_bytes(out, png)  # a killed run never leaves half a PNG under the final name
    ms = 1000 * (time.perf_counter() - t0)
    stats.render_ms.append(ms)
    stats.render_s += ms / 1000
    return png


def _ocr_page(ocr: ImageText, png: bytes, text: str, keys: set[str], page: int, warnings: list[str],
              stats: PdfStats) -> str:
    t0 = time.perf_counter()
    try:
        found = clean_page(ocr(png), keys)
    except Exception as e:  # OCR trouble on one page must not lose the whole deck
        warnings.append(f"p. {page}: OCR failed ({_why(e)})")
        return text
    finally:
        stats.ocr_s += time.perf_counter() - t0
    stats.ocr_pages += 1
    if len(found) > len(text):
        warnings.append(f"p. {page} had no text layer; used OCR")
        return found
    return text


def _slice_pdf(reader: pypdf.PdfReader, first: int, last: int, rel: str) -> bytes:
    with _quiet_pypdf():
        try:
            writer = pypdf.PdfWriter()
            for i in range(first - 1, last):
                writer.add_page(reader.pages[i])
            writer.compress_identical_objects()
            buf = io.BytesIO()
            writer.write(buf)
        except Exception as e:
            raise IngestError(rel, f"pages {first}-{last} cannot be copied into a slice ({_why(e)})",
                              _SKIP) from e
    return buf.getvalue()


def _why(e: BaseException) -> str:
    msg = " ".join(str(e).split())[:160]
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved = logging.NOTSET


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Silence pypdf's repair chatter ("Multiple definitions in dictionary…") while we read.

    pypdf logs on child loggers (pypdf._reader, …), so the level is raised on the "pypdf" parent
    they inherit from; a depth counter keeps nested or concurrent uses from restoring too early.
    """
    global _quiet_depth, _quiet_saved
    logger = logging.getLogger("pypdf")
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved = logger.level
            logger.setLevel(logging.ERROR)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logger.setLevel(_quiet_saved)
