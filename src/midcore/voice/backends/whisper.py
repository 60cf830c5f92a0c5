"""faster-whisper with a model directory given by path: nothing is downloaded at run time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from midcore.voice.audio import Audio
from midcore.voice.backends.base import Segment, Transcript
from midcore.voice.errors import BackendUnavailable
from midcore.voice.vocabulary import Vocabulary

RATE = 16000
_models: dict[Path, Any] = {}
_lock = threading.Lock()


def check_model_dir(model_dir: Path | None) -> Path:
    if model_dir is None:
        raise BackendUnavailable(
            "the whisper voice backend needs MIDCORE_VOICE_WHISPER_MODEL_DIR: the path of a "
            "CTranslate2 Whisper model directory (one holding model.bin)"
        )
    if not (model_dir / "model.bin").is_file():
        raise BackendUnavailable(
            f"MIDCORE_VOICE_WHISPER_MODEL_DIR={model_dir} does not hold a CTranslate2 Whisper "
            "model (no model.bin there)"
        )
    return model_dir


class WhisperBackend:
    name = "whisper"

    def __init__(self, model_dir: Path | None) -> None:
        self.model_dir = check_model_dir(model_dir)

    def transcribe(self, audio: Audio, vocabulary: Vocabulary, language: str | None) -> Transcript:
        model = _model(self.model_dir)
        pieces, info = model.transcribe(
            audio.resampled(RATE).samples,
            language=language,
            initial_prompt=vocabulary.prompt(),
            vad_filter=False,
        )
        segments = [Segment(float(p.start), float(p.end), str(p.text).strip()) for p in pieces]
        return Transcript(
            text=" ".join(segment.text for segment in segments).strip(),
            language=getattr(info, "language", None),
            segments=segments,
        )


def _model(model_dir: Path) -> Any:
    with _lock:
        if model_dir not in _models:
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:
                raise BackendUnavailable(
                    "the whisper voice backend needs faster-whisper: pip install 'midcore[whisper]'"
                ) from exc
            _models[model_dir] = WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", local_files_only=True
            )
        return _models[model_dir]
