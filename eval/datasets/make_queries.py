"""Generate the image queries of sample-course.yaml: "phone photos" of the sample course's slides and
lecture frames (perspective, blur, crop, glare, JPEG), plus unrelated pictures for unanswerable cases.

    .venv/bin/python eval/datasets/make_queries.py      # rewrites eval/datasets/queries/*.jpg

Deterministic (seeded); needs the sample course (examples/course) built. Keep the folder under 2 MB.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
COURSE = HERE.parents[1] / "examples" / "course"
OUT = HERE / "queries"
DECK = COURSE / "slides" / "ml_basics.pdf"
LONG_SIDE = 640  # phone pictures get downscaled by chat apps; this also keeps the folder small
QUALITY = 62

# name: (what to shoot, distortion). A page number shoots the printed deck page; (video, t) a frame.
SHOTS: dict[str, tuple[int | tuple[str, float], str]] = {
    "slide01_photo": (1, "photo"),
    "slide02_photo": (2, "photo"),
    "slide03_photo": (3, "photo_left"),
    "slide04_blur": (4, "blur"),
    "slide05_crop": (5, "crop"),
    "slide06_photo": (6, "photo_right"),
    "slide08_photo": (8, "photo"),
    "slide09_glare": (9, "glare"),
    "slide10_photo": (10, "photo_left"),
    "slide11_crop": (11, "crop"),
    "slide12_photo": (12, "photo"),
    "slide13_blur": (13, "blur"),
    "slide14_photo": (14, "photo_right"),
    "slide15_glare": (15, "glare"),
    "lec1_t033_photo": (("lectures/lecture1_supervised.mp4", 33.0), "photo"),
    "lec1_t061_screen": (("lectures/lecture1_supervised.mp4", 61.0), "screenshot"),
    "lec1_t048_camera": (("lectures/lecture1_supervised.mp4", 48.0), "photo_left"),
    "lec1_t095_blur": (("lectures/lecture1_supervised.mp4", 95.0), "blur"),
    "lec2_t007_photo": (("lectures/lecture2_reinforcement.mp4", 7.0), "photo_right"),
    "lec2_t040_screen": (("lectures/lecture2_reinforcement.mp4", 40.0), "screenshot"),
    "lec2_t068_crop": (("lectures/lecture2_reinforcement.mp4", 68.0), "crop"),
    "lec3_t012_photo": (("lectures/lecture3_clustering.mp4", 12.0), "photo"),
    "lec3_t033_screen": (("lectures/lecture3_clustering.mp4", 33.0), "screenshot"),
    "lec3_t020_glare": (("lectures/lecture3_clustering.mp4", 20.0), "glare"),
}


def font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)


def deck_page(page: int, width: int = 1024) -> np.ndarray:
    """A deck page rendered as BGR."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(DECK))
    try:
        p = doc[page - 1]
        img = p.render(scale=width / p.get_width()).to_pil().convert("RGB")
    finally:
        doc.close()
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])


def video_frame(rel: str, t: float) -> np.ndarray:
    """The frame shown at `t` seconds, as BGR."""
    import av

    with av.open(str(COURSE / rel)) as box:
        stream = box.streams.video[0]
        box.seek(int(t / stream.time_base), stream=stream, backward=True)
        target = Fraction(t).limit_denominator(1000)
        last = None
        for frame in box.decode(stream):
            last = frame
            if frame.pts is not None and frame.pts * stream.time_base >= target:
                break
    if last is None:
        raise SystemExit(f"no frame at {t}s in {rel}")
    return np.ascontiguousarray(last.to_ndarray(format="bgr24"))


def room(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A dim lecture-room background: gradient, blotchy texture, noise."""
    g = np.linspace(25, 85, h)[:, None, None] * np.ones((1, w, 3)) * np.array([1.0, 0.95, 0.9])
    tex = cv2.resize(rng.normal(0, 22, (max(1, h // 24), max(1, w // 24), 3)), (w, h))
    return np.clip(g + tex + rng.normal(0, 5, (h, w, 3)), 0, 255).astype(np.uint8)


def photo(img: np.ndarray, rng: np.random.Generator, lean: float = 0.0) -> np.ndarray:
    """The picture on a screen shot from a seat: perspective (leaning left/right), a room around it."""
    h, w = img.shape[:2]
    cw, ch = int(w * 1.45), int(h * 1.55)
    ox, oy = (cw - w) / 2, (ch - h) / 2
    j = lambda s: float(rng.uniform(-s, s))  # noqa: E731
    tilt = lean * w * 0.09
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[ox + j(30), oy + j(25) - tilt], [ox + w + j(30), oy + j(25) + tilt],
                      [ox + w + j(30), oy + h + j(25) - tilt], [ox + j(30), oy + h + j(25) + tilt]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(img, m, (cw, ch), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (cw, ch)) > 127
    out = np.where(mask[:, :, None], warped, room(rng, cw, ch))
    out = cv2.GaussianBlur(out, (0, 0), 0.9)
    return np.clip(out.astype(np.float32) * 0.85 + rng.normal(0, 3, out.shape) + 8, 0, 255).astype(np.uint8)


def distort(img: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    if kind == "photo":
        return photo(img, rng)
    if kind == "photo_left":
        return photo(img, rng, lean=1.0)
    if kind == "photo_right":
        return photo(img, rng, lean=-1.0)
    if kind == "blur":  # a shaky hand: motion blur along a slanted line, then a defocus
        k = np.zeros((9, 9), np.float32)
        cv2.line(k, (0, 2), (8, 6), 1.0, 1)
        return cv2.GaussianBlur(cv2.filter2D(img, -1, k / k.sum()), (0, 0), 1.2)
    if kind == "crop":  # zoomed in on part of the slide (70 % of each side)
        cw, ch = int(w * 0.7), int(h * 0.7)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return img[y:y + ch, x:x + cw]
    if kind == "glare":  # a projector hot spot and a colour cast, seen slightly askew
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.6)
        spot = np.exp(-(((xx - cx) / (w * 0.25)) ** 2 + ((yy - cy) / (h * 0.3)) ** 2))[:, :, None]
        lit = img.astype(np.float32) * np.array([0.9, 1.0, 1.08]) + 90 * spot
        return photo(np.clip(lit, 0, 255).astype(np.uint8), rng, lean=0.4)
    if kind == "screenshot":  # a screenshot of the player window, scaled
        return cv2.resize(img, (int(w * 0.8), int(h * 0.8)), interpolation=cv2.INTER_AREA)
    raise ValueError(kind)


def unrelated() -> dict[str, np.ndarray]:
    """Pictures the course does not contain: a landscape, an off-topic slide, a whiteboard, a bar chart."""
    rng = np.random.default_rng(99)
    w, h = 960, 640
    out = {}
    land = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(land)
    for y in range(h):
        d.line([0, y, w, y], fill=(int(90 + 100 * y / h), int(150 + 60 * y / h), 235))
    d.ellipse([700, 80, 800, 180], fill=(255, 220, 90))
    for i, (base, col) in enumerate([(430, (60, 120, 70)), (500, (40, 95, 55))]):
        pts = [(x, base - 60 * math.sin(x / (130 + 40 * i) + i) - 30 * math.sin(x / 47))
               for x in range(0, w + 8, 8)]
        d.polygon([(0, h), *pts, (w, h)], fill=col)
    out["unrelated_landscape"] = land
    slide = Image.new("RGB", (w, int(w * 9 / 16)), (255, 255, 255))
    d = ImageDraw.Draw(slide)
    d.text((40, 30), "The French Revolution, 1789", font=font(40), fill=(20, 20, 20))
    for i, line in enumerate(["Estates-General and the Third Estate", "Storming of the Bastille",
                              "Declaration of the Rights of Man"]):
        d.text((60, 120 + 60 * i), "• " + line, font=font(26), fill=(40, 40, 40))
    d.pieslice([620, 280, 860, 520], 0, 250, fill=(200, 60, 60))
    d.pieslice([620, 280, 860, 520], 250, 360, fill=(60, 90, 200))
    out["unrelated_history_slide"] = slide
    board = Image.new("RGB", (w, h), (236, 238, 232))
    d = ImageDraw.Draw(board)
    lines = ["Photosynthesis", "6 CO2 + 6 H2O  ->  C6H12O6 + 6 O2", "light reactions: thylakoid",
             "Calvin cycle: stroma"]
    for i, line in enumerate(lines):
        d.text((60 + 10 * i, 70 + 120 * i), line, font=font(44 if i == 0 else 34), fill=(30, 60, 150))
    out["unrelated_whiteboard"] = board
    chart = Image.new("RGB", (w, int(w * 9 / 16)), (250, 250, 250))
    d = ImageDraw.Draw(chart)
    d.text((40, 24), "Quarterly bakery sales", font=font(38), fill=(20, 20, 20))
    for i, v in enumerate([180, 260, 210, 330]):
        d.rectangle([120 + 180 * i, 480 - v, 220 + 180 * i, 480], fill=(230, 150, 40))
        d.text((140 + 180 * i, 490), f"Q{i + 1}", font=font(24), fill=(40, 40, 40))
    out["unrelated_bakery_chart"] = chart
    return {name: distort(np.asarray(img)[:, :, ::-1].copy(), "photo", rng) for name, img in out.items()}


def save(name: str, img: np.ndarray) -> int:
    h, w = img.shape[:2]
    s = LONG_SIDE / max(h, w)
    if s < 1:
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    path = OUT / f"{name}.jpg"
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    assert ok
    path.write_bytes(buf.tobytes())
    return len(buf)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for i, (name, (what, kind)) in enumerate(SHOTS.items()):
        src = deck_page(what) if isinstance(what, int) else video_frame(*what)
        total += save(name, distort(src, kind, np.random.default_rng(1000 + i)))
    for name, img in unrelated().items():
        total += save(name, img)
    print(f"wrote {len(SHOTS) + 4} images to {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
