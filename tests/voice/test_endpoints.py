"""POST /api/v1/autonomy/voice/transcribe, as STYLE §9 lists: 401, 403, 422, 413, 415, valid.

There is no 404 case: a transcription reads no tenant object.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from midcore.auth.roles import Role
from midcore.config import Settings
from tests.conftest import TenantKeys
from tests.test_app import assert_problem
from tests.voice.speech import ffmpeg_encode, speak
from tests.voice.transcription_server import Running, TranscriptionServer

URL = "/api/v1/autonomy/voice/transcribe"


@pytest.fixture(scope="module")
def command_wav() -> bytes:
    return speak("show the evidence")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Small limits, so that the tests can exceed them cheaply.
    settings.voice_max_bytes = 400_000
    settings.voice_max_duration_seconds = 8
    return settings


def _multipart(data: bytes, name: str = "speech.wav", **fields: str) -> dict[str, object]:
    return {"files": {"file": (name, data, "audio/wav")}, "data": fields}


class TestTranscribe:
    async def test_anonymous(self, client: httpx.AsyncClient, command_wav: bytes) -> None:
        response = await client.post(
            URL, content=command_wav, headers={"content-type": "audio/wav"}
        )
        assert_problem(response, 401, "authentication_required")

    async def test_viewer_may_not(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        response = await client.post(
            URL, **_multipart(command_wav), headers=tenant.headers(Role.viewer)
        )  # type: ignore[arg-type]
        body = assert_problem(response, 403, "permission_denied")
        assert "voice:transcribe" in str(body["detail"])

    async def test_multipart(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        response = await client.post(
            URL, **_multipart(command_wav), headers=tenant.headers(Role.operator)
        )  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["text"] == "show the evidence"
        assert body["intent"] == {"action": "evidence.list"}
        assert body["backend"] == "pocketsphinx" and body["language"] == "en"
        assert 1.0 < body["duration_seconds"] < 3.0
        (segment,) = body["segments"]
        assert 0 <= segment["start_seconds"] < segment["end_seconds"] <= body["duration_seconds"]

    async def test_raw_body_and_audit(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        headers = {**tenant.headers(Role.operator), "content-type": "audio/wav"}
        response = await client.post(URL, content=command_wav, headers=headers)
        assert response.status_code == 200, response.text
        audit = await client.get("/api/v1/audit", headers=tenant.headers(Role.admin))
        (event,) = [e for e in audit.json()["items"] if e["action"] == "voice.transcribe"]
        assert event["actor"].startswith("api_key:")
        assert event["details"] == {
            "bytes": len(command_wav),
            "duration_seconds": response.json()["duration_seconds"],
            "backend": "pocketsphinx",
        }
        # Neither the audio nor the text is kept.
        assert "evidence" not in str(event)

    async def test_webm_from_a_browser(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes, tmp_path: Path
    ) -> None:
        webm = ffmpeg_encode(command_wav, ".webm", "-codec:a", "libopus", tmp_path=tmp_path)
        headers = {**tenant.headers(Role.operator), "content-type": "audio/webm;codecs=opus"}
        response = await client.post(URL, content=webm, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["intent"] == {"action": "evidence.list"}

    async def test_empty(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.post(URL, **_multipart(b""), headers=tenant.headers(Role.operator))  # type: ignore[arg-type]
        assert_problem(response, 422, "audio_empty")

    async def test_multipart_without_file(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(
            URL, files={"audio": ("a.wav", b"RIFF", "audio/wav")}, headers=tenant.headers()
        )
        body = assert_problem(response, 422, "validation_failed")
        assert body["errors"] == [  # type: ignore[comparison-overlap]
            {"location": "body", "field": "file", "message": "Field required", "type": "missing"}
        ]

    async def test_truncated_wav(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        import io

        import soundfile

        samples, rate = soundfile.read(io.BytesIO(command_wav), dtype="int16")
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, rate, format="WAV")
        cut = buffer.getvalue()[:20_000]
        response = await client.post(URL, **_multipart(cut), headers=tenant.headers())  # type: ignore[arg-type]
        assert_problem(response, 422, "audio_truncated")

    async def test_silence(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        import io

        import numpy as np
        import soundfile

        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros(5 * 16000, dtype=np.int16), 16000, format="FLAC")
        response = await client.post(
            URL, **_multipart(buffer.getvalue(), "s.flac"), headers=tenant.headers()
        )  # type: ignore[arg-type]
        assert_problem(response, 422, "audio_silent")

    async def test_too_long(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        import io

        import numpy as np
        import soundfile

        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros(600 * 8000, dtype=np.int16), 8000, format="FLAC")
        response = await client.post(
            URL, **_multipart(buffer.getvalue(), "s.flac"), headers=tenant.headers()
        )  # type: ignore[arg-type]
        body = assert_problem(response, 422, "audio_too_long")
        assert body["detail"] == "the audio lasts 600.0 s; the limit is 8 s"

    async def test_language_the_backend_does_not_know(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        response = await client.post(
            URL,
            **_multipart(command_wav, language="de"),
            headers=tenant.headers(),  # type: ignore[arg-type]
        )
        body = assert_problem(response, 422, "voice_language_unsupported")
        assert "English ('en') only" in str(body["detail"])

    async def test_backend_not_allowed(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        response = await client.post(
            URL,
            params={"backend": "openai"},
            **_multipart(command_wav),
            headers=tenant.headers(),  # type: ignore[arg-type]
        )
        body = assert_problem(response, 422, "voice_backend_not_allowed")
        assert "MIDCORE_VOICE_ALLOWED_BACKENDS" in str(body["detail"])

    async def test_oversize(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        big = b"RIFF" + bytes(500_000)
        for kwargs in (
            _multipart(big),
            {"content": big, "headers": {"content-type": "audio/wav"}},
        ):
            headers = {**tenant.headers(), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
            response = await client.post(URL, headers=headers, **kwargs)  # type: ignore[arg-type]
            assert_problem(response, 413, "audio_too_large")

    async def test_oversize_without_length(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield bytes(100_000)

        headers = {**tenant.headers(), "content-type": "audio/wav"}
        response = await client.post(URL, content=chunks(), headers=headers)
        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "audio_too_large")

    async def test_text_renamed_wav(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        text = b"meeting notes, not a recording\n" * 20
        response = await client.post(URL, **_multipart(text, "notes.wav"), headers=tenant.headers())  # type: ignore[arg-type]
        assert_problem(response, 415, "audio_format_unsupported")

    async def test_not_audio_content_type(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(URL, json={"audio": "..."}, headers=tenant.headers())
        body = assert_problem(response, 415, "audio_format_unsupported")
        assert "application/json" in str(body["detail"])


class TestOtherBackends:
    @pytest.fixture
    def server(self) -> TranscriptionServer:
        return TranscriptionServer(answer=(200, {"text": "Run the gates on the main branch."}))

    @pytest.fixture
    def settings(self, settings: Settings, server: TranscriptionServer) -> Settings:
        settings.voice_allowed_backends = ["openai", "whisper"]
        settings.voice_openai_base_url = "http://placeholder"
        return settings

    async def test_a_request_may_choose_an_allowed_backend(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        server: TranscriptionServer,
        command_wav: bytes,
    ) -> None:
        with Running(server):
            app.state.settings.voice_openai_base_url = server.url
            response = await client.post(
                URL,
                **_multipart(command_wav, backend="openai"),
                headers=tenant.headers(),  # type: ignore[arg-type]
            )
        assert response.status_code == 200, response.text
        assert response.json()["backend"] == "openai"
        assert response.json()["intent"] == {"action": "gates.run", "workspace": "main"}

    async def test_unavailable_backend_is_503(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        response = await client.post(
            URL,
            params={"backend": "whisper"},
            **_multipart(command_wav),
            headers=tenant.headers(),  # type: ignore[arg-type]
        )
        assert_problem(response, 503, "voice_backend_unavailable")

    async def test_unreachable_backend_is_502(
        self, client: httpx.AsyncClient, tenant: TenantKeys, command_wav: bytes
    ) -> None:
        response = await client.post(
            URL,
            params={"backend": "openai"},
            **_multipart(command_wav),
            headers=tenant.headers(),  # type: ignore[arg-type]
        )
        assert_problem(response, 502, "voice_backend_failed")
