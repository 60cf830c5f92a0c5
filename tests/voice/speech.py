"""Real audio for the tests: espeak-ng speaks, sox converts; no recordings are stored."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

# One voice and speed for every test, so that results do not depend on espeak-ng's defaults.
# Of the English voices, this one suits the pocketsphinx model best (see benchmarks/voice_bench.py).
VOICE = "en-us+f3"
WORDS_PER_MINUTE = 150


def require_tool(name: str) -> str:
    """The tool's path; outside CI a missing tool skips the test, in CI it fails it."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (scripts/system-packages installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def speak(text: str) -> bytes:
    """espeak-ng's own output: a 22050 Hz WAV."""
    espeak = require_tool("espeak-ng")
    command = [espeak, "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "--stdout", text]
    return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout


def convert(wav: bytes, suffix: str, *args: str, tmp_path: Path) -> bytes:
    """`wav` converted by sox (format from `suffix`, options like '-r 16000' in `args`)."""
    sox = require_tool("sox")
    source, target = tmp_path / "in.wav", tmp_path / f"out{suffix}"
    source.write_bytes(wav)
    subprocess.run([sox, str(source), *args, str(target)], check=True, timeout=60)
    return target.read_bytes()


def ffmpeg_encode(wav: bytes, suffix: str, *args: str, tmp_path: Path) -> bytes:
    ffmpeg = require_tool("ffmpeg")
    source, target = tmp_path / "in.wav", tmp_path / f"out{suffix}"
    source.write_bytes(wav)
    command = [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *args]
    subprocess.run([*command, str(target)], check=True, timeout=120)
    return target.read_bytes()
