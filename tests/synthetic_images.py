"""Synthetic slides, unrelated photos and "phone photo" distortions for vision/OCR tests and bench."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

WORDS = ("gradient descent convergence matrix eigenvalue vector kernel network layer bayes prior posterior "
         "sampling entropy protocol router packet tunnel encryption genome alignment reads quality index "
         "variance estimator regression cluster graph tree search heap queue cache memory thread lock "
         "signal filter fourier spectrum model loss error bias").split()
DISTORTIONS = ("perspective", "rotate5", "crop60", "blur", "jpeg40", "brightness", "phone")


def _font(size: int):
    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)


def make_slide(seed: int, size: tuple[int, int] = (1280, 720), title: str | None = None) -> np.ndarray:
    """A BGR slide: shared template (header bar, footer) + title, bullets and a random diagram."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 18], fill=(20, 60, 120))  # template parts every slide shares
    d.text((40, h - 40), "Course 101 - Lecture 3", font=_font(20), fill=(90, 90, 90))
    d.text((w - 90, h - 40), str(seed), font=_font(20), fill=(90, 90, 90))
    title = title or " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 4)))
    d.text((50, 40), title, font=_font(48), fill=(10, 10, 10))
    for i in range(rng.randint(3, 5)):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6)))
        d.text((70, 140 + i * 60), "- " + words, font=_font(28), fill=(30, 30, 30))
    _diagram(d, rng, (w // 2 + 60, 140, w - 50, h - 80))
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])


def _diagram(d, rng: random.Random, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    kind = rng.choice(["bars", "boxes", "circles"])
    color = tuple(rng.randint(0, 200) for _ in range(3))
    if kind == "bars":
        n = rng.randint(4, 8)
        bw = (x1 - x0) // n
        for i in range(n):
            top = rng.randint(y0, y1 - 30)
            d.rectangle([x0 + i * bw + 5, top, x0 + (i + 1) * bw - 5, y1], fill=color)
        d.line([x0, y1, x1, y1], fill=(0, 0, 0), width=3)
    elif kind == "boxes":
        pts = []
        for _ in range(rng.randint(3, 5)):
            bx, by = rng.randint(x0, x1 - 120), rng.randint(y0, y1 - 60)
            d.rectangle([bx, by, bx + 120, by + 60], outline=color, width=4)
            d.text((bx + 10, by + 18), rng.choice(WORDS), font=_font(20), fill=(0, 0, 0))
            pts.append((bx + 60, by + 30))
        for a, b in zip(pts, pts[1:], strict=False):
            d.line([a, b], fill=(0, 0, 0), width=3)
    else:
        for _ in range(rng.randint(4, 9)):
            r = rng.randint(15, 60)
            cx, cy = rng.randint(x0 + r, x1 - r), rng.randint(y0 + r, y1 - r)
            c = tuple(rng.randint(0, 220) for _ in range(3))
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=c, width=5)


def make_unrelated(seed: int, size: tuple[int, int] = (1280, 960)) -> np.ndarray:
    """A photo-like BGR image with no slide: smooth noise, blobs and polygons."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    base = cv2.resize(rng.integers(0, 255, (h // 40, w // 40, 3), dtype=np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    for _ in range(25):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(20, 200)), int(rng.integers(20, 200)))
            cv2.ellipse(base, center, axes, float(rng.integers(0, 180)), 0, 360, c, -1)
        else:
            pts = rng.integers(0, [w, h], (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(base, [pts], c)
    noise = rng.normal(0, 12, base.shape)
    return np.clip(cv2.GaussianBlur(base, (0, 0), 2) + noise, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    import cv2

    g = np.linspace(30, 90, h)[:, None, None] * np.ones((1, w, 3))  # dim room / wall gradient
    tex = cv2.resize(rng.normal(0, 25, (h // 16, w // 16, 3)), (w, h))
    return np.clip(g + tex + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def distort(slide: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """A "phone photo" of a BGR slide; `kind` is one of DISTORTIONS."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = slide.shape[:2]
    if kind in ("perspective", "phone"):
        cw, ch = int(w * 1.5), int(h * 1.6)
        j = lambda s: rng.uniform(-s, s)  # noqa: E731
        ox, oy = (cw - w) / 2, (ch - h) / 2
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[ox + j(60), oy + j(50)], [ox + w + j(60), oy + j(90)],
                          [ox + w + j(60), oy + h + j(90)], [ox + j(60), oy + h + j(50)]])
        m = cv2.getPerspectiveTransform(src, dst)
        bg = _background(rng, cw, ch)
        warped = cv2.warpPerspective(slide, m, (cw, ch), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (cw, ch)) > 127
        out = np.where(mask[:, :, None], warped, bg)
        if kind == "phone":
            out = cv2.GaussianBlur(out, (0, 0), 1.2)
            out = np.clip(out.astype(np.float32) * 0.8 + 10, 0, 255).astype(np.uint8)
            out = _jpeg(out, 40)
        return out
    if kind == "rotate5":
        cw, ch = int(w * 1.25), int(h * 1.3)
        bg = _background(rng, cw, ch)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 5.0, 1.0)
        m[:, 2] += [(cw - w) / 2, (ch - h) / 2]
        warped = cv2.warpAffine(slide, m, (cw, ch), flags=cv2.INTER_LINEAR)
        mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (cw, ch)) > 127
        return np.where(mask[:, :, None], warped, bg)
    if kind == "crop60":  # a window of 60% of the width and 60% of the height (36% of the area)
        cw, ch = int(w * 0.6), int(h * 0.6)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return cv2.resize(slide[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    if kind == "blur":
        return cv2.GaussianBlur(slide, (0, 0), 2.5)
    if kind == "jpeg40":
        return _jpeg(slide, 40)
    if kind == "brightness":
        return np.clip(slide.astype(np.float32) * 0.55 + 25, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown distortion {kind!r}")


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def render_pdf_page(path: str | Path, index: int, max_side: int = 1000) -> np.ndarray:
    """One PDF page (0-based) as a BGR array, scaled so its longest side is `max_side` px."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        page = doc[index]
        w, h = page.get_size()
        pil = page.render(scale=max_side / max(w, h)).to_pil().convert("RGB")
        return np.ascontiguousarray(np.asarray(pil)[:, :, ::-1])
    finally:
        doc.close()
