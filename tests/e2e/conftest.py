"""Helpers to run the real `midcore` command and server as subprocesses."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

MIDCORE = str(Path(sys.executable).with_name("midcore"))
KEY_PATTERN = re.compile(r"\bmc_[0-9a-f]+_[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def midcore_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIDCORE_")}
    env.update({"MIDCORE_DATA_DIR": str(data_dir), **extra})
    return env


def run_midcore(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MIDCORE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[str]
    output: list[str]
    data_dir: Path

    def printed_key(self) -> str:
        match = KEY_PATTERN.search("".join(self.output))
        assert match, "the server printed no API key:\n" + "".join(self.output)
        return match.group(0)


def start_server(data_dir: Path, env: dict[str, str] | None = None) -> RunningServer:
    port = free_port()
    process = subprocess.Popen(
        [MIDCORE, "serve", "--port", str(port)],
        env=env or midcore_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    assert process.stdout is not None
    # A thread drains the output so the server never blocks on a full pipe.
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)
            raise AssertionError("server exited:\n" + "".join(output))
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return RunningServer(url, process, output, data_dir)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start:\n" + "".join(output))


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data")
    yield running
    stop_server(running)
