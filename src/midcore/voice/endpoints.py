"""POST /api/v1/autonomy/voice/transcribe: audio in (multipart `file` or raw body), text out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from midcore.audit.service import record
from midcore.auth.dependencies import require
from midcore.auth.principal import Principal
from midcore.auth.roles import Permission
from midcore.deps import DbSession, SettingsDep
from midcore.errors import BadRequest, ValidationFailed
from midcore.voice import service
from midcore.voice.errors import AudioFormatUnsupported, AudioTooLarge, BackendNotAllowed
from midcore.voice.schemas import Transcription

router = APIRouter(prefix="/api/v1/autonomy/voice", tags=["voice"])

VoiceTranscribe = Annotated[Principal, Depends(require(Permission.VOICE_TRANSCRIBE))]

# Room for the multipart boundaries and small fields around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_RAW_TYPES = ("application/octet-stream", "application/ogg", "video/webm", "video/mp4")

_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "backend": {"type": "string"},
                    "language": {"type": "string"},
                },
            }
        },
        "audio/*": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/transcribe",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={413: {}, 415: {}, 422: {}, 502: {}, 503: {}},
)
async def transcribe(
    request: Request,
    principal: VoiceTranscribe,
    session: DbSession,
    settings: SettingsDep,
    backend: str | None = Query(None, description="Another allowed backend for this request."),
    language: str | None = Query(None, description="ISO 639-1 code, when known."),
) -> Transcription:
    """Transcribe a recording; a recognised command comes back as an `intent` to confirm.

    Nothing is started: the client decides what to do with the intent.
    """
    content_type = request.headers.get("content-type", "application/octet-stream")
    media_type = content_type.split(";")[0].strip().lower()
    is_multipart = media_type == "multipart/form-data"
    if not is_multipart and not (media_type.startswith("audio/") or media_type in _RAW_TYPES):
        raise AudioFormatUnsupported(
            f"send audio as multipart/form-data (field 'file') or as a raw body with an audio "
            f"content type, not {media_type}"
        )
    limit = settings.voice_max_bytes + (_MULTIPART_OVERHEAD if is_multipart else 0)
    body = await _read_body(request, limit, settings.voice_max_bytes)
    if is_multipart:
        data, fields = await _file_from_multipart(request, body)
        backend = fields.get("backend") or backend
        language = fields.get("language") or language
    else:
        data = body
    if backend is not None and not backend:
        raise BackendNotAllowed("'backend' is empty")
    result = await run_in_threadpool(
        service.transcribe, data, settings, backend=backend, language=language or None
    )
    # Who, how much and how long: never the audio or the text (a tenant opt-in may add them).
    record(
        session,
        principal,
        "voice.transcribe",
        details={
            "bytes": len(data),
            "duration_seconds": result.duration_seconds,
            "backend": result.backend,
        },
        client_ip=request.client.host if request.client else None,
    )
    return result


async def _read_body(request: Request, limit: int, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise AudioTooLarge(f"the upload is {declared} bytes; the limit is {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise AudioTooLarge(f"the upload exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _file_from_multipart(request: Request, body: bytes) -> tuple[bytes, dict[str, str]]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"the multipart body cannot be read: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _missing_file()
        data = await upload.read()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    finally:
        await form.close()
    return data, fields


def _missing_file() -> ValidationFailed:
    return ValidationFailed(
        "the multipart body has no file field 'file'",
        extra={
            "errors": [
                {
                    "location": "body",
                    "field": "file",
                    "message": "Field required",
                    "type": "missing",
                }
            ]
        },
    )
