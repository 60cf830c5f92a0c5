"""Any OpenAI-compatible `/audio/transcriptions` endpoint: a hosted API or a local server."""

from __future__ import annotations

from typing import Any

import httpx

from midcore.voice.audio import Audio
from midcore.voice.backends.base import Segment, Transcript
from midcore.voice.errors import BackendFailed, BackendUnavailable
from midcore.voice.vocabulary import Vocabulary

RATE = 16000
_TIMEOUT_SECONDS = 120.0


class OpenAIBackend:
    name = "openai"

    def __init__(self, *, base_url: str | None, api_key: str | None, model: str) -> None:
        if not base_url:
            raise BackendUnavailable(
                "the openai voice backend needs MIDCORE_VOICE_OPENAI_BASE_URL "
                "(for example https://api.openai.com/v1 or a local server's /v1)"
            )
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.api_key = api_key
        self.model = model

    def transcribe(self, audio: Audio, vocabulary: Vocabulary, language: str | None) -> Transcript:
        # 16 kHz mono WAV: every such server reads it, and it is what the recognisers use anyway.
        files = {"file": ("audio.wav", audio.wav(RATE), "audio/wav")}
        data = {
            "model": self.model,
            "response_format": "verbose_json",
            "prompt": vocabulary.prompt(),
        }
        if language:
            data["language"] = language
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(
                self.url, files=files, data=data, headers=headers, timeout=_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            raise BackendFailed(
                f"could not reach the transcription server {self.url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise BackendFailed(
                f"the transcription server answered {response.status_code}: {_message(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise BackendFailed("the transcription server did not answer with JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise BackendFailed("the transcription server's answer has no 'text'")
        return Transcript(
            text=body["text"].strip(),
            language=_language(body.get("language")) or language,
            segments=_segments(body.get("segments")),
        )


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return response.text[:200] or response.reason_phrase


# verbose_json names the language in English ("english"); the API answers ISO 639-1 codes.
_LANGUAGE_CODES = {
    "english": "en",
    "german": "de",
    "french": "fr",
    "spanish": "es",
    "italian": "it",
}


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return _LANGUAGE_CODES.get(value.lower(), value.lower())


def _segments(value: Any) -> list[Segment]:
    if not isinstance(value, list):
        return []
    segments = []
    for item in value:
        if isinstance(item, dict) and {"start", "end", "text"} <= item.keys():
            try:
                segments.append(
                    Segment(float(item["start"]), float(item["end"]), str(item["text"]).strip())
                )
            except (TypeError, ValueError):
                continue
    return segments
