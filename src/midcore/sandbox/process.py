"""Run one command as a real subprocess: own process group, limits, bounded output, clean kill.

Small on purpose: gates use it as it is, and the run engine wraps the argv (bubblewrap) on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Variables a tool needs to behave normally; everything else in the parent (tokens, keys,
# cloud credentials) stays out unless the caller passes it explicitly.
ENV_ALLOWLIST = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TMPDIR",
    "TZ",
    "USER",
    "LOGNAME",
    "SHELL",
)

# Linux: the child gets SIGKILL when the process that started it dies, so a server that is killed
# (or stops before it could end its runs) leaves no agent behind. Loaded here, used in the child.
_PR_SET_PDEATHSIG = 1
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _die_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


DEFAULT_OUTPUT_LIMIT_BYTES = 64 * 1024
DEFAULT_KILL_GRACE_SECONDS = 2.0
_READ_CHUNK = 65536


@dataclass(frozen=True)
class ResourceLimits:
    """Hard caps applied in the child before exec; None leaves the inherited limit."""

    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    open_files: int | None = 4096
    file_size_bytes: int | None = None

    def _apply(self) -> None:
        _die_with_parent()
        # Runs in the forked child: only async-signal-safe work (setrlimit is).
        pairs = (
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_FSIZE, self.file_size_bytes),
        )
        for kind, value in pairs:
            if value is None:
                continue
            _soft, hard = resource.getrlimit(kind)
            limit = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (limit, limit))


@dataclass
class ProcessResult:
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration_seconds: float
    is_timed_out: bool = False
    is_stdout_truncated: bool = False
    is_stderr_truncated: bool = False
    pid: int | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.is_timed_out


@dataclass
class _Tail:
    """Keeps only the last `limit` bytes of a stream."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    is_truncated: bool = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.is_truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def build_env(
    extra: Mapping[str, str] | None = None,
    *,
    source: Mapping[str, str] | None = None,
    allow: Sequence[str] = ENV_ALLOWLIST,
) -> dict[str, str]:
    """The child's environment: allowlisted names from `source` plus explicit extras."""
    parent = os.environ if source is None else source
    env = {name: parent[name] for name in allow if name in parent}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    if extra:
        env.update(extra)
    return env


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when no process of the group is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a member changed uid; nothing more we can do
        return False
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


async def _wait_group_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        await asyncio.sleep(0.02)
    return not group_alive(pgid)


async def terminate_group(pgid: int, grace_seconds: float = DEFAULT_KILL_GRACE_SECONDS) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is still there after the grace."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    if await _wait_group_gone(pgid, grace_seconds):
        return
    _signal_group(pgid, signal.SIGKILL)
    await _wait_group_gone(pgid, 5.0)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
    limits: ResourceLimits | None = None,
    output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES,
    kill_grace_seconds: float = DEFAULT_KILL_GRACE_SECONDS,
    stdin: bytes | None = None,
    on_start: Callable[[int], None] | None = None,
    on_output: Callable[[str, bytes], None] | None = None,
) -> ProcessResult:
    """Run `argv` in its own session and return its exit code and the tails of its output.

    `env` is the complete environment (see `build_env`). On timeout the whole process group gets
    SIGTERM, then SIGKILL after `kill_grace_seconds`. When the main process exits, anything it left
    running in its group is ended too, so no process outlives the call.
    `on_output("stdout" | "stderr", chunk)` sees every byte as it arrives (the result keeps only
    the tails). Raises FileNotFoundError / PermissionError when the executable cannot be started.
    """
    argv = [str(part) for part in argv]
    limits = limits or ResourceLimits()
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=dict(env) if env is not None else build_env(),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=limits._apply,
    )
    pgid = proc.pid  # start_new_session makes the child the leader of a new group
    if on_start is not None:
        on_start(proc.pid)
    out, err = _Tail(output_limit_bytes), _Tail(output_limit_bytes)

    async def pump(stream: asyncio.StreamReader | None, tail: _Tail, name: str) -> None:
        if stream is None:
            return
        while chunk := await stream.read(_READ_CHUNK):
            tail.add(chunk)
            if on_output is not None:
                on_output(name, chunk)

    async def feed() -> None:
        if proc.stdin is None or stdin is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        proc.stdin.close()

    readers = asyncio.gather(
        pump(proc.stdout, out, "stdout"), pump(proc.stderr, err, "stderr"), feed()
    )
    is_timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_seconds)
    except TimeoutError:
        is_timed_out = True
        await terminate_group(pgid, kill_grace_seconds)
        await proc.wait()
    except asyncio.CancelledError:
        await terminate_group(pgid, kill_grace_seconds)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
        readers.cancel()
        raise
    # Background children of a finished command would keep the pipes open and stay behind.
    await terminate_group(pgid, kill_grace_seconds)
    try:
        await asyncio.wait_for(readers, 5.0)
    except TimeoutError:  # pragma: no cover - a process outside the group holds the pipe
        readers.cancel()
    return ProcessResult(
        argv=argv,
        returncode=None if is_timed_out else proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_seconds=time.monotonic() - started,
        is_timed_out=is_timed_out,
        is_stdout_truncated=out.is_truncated,
        is_stderr_truncated=err.is_truncated,
        pid=proc.pid,
    )
