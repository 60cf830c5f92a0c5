"""Result cache keyed on what a verdict depends on, and the store of each gate's last verdict."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from midcore.gates.config import GateSpec, sha256_json
from midcore.gates.models import GateResult, ToolInfo, Verdict

CACHE_FORMAT = 1
# Verdicts worth replaying: the inputs decide them. Errors and missing tools may be transient.
CACHEABLE = (Verdict.passed, Verdict.failed)


def cache_key(
    spec: GateSpec, tool: ToolInfo | None, inputs_sha256: str, packages_sha256: str | None = None
) -> str:
    return sha256_json(
        {
            "format": CACHE_FORMAT,
            "config": spec.config.model_dump(mode="json"),
            "tool": None if tool is None else [tool.path, tool.version],
            "packages_sha256": packages_sha256,
            "inputs_sha256": inputs_sha256,
            # The gate's own environment is passed to the tool; the rest of the parent's is not.
            "env": dict(sorted(spec.config.env.items())),
        }
    )


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    tmp.replace(path)


class ResultCache:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "gates" / "cache"

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> GateResult | None:
        path = self._path(key)
        try:
            result = GateResult.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None
        return result.model_copy(update={"is_cached": True})

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def put(self, key: str, result: GateResult) -> None:
        if result.verdict in CACHEABLE:
            _write_json(self._path(key), result.model_dump(mode="json"))


class LastVerdict(BaseModel):
    verdict: Verdict
    reason: str
    finished_at: datetime | None
    git_commit: str | None
    tree_sha256: str
    cache_key: str | None = None
    is_cached: bool = False


class LastResults:
    """The last verdict of each gate of a workspace, for `gates readiness`."""

    def __init__(self, data_dir: Path, workspace: Path) -> None:
        ident = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:24]
        self.path = data_dir / "gates" / "last" / f"{ident}.json"

    def load(self) -> dict[str, LastVerdict]:
        try:
            raw = json.loads(self.path.read_text())
            return {name: LastVerdict.model_validate(v) for name, v in raw["gates"].items()}
        except (OSError, ValueError, KeyError, ValidationError):
            return {}

    def record(self, results: list[GateResult], git_commit: str | None, tree_sha256: str) -> None:
        known = self.load()
        for result in results:
            # "skipped because not selected" says nothing new about the gate.
            if result.verdict is Verdict.skipped and result.reason.startswith("not selected"):
                continue
            known[result.name] = LastVerdict(
                verdict=result.verdict,
                reason=result.reason,
                finished_at=result.finished_at,
                git_commit=git_commit,
                tree_sha256=tree_sha256,
                cache_key=result.cache_key,
                is_cached=result.is_cached,
            )
        _write_json(self.path, {"gates": {k: v.model_dump(mode="json") for k, v in known.items()}})
