"""Audio files (mp3/wav/m4a/ogg/flac): segmented on sentence ends and silences, one chunk per segment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ingest.extracted import Extracted
from ingest.segment import choose_boundaries
from ingest.timed import (
    LoudnessMeter,
    Progress,
    SegmentParts,
    assign_cues,
    build_chunk,
    caption_candidates,
    load_captions,
    new_source,
    silence_candidates,
    stage_progress,
)
from rag.errors import IngestError
from rag.settings import ChunkingSettings
from rag.types import MediaPart

if TYPE_CHECKING:
    import av


def extract_audio(path: Path, rel: str, media_dir: Path, settings: ChunkingSettings, *,
                  want_clips: bool = False, progress: Progress | None = None,
                  transcript: Path | None = None) -> Extracted:
    """Segment an audio file on sentence ends and silences; one `audio` chunk per segment.

    `transcript`: a machine transcript (WebVTT) used where the user's caption file leaves gaps.
    """
    import av

    step = stage_progress(progress)
    caps = load_captions(path, rel, transcript)
    cues = caps.cues
    meter = LoudnessMeter()
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise IngestError(rel, "the file has no audio stream", "Check the file or remove it.")
            stream = container.streams.audio[0]
            total = _duration(container, stream)
            for frame in container.decode(stream):
                meter.feed(frame)
                if total and frame.time is not None:
                    step("analyse", min(1.0, frame.time / total))
            meter.feed(None)
    except av.FFmpegError as e:
        raise IngestError(rel, f"the audio could not be decoded ({e})",
                          "Re-encode it (e.g. to .mp3 or .wav) or remove it.") from e
    duration = (meter.start_s or 0.0) + meter.duration_s
    if duration <= 0:
        raise IngestError(rel, "the audio stream is empty", "Check the file or remove it.")
    candidates = caption_candidates(cues) + silence_candidates(meter.window_db(), meter.start_s or 0.0)
    segments = choose_boundaries(duration, candidates, settings.min_segment_s, settings.max_segment_s)
    source = new_source(path, rel, "audio", duration, caps.from_user)
    out = Extracted(source=source)
    if not cues:
        out.warnings.append(f"no captions (.vtt/.srt) next to {rel}; its segments have no text to search")
    clips: list[MediaPart | None] = [None] * len(segments)
    if want_clips:
        from ingest.clips import encode_audio_clips

        clips = encode_audio_clips(path, segments)
    for span, seg_cues, clip in zip(segments, assign_cues(cues, segments), clips, strict=True):
        parts = SegmentParts(span=span, cues=seg_cues, clip=clip, transcript=caps.origin(seg_cues))
        chunk, view = build_chunk(source, parts)
        out.chunks.append((chunk, [view]))
    step("chunks", 1.0)
    return out


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None
