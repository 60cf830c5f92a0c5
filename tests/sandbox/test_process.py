"""The process runner against real processes: exit codes, limits, output tails, clean kill."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from midcore.sandbox import ResourceLimits, build_env, group_alive, run_process


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it holds no resources and is not "left running".
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int) -> bool:
    for _ in range(200):
        if not _pid_alive(pid):
            return True
        time.sleep(0.01)
    return False


async def test_exit_code_and_output(tmp_path: Path) -> None:
    result = await run_process(
        [
            sys.executable,
            "-c",
            "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert not result.is_timed_out
    assert not result.ok


async def test_output_keeps_the_tail(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('a' * 5000 + 'END')"
    result = await run_process([sys.executable, "-c", code], cwd=tmp_path, output_limit_bytes=100)
    assert result.is_stdout_truncated
    assert len(result.stdout) == 100
    assert result.stdout.endswith("END")


async def test_environment_is_allowlisted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-secret")
    env = build_env({"EXTRA": "yes"})
    code = "import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'), os.environ.get('EXTRA'))"
    result = await run_process([sys.executable, "-c", code], cwd=tmp_path, env=env)
    assert result.stdout.split() == ["None", "yes"]
    assert "PATH" in env


async def test_timeout_kills_children_that_ignore_sigterm(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import os, signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c',"
        " 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "time.sleep(600)\n"
    )
    result = await run_process(
        [sys.executable, "-c", script], cwd=tmp_path, timeout_seconds=1.5, kill_grace_seconds=0.3
    )
    assert result.is_timed_out
    assert result.returncode is None
    child_pid = int(pidfile.read_text())
    assert result.pid is not None
    assert _wait_dead(child_pid)
    assert not group_alive(result.pid)


async def test_background_children_do_not_outlive_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    script = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
    )
    result = await run_process([sys.executable, "-c", script], cwd=tmp_path, timeout_seconds=30)
    assert result.returncode == 0
    assert _wait_dead(int(pidfile.read_text()))


async def test_file_size_limit(tmp_path: Path) -> None:
    code = "open('big', 'wb').write(b'x' * 200000)"
    result = await run_process(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        limits=ResourceLimits(file_size_bytes=10000),
    )
    assert result.returncode != 0
    assert (tmp_path / "big").stat().st_size <= 10000


async def test_memory_limit(tmp_path: Path) -> None:
    code = "x = bytearray(512 * 1024 * 1024)"
    result = await run_process(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        limits=ResourceLimits(memory_bytes=256 * 1024 * 1024),
    )
    assert result.returncode != 0
    assert "MemoryError" in result.stderr


async def test_missing_executable_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await run_process(["midcore-no-such-tool"], cwd=tmp_path)


async def test_many_at_once(tmp_path: Path) -> None:
    import asyncio

    results = await asyncio.gather(
        *(run_process([sys.executable, "-c", f"print({i})"], cwd=tmp_path) for i in range(8))
    )
    assert [r.stdout.strip() for r in results] == [str(i) for i in range(8)]
