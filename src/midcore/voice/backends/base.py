"""The one interface every transcription backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from midcore.voice.audio import Audio
from midcore.voice.vocabulary import Vocabulary


@dataclass(frozen=True)
class Segment:
    start_seconds: float
    end_seconds: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    segments: list[Segment] = field(default_factory=list)


class Backend(Protocol):
    name: str

    def transcribe(self, audio: Audio, vocabulary: Vocabulary, language: str | None) -> Transcript:
        """Text of `audio`; blocking (the API calls it from a worker thread)."""
        ...
