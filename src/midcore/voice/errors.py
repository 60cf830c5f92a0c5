"""Voice problems, each a MidcoreError so the API renders it as problem+json."""

from __future__ import annotations

from midcore.errors import (
    MidcoreError,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)


class AudioTooLarge(PayloadTooLarge):
    code = "audio_too_large"


class AudioFormatUnsupported(UnsupportedMediaType):
    code = "audio_format_unsupported"


class AudioDecoderMissing(UnsupportedMediaType):
    code = "audio_decoder_missing"
    title = "Audio decoder not installed"


class AudioEmpty(ValidationFailed):
    code = "audio_empty"
    title = "Empty audio"


class AudioUnreadable(ValidationFailed):
    code = "audio_unreadable"
    title = "Unreadable audio"


class AudioTruncated(ValidationFailed):
    code = "audio_truncated"
    title = "Truncated audio"


class AudioTooLong(ValidationFailed):
    code = "audio_too_long"
    title = "Audio too long"


class AudioSilent(ValidationFailed):
    code = "audio_silent"
    title = "Silent audio"


class LanguageUnsupported(ValidationFailed):
    code = "voice_language_unsupported"


class BackendNotAllowed(ValidationFailed):
    code = "voice_backend_not_allowed"


class BackendUnavailable(ServiceUnavailable):
    """The backend cannot work as configured (missing package, model or URL)."""

    code = "voice_backend_unavailable"
    title = "Transcription backend unavailable"


class BackendFailed(MidcoreError):
    """The backend was reached but did not give a transcript."""

    status, code, title = 502, "voice_backend_failed", "Transcription backend failed"
