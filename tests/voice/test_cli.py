"""`midcore voice transcribe FILE`, run as the real command."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import midcore_env, run_midcore
from tests.voice.speech import speak


def test_json_with_a_workspace_from_the_roots(tmp_path: Path) -> None:
    roots = tmp_path / "workspaces"
    (roots / "website").mkdir(parents=True)
    recording = tmp_path / "command.wav"
    recording.write_bytes(speak("run the gates on website"))
    env = midcore_env(tmp_path / "data", MIDCORE_WORKSPACE_ROOTS=str(roots))
    result = run_midcore("voice", "transcribe", str(recording), "--json", env=env)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["text"] == "run the gates on website"
    assert body["intent"] == {"action": "gates.run", "workspace": "website"}
    assert body["backend"] == "pocketsphinx"


def test_for_people(tmp_path: Path) -> None:
    recording = tmp_path / "command.wav"
    recording.write_bytes(speak("cancel the last run"))
    result = run_midcore("voice", "transcribe", str(recording), env=midcore_env(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cancel the last run"
    assert lines[1] == "command runs.cancel run=last"
    assert "pocketsphinx" in lines[2]


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("not a recording\n")
    result = run_midcore("voice", "transcribe", str(notes), env=midcore_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        "midcore: error: the upload is not audio in a known format: send WAV, FLAC, OGG or AIFF "
        "(and MP3, WebM or MP4 when ffmpeg is installed)\n"
    )


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_midcore(
        "voice", "transcribe", str(tmp_path / "nope.wav"), env=midcore_env(tmp_path)
    )
    assert result.returncode == 2
    assert result.stderr.startswith("midcore: error: cannot read ")
    assert len(result.stderr.splitlines()) == 1
