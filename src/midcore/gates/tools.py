"""Finding a gate's tool and its version."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from midcore.sandbox import build_env


def search_path(workspace: Path) -> str:
    """Where tools are looked up: the workspace's own virtualenv first, then PATH, then the
    directory of the interpreter running Midcore (tools installed beside it)."""
    dirs = [str(workspace / name / "bin") for name in (".venv", "venv")]
    dirs += os.environ.get("PATH", os.defpath).split(os.pathsep)
    dirs.append(str(Path(sys.executable).parent))
    seen: list[str] = []
    for d in dirs:
        if d and d not in seen:
            seen.append(d)
    return os.pathsep.join(seen)


def find_tool(name: str, workspace: Path) -> str | None:
    if os.sep in name:
        candidate = name if os.path.isabs(name) else str(workspace / name)
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which(name, path=search_path(workspace))


def installed_packages_sha256(executable: str) -> str | None:
    """Digest of the distributions installed in the virtualenv an executable lives in.

    A test run depends on the project's dependencies as much as on its files: upgrading one in
    the virtualenv must not replay a cached verdict. None when the tool is not in a virtualenv.
    """
    env_root = Path(os.path.realpath(os.path.dirname(executable))).parent
    if not (env_root / "pyvenv.cfg").is_file():
        env_root = Path(os.path.dirname(executable)).parent
        if not (env_root / "pyvenv.cfg").is_file():
            return None
    names = sorted(
        p.name for p in env_root.glob("lib/python*/site-packages/*.dist-info") if p.is_dir()
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


class VersionCache:
    """`tool --version` is slow for Python tools; remember it per executable file state."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()  # gates ask from worker threads at the same time
        self._data: dict[str, str] = {}
        if path is not None and path.is_file():
            try:
                self._data = json.loads(path.read_text())
            except (OSError, ValueError):
                self._data = {}

    def _key(self, executable: str) -> str:
        st = os.stat(executable)
        return f"{os.path.realpath(executable)}|{st.st_mtime_ns}|{st.st_size}"

    def version(self, executable: str, workspace: Path, timeout: float = 10.0) -> str | None:
        try:
            key = self._key(executable)
        except OSError:
            return None
        if key in self._data:
            return self._data[key] or None
        version = _ask_version(executable, workspace, timeout)
        with self._lock:
            self._data[key] = version or ""
            self._save()
        return version

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(self._data, sort_keys=True))
        tmp.replace(self.path)


def _ask_version(executable: str, workspace: Path, timeout: float) -> str | None:
    try:
        proc = subprocess.Popen(
            [executable, "--version"],
            cwd=workspace,
            env=build_env({"PATH": search_path(workspace)}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError:
        return None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A tool that hangs on --version is ended with everything it started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    text = (out or err).strip()
    return text.splitlines()[0].strip() if text else None
