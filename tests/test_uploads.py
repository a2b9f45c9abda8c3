"""rag.uploads: every image query is checked, decoded once and re-encoded to one JPEG."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from rag.errors import InputError
from rag.uploads import UploadLimits, load_image, sniff


def _png(w: int, h: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (h, w, 4 if mode == "RGBA" else 3), dtype=np.uint8)
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


def _encoded(fmt: str, w: int = 320, h: int = 240) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header claims w×h pixels: what a decompression bomb looks like before decoding."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    idat = zlib.compress(b"\x00" * 1024)  # the first scanline bytes of a bomb: tiny compressed, huge decoded
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_readable_format_becomes_one_jpeg(fmt):
    up = load_image(_encoded(fmt), name=f"photo.{fmt.lower()}")
    assert up.mime == "image/jpeg"
    assert up.data.startswith(b"\xff\xd8\xff")
    assert up.original_format == fmt
    assert (up.width, up.height) == (320, 240)
    back = Image.open(io.BytesIO(up.data))
    assert back.format == "JPEG" and back.size == (320, 240)
    r, g, b = back.convert("RGB").getpixel((10, 10))
    assert r > 150 and g < 80 and b < 80  # the colour survives


def test_large_photo_is_scaled_to_max_side():
    up = load_image(_png(3000, 1000), limits=UploadLimits(max_side=2048))
    assert (up.width, up.height) == (2048, 683)
    assert up.original_size == (3000, 1000)


def test_transparent_screenshot_is_flattened_on_white():
    buf = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(buf, format="PNG")
    up = load_image(buf.getvalue())
    assert Image.open(io.BytesIO(up.data)).getpixel((5, 5))[0] > 240


def test_exif_orientation_is_applied():
    buf = io.BytesIO()
    im = Image.new("RGB", (200, 100), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(buf, format="JPEG", exif=exif)
    up = load_image(buf.getvalue())
    assert (up.width, up.height) == (100, 200)


@pytest.mark.parametrize("w,h", [(1, 1), (2000, 1), (1, 500), (15, 300)])
def test_tiny_side_is_refused_with_the_size(w, h):
    with pytest.raises(InputError, match=rf"{w}×{h} px; both sides need at least 16 px"):
        load_image(_png(w, h), name="tiny.png")


def test_small_but_usable_image_is_accepted():
    assert load_image(_png(64, 64)).width == 64


def test_truncated_jpeg_is_damaged():
    data = _encoded("JPEG", 640, 480)
    with pytest.raises(InputError, match=r"cut\.jpg: the JPEG file is damaged or cut off"):
        load_image(data[: len(data) // 3], name="cut.jpg")


def test_text_file_named_png_says_it_is_text(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("These are my lecture notes, not a picture.\n" * 20)
    with pytest.raises(InputError, match=r"notes\.png: it is a text file, not an image"):
        load_image(p)


def test_pdf_named_png_says_it_is_a_pdf(tmp_path):
    p = tmp_path / "deck.png"
    p.write_bytes(b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n")
    with pytest.raises(InputError, match=r"deck\.png: it is a PDF, not an image.*lecturelens ingest"):
        load_image(p)


def test_oversized_file_is_refused_before_reading(tmp_path):
    p = tmp_path / "huge.jpg"
    with open(p, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0")
        f.truncate(60 * 1024 * 1024)  # sparse: 60 MB on paper
    with pytest.raises(InputError, match=r"huge\.jpg: the file is 60 MB; the limit is 25 MB"):
        load_image(p)


def test_decompression_bomb_is_refused_from_the_header():
    with pytest.raises(InputError, match=r"bomb\.png: the image has 400 megapixels, more than the 50 megapixel limit"):
        load_image(_png_header_only(20000, 20000), name="bomb.png")
    # below Pillow's own bomb threshold our check still refuses, and names the size
    with pytest.raises(InputError, match=r"the image has 64 megapixels \(8000×8000 px\), more than the 50"):
        load_image(_png_header_only(8000, 8000), name="big.png")


def test_empty_and_unknown_files():
    with pytest.raises(InputError, match="empty"):
        load_image(b"", name="e.jpg")
    with pytest.raises(InputError, match="not an image LectureLens can read"):
        load_image(bytes(range(256)) * 4, name="x.bin")


def test_heic_gets_an_export_hint():
    fake_heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(InputError, match="HEIC photos cannot be read here.*JPEG"):
        load_image(fake_heic, name="IMG_0001.HEIC")


def test_sniff_ignores_the_file_name():
    assert sniff(_encoded("WEBP")) == "WEBP"
    assert sniff(b"%PDF-1.4") == "PDF"
    assert sniff(b"hello world\n") == "text"


@pytest.mark.parametrize("command", ["ask", "search"])
def test_cli_bad_photo_is_a_clear_error_not_a_traceback(tmp_path, command):
    from click.testing import CliRunner

    from rag.cli import _register_plugins, cli

    _register_plugins()
    bad = tmp_path / "one_pixel.png"
    bad.write_bytes(_png(1, 1))
    res = CliRunner().invoke(cli, [command, "--image", str(bad), "--index", str(tmp_path / "idx"), "--json"])
    assert res.exit_code == 1
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback
    assert "one_pixel.png: the image is only 1×1 px" in res.output
    assert not (tmp_path / "idx").exists()  # refused before any index was opened or created


@pytest.mark.parametrize("w,h", [(16, 2000), (2000, 16), (60, 1200), (900, 100)])
def test_thin_strip_is_refused(w, h):
    with pytest.raises(InputError, match=rf"strip\.png: the image is a thin strip \({w}×{h} px, more than 8 times"):
        load_image(_png(w, h), name="strip.png")


def test_wide_panorama_and_tall_screenshot_pass():
    assert load_image(_png(1600, 400)).width == 1600
    assert load_image(_png(540, 1200)).height == 1200
