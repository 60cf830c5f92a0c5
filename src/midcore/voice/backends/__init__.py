"""Transcription backends, chosen by name: pocketsphinx (offline default), whisper, openai."""

from __future__ import annotations

from midcore.config import Settings
from midcore.voice.backends.base import Backend, Segment, Transcript
from midcore.voice.errors import BackendNotAllowed

BACKENDS = ("pocketsphinx", "whisper", "openai")

__all__ = ["BACKENDS", "Backend", "Segment", "Transcript", "allowed_backends", "get_backend"]


def allowed_backends(settings: Settings) -> list[str]:
    """The configured backend first, then those a request may ask for instead."""
    return list(dict.fromkeys([settings.voice_backend, *settings.voice_allowed_backends]))


def get_backend(settings: Settings, requested: str | None = None) -> Backend:
    name = requested or settings.voice_backend
    if name not in BACKENDS:
        raise BackendNotAllowed(f"unknown voice backend {name!r}; known: {', '.join(BACKENDS)}")
    if requested and requested not in allowed_backends(settings):
        raise BackendNotAllowed(
            f"this server does not let a request choose the backend {requested!r}; "
            f"allowed: {', '.join(allowed_backends(settings))} (MIDCORE_VOICE_ALLOWED_BACKENDS)"
        )
    # Imported here so that choosing one backend never loads another's libraries.
    if name == "pocketsphinx":
        from midcore.voice.backends.pocketsphinx import PocketsphinxBackend

        return PocketsphinxBackend()
    if name == "whisper":
        from midcore.voice.backends.whisper import WhisperBackend

        return WhisperBackend(settings.voice_whisper_model_dir)
    from midcore.voice.backends.openai import OpenAIBackend

    return OpenAIBackend(
        base_url=settings.voice_openai_base_url,
        api_key=settings.voice_openai_api_key,
        model=settings.voice_openai_model,
    )
