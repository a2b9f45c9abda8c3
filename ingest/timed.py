"""What video and audio ingest share: titles, loudness and silences, caption cues, segment chunks,
stage progress, container timing."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from ingest.captions import Cue, find_sidecar, read_captions, sentence_ends
from ingest.segment import PAUSE, SENTENCE_END, SILENCE
from rag.ids import chunk_id, sha256_file
from rag.index import ViewName
from rag.types import Chunk, EmbedItem, MediaPart, Source, SourceKind, TimeSpan, TranscriptOrigin, View

if TYPE_CHECKING:
    import av

Progress = Callable[[int, int], None]  # (done, total): the pipeline's progress bar; we report percent
Step = Callable[[str, float], None]  # (stage, fraction of that stage done in [0, 1])
_STAGES = {"analyse": (0, 70), "keyframes": (70, 85), "clips": (85, 95), "chunks": (95, 100)}

RMS_RATE = 16000  # loudness is measured on mono 16 kHz
HOP_S = 0.125  # windows of 0.25 s every 0.125 s
MIN_SILENCE_S = 0.6
_UNIT_WORDS = {"lecture": "Lecture", "lec": "Lecture", "week": "Week", "session": "Session",
               "class": "Class", "module": "Module", "unit": "Unit", "part": "Part", "chapter": "Chapter",
               "day": "Day", "topic": "Topic"}
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}


def title_from_filename(name: str) -> str:
    """`lecture1_supervised.mp4` → `Lecture 1 · Supervised`; a bare number becomes `Lecture N`."""
    stem = PurePosixPath(name).stem
    stem = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)  # camelCase → camel Case
    tokens = re.findall(r"[^\W\d_]+|\d+", stem)
    if not tokens:
        return stem or name
    head = ""
    for i, tok in enumerate(tokens):
        if tok.isdigit():
            unit = "Lecture"
            if i > 0 and tokens[i - 1].lower() in _UNIT_WORDS:
                unit = _UNIT_WORDS[tokens[i - 1].lower()]
                del tokens[i - 1]
                i -= 1
            head = f"{unit} {int(tok)}"
            del tokens[i]
            break
    rest = _title_words(tokens)
    if head and rest:
        return f"{head} · {rest}"
    return head or rest


def _title_words(tokens: list[str]) -> str:
    words: list[str] = []
    for tok in tokens:
        if tok.isdigit() and words:
            words[-1] += f" {int(tok)}"  # part3 → Part 3
        elif tok.lower() in _SMALL_WORDS and words:
            words.append(tok.lower())
        else:
            words.append(tok if tok.isupper() and len(tok) > 1 else tok[:1].upper() + tok[1:].lower())
    return " ".join(words)


# ---------------------------------------------------------------- loudness and silences


class LoudnessMeter:
    """Accumulates audio frames into mean-square energy per `HOP_S` hop (mono 16 kHz)."""

    def __init__(self) -> None:
        import av

        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RMS_RATE)
        self._hop = int(RMS_RATE * HOP_S)
        self._buf = np.zeros(0, dtype=np.float32)
        self._pending: list[np.ndarray] = []  # samples not yet cut into hops (cut once per second of audio:
        self._pending_n = 0  # per 64-ms frame, the numpy calls cost as much as decoding the audio)
        self._ms: list[np.ndarray] = []
        self.start_s: float | None = None
        self.samples = 0

    def feed(self, frame: av.AudioFrame | None) -> None:
        """Add one decoded frame (None flushes the resampler)."""
        if frame is not None and self.start_s is None:
            self.start_s = float(frame.time or 0.0)
        for out in self._resampler.resample(frame):
            x = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            self.samples += len(x)
            self._pending.append(x)
            self._pending_n += len(x)
        if self._pending_n >= RMS_RATE or (frame is None and self._pending):
            self._cut()

    def _cut(self) -> None:
        self._buf = np.concatenate([self._buf, *self._pending])
        self._pending, self._pending_n = [], 0
        n = len(self._buf) // self._hop
        if n:
            blocks = self._buf[: n * self._hop].reshape(n, self._hop)
            self._ms.append(np.mean(blocks.astype(np.float64) ** 2, axis=1))
            self._buf = self._buf[n * self._hop:]

    @property
    def duration_s(self) -> float:
        return self.samples / RMS_RATE

    def window_db(self) -> np.ndarray:
        """Loudness in dBFS of 0.25 s windows starting every `HOP_S` (window k starts at k*HOP_S)."""
        if self._pending:
            self._cut()
        ms = np.concatenate(self._ms) if self._ms else np.zeros(0)
        if len(ms) < 2:
            return np.zeros(0)
        win = (ms[:-1] + ms[1:]) / 2
        return 10 * np.log10(win + 1e-12)


def silence_candidates(db: np.ndarray, offset_s: float = 0.0,
                       min_silence_s: float = MIN_SILENCE_S) -> list[tuple[float, float]]:
    """`(time, strength)` at the middle of each pause ≥ `min_silence_s`, threshold adapted to the file."""
    if len(db) < 8:
        return []
    floor, loud = np.percentile(db, 10), np.percentile(db, 90)
    if loud - floor < 10 or loud < -55:
        return []  # no speech/pause structure (constant tone, music bed, silent track)
    thr = min(floor + 0.3 * (loud - floor), loud - 12)
    quiet = np.concatenate([[False], db < thr, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    out: list[tuple[float, float]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # windows a..b-1 are quiet
        length = (b - 1 - a) * HOP_S + 2 * HOP_S
        if length >= min_silence_s:
            mid = offset_s + a * HOP_S + length / 2
            out.append((mid, SILENCE - 0.1 + 0.15 * min(1.0, (length - min_silence_s) / 1.4)))
    return out


# ---------------------------------------------------------------- captions


def load_sidecar(media_path: Path, rel: str) -> tuple[list[Cue], Path | None]:
    """Cues of the `.vtt`/`.srt` next to a media file ([] when there is none); errors cite its path."""
    sidecar = find_sidecar(media_path)
    if sidecar is None:
        return [], None
    return read_captions(sidecar, str(PurePosixPath(rel).parent / sidecar.name)), sidecar


@dataclass(frozen=True)
class Captions:
    """The timed words of one media file and which cues a machine transcribed."""

    cues: list[Cue]
    machine: frozenset[Cue] = frozenset()

    @property
    def from_user(self) -> bool:
        """True when the user's caption file gave at least one cue."""
        return any(c not in self.machine for c in self.cues)

    def origin(self, cues: Sequence[Cue]) -> TranscriptOrigin | None:
        """Where these cues' words come from (None when there are none)."""
        if not cues:
            return None
        n = sum(c in self.machine for c in cues)
        return "captions" if n == 0 else "machine" if n == len(cues) else "mixed"


def load_captions(media_path: Path, rel: str, transcript: Path | None = None) -> Captions:
    """The user's caption file, and the machine transcript where there is one.

    The user's file always wins: machine cues only fill stretches no user cue overlaps (with
    `transcribe.mode: always`; with `missing` a transcript exists only when there is no caption file).
    """
    user, _ = load_sidecar(media_path, rel)
    if transcript is None:
        return Captions(user)
    machine = read_captions(transcript, f"{rel} (machine transcript {transcript})")
    extra = [c for c in machine if not any(u.start < c.end and c.start < u.end for u in user)]
    return Captions(sorted(user + extra, key=lambda c: (c.start, c.end)), frozenset(extra))


def caption_candidates(cues: Sequence[Cue]) -> list[tuple[float, float]]:
    """Sentence ends (medium) and caption pauses (weaker) as cut candidates."""
    return [(t, SENTENCE_END if punct else PAUSE) for t, punct in sentence_ends(list(cues))]


def assign_cues(cues: Sequence[Cue], segments: Sequence[tuple[float, float]]) -> list[list[Cue]]:
    """Each cue goes to the segment containing its midpoint (the last segment takes overhangs)."""
    out: list[list[Cue]] = [[] for _ in segments]
    if not segments:
        return out
    ends = np.array([e for _, e in segments])
    for cue in cues:
        mid = (cue.start + cue.end) / 2
        k = min(int(np.searchsorted(ends, mid, side="right")), len(segments) - 1)
        out[k].append(cue)
    return out


# ---------------------------------------------------------------- chunks


@dataclass
class SegmentParts:
    """What one extractor found for a segment, before it becomes a Chunk with views."""

    span: tuple[float, float]
    cues: list[Cue]
    ocr_text: str = ""
    clip: MediaPart | None = None
    keyframes: tuple[float, ...] = ()
    transcript: TranscriptOrigin | None = None  # where the cues' words come from


def build_chunk(source: Source, parts: SegmentParts) -> tuple[Chunk, View]:
    """The Chunk for one time segment and its `seg` view (captions + OCR text, clip when given)."""
    start, end = parts.span
    span = TimeSpan(start_s=round(start, 3), end_s=round(end, 3))
    captions = " ".join(c.text for c in parts.cues)
    chunk = Chunk(
        id=chunk_id(source.sha256, span, source.path),
        source=source.path,
        source_sha256=source.sha256,
        kind=source.kind,
        title=source.title,
        locator=span,
        text=captions or parts.ocr_text,
        cues=tuple((c.start, c.end, c.text) for c in parts.cues),
        keyframes=parts.keyframes,
        transcript=parts.transcript,
    )
    seg_text = "\n".join(t for t in (captions, parts.ocr_text) if t)
    media = (parts.clip,) if parts.clip is not None else ()
    view = View(name=str(ViewName.seg()), item=EmbedItem(text=seg_text, title=source.title, media=media), text=seg_text)
    return chunk, view


def new_source(path: Path, rel: str, kind: SourceKind, duration: float, has_captions: bool) -> Source:
    """The Source record of a time-based file."""
    return Source(path=rel, kind=kind, sha256=sha256_file(path), title=title_from_filename(rel),
                  duration_s=round(duration, 3), has_captions=has_captions)


def stage_progress(progress: Progress | None) -> Step:
    """Turn `(stage, fraction)` steps into percent calls of `progress(done, 100)` (no-op when None)."""
    last = -1

    def step(stage: str, fraction: float) -> None:
        nonlocal last
        a, b = _STAGES[stage]
        done = int(a + (b - a) * max(0.0, min(1.0, fraction)))
        if progress is not None and done != last:
            last = done
            progress(done, 100)

    return step


# ---------------------------------------------------------------- container timing (shared with video)


def start_offset(container: av.container.InputContainer) -> float:
    """Container start time (MPEG-TS and some MP4s do not start at 0); our times start at 0."""
    return container.start_time / 1_000_000 if container.start_time else 0.0


def frame_time(frame: av.frame.Frame, offset: float, previous: float) -> float:
    """Seconds from the start of the file (frames without a timestamp keep the previous time)."""
    return float(frame.time) - offset if frame.time is not None else previous
