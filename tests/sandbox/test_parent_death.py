"""A process started by run_process dies with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STARTER = """
import asyncio, sys
from midcore.sandbox.process import run_process

async def main():
    await run_process(["sleep", "300"], cwd=".", on_start=lambda pid: print(pid, flush=True))

asyncio.run(main())
"""


def test_child_is_killed_when_its_starter_dies(tmp_path: Path) -> None:
    script = tmp_path / "starter.py"
    script.write_text(STARTER)
    starter = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert starter.stdout is not None
    child = int(starter.stdout.readline())
    os.kill(child, 0)  # running
    starter.send_signal(signal.SIGKILL)  # no chance to clean up
    starter.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the child outlived the process that started it")
