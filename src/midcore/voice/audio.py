"""Reading uploaded audio: recognise the format, decode, check the limits, resample.

WAV, FLAC, OGG (Vorbis or Opus) and AIFF are read directly through libsndfile; MP3, WebM and MP4
(what browsers and phones record) go through ffmpeg when it is installed. Every way a file can be
unusable ends in a VoiceError subclass with a sentence saying what is wrong, never a crash.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from midcore.voice.errors import (
    AudioDecoderMissing,
    AudioEmpty,
    AudioFormatUnsupported,
    AudioSilent,
    AudioTooLarge,
    AudioTooLong,
    AudioTruncated,
    AudioUnreadable,
)

Samples = npt.NDArray[np.float32]

DIRECT_FORMATS = ("wav", "flac", "ogg", "aiff")
FFMPEG_FORMATS = ("mp3", "webm", "mp4")
# Below -60 dBFS at its loudest, a recording holds nothing a recogniser could hear.
SILENCE_PEAK = 10 ** (-60 / 20)
# ffmpeg decodes to this rate; every backend wants 16 kHz, so nothing is resampled twice.
FFMPEG_RATE = 16000
_FFMPEG_TIMEOUT_SECONDS = 120
_UNKNOWN_WAV_SIZE = 0x7FFF0000
_SUPPORTED = "WAV, FLAC, OGG or AIFF (and MP3, WebM or MP4 when ffmpeg is installed)"


@dataclass(frozen=True)
class AudioLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_duration_seconds: float = 120.0


@dataclass(frozen=True)
class Audio:
    """Mono samples in [-1, 1] at `sample_rate`."""

    samples: Samples
    sample_rate: int
    format: str

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    def resampled(self, rate: int) -> Audio:
        if rate == self.sample_rate:
            return self
        import soxr

        samples = soxr.resample(self.samples, self.sample_rate, rate).astype(np.float32)
        return Audio(samples, rate, self.format)

    def pcm16(self, rate: int) -> bytes:
        """Signed 16-bit little-endian mono at `rate`: what pocketsphinx reads."""
        samples = self.resampled(rate).samples
        return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    def wav(self, rate: int) -> bytes:
        pcm = self.pcm16(rate)
        header = struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF",
            36 + len(pcm),
            b"WAVE",
            b"fmt ",
            16,
            1,  # PCM
            1,  # mono
            rate,
            rate * 2,
            2,
            16,
            b"data",
            len(pcm),
        )
        return header + pcm


def sniff(data: bytes) -> str | None:
    """The container format from the first bytes, or None when they are not audio we know."""
    if len(data) >= 12 and data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if len(data) >= 12 and data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if len(data) >= 8 and data[4:8] == b"ftyp":
        return "mp4"
    if data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def decode(data: bytes, limits: AudioLimits, *, ffmpeg: str = "ffmpeg") -> Audio:
    """Decode `data` to mono samples, enforcing the size and duration limits."""
    if not data:
        raise AudioEmpty("the upload is empty: send a recording")
    if len(data) > limits.max_bytes:
        raise AudioTooLarge(
            f"the audio is {len(data)} bytes; the limit is {limits.max_bytes} bytes"
        )
    kind = sniff(data)
    if kind is None:
        raise AudioFormatUnsupported(
            f"the upload is not audio in a known format: send {_SUPPORTED}"
        )
    if kind == "wav":
        _check_wav_complete(data)
    audio = _read_direct(data, kind, limits) if kind in DIRECT_FORMATS else None
    if audio is None:
        audio = _read_with_ffmpeg(data, kind, limits, ffmpeg)
    if len(audio.samples) == 0:
        raise AudioEmpty(f"the {kind.upper()} file holds no audio samples")
    _check_duration(audio.duration_seconds, limits)
    return audio


def check_not_silent(audio: Audio) -> None:
    if float(np.max(np.abs(audio.samples))) < SILENCE_PEAK:
        raise AudioSilent(
            f"the {audio.duration_seconds:.1f} s of audio are silent (quieter than -60 dBFS); "
            "check the microphone"
        )


def _check_duration(seconds: float, limits: AudioLimits) -> None:
    if seconds > limits.max_duration_seconds:
        raise AudioTooLong(
            f"the audio lasts {seconds:.1f} s; the limit is {limits.max_duration_seconds:g} s"
        )


def _check_wav_complete(data: bytes) -> None:
    """A WAV whose data chunk is shorter than its header says was cut off in transit.

    Streaming writers that do not know the length in advance put 0 or a huge placeholder there
    (0xFFFFFFFF, or 0x7FFFF000 from espeak-ng); those files are read as far as they go.
    """
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if chunk_id == b"data":
            available = len(data) - body
            if 0 < size < _UNKNOWN_WAV_SIZE and available < size:
                raise AudioTruncated(
                    f"the WAV file is truncated: its header announces {size} bytes of audio "
                    f"but only {available} arrived"
                )
            return
        offset = body + size + (size & 1)
    raise AudioTruncated("the WAV file is truncated: it ends before its audio data begins")


def _read_direct(data: bytes, kind: str, limits: AudioLimits) -> Audio:
    import soundfile

    try:
        with soundfile.SoundFile(io.BytesIO(data)) as handle:
            rate = int(handle.samplerate)
            if handle.frames > 0 and handle.seekable():
                # Refuse long recordings from the header alone, before decoding any of them.
                _check_duration(handle.frames / rate, limits)
            # Reading one second past the limit is enough to know it is exceeded.
            cap = int((limits.max_duration_seconds + 1) * rate)
            frames = handle.read(cap, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioUnreadable(f"the {kind.upper()} file cannot be decoded: {exc}") from exc
    samples = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), rate, kind)


def _read_with_ffmpeg(data: bytes, kind: str, limits: AudioLimits, ffmpeg: str) -> Audio:
    executable = shutil.which(ffmpeg)
    if executable is None:
        raise AudioDecoderMissing(
            f"{kind.upper()} audio needs ffmpeg, which is not installed on the server "
            f"(install the 'ffmpeg' package, or send {', '.join(DIRECT_FORMATS).upper()})"
        )
    # A file, not a pipe: MP4 keeps its index at the end and ffmpeg must seek to it.
    with tempfile.TemporaryDirectory(prefix="midcore-voice-") as folder:
        source = Path(folder) / f"upload.{kind}"
        source.write_bytes(data)
        command = [
            executable,
            *("-nostdin", "-hide_banner", "-loglevel", "error"),
            *("-i", str(source)),
            *("-t", f"{limits.max_duration_seconds + 1:g}"),
            *("-vn", "-ac", "1", "-ar", str(FFMPEG_RATE), "-f", "s16le", "pipe:1"),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, timeout=_FFMPEG_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise AudioUnreadable(
                f"ffmpeg did not finish decoding the {kind.upper()} file"
            ) from exc
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        last = reason[-1] if reason else f"exit status {result.returncode}"
        raise AudioUnreadable(f"the {kind.upper()} file cannot be decoded: {last}")
    pcm = np.frombuffer(result.stdout[: len(result.stdout) // 2 * 2], dtype="<i2")
    return Audio((pcm.astype(np.float32) / 32768.0), FFMPEG_RATE, kind)
