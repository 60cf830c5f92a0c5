"""Transcribing an upload: decode, check, recognise, find the intent. No HTTP, no database.

The CLI calls this directly; the API calls it from a worker thread and audits the result.
"""

from __future__ import annotations

from midcore.config import Settings
from midcore.voice.audio import AudioLimits, check_not_silent, decode
from midcore.voice.backends import get_backend
from midcore.voice.intents import parse_intent
from midcore.voice.schemas import Transcription, TranscriptionSegment
from midcore.voice.vocabulary import Vocabulary, workspace_names


def limits(settings: Settings) -> AudioLimits:
    return AudioLimits(settings.voice_max_bytes, settings.voice_max_duration_seconds)


def vocabulary_for(settings: Settings) -> Vocabulary:
    # Gate names configured per tenant will join the defaults once tenants have settings.
    return Vocabulary.build(workspaces=workspace_names(settings.workspace_roots))


def transcribe(
    data: bytes,
    settings: Settings,
    *,
    backend: str | None = None,
    language: str | None = None,
    vocabulary: Vocabulary | None = None,
) -> Transcription:
    chosen = get_backend(settings, backend)
    audio = decode(data, limits(settings), ffmpeg=settings.voice_ffmpeg)
    check_not_silent(audio)
    vocabulary = vocabulary or vocabulary_for(settings)
    transcript = chosen.transcribe(audio, vocabulary, language)
    text = transcript.text.strip()
    return Transcription(
        text=text,
        language=transcript.language,
        duration_seconds=round(audio.duration_seconds, 3),
        backend=chosen.name,
        segments=[
            TranscriptionSegment(
                start_seconds=round(s.start_seconds, 3),
                end_seconds=round(s.end_seconds, 3),
                text=s.text,
            )
            for s in transcript.segments
        ],
        intent=parse_intent(text, vocabulary),
    )
