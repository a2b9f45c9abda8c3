"""Classical image matching for "which slide is this photo of" (no learned image model ships offline).

Per image: find and rectify the slide in a frame or photo (`slide_region`), a compact global
descriptor for shortlisting (`global_descriptor`), ORB keypoints for verification
(`local_features`, `verify`: ratio test + RANSAC homography). `rag.image_index.ImageIndex` stores
and searches them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from rag.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

ImageInput = Union[bytes, str, Path, np.ndarray, "PILImage"]

DESCRIPTOR_VERSION = "gd2-thumb16x12-hog6x6x8+orb800@1024"
GLOBAL_DIM = 16 * 12 + 6 * 6 * 8  # 480
MAX_FEATURES = 800  # per stored image: 800 x 40 bytes; ~100 MB for 3000 images
QUERY_FEATURES = 1000
FEATURE_SIDE = 1024  # local features are computed on the image resized to this longest side
# A photo "is" a stored image when RANSAC keeps at least this many distinct correspondences.
# Calibrated with bench/image_match.py on the dev corpus: unrelated photos reach <= 4; a photo of a
# slide that is not indexed reaches <= 15 on other courses but 27-36 on another lecture of the same
# course (shared logo/template); true top-1 matches have median ~145, 5th percentile ~50.
MATCH_MIN_INLIERS = 40


# ---------------------------------------------------------------- loading


def load_bgr(image: ImageInput) -> np.ndarray:
    """An 8-bit BGR array from PNG/JPEG bytes, a path, a PIL image or an array (taken as BGR)."""
    import cv2

    if isinstance(image, (bytes, bytearray, memoryview)):
        img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)  # applies EXIF rotation
        if img is None:
            raise InputError("Could not read the uploaded image: it is not a PNG or JPEG. "
                             "Upload a PNG or JPEG screenshot or photo.")
        return img
    if isinstance(image, (str, Path)):
        # np.fromfile + imdecode: cv2.imread cannot open non-ASCII paths on every platform.
        img = cv2.imdecode(np.fromfile(str(image), np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"Could not read the image file {image}: it is not a PNG or JPEG. "
                             "Convert it to PNG or JPEG.")
        return img
    if hasattr(image, "convert") and not isinstance(image, np.ndarray):  # PIL.Image
        return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        scale = 255.0 if arr.dtype.kind == "f" and arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    raise ValueError(f"Expected an HxW or HxWx3/4 image array, got shape {arr.shape}.")


def prepare(image: ImageInput) -> np.ndarray:
    """A BGR image no larger than the working size (1024 px), for calling several functions here."""
    return _resize_max(load_bgr(image), FEATURE_SIDE)[0]


def _resize_max(img: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    import cv2

    h, w = img.shape[:2]
    s = side / max(h, w)
    if s >= 1.0:
        return img, 1.0
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


# ---------------------------------------------------------------- slide region


def find_slide_quad(image: ImageInput) -> np.ndarray | None:
    """Corners (tl, tr, br, bl) of the slide inside a photo/frame, or None when it fills the image."""
    import cv2

    img = load_bgr(image)
    small, s = _resize_max(img, 512)
    gray = cv2.GaussianBlur(_gray(small), (5, 5), 0)
    area = gray.shape[0] * gray.shape[1]
    best: tuple[float, np.ndarray] | None = None
    for mask in _region_masks(gray):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            if cv2.contourArea(c) < 0.12 * area:
                continue
            quad = _fit_quad(c)
            if quad is None:
                continue
            frac = cv2.contourArea(quad) / area
            if not 0.12 <= frac <= 0.93 or not _plausible_quad(quad) or not _stands_out(gray, quad):
                continue
            if best is None or frac > best[0]:
                best = (frac, quad)
    return None if best is None else (best[1] / s).astype(np.float32)


def _region_masks(gray: np.ndarray) -> Iterable[np.ndarray]:
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    # (a) bright area: a projected or displayed slide is usually the brightest large region
    _, bright = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    yield cv2.morphologyEx(bright, cv2.MORPH_CLOSE, k, iterations=2)
    # (b) strong edges: the slide/screen border
    med = float(np.median(gray))
    edges = cv2.Canny(gray, int(max(0, 0.66 * med)), int(min(255, 1.33 * med)) or 50)
    yield cv2.dilate(edges, k, iterations=1)


def _fit_quad(contour: np.ndarray) -> np.ndarray | None:
    import cv2

    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    for eps in (0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return _order_corners(approx.reshape(4, 2).astype(np.float32))
    return None


def _order_corners(pts: np.ndarray) -> np.ndarray:
    s = pts.sum(1)
    d = pts[:, 1] - pts[:, 0]
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]],
                    dtype=np.float32)


def _plausible_quad(q: np.ndarray) -> bool:
    if len({tuple(p) for p in q.round(1)}) < 4:
        return False
    for i in range(4):
        a, b, c = q[i - 1], q[i], q[(i + 1) % 4]
        v1, v2 = a - b, c - b
        cos = float(v1 @ v2 / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-9))
        if abs(cos) > 0.6:  # interior angle outside ~53°–127°
            return False
    w = float(np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    h = float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    return 0.4 <= w / max(h, 1e-6) <= 3.0


def _stands_out(gray: np.ndarray, quad: np.ndarray) -> bool:
    # A slide in a photo is brighter than what surrounds it (dark room, wall, desk) right at its
    # border; a dark figure or photo inside a full-screen slide is darker than the slide around it.
    # Compare thin bands just inside and just outside the quad. (Dark-themed slides on a bright
    # wall fall back to the whole image, which local features still match.)
    import cv2

    c = quad.mean(0)
    band = 0.04
    inner = (c + (quad - c) * (1 - band)).astype(np.int32)
    outer = (c + (quad - c) * (1 + band)).astype(np.int32)
    m_in, m_out, m_inner = (np.zeros_like(gray) for _ in range(3))
    cv2.fillPoly(m_out, [outer], 255)
    cv2.fillPoly(m_in, [quad.astype(np.int32)], 255)
    cv2.fillPoly(m_inner, [inner], 255)
    ring_out = cv2.subtract(m_out, m_in)
    ring_in = cv2.subtract(m_in, m_inner)
    if not ring_out.any() or not ring_in.any():
        return False
    return cv2.mean(gray, ring_in)[0] - cv2.mean(gray, ring_out)[0] >= 25


def slide_region(image: ImageInput, *, max_depth: int = 3) -> np.ndarray:
    """The slide inside a frame or phone photo, perspective-corrected; the whole image if none found.

    Repeats inside the result (a photo of a page that itself frames the slide on a grey border
    ends at the same innermost slide as the page render does).
    """
    img = load_bgr(image)
    for _ in range(max_depth):
        quad = find_slide_quad(img)
        if quad is None:
            break
        img = _rectify(img, quad)
    return img


def _rectify(img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    import cv2

    tl, tr, br, bl = quad
    w = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    h = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad, dst)
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


# ---------------------------------------------------------------- global descriptor


def global_descriptor(image: ImageInput, *, rectify: bool = True) -> np.ndarray:
    """A 480-d L2-normalised float32 vector: normalised 16x12 thumbnail + 6x6 gradient-orientation grid."""
    import cv2

    img = slide_region(image) if rectify else load_bgr(image)
    g: np.ndarray = cv2.resize(_gray(img), (128, 96), interpolation=cv2.INTER_AREA).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 1.5)  # blur/JPEG robustness: only coarse structure counts
    thumb = cv2.resize(g, (16, 12), interpolation=cv2.INTER_AREA).ravel()
    thumb = _unit(thumb - thumb.mean())  # brightness/contrast invariant
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    mag, ang = cv2.cartToPolar(gx, gy)
    bins = ((ang % np.pi) / np.pi * 8).astype(np.int32) % 8  # unsigned orientation, 8 bins
    cell_y = (np.arange(96) * 6 // 96)[:, None]
    cell_x = (np.arange(128) * 6 // 128)[None, :]
    idx = (cell_y * 6 + cell_x) * 8 + bins
    hog = np.bincount(idx.ravel(), weights=mag.ravel(), minlength=6 * 6 * 8).astype(np.float32)
    hog = _unit(np.sqrt(hog))  # Hellinger-style: damp a few dominant edges
    return _unit(np.concatenate([thumb, hog]))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n if n > 1e-12 else v).astype(np.float32)


# ---------------------------------------------------------------- local features


@dataclass(frozen=True)
class LocalFeatures:
    """ORB keypoints (x, y in the resized image) and their 32-byte descriptors; `size` is (w, h)."""

    xy: np.ndarray  # (n, 2) float32
    desc: np.ndarray  # (n, 32) uint8
    size: tuple[int, int]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for `np.savez`."""
        return {"xy": self.xy, "desc": self.desc, "size": np.array(self.size, dtype=np.int32)}

    @classmethod
    def from_arrays(cls, arrays: Any) -> LocalFeatures:
        """Inverse of `to_arrays` (accepts an opened .npz)."""
        size = arrays["size"]
        return cls(xy=np.asarray(arrays["xy"], np.float32), desc=np.asarray(arrays["desc"], np.uint8),
                   size=(int(size[0]), int(size[1])))


_orb_local = threading.local()


def local_features(image: ImageInput, *, max_features: int = MAX_FEATURES) -> LocalFeatures:
    """ORB keypoints/descriptors of an image resized to 1024 px on its longest side (capped count)."""
    import cv2

    img, _ = _resize_max(_gray(load_bgr(image)), FEATURE_SIDE)
    if min(img.shape) < 1:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), (0, 0))
    orb = getattr(_orb_local, "orb", None)  # detectors are not thread-safe; one per thread
    if orb is None:
        orb = _orb_local.orb = cv2.ORB.create(fastThreshold=12)
    orb.setMaxFeatures(max_features * 2)
    # Detect twice the cap, then keep the strongest spread over a 4x4 grid so one dense text block
    # does not take every keypoint.
    kps, desc = orb.detectAndCompute(img, None)
    if desc is None or not kps:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8),
                             (img.shape[1], img.shape[0]))
    xy = np.array([k.pt for k in kps], dtype=np.float32)
    resp = np.array([k.response for k in kps], dtype=np.float32)
    keep = _spread(xy, resp, img.shape[1], img.shape[0], max_features)
    return LocalFeatures(xy[keep], desc[keep], (img.shape[1], img.shape[0]))


def _spread(xy: np.ndarray, resp: np.ndarray, w: int, h: int, cap: int) -> np.ndarray:
    cell = (np.minimum(xy[:, 1] * 4 // max(h, 1), 3) * 4
            + np.minimum(xy[:, 0] * 4 // max(w, 1), 3)).astype(int)
    order = np.lexsort((-resp, cell))  # by cell, strongest first
    rank = np.empty(len(xy), dtype=np.int64)
    starts = np.searchsorted(cell[order], np.arange(16))
    rank[order] = np.arange(len(xy)) - starts[cell[order]]  # rank within its cell
    # round-robin over cells: all rank-0 first, then rank-1, ..., strongest first within a rank
    return np.lexsort((-resp, rank))[:cap]  # priority order: any prefix is a well-spread subset


def match_homography(query: LocalFeatures, cand: LocalFeatures, *,
                     ratio: float = 0.8) -> tuple[int, np.ndarray | None]:
    """(inliers, homography mapping query pixels to candidate pixels); (0, None) when implausible."""
    import cv2

    if len(query.desc) < 8 or len(cand.desc) < 8:
        return 0, None
    # The two nearest stored descriptors of each query descriptor as arrays: what BFMatcher.knnMatch(k=2)
    # computes (it calls batchDistance), without building a DMatch object per pair (that took over half
    # of a keyframe-vs-deck search).
    dist, nidx = cv2.batchDistance(query.desc, cand.desc, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=2)
    ok = (nidx[:, 1] >= 0) & (dist[:, 0] < ratio * dist[:, 1])
    good_q = np.flatnonzero(ok)
    if len(good_q) < 8:
        return 0, None
    good_t = nidx[good_q, 0]
    src = query.xy[good_q]
    dst = cand.xy[good_t]
    thresh = 0.006 * max(cand.size) + 2.0
    h, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, thresh, maxIters=2000, confidence=0.995)
    if h is None or mask is None:
        return 0, None
    inl = mask.ravel().astype(bool)
    if not _plausible_homography(h, src[inl], dst[inl], query.size, cand.size):
        return 0, None
    # distinct stored keypoints: many query points snapping to one stored point is not evidence
    return len(np.unique(good_t[inl])), h / h[2, 2]


def _plausible_homography(h: np.ndarray, src: np.ndarray, dst: np.ndarray,
                          qsize: tuple[int, int], csize: tuple[int, int]) -> bool:
    # RANSAC on repetitive text happily fits degenerate maps (everything onto a line) or a small
    # shared element (a logo, the course footer). A photo of a slide maps by a well-conditioned,
    # mildly perspective homography and its inliers spread over part of both images.
    import cv2

    if abs(h[2, 2]) < 1e-9 or len(src) < 4:
        return False
    h = h / h[2, 2]
    sv = np.linalg.svd(h[:2, :2], compute_uv=False)
    if not (1 / 8 < sv[1] and sv[0] < 8 and sv[0] / sv[1] < 3):
        return False
    if abs(h[2, 0]) * qsize[0] > 1.5 or abs(h[2, 1]) * qsize[1] > 1.5:  # strong but not absurd perspective
        return False
    q_area = cv2.contourArea(cv2.convexHull(src)) / (qsize[0] * qsize[1])
    c_area = cv2.contourArea(cv2.convexHull(dst)) / (csize[0] * csize[1])
    return q_area >= 0.01 and c_area >= 0.015


def match_score(inliers: int) -> float:
    """Confidence in [0, 1) from an inlier count; 0.5 exactly at the match threshold."""
    return inliers / (inliers + MATCH_MIN_INLIERS)


def is_match(inliers: int) -> bool:
    """True when a verified inlier count is strong enough to say "this photo shows that image"."""
    return inliers >= MATCH_MIN_INLIERS


THUMB_SIZE = (64, 48)  # (w, h) of the stored frame thumbnail used by `aligned_similarity`


def frame_thumbnail(image: ImageInput) -> np.ndarray:
    """A 64x48 uint8 grayscale thumbnail of the whole image (3 KB; stored per indexed image)."""
    import cv2

    return cv2.resize(_gray(prepare(image)), THUMB_SIZE, interpolation=cv2.INTER_AREA)


def _ncc_ready(thumb: np.ndarray) -> np.ndarray:
    import cv2

    t = cv2.GaussianBlur(thumb.astype(np.float32), (0, 0), 0.8)
    t -= t.mean()
    return (t / (np.linalg.norm(t) + 1e-6)).ravel()


def aligned_similarity(query: ImageInput, h: np.ndarray, cand_size: tuple[int, int],
                       cand_thumb: np.ndarray, *, min_cover: float = 0.8) -> float | None:
    """Normalised cross-correlation of the query warped onto a candidate's frame with its thumbnail.

    Separates near-identical slides (incremental builds: one more bullet) once a homography is
    known; None when the query shows less than `min_cover` of the candidate (a crop).
    """
    import cv2

    q = _gray(prepare(query))  # the frame `h` was estimated in
    w, hh = cand_size
    corners = np.array([[0, 0], [q.shape[1], 0], [q.shape[1], q.shape[0]], [0, q.shape[0]]], dtype=np.float32)
    proj = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), h).reshape(-1, 2)
    covered, _ = cv2.intersectConvexConvex(proj, np.array([[0, 0], [w, 0], [w, hh], [0, hh]], dtype=np.float32))
    if covered < min_cover * w * hh:
        return None
    warped = cv2.warpPerspective(q, h, (w, hh), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    thumb = cv2.resize(warped, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return float(_ncc_ready(thumb) @ _ncc_ready(cand_thumb))
