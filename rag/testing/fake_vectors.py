"""The fake Gemini embedding model: deterministic, meaningful vectors for REST `parts`.

Words and character trigrams of text parts, and a bottom-k sketch of byte 8-gram hashes of media
parts, are spread over 3072 dimensions by signed hashing (a sparse random projection), so similar
inputs get close vectors and identical media bytes the same vector. Instruction scaffolding
(`task: ... | query:`, `title: ... | text:`) and stopwords are ignored, as a real model would
look past them. As with the real models the 3072-d vector is unit length and a smaller
dimension is its MRL-style prefix, which is NOT unit length: clients must normalise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np

FULL_DIM = 3072
_BANDS = ((0, 768, 8), (768, 1536, 8), (1536, 3072, 16))  # (start, end, probes): prefixes stay dense
_MEDIA_SCAN_BYTES = 4_000_000
_MEDIA_SKETCH = 256
_SCAFFOLD = re.compile(r"^\s*task:[^|]*\|\s*query:|^\s*title:(\s*none\s*(?=\|))?|\|\s*text:", re.I)
_STOP = frozenset(
    "a an and are as at be by do does for from how in is it of on or that the this to "
    "what when where which who why with".split()
)
_B64 = str.maketrans("-_", "+/")


class InvalidRequest(Exception):
    """The request is malformed; the fake server answers 400 INVALID_ARGUMENT."""


@lru_cache(maxsize=16384)
def _probe(feature: str) -> tuple[np.ndarray, np.ndarray]:
    """Where one feature lands: 32 (index, sign) pairs, spread over the MRL bands."""
    raw = np.frombuffer(hashlib.blake2b(feature.encode(), digest_size=64).digest(), dtype="<u2")
    raw = raw.astype(np.int64)
    idx, at = [], 0
    for start, end, n in _BANDS:
        idx.append(start + raw[at : at + n] % (end - start))
        at += n
    bits = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=4, person=b"sign").digest(), "little")
    signs = np.array([1.0 if bits >> i & 1 else -1.0 for i in range(32)])
    return np.concatenate(idx), signs


def _project(weights: dict[str, float]) -> np.ndarray:
    vec = np.zeros(FULL_DIM)
    for feature, w in weights.items():
        idx, signs = _probe(feature)
        np.add.at(vec, idx, w * signs)
    norm = np.linalg.norm(vec)
    return vec / norm if norm else vec


def _text_features(text: str) -> dict[str, float]:
    words = [w for w in re.findall(r"\w+", _SCAFFOLD.sub(" ", text).lower()) if w not in _STOP]
    weights: defaultdict[str, float] = defaultdict(float)
    for w in words:
        weights["w:" + w] += 1.0
        padded = f"#{w}#"
        for i in range(len(padded) - 2):
            weights["c:" + padded[i : i + 3]] += 0.25
    return dict(weights) or {"raw:" + text: 1.0}


def _media_features(data: bytes) -> dict[str, float]:
    arr = np.frombuffer(data[:_MEDIA_SCAN_BYTES], dtype=np.uint8).astype(np.uint64)
    if len(arr) < 8:
        return {"bytes:" + data.hex(): 1.0}
    n = len(arr) - 7
    h = np.zeros(n, dtype=np.uint64)
    for j in range(8):  # polynomial hash of every 8-byte window (uint64 arithmetic wraps)
        h = h * np.uint64(1099511628211) + arr[j : j + n]
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x9E3779B97F4A7C15)
    if n > _MEDIA_SKETCH:
        h = np.partition(h, _MEDIA_SKETCH)[:_MEDIA_SKETCH]
    return {f"b:{v}": 1.0 for v in np.unique(h)}


def _part_vector(part: dict[str, Any]) -> np.ndarray:
    if isinstance(part.get("text"), str):
        return _project(_text_features(part["text"]))
    blob = part.get("inline_data") or part.get("inlineData")
    if isinstance(blob, dict):
        try:
            # google-genai sends URL-safe base64; protobuf JSON accepts both alphabets.
            data = base64.b64decode(str(blob.get("data") or "").translate(_B64), validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidRequest(f"Invalid value at 'inline_data.data': not base64 ({e})") from e
        if not (blob.get("mime_type") or blob.get("mimeType")):
            raise InvalidRequest("inline_data.mime_type is required")
        return _project(_media_features(data))
    ref = part.get("file_data") or part.get("fileData")
    if isinstance(ref, dict):
        return _project({"uri:" + str(ref.get("file_uri") or ref.get("fileUri")): 1.0})
    raise InvalidRequest(f"Unsupported part for embedding: keys {sorted(part)}")


def embed_parts(parts: list[dict[str, Any]], dimension: int = FULL_DIM) -> list[float]:
    """The fake model: one vector for the REST parts of one Content (prefix of a unit 3072-d vector)."""
    if not parts:
        raise InvalidRequest("content.parts must not be empty")
    if not 1 <= dimension <= FULL_DIM:
        raise InvalidRequest(f"outputDimensionality must be between 1 and {FULL_DIM}, got {dimension}")
    vec = sum((_part_vector(p) for p in parts), np.zeros(FULL_DIM))
    norm = np.linalg.norm(vec)
    return [float(x) for x in (vec / norm if norm else vec)[:dimension]]
