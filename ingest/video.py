"""Lecture videos: probe, find slide changes and pauses, segment, keyframes (+ OCR), small clips."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.clips import encode_video_clips
from ingest.extracted import Extracted, ImageRecord
from ingest.segment import SLIDE_CHANGE, choose_boundaries
from ingest.timed import (
    LoudnessMeter,
    Progress,
    SegmentParts,
    Step,
    assign_cues,
    build_chunk,
    caption_candidates,
    frame_time,
    load_captions,
    new_source,
    silence_candidates,
    stage_progress,
    start_offset,
    title_from_filename,
)
from rag.errors import IngestError
from rag.index import ViewName, keyframe_image, source_media_dir
from rag.settings import ChunkingSettings
from rag.types import EmbedItem, ImageText, MediaPart, View

if TYPE_CHECKING:
    import av
    from av.video.reformatter import VideoReformatter

__all__ = ["SlideChange", "change_score", "detect_changes", "extract_video", "title_from_filename"]


SAMPLE_FPS = 2.0  # frames analysed per second of video
SMALL = (160, 90)  # analysis frame size (w, h), grayscale
PIXEL_DELTA = 24  # a pixel "changed" when its gray level moves by more than this
MIN_CHANGE = 0.004  # at least this fraction of pixels must change (slides are mostly white)
# A change is a slide change only when it spreads across the picture: the changed pixels must reach at
# least MIN_SPREAD of SPREAD_COLUMNS vertical bands (a new slide's title and bullets span the width; a
# lecturer walking in front of the screen is a tall narrow blob covering 2-4 bands).
SPREAD_COLUMNS = 16
SPREAD_SHARE = 0.02  # a band "changed" when this share of its (stable) pixels changed
MIN_SPREAD = 6
# Coarse-to-fine decode for real uploads (>= 20 fps, a keyframe every >= 1 s): keyframes only first, then
# full decode of only the keyframe intervals whose ends differ. Pixels that change between most keyframe
# pairs (a speaker box, a clock) are masked out of every comparison.
COARSE_MIN_INTERVAL = 1.0
VOLATILE_SHARE = 0.5
VOLATILE_MIN_PAIRS = 6
MAX_VOLATILE = 0.5  # more of the frame volatile than this: a camera video, compare everything
KEYFRAME_WIDTH = 1280
MAX_KEYFRAMES_PER_SEGMENT = 4
# The text of the deck page a picture surely shows, else None.
DeckReader = Callable[[bytes], "str | None"]
_REMEDY = "Re-encode it (e.g. `ffmpeg -i in.mp4 -c:v libx264 -c:a aac out.mp4`) or remove it."


@dataclass(frozen=True)
class SlideChange:
    """A visual change: `time` is the first analysed frame showing new content, `settled` when it stops."""

    time: float
    settled: float
    magnitude: float  # fraction of pixels that changed

    @property
    def strength(self) -> float:
        # A few percent of pixels (a bullet, a swaying speaker) ≈ a sentence end; a new slide ≈ 0.95.
        return min(1.0, SLIDE_CHANGE - 0.45 + 0.5 * min(1.0, self.magnitude / 0.08))


@dataclass
class _Analysis:
    duration: float
    fps: float
    size: tuple[int, int]
    changes: list[SlideChange] = field(default_factory=list)
    silences: list[tuple[float, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mask: np.ndarray | None = None  # stable pixels of the small frames (None: all)


def extract_video(path: Path, rel: str, media_dir: Path, settings: ChunkingSettings, *,
                  ocr: ImageText | None = None, deck: DeckReader | None = None, want_clips: bool = False,
                  progress: Progress | None = None, transcript: Path | None = None) -> Extracted:
    """Segment a lecture video into 15–30 s chunks with captions, keyframes, OCR text and clips.

    `deck`: the text of the deck page a keyframe surely shows, else None (then OCR reads it). Such a
    keyframe's words stay with the page (alignment ties the moment to it): its view carries the
    picture and the segment's captions, and no text of its own for lexical search, so a question about
    the slide's words finds the page rather than a copy of it. `transcript`: a machine transcript
    (WebVTT) used where the user's caption file leaves gaps.
    """
    import av

    step = stage_progress(progress)
    caps = load_captions(path, rel, transcript)
    cues = caps.cues
    try:
        info = _analyse(path, rel, step)
        candidates = [(c.time, c.strength) for c in info.changes] + info.silences + caption_candidates(cues)
        segments = choose_boundaries(info.duration, candidates, settings.min_segment_s,
                                     settings.max_segment_s)
        plan = [_keyframe_times(span, info.changes) for span in segments]
        frames, smalls = _grab_keyframes(path, sorted({t for ts in plan for t in ts}), step)
        clips = encode_video_clips(path, segments, step) if want_clips else [None] * len(segments)
    except av.FFmpegError as e:
        raise IngestError(rel, f"the video could not be decoded ({e})", _REMEDY) from e

    source = new_source(path, rel, "video", info.duration, caps.from_user)
    out = Extracted(source=source, warnings=info.warnings)
    if not cues:
        out.warnings.append(f"no captions (.vtt/.srt) next to {rel}; indexed from keyframes only")
    kf_dir = source_media_dir(media_dir, source.sha256)
    kf_dir.mkdir(parents=True, exist_ok=True)
    readings = read_pictures(frames, smalls, info.mask, ocr if settings.ocr else None,
                             deck if settings.ocr else None)
    out.same_pictures = readings.same
    per_segment = zip(segments, assign_cues(cues, segments), clips, plan, strict=True)
    for i, (span, seg_cues, clip, kf_times) in enumerate(per_segment):
        kfs = [(t, frames[t]) for t in kf_times if t in frames]
        texts = [readings.text[t] for t, _ in kfs]
        read = [text for (t, _), text in zip(kfs, texts, strict=True) if t not in readings.from_deck]
        parts = SegmentParts(span=span, cues=seg_cues, ocr_text=_join_unique(read), clip=clip,
                             keyframes=tuple(t for t, _ in kfs), transcript=caps.origin(seg_cues))
        chunk, seg_view = build_chunk(source, parts)
        views = [seg_view]
        for (t, jpg), text in zip(kfs, texts, strict=True):
            file = keyframe_image(kf_dir, t)
            file.write_bytes(jpg)
            name = ViewName.keyframe(t)
            media = (MediaPart(mime_type="image/jpeg", data=jpg),)
            if t in readings.from_deck:  # the page's words stay with the page (see the docstring)
                item = EmbedItem(text=seg_view.item.text or text, title=source.title, media=media)
                views.append(View(name=str(name), item=item, text=""))
            else:
                item = EmbedItem(text=text, title=source.title, media=media)
                views.append(View(name=str(name), item=item, text=text))
            out.images.append(ImageRecord(chunk_id=chunk.id, path=file, time_s=t, view=name))
        out.chunks.append((chunk, views))
        step("chunks", (i + 1) / len(segments))
    return out


# ---------------------------------------------------------------- pass 1: analysis


def _analyse(path: Path, rel: str, step: Step) -> _Analysis:
    """One decode pass: probe, small gray frames at SAMPLE_FPS, audio loudness."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise IngestError(rel, f"the file is not a readable video ({_reason(e)})", _REMEDY) from e
    with container:
        if not container.streams.video:
            raise IngestError(rel, "the file has no video stream",
                              "Give audio-only files an audio extension (.mp3, .m4a, .wav).")
        vs = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        header = _header_duration(container, vs)
        offset = start_offset(container)
        vs.thread_type = "AUTO"
        fps = float(vs.average_rate) if vs.average_rate else 0.0
        size = (vs.codec_context.width, vs.codec_context.height)
        interval = _keyframe_interval(path)
        meter = LoudnessMeter() if audio is not None else None
        if fps >= 20 and interval >= COARSE_MIN_INTERVAL:
            sampler, last_t = _coarse_to_fine(container, vs, audio, meter, offset, header, step)
        else:
            # Frequent keyframes: decoding only them is enough for 2 fps analysis and much faster.
            # Otherwise skip non-reference frames when there are plenty (a change still lands within
            # ~1/15 s); at low frame rates every frame counts for placing a slide change.
            if interval <= 0.6:
                vs.codec_context.skip_frame = "NONKEY"
            elif fps >= 20:
                vs.codec_context.skip_frame = "NONREF"
            sampler, last_t = _decode_all(container, vs, audio, meter, offset, header, step)
        if meter is not None:
            meter.feed(None)
        if not sampler.times:
            raise IngestError(rel, "no video frame could be decoded", _REMEDY)

    decoded = last_t + (1 / fps if fps else 0.0)
    audio_start = (meter.start_s or offset) - offset if meter is not None else 0.0
    if meter is not None:
        decoded = max(decoded, audio_start + meter.duration_s)
    info = _Analysis(duration=decoded, fps=fps, size=size, mask=sampler.mask)
    if header and header > decoded + 2.0:
        info.warnings.append(f"{rel} seems truncated: its header says {header:.1f} s but only "
                             f"{decoded:.1f} s decode; indexed what decodes")
    elif header:
        info.duration = header
    info.changes = detect_changes(sampler.times, sampler.scores, sampler.onsets, sampler.spreads)
    if meter is not None:
        info.silences = silence_candidates(meter.window_db(), audio_start)
    return info


def _decode_all(container, vs, audio, meter, offset: float, header: float | None, step: Step
                ) -> tuple[_Sampler, float]:
    """Every (non-skipped) frame through the sampler, audio through the loudness meter."""
    sampler = _Sampler()
    last_t = 0.0
    for frame, t in _video_frames(container, vs, audio, meter, offset):
        last_t = max(last_t, t)
        if sampler.feed(frame, t) and header:
            step("analyse", min(1.0, t / header))
    return sampler, last_t


def _video_frames(container, vs, audio, meter, offset: float):
    """Demux video and audio together: audio frames feed the loudness meter, video frames are yielded
    with their time."""
    import av

    last_t = 0.0
    for packet in container.demux(*[s for s in (vs, audio) if s is not None]):
        for frame in packet.decode():
            if isinstance(frame, av.AudioFrame):
                if meter is not None:
                    meter.feed(frame)
                continue
            if not isinstance(frame, av.VideoFrame):  # demuxing only video and audio: never taken
                continue
            t = frame_time(frame, offset, last_t)
            last_t = max(last_t, t)
            yield frame, t


def _coarse_to_fine(container, vs, audio, meter, offset: float, header: float | None, step: Step
                    ) -> tuple[_Sampler, float]:
    """Keyframes only (and the audio), then a full decode of just the intervals where something changed.

    A 25 fps upload with a keyframe every 5 s decodes 1 frame in 125 plus the changed intervals (a
    slide shown 20-90 s changes 1 interval in 4-18), instead of every reference frame.
    """
    vs.codec_context.skip_frame = "NONKEY"
    keys: list[tuple[float, np.ndarray, np.ndarray]] = []  # (t, small, tiny)
    scaler, tiny_scaler = _scalers()
    last_t = 0.0
    for frame, t in _video_frames(container, vs, audio, meter, offset):
        last_t = max(last_t, t)
        keys.append((t, _small(frame, scaler), _tiny_luma(frame, tiny_scaler)))
    mask = volatile_mask([k[1] for k in keys])
    # Only a change that spreads across the picture can hold a slide change (see detect_changes).
    changed = [change_score(a, b, mask) > MIN_CHANGE and spread(a, b, mask) >= MIN_SPREAD
               for (_, a, _), (_, b, _) in zip(keys, keys[1:], strict=False)]
    changed.append(True)  # after the last keyframe: the end of the video is not known, decode it
    sampler = _Sampler(mask)
    vs.codec_context.skip_frame = "NONREF"
    i = 0
    while i < len(keys):
        if not changed[i]:
            sampler.take(*keys[i])
            i += 1
            continue
        j = i
        while j + 1 < len(keys) and changed[j + 1]:
            j += 1
        end = keys[j + 1][0] if j + 1 < len(keys) else float("inf")
        last_t = max(last_t, _decode_span(container, vs, offset, keys[i][0], end, sampler))
        if header:
            step("analyse", min(1.0, keys[i][0] / header))
        i = j + 1
    return sampler, last_t


def _decode_span(container, vs, offset: float, start: float, end: float, sampler: _Sampler) -> float:
    """Feed every frame in [start, end) (start is a keyframe) to the sampler; the last frame time."""
    container.seek(int((start + offset) / vs.time_base), stream=vs, backward=True)
    last = start
    for frame in container.decode(vs):
        t = frame_time(frame, offset, last)
        if t + 1e-3 < start:
            continue
        if t >= end - 1e-3:
            break
        sampler.feed(frame, t)
        last = max(last, t)
    return last


def volatile_mask(frames: Sequence[np.ndarray]) -> np.ndarray | None:
    """Stable pixels (True) of small gray frames: those that do not change between most consecutive
    frames; None when there are too few frames or most of the picture moves (a camera video)."""
    if len(frames) - 1 < VOLATILE_MIN_PAIRS:
        return None
    import cv2

    moved = np.zeros(frames[0].shape, np.float32)
    for a, b in zip(frames, frames[1:], strict=False):
        moved += np.abs(a.astype(np.int16) - b.astype(np.int16)) > PIXEL_DELTA
    often = (moved / (len(frames) - 1) > VOLATILE_SHARE).astype(np.uint8)
    volatile = cv2.dilate(often, np.ones((5, 5), np.uint8)) > 0  # the moving thing's edges too
    if volatile.mean() > MAX_VOLATILE:
        return None
    return ~volatile if volatile.any() else None


def _scalers() -> tuple[VideoReformatter, VideoReformatter]:
    # One reformatter per use for the whole pass: it keeps its scaling context (frame.reformat builds
    # a new one per call, ~5x slower).
    from av.video.reformatter import VideoReformatter

    return VideoReformatter(), VideoReformatter()


def _small(frame: av.VideoFrame, scaler: VideoReformatter) -> np.ndarray:
    return scaler.reformat(frame, width=SMALL[0], height=SMALL[1], format="gray", interpolation="AREA").to_ndarray()


class _Sampler:
    """Analysis frames at SAMPLE_FPS and, where they differ, the exact frame where the change began.

    Every decoded frame also gets a tiny luma thumbnail (strided, no scaling: cheap), so a change
    seen between two samples 0.5 s apart is placed on the first frame that shows it.
    """

    def __init__(self, mask: np.ndarray | None = None) -> None:
        self.mask = mask  # stable pixels of the small frames (None: all)
        self.times: list[float] = []
        self.scores: list[float] = []  # scores[k]: change between samples k and k+1
        self.onsets: list[float] = []  # onsets[k]: first frame after sample k showing that change
        self.spreads: list[int] = []  # spreads[k]: vertical bands that change covers
        self._prev: np.ndarray | None = None
        self._prev_tiny: np.ndarray | None = None
        self._pending: list[tuple[float, np.ndarray]] = []
        self._next_t = 0.0
        self._scaler, self._tiny_scaler = _scalers()

    def feed(self, frame: av.VideoFrame, t: float) -> bool:
        """Take one decoded frame; True when it became an analysis sample."""
        tiny = _tiny_luma(frame, self._tiny_scaler)
        if t + 1e-3 < self._next_t:
            self._pending.append((t, tiny))
            return False
        return self.take(t, _small(frame, self._scaler), tiny)

    def take(self, t: float, small: np.ndarray, tiny: np.ndarray) -> bool:
        """Take one analysis sample (small gray frame + its tiny luma thumbnail)."""
        self._pending.append((t, tiny))
        if t + 1e-3 < self._next_t:
            return False
        cur = small
        if self._prev is not None:
            score = change_score(self._prev, cur, self.mask)
            self.scores.append(score)
            self.spreads.append(spread(self._prev, cur, self.mask))
            onset = t
            if score > MIN_CHANGE and self._prev_tiny is not None:
                onset = _onset(self._prev_tiny, self._pending)
            self.onsets.append(onset)
        self.times.append(t)
        self._prev, self._prev_tiny, self._pending = cur, tiny, []
        self._next_t = (math.floor(t * SAMPLE_FPS + 1e-6) + 1) / SAMPLE_FPS
        return True


def _tiny_luma(frame: av.VideoFrame, scaler: VideoReformatter) -> np.ndarray:
    """About 80x45 gray pixels, straight from the luma plane when the format allows."""
    if frame.format.name in _PLANAR_8BIT:
        plane = frame.planes[0]
        y = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        return y[:: max(1, plane.height // 45), :: max(1, plane.width // 80)]
    return scaler.reformat(frame, width=80, height=45, format="gray").to_ndarray()


_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}


def _onset(before: np.ndarray, frames: Sequence[tuple[float, np.ndarray]]) -> float:
    """Time of the first frame that covers half of the change from `before` to the last frame."""
    base = before.astype(np.int16)
    dists = [float(np.mean(np.abs(f.astype(np.int16) - base))) for _, f in frames]
    total = dists[-1]
    for (t, _), d in zip(frames, dists, strict=True):
        if d >= 0.5 * total:
            return t
    return frames[-1][0]


def change_score(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of (stable) pixels whose gray level moves by more than `PIXEL_DELTA` between two small frames.

    Robust to compression noise, and a new bullet on a white slide still moves a few percent of
    pixels (a scene-cut threshold such as ffmpeg's 0.3 finds nothing on slides).
    """
    moved = np.abs(a.astype(np.int16) - b.astype(np.int16)) > PIXEL_DELTA
    if mask is None:
        return np.count_nonzero(moved) / a.size
    return np.count_nonzero(moved & mask) / max(1, int(np.count_nonzero(mask)))


def spread(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> int:
    """How many of SPREAD_COLUMNS vertical bands of the (stable) picture a change covers."""
    moved = np.abs(a.astype(np.int16) - b.astype(np.int16)) > PIXEL_DELTA
    keep = np.ones_like(moved) if mask is None else mask
    bands = np.array_split(np.arange(a.shape[1]), SPREAD_COLUMNS)
    out = 0
    for cols in bands:
        area = np.count_nonzero(keep[:, cols])
        if area and np.count_nonzero(moved[:, cols] & keep[:, cols]) >= SPREAD_SHARE * area:
            out += 1
    return out


def detect_changes(times: Sequence[float], scores: Sequence[float],
                   onsets: Sequence[float] | None = None, spreads: Sequence[int] | None = None) -> list[SlideChange]:
    """Slide/scene changes from `scores[k]` = change between frames at `times[k]` and `times[k+1]`.

    `onsets[k]` (default `times[k+1]`) is when that change began, to the frame; `spreads[k]` how many
    vertical bands it covers: a step that stays in fewer than MIN_SPREAD bands (a lecturer walking in
    front of the screen) is not a slide change and does not raise the adaptive threshold either.
    The threshold adapts to the video's usual motion (talking heads, webcam insets); runs of
    consecutive changes (fades, builds, animations) merge into one change at their strongest step.
    """
    sc = np.asarray(scores, dtype=float)
    if len(sc) == 0:
        return []
    if spreads is not None:  # local changes are neither slide changes nor the usual motion to adapt to
        sc = np.where(np.asarray(spreads) >= MIN_SPREAD, sc, 0.0)
    med = float(np.median(sc))
    mad = float(np.median(np.abs(sc - med)))
    above = sc > max(MIN_CHANGE, 2 * med, med + 6 * mad)
    out: list[SlideChange] = []
    i = 0
    while i < len(sc):
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(sc) and above[j + 1]:
            j += 1
        peak = i + int(np.argmax(sc[i:j + 1]))
        onset = onsets[peak] if onsets is not None else times[peak + 1]
        out.append(SlideChange(time=round(float(onset), 3), settled=round(float(times[j + 1]), 3),
                               magnitude=min(1.0, float(sc[i:j + 1].sum()))))
        i = j + 1
    return out


def _keyframe_times(span: tuple[float, float], changes: Sequence[SlideChange]) -> list[float]:
    """A keyframe at each slide change inside the segment (the strongest few), else its middle."""
    start, end = span
    inside = [c for c in changes if start - 1e-3 <= c.time < end - 0.5]
    if len(inside) > MAX_KEYFRAMES_PER_SEGMENT:
        inside = sorted(sorted(inside, key=lambda c: -c.magnitude)[:MAX_KEYFRAMES_PER_SEGMENT],
                        key=lambda c: c.time)
    times = [round(min(c.settled, end - 0.25), 1) for c in inside]
    if not times or times[0] - start >= 3.0:
        # Nothing changes (or only late): also show what is on screen when the segment starts.
        times.insert(0, round((start + end) / 2 if not times else start + 0.5, 1))
    out: list[float] = []
    for t in times:
        if not out or t - out[-1] >= 1.0:
            out.append(t)
    return out


# ---------------------------------------------------------------- pass 2: keyframes


@dataclass
class Readings:
    """The text of every keyframe, read once per distinct picture."""

    text: dict[float, str] = field(default_factory=dict)  # keyframe time -> its text
    from_deck: set[float] = field(default_factory=set)  # keyframes whose text is a deck page's
    same: dict[str, str] = field(default_factory=dict)  # sha256 of a keyframe JPEG -> that of the picture read
    read: int = 0  # pictures read (deck page or OCR)


def read_pictures(frames: dict[float, bytes], smalls: dict[float, np.ndarray], mask: np.ndarray | None,
                  ocr: ImageText | None, deck: DeckReader | None = None) -> Readings:
    """Read each distinct keyframe picture once (the deck page it surely shows, else OCR): a keyframe
    whose small gray frame differs from an already read one in no more than MIN_CHANGE of the stable
    pixels (the slide-change detector's own threshold, the speaker box and clock masked out) shows the
    same picture and shares its reading.

    A build step that adds a bullet, a lecturer walking in front of the slide, a board being written on
    move more than that and are read again."""
    import hashlib

    out = Readings()
    reps: list[tuple[np.ndarray, float, str]] = []  # (small frame, time, sha) of each picture read
    for t in sorted(frames):
        jpg, small = frames[t], smalls.get(t)
        sha = hashlib.sha256(jpg).hexdigest()
        same = next((r for r in reps if small is not None and r[0].shape == small.shape
                     and change_score(r[0], small, mask) <= MIN_CHANGE), None)
        if same is not None:
            out.text[t] = out.text[same[1]]
            out.same[sha] = same[2]
            if same[1] in out.from_deck:
                out.from_deck.add(t)
            continue
        page = deck(jpg) if deck is not None else None
        if page is not None:
            out.text[t] = page.strip()
            out.from_deck.add(t)
        else:
            out.text[t] = ocr(jpg).strip() if ocr is not None else ""
        out.read += 1
        if small is not None:
            reps.append((small, t, sha))
    return out


def _grab_keyframes(path: Path, times: Sequence[float], step: Step
                    ) -> tuple[dict[float, bytes], dict[float, np.ndarray]]:
    """JPEG (width ≤ KEYFRAME_WIDTH) of the first frame at or after each sorted time, and its small gray
    analysis frame; seeks only far."""
    import av

    out: dict[float, bytes] = {}
    smalls: dict[float, np.ndarray] = {}
    if not times:
        return out, smalls
    scaler, _ = _scalers()
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        if vs.average_rate and float(vs.average_rate) >= 20:
            # Real uploads: decoding from the keyframe before each time skips the B-frames nothing refers
            # to, so a grab may land on the next reference frame (at most ~0.1 s later at 25 fps).
            vs.codec_context.skip_frame = "NONREF"
        offset = start_offset(container)
        it = None
        pos = -1e9  # time of the last decoded frame
        last: av.VideoFrame | None = None
        for n, target in enumerate(times):
            if last is None or pos + 1e-3 < target:
                if it is None or target - pos > 5.0:
                    seek_to = max(0.0, target - 0.05) + offset
                    container.seek(int(seek_to / (vs.time_base or 1)), stream=vs, backward=True)
                    it, pos = container.decode(vs), -1e9
                for frame in it:
                    last, pos = frame, frame_time(frame, offset, pos)
                    if pos + 1e-3 >= target:
                        break
            if last is not None:
                out[target] = _jpeg(_fit(last, KEYFRAME_WIDTH))
                smalls[target] = _small(last, scaler)
            step("keyframes", (n + 1) / len(times))
    return out, smalls


# ---------------------------------------------------------------- helpers


def _keyframe_interval(path: Path, probe_s: float = 20.0) -> float:
    """Mean seconds between keyframes over the first `probe_s` (packets only, no decoding)."""
    import av

    keys: list[float] = []
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        for packet in container.demux(vs):
            if packet.pts is None or packet.time_base is None:
                continue
            t = float(packet.pts * packet.time_base)
            if packet.is_keyframe:
                keys.append(t)
            if t - (keys[0] if keys else t) > probe_s:
                break
    if len(keys) < 3:
        return float("inf")
    return (keys[-1] - keys[0]) / (len(keys) - 1)


def _header_duration(container: av.container.InputContainer, vs: av.VideoStream) -> float | None:
    if container.duration:
        return container.duration / 1_000_000
    if vs.duration and vs.time_base:
        return float(vs.duration * vs.time_base)
    return None


def _fit(frame: av.VideoFrame, max_width: int) -> av.VideoFrame:
    if frame.width <= max_width:
        return frame.reformat(format="rgb24")
    h = round(frame.height * max_width / frame.width)
    return frame.reformat(width=max_width, height=h, format="rgb24", interpolation="AREA")


def _jpeg(frame: av.VideoFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_image().save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _join_unique(texts: Sequence[str]) -> str:
    seen: list[str] = []
    for t in texts:
        if t and t not in seen:
            seen.append(t)
    return "\n".join(seen)


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)
