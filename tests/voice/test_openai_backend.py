"""The OpenAI-compatible backend against a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from midcore.config import Settings
from midcore.voice.errors import BackendFailed, BackendUnavailable
from midcore.voice.service import transcribe
from midcore.voice.vocabulary import Vocabulary
from tests.e2e.conftest import free_port
from tests.voice.speech import speak
from tests.voice.transcription_server import Running, TranscriptionServer

VERBOSE = {
    "task": "transcribe",
    "language": "english",
    "duration": 2.1,
    "text": " Run the gates on the main branch.",
    "segments": [
        {"id": 0, "seek": 0, "start": 0.0, "end": 2.1, "text": " Run the gates on the main branch."}
    ],
}


@pytest.fixture
def server() -> Iterator[TranscriptionServer]:
    server = TranscriptionServer(api_key="sk-test", answer=(200, VERBOSE))
    with Running(server):
        yield server


@pytest.fixture(scope="module")
def command_audio() -> bytes:
    return speak("run the gates on the main branch")


def _settings(server: TranscriptionServer, **extra: object) -> Settings:
    values: dict[str, object] = {
        "voice_backend": "openai",
        "voice_openai_base_url": server.url,
        "voice_openai_api_key": "sk-test",
        "voice_openai_model": "whisper-large-v3",
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def test_verbose_json(server: TranscriptionServer, command_audio: bytes) -> None:
    vocabulary = Vocabulary.build(workspaces=["billing-api"])
    result = transcribe(command_audio, _settings(server), vocabulary=vocabulary)
    assert result.backend == "openai"
    assert result.text == "Run the gates on the main branch."
    assert result.language == "en"
    assert result.intent == {"action": "gates.run", "workspace": "main"}
    assert [(s.start_seconds, s.end_seconds) for s in result.segments] == [(0.0, 2.1)]
    (received,) = server.received
    assert received.model == "whisper-large-v3"
    assert received.response_format == "verbose_json"
    assert received.authorization == "Bearer sk-test"
    # The backend sends what it recognises best: 16 kHz mono WAV, the whole recording.
    assert (received.sample_rate, received.channels) == (16000, 1)
    assert received.seconds == pytest.approx(result.duration_seconds, abs=0.01)
    assert received.prompt and "billing-api" in received.prompt


def test_plain_json_without_segments(server: TranscriptionServer, command_audio: bytes) -> None:
    server.answer = (200, {"text": "Start a vibe session: add a dark mode toggle."})
    result = transcribe(command_audio, _settings(server), language="en")
    assert result.intent == {"action": "vibe.run", "prompt": "add a dark mode toggle."}
    assert result.segments == [] and result.language == "en"
    assert server.received[0].language == "en"


def test_wrong_key(server: TranscriptionServer, command_audio: bytes) -> None:
    settings = _settings(server, voice_openai_api_key="sk-wrong")
    with pytest.raises(BackendFailed, match="answered 401: Incorrect API key provided"):
        transcribe(command_audio, settings)


def test_server_error(server: TranscriptionServer, command_audio: bytes) -> None:
    server.answer = (500, "upstream exploded")
    with pytest.raises(BackendFailed, match="answered 500: upstream exploded") as caught:
        transcribe(command_audio, _settings(server))
    assert caught.value.status == 502


@pytest.mark.parametrize("body", ["not json", {"segments": []}, ["text"]])
def test_answers_without_text(
    server: TranscriptionServer, command_audio: bytes, body: object
) -> None:
    server.answer = (200, body)
    with pytest.raises(BackendFailed, match=r"JSON|no 'text'"):
        transcribe(command_audio, _settings(server))


def test_nobody_listening(command_audio: bytes) -> None:
    settings = Settings(
        voice_backend="openai", voice_openai_base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    with pytest.raises(BackendFailed, match="could not reach the transcription server"):
        transcribe(command_audio, settings)


def test_base_url_missing(command_audio: bytes) -> None:
    with pytest.raises(BackendUnavailable, match="MIDCORE_VOICE_OPENAI_BASE_URL") as caught:
        transcribe(command_audio, Settings(voice_backend="openai"))
    assert caught.value.status == 503
