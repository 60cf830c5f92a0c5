"""voice.transcribe against a real server: the upload reaches the endpoint as multipart `file`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from midcore.client import APIStatusError, AsyncMidcore, BadRequestError
from tests.client.fixtures import Served


@pytest.fixture
def voice(served: Served) -> None:
    paths = httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    if "/api/v1/autonomy/voice/transcribe" not in paths:
        pytest.skip("this server has no voice API yet")


def test_transcribe_sends_the_file(served: Served, voice: None) -> None:
    with served.client() as client, pytest.raises(APIStatusError) as raised:
        client.voice.transcribe(b"RIFF....WAVEnot really audio", filename="note.wav")
    # The server read the file and judged the audio, rather than missing the upload.
    assert raised.value.status in {415, 422}
    assert "no file field" not in (raised.value.detail or "")
    assert not isinstance(raised.value, BadRequestError)


async def test_async_transcribe_sends_the_file(served: Served, voice: None) -> None:
    async with AsyncMidcore(served.url, served.key) as client:
        with pytest.raises(APIStatusError) as raised:
            await client.voice.transcribe(b"RIFF....WAVEnot really audio", filename="note.wav")
    assert raised.value.status in {415, 422}
    assert "no file field" not in (raised.value.detail or "")


def test_transcribe_speech_to_text_and_intent(served: Served, voice: None, tmp_path: Path) -> None:
    from tests.voice.speech import speak

    recording = tmp_path / "command.wav"
    recording.write_bytes(speak("show the evidence"))
    with served.client() as client:
        from_path = client.voice.transcribe(recording, content_type="audio/wav")
        with recording.open("rb") as file:
            from_file = client.voice.transcribe(file, filename="command.wav", language="en")
    assert from_path.text == from_file.text == "show the evidence"
    assert from_path.intent == {"action": "evidence.list"}
    assert from_path.backend == "pocketsphinx" and from_path.duration_seconds > 0
    assert from_path.segments and from_path.segments[0].text
