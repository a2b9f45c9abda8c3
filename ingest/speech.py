"""The speech-to-text interface: a `Transcriber` turns audio into timed `Word`s (implementations:
ingest/whisper.py; the pipeline drives them through ingest/transcribe.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Word:
    """One recognised word: seconds from the start of the media (or of the window handed over)."""

    start: float
    end: float
    text: str  # as the model writes it, with its leading space


class Transcriber(Protocol):
    """Audio in, timed words out. One implementation per service (offline Whisper now, Gemini next)."""

    @property
    def key(self) -> str:
        """Identity of everything that changes the words (model, settings): names caches and source hashes."""
        ...

    @property
    def label(self) -> str:
        """For people and the manifest, e.g. `faster-whisper tiny.en int8 + VAD (offline)`."""
        ...

    def transcribe(self, audio: np.ndarray) -> list[Word]:
        """Words of mono float32 16 kHz samples; times from the first sample."""
        ...
