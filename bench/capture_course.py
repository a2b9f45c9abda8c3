"""Generate a lecture-capture course into bench/.cache/ (gitignored, never committed).

Lectures: 1280x720 at 25 fps H.264 (libx264 with B-frames and CABAC, CRF 28, a keyframe every 5 s) + AAC
mono, in a lecture-capture layout: the slide (a deck page rendered by pdfium) on the left, a speaker box
on the right with a swaying speaker, a capture banner with a clock. The slide changes every 20-90 s (on
any frame); every lecture walks through its own deck, so every slide shown is a page of an indexed PDF.
Each lecture has a WebVTT caption file (a cue every ~4 s reading the slide's bullets). Decks: PDFs with a
text layer (matplotlib, embedded TrueType), 12 pages per lecture plus extra decks up to `pages` pages.

Fast to make (about 1 CPU s per minute of video, lectures in parallel): a lecture is assembled from 5-s
GOPs, each an independent encode; a GOP where the slide stays is encoded once per slide (in two variants
whose speaker and clock differ) and its packets reused, so the speaker and clock repeat every few
seconds; a GOP holding a slide change is encoded for itself. The audio is a 64-s bank, repeated.

    python -m bench.capture_course --minutes 30 --lectures 3 --pages 200
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench/.cache/capture_course"
W, H, FPS = 1280, 720, 25
SLIDE_BOX = (16, 60, 896, 504)  # x, y, w, h of the slide in the frame
SPEAKER_BOX = (928, 60, 336, 252)
SR = 16000
WORDS = ("gradient descent convergence matrix eigenvalue vector kernel network layer bayes prior posterior "
         "sampling entropy protocol router packet tunnel encryption genome alignment reads quality index "
         "variance estimator regression cluster graph tree search heap queue cache memory thread lock "
         "signal filter fourier spectrum model loss error bias momentum dropout attention transformer "
         "token embedding softmax logits margin hinge boosting bagging forest pruning").split()


def _deck(path: Path, name: str, pages: int, rng: random.Random) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.patches import Rectangle

    plt.rcParams.update({"pdf.fonttype": 42, "font.family": "DejaVu Sans"})
    out = []
    with PdfPages(path) as pdf:
        for i in range(pages):
            title = " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 4)))
            bullets = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(3, 5))]
            fig = plt.figure(figsize=(12.8, 7.2), dpi=100)
            fig.add_artist(Rectangle((0, 0.87), 1, 0.13, transform=fig.transFigure, color="#1d3557"))
            fig.text(0.035, 0.935, title, fontsize=30, color="white", va="center")
            fig.text(0.035, 0.03, f"{name} - generated course", fontsize=11, color="#777777")
            fig.text(0.965, 0.03, f"{i + 1} / {pages}", fontsize=11, color="#777777", ha="right")
            for k, b in enumerate(bullets):
                fig.text(0.05, 0.76 - 0.11 * k, "\u2022 " + b, fontsize=24, color="#222222", va="top")
            ax = fig.add_axes((0.62, 0.12, 0.33, 0.3))
            xs = np.linspace(0, 1, 30)
            ax.plot(xs, np.sin(xs * rng.uniform(2, 9)) * rng.uniform(0.5, 2), lw=3)
            ax.set_xticks([])
            ax.set_yticks([])
            pdf.savefig(fig)
            plt.close(fig)
            out.append({"title": title, "bullets": bullets})
    return out


def _render(path: Path) -> list[np.ndarray]:
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(str(path))
    out = []
    for i in range(len(doc)):
        page = doc[i]
        img = page.render(scale=SLIDE_BOX[2] / page.get_width()).to_pil().convert("RGB")
        out.append(np.asarray(img.resize(SLIDE_BOX[2:], Image.LANCZOS)))
    doc.close()
    return out


def _background() -> np.ndarray:
    bg = np.full((H, W, 3), (38, 40, 46), np.uint8)
    bg[:40] = (20, 20, 24)
    x, y, w, h = SPEAKER_BOX
    bg[y:y + h, x:x + w] = (128, 128, 132)
    return bg


def _yuv(rgb: np.ndarray) -> np.ndarray:
    """An RGB frame as one yuv420p array (H * 3/2, W), the layout PyAV takes."""
    import av

    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()


def _speaker(yuv: np.ndarray, t: float) -> None:
    """A swaying speaker drawn straight into the luma plane (gray figure, chroma left neutral)."""
    x, y, w, h = SPEAKER_BOX
    cx = x + w // 2 + int(round(10 * math.sin(2 * math.pi * t / 3.7)))
    cy = y + 70 + int(round(3 * math.sin(2 * math.pi * t / 1.3)))
    yuv[cy - 22:cy + 22, cx - 18:cx + 18] = 64  # head
    yuv[cy + 28:y + h - 4, cx - 55:cx + 55] = 58  # body


def _clock(yuv: np.ndarray, t: float) -> None:
    """A running REC clock in the banner: 4 digit cells that change every second."""
    s = int(t)
    for k, digit in enumerate((s // 600 % 6, s // 60 % 10, s // 10 % 6, s % 10)):
        x0 = W - 120 + 24 * k
        yuv[12:30, x0:x0 + 16] = 21
        yuv[12:30, x0:x0 + 4 + digit] = 120


def _audio(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like bursts (modulated tones) with pauses, as float32 mono."""
    n = int(seconds * SR)
    out = rng.normal(0, 0.002, n).astype(np.float32)
    t = 0.0
    while t < seconds:
        dur = rng.uniform(1.5, 6.0)
        a, b = int(t * SR), min(n, int((t + dur) * SR))
        tt = np.arange(b - a) / SR
        out[a:b] += (0.2 * np.sin(2 * np.pi * 180 * tt) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * tt))).astype(np.float32)
        t += dur + rng.uniform(0.2, 1.2)
    return out


def _vtt(path: Path, timeline: list[tuple[float, float, dict]]) -> None:
    lines = ["WEBVTT", ""]

    def ts(x: float) -> str:
        return f"{int(x // 3600):02d}:{int(x % 3600 // 60):02d}:{x % 60:06.3f}"

    for start, end, page in timeline:
        if end - start < 2.0:  # a slide on screen for an instant at the very end: no narration
            continue
        sentences = [f"This slide is about {page['title'].lower()}."] + [f"Note that {b}." for b in page["bullets"]]
        step = (end - start) / len(sentences)
        for k, s in enumerate(sentences):
            lines += [f"{ts(start + k * step)} --> {ts(start + (k + 1) * step - 0.05)}", s, ""]
    path.write_text("\n".join(lines))


GOP_S = 5  # a keyframe every 5 s: the unit of reuse
VARIANTS = 2  # distinct encodings of a steady slide (speaker and clock phases differ), used in turn
AUDIO_BANK_S = 64  # 1000 AAC frames of 1024 samples at 16 kHz, encoded once per lecture and repeated
# ultrafast for speed, but with B-frames, CABAC and deblocking as real uploads have (decode cost alike)
X264 = {"crf": "28", "preset": "ultrafast",
        "x264-params": f"keyint={GOP_S * FPS}:min-keyint={FPS}:bframes=3:cabac=1:deblock=1"}


def _unit(bases: list[tuple[int, np.ndarray]], t0: float) -> bytes:
    """One 5-s GOP as an in-memory MP4: `bases` = (first frame, yuv picture) switches; the speaker and the
    clock drawn at unit time t0 + i/FPS."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.codec_context.thread_count = 1
        vs.options = X264
        for i in range(GOP_S * FPS):
            base = [b for k, b in bases if k <= i][-1]
            frame = base.copy()
            _speaker(frame, t0 + i / FPS)
            _clock(frame, t0 + i / FPS)
            vf = av.VideoFrame.from_ndarray(frame, format="yuv420p")
            vf.pts, vf.time_base = i, Fraction(1, FPS)
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    return buf.getvalue()


def _audio_bank(seed: int) -> bytes:
    """AUDIO_BANK_S of speech-like audio as an in-memory AAC MP4."""
    import io

    import av

    audio = _audio(AUDIO_BANK_S, np.random.default_rng(seed))
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("aac", rate=SR, layout="mono")
        st.bit_rate = 48_000
        for a in range(0, len(audio), 1024):
            af = av.AudioFrame.from_ndarray(audio[a:a + 1024].reshape(1, -1), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = SR, a, Fraction(1, SR)
            out.mux(st.encode(af))
        out.mux(st.encode(None))
    return buf.getvalue()


def _packets(data: bytes, kind: str):
    import io

    import av

    c = av.open(io.BytesIO(data))
    stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
    return c, stream, [p for p in c.demux(stream) if p.size]


def _repeated_audio(bank: bytes):
    """The bank's packets, repeated forever with shifted timestamps (a muxed packet is consumed)."""
    rep = 0
    while True:
        _, _, pkts = _packets(bank, "audio")
        step = pkts[-1].pts + (pkts[-1].duration or 1024) - pkts[0].pts  # priming and flush included
        for p in pkts:
            p.pts += rep * step
            p.dts += rep * step
            yield p
        rep += 1


def _lecture(path: Path, slides: list[np.ndarray], pages: list[dict], seconds: float, seed: int) -> dict:
    """One lecture, built from 5-s GOP units: a unit where the slide stays is encoded once per (slide,
    variant) and its packets reused wherever that slide is steady; a unit holding a slide change is encoded
    for itself. Real encoders would spend the same bits on static slides; this spends far less CPU."""
    import av

    seconds = math.ceil(seconds / GOP_S) * GOP_S  # whole units: no GOP cut in the middle of its B-frames
    rng = random.Random(seed)
    timeline: list[tuple[float, float, dict]] = []
    order: list[tuple[float, int]] = []
    t, k = 0.0, 0
    while (t := round(t * FPS) / FPS) < seconds:  # changes fall on a frame
        dur = min(rng.uniform(20, 90), seconds - t)
        order.append((t, k % len(slides)))
        timeline.append((t, t + dur, pages[k % len(slides)]))
        t += dur
        k += 1
    bg = _background()
    x, y, w, h = SLIDE_BOX
    yuv: dict[int, np.ndarray] = {}

    def base(page: int) -> np.ndarray:
        if page not in yuv:
            rgb = bg.copy()
            rgb[y:y + h, x:x + w] = slides[page]
            yuv[page] = _yuv(rgb)
        return yuv[page]

    steady: dict[tuple[int, int], bytes] = {}
    n_units = math.ceil(seconds / GOP_S)
    bank = _audio_bank(seed)
    audio = _repeated_audio(bank)
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream_from_template(_packets(_unit([(0, base(order[0][1]))], 0.0), "video")[1])
        as_ = out.add_stream_from_template(_packets(bank, "audio")[1])
        pending = next(audio)
        for u in range(n_units):
            u0 = u * GOP_S
            inside = [(round((s - u0) * FPS), p) for s, p in order if u0 < s < u0 + GOP_S]
            current = [p for s, p in order if s <= u0][-1]
            if inside:
                data = _unit([(0, base(current))] + [(f, base(p)) for f, p in inside], u0)
            else:
                key = (current, u % VARIANTS)
                if key not in steady:
                    steady[key] = _unit([(0, base(current))], 1.9 * key[1])
                data = steady[key]
            _, src, pkts = _packets(data, "video")
            shift = int(round(u0 / src.time_base))
            for p in pkts:
                p.pts += shift
                p.dts += shift
                p.stream = vs
                out.mux(p)
            while float(pending.pts * pending.time_base) < u0 + GOP_S:  # the audio up to here
                pending.stream = as_
                out.mux(pending)
                pending = next(audio)
    _vtt(path.with_suffix(".vtt"), timeline)
    return {"file": path.name, "seconds": seconds, "slide_changes": [round(s, 2) for s, _ in order[1:]],
            "slides_shown": len(order), "units_encoded": len(steady) + sum(1 for s, _ in order[1:])}


def _lecture_job(job: tuple[Path, Path, list[dict], float, int]) -> dict:
    path, deck, content, seconds, seed = job
    return _lecture(path, _render(deck), content, seconds, seed)


def generate(minutes: float, lectures: int, pages: int, folder: Path | None = None) -> Path:
    """The course folder (reused when already generated with the same parameters)."""
    folder = folder or CACHE / f"{minutes:g}min_{lectures}lec_{pages}p"
    done = folder / "course.json"
    if done.is_file():
        return folder / "course"
    course = folder / "course"
    (course / "lectures").mkdir(parents=True, exist_ok=True)
    (course / "slides").mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    per_lecture = 12
    info: dict = {"fps": FPS, "size": [W, H], "lectures": [], "decks": []}
    jobs = []
    for li in range(lectures):
        deck = course / "slides" / f"lecture{li + 1:02d}.pdf"
        content = _deck(deck, f"Lecture {li + 1}", per_lecture, rng)
        info["decks"].append({"file": deck.name, "pages": per_lecture})
        jobs.append((course / "lectures" / f"lecture{li + 1:02d}.mp4", deck, content, minutes * 60 / lectures, li))
    # one lecture per core (each encoder runs one thread)
    with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1) or 1) as pool:
        info["lectures"] = list(pool.map(_lecture_job, jobs))
    extra, k = pages - lectures * per_lecture, 0
    while extra > 0:
        n = min(40, extra)
        deck = course / "slides" / f"reading{k + 1:02d}.pdf"
        _deck(deck, f"Reading {k + 1}", n, rng)
        info["decks"].append({"file": deck.name, "pages": n})
        extra -= n
        k += 1
    done.write_text(json.dumps(info, indent=1))
    return course


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--lectures", type=int, default=3)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    print(generate(a.minutes, a.lectures, a.pages, a.out))
