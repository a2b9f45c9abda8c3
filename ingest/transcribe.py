"""Speech-to-text at ingest for media without captions: a small `Transcriber` interface, windowed
transcription that resumes after an interruption, and the WebVTT file the extractors read like a sidecar.

The transcript lives under `<index>/transcripts/` (never next to the user's files). Each finished window
of audio is persisted there first, keyed by the media's sha256 and the transcriber's key, so a killed ingest
starts again at the first window that was not finished.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.captions import Cue
from ingest.speech import Transcriber, Word
from rag.errors import IngestError
from rag.index import transcripts_dir

if TYPE_CHECKING:
    from rag.settings import TranscribeSettings

SAMPLE_RATE = 16000  # what Whisper-family models take: mono float32 at 16 kHz
CUT_SEARCH_S = 10.0  # a window ends at the quietest 0.1 s among its last CUT_SEARCH_S seconds
CUE_MAX_S = 10.0  # a cue longer than this is split at the next word (long run-on sentences)
CUE_GAP_S = 0.8  # a pause this long between two words ends a cue
# A clause mark ends a cue where the speaker paused: a gap after the word, or a word stretched over the
# pause (Whisper's word ends often absorb silence: "cell," lasting 1.1 s where the speaker said "cell." and
# paused). tiny.en writes such commas for full stops of espeak narration.
CLAUSE_PAUSE_S = 0.3
STRETCHED_WORD_S = 0.8
CLAUSE_MIN_CUE_S = 2.0
_SENTENCE_END = re.compile(r"[.?!…][\"'”’)\]]*$")
_CLAUSE_END = re.compile(r"[,;:][\"'”’)\]]*$")
_DONE = "transcript.vtt"


def make_transcriber(settings: TranscribeSettings) -> Transcriber:
    """The transcriber `transcribe.provider` names (the model loads on first use)."""
    from ingest.whisper import WhisperTranscriber

    return WhisperTranscriber(settings)


# ---------------------------------------------------------------- audio windows


def media_duration(path: Path) -> float | None:
    """Duration of the first audio stream (header only), None when unknown."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        s = container.streams.audio[0]
        if s.duration is not None and s.time_base is not None:
            return float(s.duration * s.time_base)
        return container.duration / 1_000_000 if container.duration else None


def audio_windows(path: Path, rel: str, window_s: float) -> Iterator[tuple[float, np.ndarray]]:
    """`(start_s, samples)` of consecutive windows of about `window_s` of mono 16 kHz audio.

    Decoding streams, so memory holds one window (+ CUT_SEARCH_S) whatever the file's length. Each window
    ends at the quietest moment near its end, so a word is rarely cut in two. Deterministic: the same file
    gives the same windows, which is what resuming relies on.
    """
    import av

    target = int(window_s * SAMPLE_RATE)
    buf: list[np.ndarray] = []
    held = 0
    start = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise IngestError(rel, "the file has no audio stream to transcribe",
                                  "Add a .vtt/.srt caption file next to it, or ingest with --transcribe never.")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            frames = container.decode(container.streams.audio[0])
            for frame in chain(frames, [None]):  # None flushes the resampler
                for out in resampler.resample(frame):
                    x = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    buf.append(x)
                    held += len(x)
                while held >= target + int(CUT_SEARCH_S * SAMPLE_RATE):
                    audio = np.concatenate(buf)
                    cut = _quiet_cut(audio, target)
                    yield start / SAMPLE_RATE, audio[:cut]
                    start += cut
                    buf, held = [audio[cut:]], len(audio) - cut
    except av.FFmpegError as e:
        raise IngestError(rel, f"the audio could not be decoded for transcription ({e})",
                          "Re-encode the file or add a caption file next to it.") from e
    if held:
        yield start / SAMPLE_RATE, np.concatenate(buf)


def _quiet_cut(audio: np.ndarray, target: int) -> int:
    """Sample index of the quietest 0.1 s in [target - CUT_SEARCH_S, target]."""
    hop = SAMPLE_RATE // 10
    lo = max(0, target - int(CUT_SEARCH_S * SAMPLE_RATE))
    n = (target - lo) // hop
    if n < 1:
        return target
    blocks = audio[lo:lo + n * hop].reshape(n, hop)
    k = int(np.argmin(np.mean(blocks.astype(np.float64) ** 2, axis=1)))
    return lo + k * hop + hop // 2


# ---------------------------------------------------------------- words -> cues -> WebVTT


def words_to_cues(words: Sequence[Word], max_s: float = CUE_MAX_S, gap_s: float = CUE_GAP_S) -> list[Cue]:
    """Caption cues from timed words: one per sentence, also split at pauses and in overlong sentences.

    Sentence punctuation ends a cue, so the extractors' sentence-end candidates and the cue a hit refines
    to are spoken sentences, as with a human caption file.
    """
    cues: list[Cue] = []
    cur: list[Word] = []

    def flush() -> None:
        text = re.sub(r"\s+", " ", "".join(w.text for w in cur)).strip()
        if text:
            cues.append(Cue(round(cur[0].start, 3), round(max(cur[-1].end, cur[0].start), 3), text))
        cur.clear()

    for i, w in enumerate(words):
        if cur and (w.start - cur[-1].end >= gap_s or w.end - cur[0].start > max_s):
            flush()
        cur.append(w)
        text = w.text.strip()
        if _SENTENCE_END.search(text):
            flush()
        elif _CLAUSE_END.search(text) and w.end - cur[0].start >= CLAUSE_MIN_CUE_S:
            nxt = words[i + 1].start if i + 1 < len(words) else w.end
            if nxt - w.end >= CLAUSE_PAUSE_S or w.end - w.start >= STRETCHED_WORD_S:
                flush()
    if cur:
        flush()
    return cues


def _stamp(t: float) -> str:
    ms = int(round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vtt_text(cues: Sequence[Cue], note: str = "") -> str:
    """A WebVTT document of the cues (with an optional NOTE block)."""
    lines = ["WEBVTT", ""]
    if note:
        lines += [f"NOTE {note}", ""]
    for i, c in enumerate(cues, start=1):
        lines += [str(i), f"{_stamp(c.start)} --> {_stamp(c.end)}", c.text, ""]
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- one file, resumable


def transcript_dir(index_dir: Path, sha256: str, key: str) -> Path:
    """Where one media file's transcript (and its unfinished windows) live: keyed by bytes and transcriber."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", key).strip("-")
    return transcripts_dir(index_dir) / f"{sha256[:16]}-{slug}"


Progress = Callable[[float, float | None], None]  # (seconds transcribed, total seconds or None)


def transcribe_file(path: Path, rel: str, sha256: str, transcriber: Transcriber, index_dir: Path, *,
                    window_s: float = 600.0, progress: Progress | None = None) -> Path:
    """The WebVTT transcript of one media file, made once per (bytes, transcriber) and reused after.

    Each window's words are written to disk as soon as it is done; a rerun after an interruption reads
    those back and transcribes only the windows that were not finished.
    """
    folder = transcript_dir(index_dir, sha256, transcriber.key)
    done = folder / _DONE
    if done.is_file():
        return done
    parts = folder / "windows"
    parts.mkdir(parents=True, exist_ok=True)
    total = media_duration(path)
    words: list[Word] = []
    for k, (start, audio) in enumerate(audio_windows(path, rel, window_s)):
        part = parts / f"w{k:04d}_{int(round(start * 1000))}.json"
        if part.is_file():
            got = [Word(*w) for w in json.loads(part.read_text())["words"]]
        else:
            got = [Word(round(w.start + start, 3), round(w.end + start, 3), w.text)
                   for w in transcriber.transcribe(audio)]
            _atomic_write(part, json.dumps({"start": start, "seconds": len(audio) / SAMPLE_RATE,
                                            "words": [[w.start, w.end, w.text] for w in got]}))
        words.extend(got)
        if progress is not None:
            progress(start + len(audio) / SAMPLE_RATE, total)
    note = f"Machine transcript of {rel} by {transcriber.label}. It may contain recognition errors."
    _atomic_write(done, vtt_text(words_to_cues(words), note))
    shutil.rmtree(parts, ignore_errors=True)
    return done
