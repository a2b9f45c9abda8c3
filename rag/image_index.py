"""A persisted index of slide images (page renders, keyframes) searchable by a photo.

Search = shortlist by global descriptor (whole slide visible) and by ORB-descriptor votes (part of
the slide visible), verify each candidate with a RANSAC homography, then separate near-identical
candidates (incremental builds of one slide) by comparing the aligned photo with each.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rag import vision
from rag.errors import IndexMismatchError
from rag.files import atomic_write
from rag.index import IMAGES_ARRAYS_FILE, IMAGES_META_FILE
from rag.vision import ImageInput, LocalFeatures

INDEX_VERSION = f"ii2/{vision.DESCRIPTOR_VERSION}"
SHORTLIST_GLOBAL = 20
# 15+15 -> 20+25: dev-corpus photos top-5 medium 0.94 -> 0.96, strong 0.72 -> 0.78, +25 % search time
SHORTLIST_VOTES = 25
NEAR_TIE = 0.5  # candidates within this fraction of the best inlier count are compared aligned
ALIGNED_INLIER_WEIGHT = 0.5  # log-dissimilarity units one best-inlier-count is worth
ALIGNED_MIN = 0.5  # below this best aligned similarity the comparison is noise (true photos: 0.9+)


class ImageMatch(NamedTuple):
    """One search result for a photo; unpacks as `key, score, inliers`."""

    key: str
    score: float  # match confidence in [0, 1); >= 0.5 exactly when is_match(inliers)
    inliers: int  # verified correspondences (RANSAC homography)

    @property
    def matched(self) -> bool:
        """True when this is confidently the image the photo shows."""
        return vision.is_match(self.inliers)


# What the index keeps of one picture: global descriptor, 64x48 thumbnail, local features.
Described = tuple[np.ndarray, np.ndarray, LocalFeatures]


def describe(image: ImageInput) -> Described:
    """What the index keeps of a picture (the costly part of `add`; any thread or process can run it)."""
    img = vision.prepare(image)
    return vision.global_descriptor(img), vision.frame_thumbnail(img), vision.local_features(img)


class ImageIndex:
    """Images under string keys (`<chunk_id>:p3`, `<chunk_id>:kf12.0`); saved as index.npz + index.json."""

    def __init__(self, folder: str | Path, *, load: bool = True):
        self.folder = Path(folder)
        self._lock = threading.RLock()
        self._keys: list[str] = []
        self._pos: dict[str, int] = {}
        self._glob: list[np.ndarray] = []  # descriptor of the rectified slide region
        self._thumbs: list[np.ndarray] = []  # 64x48 grey thumbnail of the whole image (aligned check)
        self._feats: list[LocalFeatures] = []
        self._matrix: np.ndarray | None = None
        self._votes: _VoteIndex | None = None
        # Read on first use, not here: a text search builds the services too and never touches the pictures
        # (~30 MB of arrays for a 10-hour course, more for a semester).
        self._unread = load and (self.folder / IMAGES_META_FILE).exists()

    def _ensure_read(self) -> None:
        with self._lock:
            if self._unread:
                self._load()
                self._unread = False

    def __len__(self) -> int:
        self._ensure_read()
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        self._ensure_read()
        return key in self._pos

    def keys(self) -> list[str]:
        """Stored keys, in insertion order."""
        self._ensure_read()
        return list(self._keys)

    def add(self, key: str, image: ImageInput, described: Described | None = None) -> None:
        """Store (or replace) one image under `key` (`described`: its `describe()`, when already computed).
        Call `save()` to persist."""
        entry = described if described is not None else describe(image)
        self._ensure_read()
        with self._lock:
            if key not in self._pos:
                self._pos[key] = len(self._keys)
                self._keys.append(key)
                self._glob.append(entry[0])
                self._thumbs.append(entry[1])
                self._feats.append(entry[2])
            else:
                i = self._pos[key]
                self._glob[i], self._thumbs[i], self._feats[i] = entry
            self._matrix = self._votes = None

    def subset(self, keys: Collection[str]) -> ImageIndex:
        """A new in-memory index of just these keys (e.g. the deck pages keyframes are matched against:
        searching it never waits for, or rebuilds tables after, keyframes added meanwhile)."""
        out = ImageIndex(self.folder, load=False)
        self._ensure_read()
        with self._lock:
            for i, key in enumerate(self._keys):
                if key in keys:
                    out._pos[key] = len(out._keys)
                    out._keys.append(key)
                    out._glob.append(self._glob[i])
                    out._thumbs.append(self._thumbs[i])
                    out._feats.append(self._feats[i])
        return out

    def remove(self, keys: Iterable[str]) -> int:
        """Drop keys (unknown ones are ignored); returns how many were removed."""
        self._ensure_read()
        with self._lock:
            drop = {k for k in keys if k in self._pos}
            if drop:
                keep = [i for i, k in enumerate(self._keys) if k not in drop]
                self._keys = [self._keys[i] for i in keep]
                self._glob = [self._glob[i] for i in keep]
                self._thumbs = [self._thumbs[i] for i in keep]
                self._feats = [self._feats[i] for i in keep]
                self._pos = {k: i for i, k in enumerate(self._keys)}
                self._matrix = self._votes = None
            return len(drop)

    def warm(self) -> None:
        """Build the search tables now (the first search after load/add does it otherwise: ~1 s per 3000)."""
        with self._lock:
            self._tables()

    def _tables(self) -> tuple[np.ndarray, _VoteIndex]:
        self._ensure_read()
        if self._matrix is None:
            self._matrix = _stack(self._glob, vision.GLOBAL_DIM)
        if self._votes is None:
            self._votes = _VoteIndex([f.desc for f in self._feats])
        return self._matrix, self._votes

    def search(self, image: ImageInput, k: int = 5, *,
               allowed: Collection[str] | None = None) -> list[ImageMatch]:
        """The stored images a photo most likely shows, best first; check `.matched` before trusting one.

        `allowed` restricts the search to those keys (e.g. only PDF pages when aligning keyframes).
        """
        img = _upscale_small(vision.prepare(image))
        qf = vision.local_features(img, max_features=vision.QUERY_FEATURES)
        probes = np.stack([vision.global_descriptor(img), vision.global_descriptor(img, rectify=False)])
        self._ensure_read()
        with self._lock:
            if not self._keys:
                return []
            matrix, vote_index = self._tables()
            sims = (matrix @ probes.T).max(1)
            votes = vote_index.votes(qf.desc)
            if allowed is not None:
                mask = np.fromiter((key in allowed for key in self._keys), bool, len(self._keys))
                if not mask.any():
                    return []
                sims, votes = np.where(mask, sims, -np.inf), np.where(mask, votes, -np.inf)
            cand = _union_top([sims, votes], [SHORTLIST_GLOBAL, SHORTLIST_VOTES])
            snapshot = [(self._keys[i], float(sims[i]), self._feats[i], self._thumbs[i]) for i in cand]
        if allowed is not None:
            snapshot = [c for c in snapshot if c[0] in allowed]
        verified = []
        for key, sim, feats, thumb in snapshot:
            inliers, h = vision.match_homography(qf, feats)
            verified.append((key, sim, inliers, h, feats.size, thumb))
        return _rank(img, verified)[:k]

    def save(self) -> None:
        """Write index.npz, then index.json (each replaced atomically)."""
        self._ensure_read()
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            counts = [len(f.desc) for f in self._feats]
            arrays: dict[str, Any] = {
                "keys": np.array(self._keys, dtype=str),
                "global": _stack(self._glob, vision.GLOBAL_DIM),
                "thumbs": np.stack(self._thumbs) if self._thumbs else np.zeros((0, 48, 64), np.uint8),
                "offsets": np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
                "xy": np.concatenate([f.xy for f in self._feats] + [np.zeros((0, 2), np.float32)]),
                "desc": np.concatenate([f.desc for f in self._feats] + [np.zeros((0, 32), np.uint8)]),
                "sizes": np.array([f.size for f in self._feats], dtype=np.int32).reshape(-1, 2),
            }
            atomic_write(self.folder / IMAGES_ARRAYS_FILE, lambda fh: np.savez(fh, **arrays))
            meta = {"version": INDEX_VERSION, "count": len(self._keys)}
            atomic_write(self.folder / IMAGES_META_FILE, lambda fh: fh.write(json.dumps(meta).encode()))

    def _load(self) -> None:
        meta = json.loads((self.folder / IMAGES_META_FILE).read_text())
        remedy = f"Delete {self.folder} and re-ingest the course."
        if meta.get("version") != INDEX_VERSION:
            raise IndexMismatchError(f"The image index in {self.folder} has format {meta.get('version')!r}, "
                                     f"this version reads {INDEX_VERSION!r}. {remedy}")
        with np.load(self.folder / IMAGES_ARRAYS_FILE, allow_pickle=False) as z:
            keys = [str(k) for k in z["keys"]]
            if len(keys) != meta.get("count"):
                raise IndexMismatchError(f"The image index in {self.folder} is inconsistent "
                                         f"(index.json and index.npz disagree). {remedy}")
            off, xy, desc, sizes = z["offsets"], z["xy"], z["desc"], z["sizes"]
            self._keys = keys
            self._pos = {k: i for i, k in enumerate(keys)}
            self._glob = list(z["global"].astype(np.float32))
            self._thumbs = list(z["thumbs"])
            self._feats = [LocalFeatures(xy[off[i]:off[i + 1]], desc[off[i]:off[i + 1]],
                                         (int(sizes[i][0]), int(sizes[i][1]))) for i in range(len(keys))]


UPSCALE_BELOW = 800  # a query smaller than this (a video frame, a crop) is enlarged before ORB


def _upscale_small(img: np.ndarray) -> np.ndarray:
    # ORB finds few, coarse keypoints on a 640x360 frame or a cropped figure; enlarged to the
    # working size the same frame verifies with ~5x the inliers (measured on the sample course:
    # keyframe vs page 45-84 -> 205-362 inliers, wrong pages stay <= 26).
    import cv2

    h, w = img.shape[:2]
    if max(h, w) >= UPSCALE_BELOW or min(h, w) < 8:
        return img
    s = vision.FEATURE_SIDE / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)


def _rank(img: np.ndarray, verified: list) -> list[ImageMatch]:
    best = max((v[2] for v in verified), default=0)
    near, rest = [], []
    strongest_compared = True
    for key, sim, inliers, h, size, thumb in verified:
        match = ImageMatch(key, vision.match_score(inliers), inliers)
        aligned = None
        # Incremental builds of one slide verify almost equally well; the aligned comparison sees
        # the bullet or panel that differs.
        if h is not None and vision.is_match(inliers) and inliers >= NEAR_TIE * best:
            aligned = vision.aligned_similarity(img, h, size, thumb)
        if aligned is None:
            strongest_compared &= inliers < best
            rest.append((-inliers, -sim, match))
        else:
            # Dissimilarities compare by ratio: 0.00006 vs 0.0018 (an arrow that differs, 0.9999 vs
            # 0.998 similarity) is decisive, 0.298 vs 0.297 (a photo with room background warped
            # over every candidate) is noise, which the relative inlier count then outweighs.
            order = math.log(max(1.0 - aligned, 0.0) + 1e-4) - ALIGNED_INLIER_WEIGHT * inliers / best
            near.append((order, -inliers, -sim, aligned, match))
    if not strongest_compared or max((t[3] for t in near), default=0.0) < ALIGNED_MIN:
        # The best-verified candidate could not be compared (the photo is a crop of it), or the
        # aligned photo looks like none of them: the comparison says nothing, so weaker
        # candidates must not jump ahead: plain inlier order. (Dev corpus, photos cropped to 85 %:
        # 13 of 20 top-1 misses were this.)
        rest += [(i, s, m) for _, i, s, _, m in near]
        return [m for *_, m in sorted(rest, key=lambda t: t[:2])]
    # compared candidates are the strongest verified ones, so they lead
    return [t[-1] for t in sorted(near, key=lambda t: t[:3])] + \
        [m for *_, m in sorted(rest, key=lambda t: t[:2])]


def _union_top(scores: Sequence[np.ndarray], counts: Sequence[int]) -> list[int]:
    seen: dict[int, None] = {}
    for s, n in zip(scores, counts, strict=True):
        n = min(n, len(s))
        top = np.argpartition(-s, n - 1)[:n]
        for i in top[np.argsort(-s[top], kind="stable")]:
            seen.setdefault(int(i), None)
    return list(seen)


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)


class _VoteIndex:
    """Locality-sensitive hashing of ORB descriptors: which stored images share many features with a query.

    Each table keys descriptors by 22 of their 256 bits; a query descriptor votes for the images in
    its bucket, weighted 1/sqrt(bucket size) (common patterns such as letters say little).
    """

    TABLES = 6
    BITS = 22
    PER_IMAGE = 300  # the best-spread prefix of each image's features (memory: ~36 B per descriptor)
    BUCKET_CAP = 200
    SEED = 20240611

    def __init__(self, descs: list[np.ndarray]):
        rng = np.random.default_rng(self.SEED)
        self.n = len(descs)
        self.bits = [rng.choice(256, self.BITS, replace=False) for _ in range(self.TABLES)]
        parts = [d[:self.PER_IMAGE] for d in descs]
        ids = np.concatenate([np.full(len(p), i, dtype=np.int32) for i, p in enumerate(parts)] +
                             [np.zeros(0, np.int32)])
        all_desc = np.concatenate(parts + [np.zeros((0, 32), np.uint8)])
        self.tables = []
        for sel in self.bits:
            keys = _hash_bits(all_desc, sel)
            order = np.argsort(keys, kind="stable")
            self.tables.append((keys[order], ids[order]))

    def votes(self, qdesc: np.ndarray) -> np.ndarray:
        v = np.zeros(self.n, dtype=np.float64)
        if len(qdesc) == 0:
            return v
        for sel, (keys, ids) in zip(self.bits, self.tables, strict=True):
            qk = _hash_bits(qdesc, sel)
            lo = np.searchsorted(keys, qk, "left")
            size = np.searchsorted(keys, qk, "right") - lo
            ok = (size > 0) & (size <= self.BUCKET_CAP)
            lo, size = lo[ok], size[ok]
            if not len(lo):
                continue
            starts = np.repeat(lo - (np.cumsum(size) - size), size)
            idx = starts + np.arange(int(size.sum()))
            v += np.bincount(ids[idx], weights=np.repeat(size ** -0.5, size), minlength=self.n)
        return v


def _hash_bits(desc: np.ndarray, sel: np.ndarray) -> np.ndarray:
    key = np.zeros(len(desc), dtype=np.uint32)
    for j, b in enumerate(sel):
        key |= ((desc[:, b >> 3] >> (b & 7)) & 1).astype(np.uint32) << np.uint32(j)
    return key
