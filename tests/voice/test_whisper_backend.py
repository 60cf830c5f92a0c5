"""The whisper backend refuses clearly when its model is not where the settings say.

No Whisper model ships in a package this project can install, so transcription itself is not
exercised here; the backend loads a CTranslate2 model from MIDCORE_VOICE_WHISPER_MODEL_DIR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from midcore.config import Settings
from midcore.voice.errors import BackendUnavailable
from midcore.voice.service import transcribe
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
