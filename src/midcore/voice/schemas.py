"""What the transcription endpoint answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TranscriptionSegment(BaseModel):
    start_seconds: float
    end_seconds: float
    text: str


class Transcription(BaseModel):
    text: str
    language: str | None
    duration_seconds: float
    backend: str
    segments: list[TranscriptionSegment] = Field(
        description="Stretches of the text with their times, where the backend gives them."
    )
    intent: dict[str, str | list[str]] | None = Field(
        None,
        description=(
            "The command the text states, e.g. {'action': 'gates.run', 'workspace': 'main'}. "
            "A proposal for the client to confirm: transcribing never starts anything."
        ),
        examples=[{"action": "gates.run", "workspace": "main"}],
    )
