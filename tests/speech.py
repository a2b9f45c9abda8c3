"""Generated speech for speech-to-text tests and benchmarks: espeak-ng narration of known text, noise at a
given SNR, and small videos whose frames carry no text at all (so only the audio can be searched)."""

from __future__ import annotations

import io
import subprocess
import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

RATE = 16000


def say(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """espeak-ng speech of `text` as mono float32 at 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        sr = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    n = int(round(len(x) * RATE / sr))
    return np.interp(np.arange(n) * sr / RATE, np.arange(len(x)), x).astype(np.float32)


def narrate(sentences: Sequence[str], voice: str = "en-us", speed: int = 160, gap_s: float = 0.7,
            lead_s: float = 0.5) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """Sentences spoken one after another with pauses; returns the audio and each sentence's exact span."""
    pieces = [np.zeros(int(lead_s * RATE), np.float32)]
    n = len(pieces[0])
    spans = []
    for text in sentences:
        s = say(text, voice, speed)
        spans.append((n / RATE, (n + len(s)) / RATE, text))
        pieces += [s, np.zeros(int(gap_s * RATE), np.float32)]
        n += len(s) + int(gap_s * RATE)
    return np.concatenate(pieces), spans


def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at `snr_db` relative to the speech power (speech = samples above 1 % of the peak)."""
    speech = audio[np.abs(audio) > 0.01 * np.abs(audio).max()]
    power = float(np.mean(speech.astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(audio))
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray) -> Path:
    """16-bit mono WAV at 16 kHz."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def textless_video(path: Path, audio: np.ndarray, fps: int = 5, size: tuple[int, int] = (320, 180)) -> Path:
    """An mp4 (H.264 + AAC) whose picture is a slowly drifting colour field: no letters for OCR to read."""
    import av

    w, h = size
    duration = len(audio) / RATE
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("aac", rate=RATE)
        aus.layout = "mono"
        for i in range(int(np.ceil(duration * fps))):
            t = i / fps
            img = np.stack([(xx + 20 * t) % 256, (yy + 10 * t) % 256, np.full_like(xx, 128)], -1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
        step = 1024
        for k in range(0, len(pcm), step):
            af = av.AudioFrame.from_ndarray(pcm[None, k:k + step], format="s16", layout="mono")
            af.sample_rate = RATE
            af.pts = k
            af.time_base = Fraction(1, RATE)
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path
