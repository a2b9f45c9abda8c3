"""Uploaded query images: checked, decoded once, and re-encoded to one JPEG every consumer shares.

A photo of a slide arrives as whatever the phone or browser made (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC).
Gemini's embedding API accepts PNG and JPEG only, OpenCV and the OCR read a subset, and a hostile or broken
file must never reach a decoder unchecked. So every image query goes through `load_image` exactly once:
the type is sniffed from the bytes (never the file name), the size and pixel count are checked from the
header before anything is decoded (a decompression bomb is rejected without allocating it), the picture is
decoded with Pillow, turned upright (EXIF orientation), flattened to RGB and re-encoded as one JPEG no larger
than `max_side` px. Embedding, OCR and image matching then all see the same bytes, and every refusal is an
`InputError` whose message names the file, says what is wrong and what to do.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError

JPEG_MIME = "image/jpeg"
READABLE = "JPEG, PNG, WebP, GIF, BMP or TIFF"


@dataclass(frozen=True)
class UploadLimits:
    """What an image query may be. Defaults suit phone photos and screenshots."""

    max_bytes: int = 25 * 1024 * 1024  # a 50 MP phone JPEG is ~15 MB
    max_pixels: int = 50_000_000  # checked from the header, before decoding
    min_side: int = 16  # below this there is nothing to match or read
    max_side: int = 2048  # the re-encoded JPEG's longest side: enough for OCR of a slide photo
    # A slide, a screenshot or a panorama is at most ~4:1. A thin strip is no picture of a slide, and OCR of
    # one is pathological: a 16×2000 px strip kept rapidocr busy for minutes on 2 cores (60×1200: 35 s).
    max_aspect: float = 8.0
    jpeg_quality: int = 90


DEFAULT_LIMITS = UploadLimits()


@dataclass(frozen=True)
class ImageUpload:
    """One decoded, normalised query image."""

    data: bytes  # JPEG bytes, <= max_side px
    width: int  # of `data`
    height: int
    original_format: str  # what the upload really was ("WEBP", "PNG", ...)
    original_size: tuple[int, int]  # (width, height) as uploaded
    name: str  # for messages

    mime: str = JPEG_MIME


def load_image(src: bytes | str | Path, *, name: str | None = None,
               limits: UploadLimits = DEFAULT_LIMITS) -> ImageUpload:
    """Check, decode and re-encode an uploaded image; raise InputError with a remedy if it is unusable."""
    label = name or (Path(src).name if isinstance(src, (str, Path)) else "the uploaded image")
    data = _read(src, label, limits)
    kind = sniff(data)
    if kind not in _PIL_FORMATS:
        raise InputError(f"{label}: {_not_an_image(kind)}")
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        # We check the pixel count ourselves below, with a friendlier message than Pillow's bomb warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:
            # Pillow refuses > 2 x MAX_IMAGE_PIXELS at open, before we see the size; its message carries the count.
            found = re.search(r"\((\d+) pixels\)", str(e))
            mp = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "far too many pixels"
            raise InputError(f"{label}: the image has {mp}, more than the {limits.max_pixels // 1_000_000} "
                             "megapixel limit. Scale it down or crop it to the slide.") from None
        except Exception as e:  # noqa: BLE001 - Pillow raises many types for unreadable headers
            raise InputError(f"{label}: the {kind} file is damaged or cut off ({e}). "
                             "Take the screenshot or photo again and upload that.") from e
        w, h = im.size
        if min(w, h) < limits.min_side:
            raise InputError(f"{label}: the image is only {w}×{h} px; both sides need at least "
                             f"{limits.min_side} px. Upload a screenshot or photo of the slide.")
        if max(w, h) > limits.max_aspect * min(w, h):
            raise InputError(f"{label}: the image is a thin strip ({w}×{h} px, more than {limits.max_aspect:g} times "
                             "longer one way than the other). Upload a screenshot or photo of the whole slide.")
        if w * h > limits.max_pixels:
            raise InputError(f"{label}: the image has {w * h / 1e6:.0f} megapixels ({w}×{h} px), more than the "
                             f"{limits.max_pixels // 1_000_000} megapixel limit. "
                             "Scale it down or crop it to the slide.")
        try:
            im.seek(0)  # first frame of an animated GIF/WebP
            im.load()
            rgb = _flatten(ImageOps.exif_transpose(im) or im)
        except Exception as e:  # noqa: BLE001 - truncated/corrupt data surfaces here as OSError, SyntaxError...
            raise InputError(f"{label}: the {kind} file is damaged or cut off, so it could not be decoded. "
                             "Take the screenshot or photo again and upload that.") from e
    if max(rgb.size) > limits.max_side:
        rgb.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=limits.jpeg_quality)
    return ImageUpload(data=out.getvalue(), width=rgb.size[0], height=rgb.size[1], original_format=kind,
                       original_size=(w, h), name=label)


def sniff(data: bytes) -> str:
    """What a file is, from its first bytes: an image format name, "PDF", "HEIC", "text" or "unknown"."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"):
        return "HEIC" if head[8:12] != b"avif" else "AVIF"
    if head.lstrip().startswith(b"%PDF"):
        return "PDF"
    if _looks_like_text(data[:4096]):
        return "text"
    return "unknown"


_PIL_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}


def _read(src: bytes | str | Path, label: str, limits: UploadLimits) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        size = len(data)
    else:
        path = Path(src)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise InputError(f"{label}: cannot read the file ({e.strerror or e}). Check the path.") from e
        data = b""
    if size > limits.max_bytes:
        raise InputError(f"{label}: the file is {size / 2**20:.0f} MB; the limit is "
                         f"{limits.max_bytes // 2**20} MB. Send a smaller photo or a screenshot of the slide.")
    if size == 0:
        raise InputError(f"{label}: the file is empty. Upload a screenshot or photo of the slide.")
    if not data:
        data = Path(src).read_bytes()  # type: ignore[arg-type]
    return data


def _not_an_image(kind: str) -> str:
    if kind == "PDF":
        return ("it is a PDF, not an image. To search a slide deck, add the PDF to the course folder and run "
                "`lecturelens ingest`; to ask about one slide, upload a screenshot of it.")
    if kind == "text":
        return f"it is a text file, not an image. Upload a {READABLE} picture, or type the question instead."
    if kind in ("HEIC", "AVIF"):
        return (f"{kind} photos cannot be read here. Export or share the photo as JPEG "
                "(on an iPhone: Settings → Camera → Formats → Most Compatible) and upload that.")
    return f"this is not an image LectureLens can read. Upload a {READABLE} file."


def _looks_like_text(sample: bytes) -> bool:
    if not sample or b"\x00" in sample:
        return False
    try:
        decoded = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return printable / len(decoded) > 0.95


def _flatten(im):  # noqa: ANN001 - PIL.Image.Image, imported lazily
    """RGB on white: transparent PNG/WebP screenshots otherwise turn black around the text."""
    from PIL import Image

    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return im.convert("RGB")
