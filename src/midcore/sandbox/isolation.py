"""Isolation for agent processes: bubblewrap when available (read-only root, writable workspace,
no network unless allowed), otherwise only the process group and resource limits."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from midcore.errors import ConfigurationError

SandboxMode = Literal["auto", "bwrap", "none"]


@dataclass(frozen=True)
class Isolation:
    """What a run's agent got; recorded on the run so readers know what it could touch."""

    kind: Literal["bwrap", "process-group"]
    network: bool
    writable: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "network": self.network,
            "read_only_root": self.kind == "bwrap",
            "writable": self.writable,
            "hidden": self.hidden,
            "process_group": True,
            "resource_limits": True,
        }


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def choose(mode: SandboxMode) -> Literal["bwrap", "process-group"]:
    found = bwrap_path()
    if mode == "bwrap" and not found:
        raise ConfigurationError(
            "MIDCORE_SANDBOX=bwrap but bubblewrap is not installed (apt-get install bubblewrap)"
        )
    if mode == "none" or not found:
        return "process-group"
    return "bwrap"


def wrap(
    argv: list[str],
    *,
    mode: SandboxMode,
    workspace: Path,
    home: Path,
    network: bool,
    hidden: list[Path],
) -> tuple[list[str], Isolation]:
    """The argv that runs `argv` isolated, and a description of the isolation applied."""
    kind = choose(mode)
    writable = [str(workspace), str(home)]
    hidden_paths = [str(p) for p in hidden if p.exists()]
    if kind == "process-group":
        return argv, Isolation(kind, network=True, writable=["(unrestricted)"], hidden=[])
    command = [
        bwrap_path() or "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--unshare-pid",
        "--unshare-ipc",
        "--die-with-parent",
        "--new-session",
    ]  # fmt: skip
    if not network:
        command.append("--unshare-net")
    for path in hidden_paths:  # the server's data (database, signing keys) is not the agent's
        command += ["--tmpfs", path]
    command += ["--bind", str(workspace), str(workspace), "--bind", str(home), str(home)]
    # /tmp stays the host's, read-only (workspaces may live there); TMPDIR is the run's own.
    command += ["--chdir", str(workspace), "--setenv", "HOME", str(home)]
    command += ["--setenv", "TMPDIR", str(home / "tmp"), "--", *argv]
    return command, Isolation(kind, network=network, writable=writable, hidden=hidden_paths)
