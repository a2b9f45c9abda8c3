"""Small per-segment media clips for multimodal embedders: mp4 for video, mp3 for audio."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from ingest.timed import Step, frame_time, start_offset
from rag.types import MediaPart

if TYPE_CHECKING:
    import av
    from av.audio.stream import AudioStream

__all__ = ["CLIP_FPS", "CLIP_HEIGHT", "encode_audio_clips", "encode_video_clips"]

CLIP_HEIGHT = 480
CLIP_FPS = 5
MP3_RATE = 22050


def encode_video_clips(path: Path, segments: Sequence[tuple[float, float]],
                       step: Step) -> list[MediaPart | None]:
    """One small mp4 (≤480p, CLIP_FPS, mono AAC) per segment from one sequential decode."""
    import av

    clips: list[MediaPart | None] = [None] * len(segments)
    ends = np.array([e for _, e in segments])
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        if vs.average_rate and vs.average_rate >= 4 * CLIP_FPS:
            vs.codec_context.skip_frame = "NONREF"  # clips keep CLIP_FPS frames a second anyway
        audio = container.streams.audio[0] if container.streams.audio else None
        streams = [s for s in (vs, audio) if s is not None]
        offset = start_offset(container)
        w, h = _even_size(vs.codec_context.width, vs.codec_context.height, CLIP_HEIGHT)
        # Audio and video packets interleave loosely, so a clip closes only once every stream has
        # moved a margin past its end.
        open_: dict[int, _Mp4Writer] = {}
        latest = {s.index: 0.0 for s in streams}
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if not isinstance(frame, av.VideoFrame | av.AudioFrame):  # only those streams are demuxed
                    continue
                t = frame_time(frame, offset, latest[packet.stream.index])
                latest[packet.stream.index] = t
                k = min(int(np.searchsorted(ends, t, side="right")), len(segments) - 1)
                if clips[k] is not None:
                    continue  # a straggler for a clip already closed
                if k not in open_:
                    open_[k] = _Mp4Writer(segments[k][0], w, h, audio is not None)
                if isinstance(frame, av.VideoFrame):
                    open_[k].video(frame, t)
                elif isinstance(frame, av.AudioFrame):
                    open_[k].audio(frame)
            done = min(latest.values()) - 2.0
            for k in [k for k in open_ if segments[k][1] <= done]:
                clips[k] = open_.pop(k).close()
                step("clips", (k + 1) / len(segments))
        for k, writer in open_.items():
            clips[k] = writer.close()
    step("clips", 1.0)
    return clips


def encode_audio_clips(path: Path, segments: Sequence[tuple[float, float]]) -> list[MediaPart | None]:
    """One small mono mp3 (audio/mp3) per segment, from a single sequential decode."""
    import av

    outs: list[MediaPart | None] = [None] * len(segments)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        k = 0
        writer = _Mp3Writer()
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            while k < len(segments) - 1 and t >= segments[k][1]:
                outs[k] = writer.close()
                k, writer = k + 1, _Mp3Writer()
            writer.write(frame)
        outs[k] = writer.close()
    return outs


class _MonoAudio:
    """A mono audio stream of an output container: resample decoded frames, encode, mux."""

    def __init__(self, out: av.container.OutputContainer, codec: str, rate: int, fmt: str,
                 frame_size: int) -> None:
        import av

        self._out = out
        self._stream = cast("AudioStream", out.add_stream(codec, rate=rate, layout="mono"))
        self._stream.bit_rate = 48000
        self._resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate, frame_size=frame_size)
        self._pts = 0

    def write(self, frame: av.AudioFrame | None) -> None:
        """Encode one decoded frame (None flushes the resampler)."""
        for f in self._resampler.resample(frame):
            f.pts = self._pts
            self._pts += f.samples
            for packet in self._stream.encode(f):
                self._out.mux(packet)

    def drain(self) -> None:
        """Mux what the encoder still holds (after `write(None)`)."""
        for packet in self._stream.encode(None):
            self._out.mux(packet)


class _Mp3Writer:
    def __init__(self) -> None:
        import av

        self._buf = io.BytesIO()
        self._out = av.open(self._buf, "w", format="mp3")
        self._audio = _MonoAudio(self._out, "libmp3lame", MP3_RATE, "s16p", 1152)

    def write(self, frame: av.AudioFrame) -> None:
        self._audio.write(frame)

    def close(self) -> MediaPart:
        self._audio.write(None)
        self._audio.drain()
        self._out.close()
        return MediaPart(mime_type="audio/mp3", data=self._buf.getvalue())  # the docs list audio/mp3, not audio/mpeg


class _Mp4Writer:
    def __init__(self, start: float, width: int, height: int, with_audio: bool) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        self._start = start
        self._buf = io.BytesIO()
        self._out = av.open(self._buf, "w", format="mp4")
        self._vs = self._out.add_stream("libx264", rate=CLIP_FPS)
        self._vs.width, self._vs.height, self._vs.pix_fmt = width, height, "yuv420p"
        self._vs.codec_context.time_base = Fraction(1, CLIP_FPS)
        self._vs.options = {"preset": "superfast", "crf": "30"}
        self._next_pts = 0
        self._scaler = VideoReformatter()
        self._as = _MonoAudio(self._out, "aac", 24000, "fltp", 1024) if with_audio else None

    def video(self, frame: av.VideoFrame, t: float) -> None:
        pts = round((t - self._start) * CLIP_FPS)
        if pts < self._next_pts:
            return  # keep CLIP_FPS frames per second, drop the rest
        small = self._scaler.reformat(frame, width=self._vs.width, height=self._vs.height,
                                      format="yuv420p", interpolation="BILINEAR")
        small.pts, small.time_base = pts, Fraction(1, CLIP_FPS)
        self._next_pts = pts + 1
        for packet in self._vs.encode(small):
            self._out.mux(packet)

    def audio(self, frame: av.AudioFrame) -> None:
        if self._as is not None:
            self._as.write(frame)

    def close(self) -> MediaPart:
        if self._as is not None:
            self._as.write(None)
        for packet in self._vs.encode(None):
            self._out.mux(packet)
        if self._as is not None:
            self._as.drain()
        self._out.close()
        return MediaPart(mime_type="video/mp4", data=self._buf.getvalue())


def _even_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    if height <= max_height:
        return width // 2 * 2, height // 2 * 2
    w = round(width * max_height / height)
    return w // 2 * 2, max_height // 2 * 2
