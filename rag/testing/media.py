"""Tiny, valid media made in memory (PNG, JPEG, WebP, GIF, PDF, MP4, MP3, WAV) for tests of the strict fake."""

from __future__ import annotations

import io
import math
from fractions import Fraction


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """An image with a little structure (so two seeds differ), in any format Pillow writes."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for k in range(4):
        x = (seed * 13 + k * 17) % max(1, size[0] - 10)
        y = (seed * 7 + k * 11) % max(1, size[1] - 10)
        draw.rectangle([x, y, x + 9, y + 9], fill=((seed * 50 + k * 60) % 256, 40 * k, 200))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def pdf(pages: int = 1) -> bytes:
    """A PDF with `pages` blank pages."""
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=200, height=100)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def mp4(seconds: float = 1.0, audio: bool = False, fps: int = 2) -> bytes:
    """An H.264 MP4 of `seconds` (a 32x32 picture at `fps`), with a silent AAC track when `audio`."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        vs.codec_context.time_base = Fraction(1, fps)
        sound = _add_audio(out, "aac", 16000) if audio else None
        frames = max(1, int(math.ceil(seconds * fps)))
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), (i * 9) % 256, dtype=np.uint8), format="rgb24")
            frame.pts = i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if sound is not None:
            _silence(out, sound, "fltp", seconds)
    return buf.getvalue()


def audio(seconds: float = 1.0, fmt: str = "mp3") -> bytes:
    """Silent mono audio of `seconds` as MP3 or WAV."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        if fmt == "mp3":
            _silence(out, _add_audio(out, "libmp3lame", 16000), "s16p", seconds)
        else:
            _silence(out, _add_audio(out, "pcm_s16le", 8000), "s16", seconds)
    return buf.getvalue()


def _add_audio(out, codec: str, rate: int):
    return out.add_stream(codec, rate=rate, layout="mono")


def _silence(out, stream, fmt: str, seconds: float) -> None:
    import av
    import numpy as np

    rate = stream.rate
    n = 1152 if stream.codec_context.name in ("libmp3lame", "mp3") else 1024
    total = int(seconds * rate)
    done = 0
    while done < total:
        k = min(n, total - done)
        dtype = np.float32 if fmt == "fltp" else np.int16
        frame = av.AudioFrame.from_ndarray(np.zeros((1, k), dtype=dtype), format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, done
        done += k
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
