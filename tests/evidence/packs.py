"""Helpers to open a pack, change it the way an attacker would, and zip it again."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any


def unzip(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def lines(files: dict[str, bytes]) -> list[bytes]:
    return files["attestations.intoto.jsonl"].split(b"\n")[:-1]


def set_lines(files: dict[str, bytes], new_lines: list[bytes]) -> None:
    files["attestations.intoto.jsonl"] = b"".join(line + b"\n" for line in new_lines)


def envelope_json(line: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(line)
    return value


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
