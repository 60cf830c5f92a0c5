"""A server on loopback that speaks the OpenAI `/v1/audio/transcriptions` protocol.

It answers what the test tells it to and keeps what it received, so that the tests can check the
request the backend sent (multipart, 16 kHz mono WAV, model, response format) and how the backend
reads each kind of answer.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any

import soundfile
import uvicorn
from fastapi import FastAPI, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse

from tests.e2e.conftest import free_port


@dataclass
class Received:
    model: str
    response_format: str
    prompt: str | None
    language: str | None
    authorization: str | None
    filename: str | None
    sample_rate: int
    channels: int
    seconds: float


@dataclass
class TranscriptionServer:
    api_key: str | None = None
    # (status, JSON body) for the next requests; plain text when the body is a str.
    answer: tuple[int, Any] = (200, {"text": ""})
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/audio/transcriptions", response_model=None)
        async def transcriptions(
            file: UploadFile = File(...),
            model: str = Form(...),
            response_format: str = Form("json"),
            prompt: str | None = Form(None),
            language: str | None = Form(None),
            authorization: str | None = Header(None),
        ) -> JSONResponse | PlainTextResponse:
            if self.api_key and authorization != f"Bearer {self.api_key}":
                error = {"message": "Incorrect API key provided", "type": "invalid_request_error"}
                return JSONResponse({"error": error}, status_code=401)
            info = soundfile.info(io.BytesIO(await file.read()))
            self.received.append(
                Received(
                    model,
                    response_format,
                    prompt,
                    language,
                    authorization,
                    file.filename,
                    info.samplerate,
                    info.channels,
                    info.frames / info.samplerate,
                )
            )
            status, body = self.answer
            if isinstance(body, str):
                return PlainTextResponse(body, status_code=status)
            return JSONResponse(body, status_code=status)

        return app


class Running:
    def __init__(self, server: TranscriptionServer) -> None:
        port = free_port()
        config = uvicorn.Config(server.app(), host="127.0.0.1", port=port, log_level="error")
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)
        server.url = f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> Running:
        self.thread.start()
        started = threading.Event()
        # uvicorn sets `started` once it listens; wait for it without a deadline of our own.
        while not self.uvicorn.started and self.thread.is_alive():
            started.wait(0.02)
        assert self.uvicorn.started, "the transcription server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.uvicorn.should_exit = True
        self.thread.join()
