"""`midcore evidence verify`, run through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from midcore.evidence.ledger import MemoryLedger

from . import packs

MIDCORE = str(Path(sys.executable).parent / "midcore")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIDCORE, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def exported(make_ledger: Callable[[int], MemoryLedger], tmp_path: Path) -> tuple[Path, str]:
    ledger = make_ledger(6)
    path = tmp_path / "pack.zip"
    path.write_bytes(ledger.export_pack())
    return path, ledger.keys.public_keys(ledger.tenant_id)[-1].note_key


def test_round_trip(exported: tuple[Path, str], tmp_path: Path) -> None:
    path, note_key = exported
    ok = run("evidence", "verify", str(path), "--key", note_key)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout and "entries    6 verified (gate 3, run 3)" in ok.stdout

    key_file = tmp_path / "log.vkey"
    key_file.write_text(note_key + "\n")
    as_json = run("evidence", "verify", str(path), "--key", str(key_file), "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["is_valid"] is True

    files = packs.unzip(path.read_bytes())
    lines = packs.lines(files)
    lines[1], lines[2] = lines[2], lines[1]
    packs.set_lines(files, lines)
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(packs.rezip(files))
    failed = run("evidence", "verify", str(tampered), "--key", note_key)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith(f"midcore: error: {tampered}: verification failed: entry 1: ")
    assert "inclusion" in failed.stderr


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    not_zip = tmp_path / "pack.zip"
    not_zip.write_text("hello")
    result = run("evidence", "verify", str(not_zip))
    assert result.returncode == 2
    assert result.stderr == f"midcore: error: {not_zip}: not a zip file\n"

    missing = run("evidence", "verify", str(tmp_path / "absent.zip"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_pack_without_manifest_exits_2(exported: tuple[Path, str]) -> None:
    path, _ = exported
    files = packs.unzip(path.read_bytes())
    del files["manifest.json"]
    path.write_bytes(packs.rezip(files))
    result = run("evidence", "verify", str(path))
    assert result.returncode == 2
    assert result.stderr == f"midcore: error: {path}: pack has no manifest.json\n"


def test_bad_key_exits_2(exported: tuple[Path, str]) -> None:
    path, _ = exported
    result = run("evidence", "verify", str(path), "--key", "nonsense")
    assert result.returncode == 2 and result.stderr.startswith("midcore: error: --key: ")
