"""Decoding uploads: every supported format, and every way an upload can be unusable."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

from midcore.voice.audio import AudioLimits, check_not_silent, decode, sniff
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
from tests.voice.speech import convert, ffmpeg_encode, speak

LIMITS = AudioLimits()


@pytest.fixture(scope="module")
def hello() -> bytes:
    return speak("hello, this is a test of the audio decoder")


def _duration(wav: bytes) -> float:
    info = soundfile.info(io.BytesIO(wav))
    return float(info.frames / info.samplerate)


class TestFormats:
    def test_wav(self, hello: bytes) -> None:
        audio = decode(hello, LIMITS)
        assert (audio.format, audio.sample_rate) == ("wav", 22050)
        assert audio.duration_seconds == pytest.approx(_duration(hello), abs=0.01)
        check_not_silent(audio)

    @pytest.mark.parametrize(
        ("suffix", "kind"), [(".flac", "flac"), (".ogg", "ogg"), (".aiff", "aiff")]
    )
    def test_read_directly(self, hello: bytes, tmp_path: Path, suffix: str, kind: str) -> None:
        data = convert(hello, suffix, "-r", "44100", "-c", "2", tmp_path=tmp_path)
        audio = decode(data, LIMITS, ffmpeg="midcore-no-such-ffmpeg")  # no ffmpeg needed
        assert (audio.format, audio.sample_rate) == (kind, 44100)
        assert audio.samples.ndim == 1  # stereo mixed down
        assert audio.duration_seconds == pytest.approx(_duration(hello), abs=0.05)

    @pytest.mark.parametrize(
        ("suffix", "kind", "args"),
        [
            (".mp3", "mp3", ("-codec:a", "libmp3lame", "-b:a", "64k")),
            (".webm", "webm", ("-codec:a", "libopus")),
            (".m4a", "mp4", ("-codec:a", "aac")),
        ],
    )
    def test_through_ffmpeg(
        self, hello: bytes, tmp_path: Path, suffix: str, kind: str, args: tuple[str, ...]
    ) -> None:
        data = ffmpeg_encode(hello, suffix, *args, tmp_path=tmp_path)
        assert sniff(data) == kind
        audio = decode(data, LIMITS)
        assert (audio.format, audio.sample_rate) == (kind, 16000)
        # Encoders add a little padding; the speech itself is all there.
        assert audio.duration_seconds == pytest.approx(_duration(hello), abs=0.15)
        check_not_silent(audio)

    def test_without_ffmpeg_the_answer_says_what_to_install(
        self, hello: bytes, tmp_path: Path
    ) -> None:
        data = ffmpeg_encode(hello, ".webm", "-codec:a", "libopus", tmp_path=tmp_path)
        with pytest.raises(AudioDecoderMissing, match="install the 'ffmpeg' package") as caught:
            decode(data, LIMITS, ffmpeg="midcore-no-such-ffmpeg")
        assert caught.value.status == 415

    def test_resampling_keeps_the_duration(self, hello: bytes) -> None:
        audio = decode(hello, LIMITS)
        resampled = audio.resampled(16000)
        assert resampled.sample_rate == 16000
        assert len(resampled.samples) == pytest.approx(len(audio.samples) * 16000 / 22050, abs=2)
        wav = audio.wav(16000)
        info = soundfile.info(io.BytesIO(wav))
        assert (info.samplerate, info.channels) == (16000, 1)


class TestBadInput:
    def test_empty(self) -> None:
        with pytest.raises(AudioEmpty, match="empty"):
            decode(b"", LIMITS)

    def test_text_renamed_wav(self) -> None:
        text = b"# Notes\nThis is a text file that someone renamed to notes.wav\n"
        with pytest.raises(AudioFormatUnsupported, match="not audio in a known format"):
            decode(text, LIMITS)

    def test_truncated_wav(self, hello: bytes) -> None:
        # A WAV with a definite length, cut in the middle of its samples.
        audio = decode(hello, LIMITS)
        complete = audio.wav(16000)
        with pytest.raises(AudioTruncated, match="truncated"):
            decode(complete[: len(complete) // 2], LIMITS)

    def test_wav_cut_inside_its_header(self, hello: bytes) -> None:
        with pytest.raises(AudioTruncated, match="before its audio data"):
            decode(decode(hello, LIMITS).wav(16000)[:30], LIMITS)

    def test_wav_header_without_samples(self) -> None:
        header = struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF",
            36,
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            16000,
            32000,
            2,
            16,
            b"data",
            0,
        )
        with pytest.raises(AudioEmpty, match="no audio samples"):
            decode(header, LIMITS)

    def test_corrupt_flac(self, hello: bytes, tmp_path: Path) -> None:
        flac = convert(hello, ".flac", tmp_path=tmp_path)
        with pytest.raises(AudioUnreadable, match="cannot be decoded"):
            decode(flac[:4] + bytes(200) + flac[204:], LIMITS)

    def test_corrupt_mp3_through_ffmpeg(self) -> None:
        with pytest.raises(AudioUnreadable, match="MP3 file cannot be decoded"):
            decode(b"ID3" + bytes(5000), LIMITS)

    def test_ten_minutes_of_silence(self) -> None:
        # Ten minutes of digital silence compress to a few kilobytes of FLAC.
        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros(600 * 8000, dtype=np.int16), 8000, format="FLAC")
        data = buffer.getvalue()
        assert len(data) < 200_000
        with pytest.raises(AudioTooLong, match=r"600\.0 s; the limit is 120 s"):
            decode(data, LIMITS)
        audio = decode(data, AudioLimits(max_duration_seconds=900))
        assert audio.duration_seconds == pytest.approx(600)
        with pytest.raises(AudioSilent, match="silent"):
            check_not_silent(audio)

    def test_too_long_through_ffmpeg_is_cut_and_refused(self, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        soundfile.write(buffer, np.full(10 * 8000, 1000, dtype=np.int16), 8000, format="WAV")
        mp3 = ffmpeg_encode(buffer.getvalue(), ".mp3", tmp_path=tmp_path)
        with pytest.raises(AudioTooLong, match="the limit is 3 s"):
            decode(mp3, AudioLimits(max_duration_seconds=3))

    def test_oversize(self, hello: bytes) -> None:
        with pytest.raises(AudioTooLarge, match="the limit is 1000 bytes") as caught:
            decode(hello, AudioLimits(max_bytes=1000))
        assert caught.value.status == 413


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"RIFF\0\0\0\0WAVEfmt ", "wav"),
        (b"fLaC\0\0\0\x22", "flac"),
        (b"OggS\0\x02", "ogg"),
        (b"\x1a\x45\xdf\xa3\x01", "webm"),
        (b"\0\0\0\x20ftypM4A ", "mp4"),
        (b"ID3\x04\0", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),
        (b'{"json": true}', None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind
