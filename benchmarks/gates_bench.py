"""Gate engine speed on a real project.

(a) `midcore gates run --no-cache` against the same tool commands run directly one after another
    (ratio; target <= 1.0 thanks to parallel gates);
(b) a cached re-run against a cold run (ratio; target <= 0.05).

Usage: python benchmarks/gates_bench.py PROJECT_DIR [--repeat N]
The project needs its own test environment (a .venv with its dependencies and pytest) so that its
test suite runs; Midcore finds tools in the project's .venv first, then on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIDCORE = Path(sys.executable).parent / "midcore"
_TMP = tempfile.gettempdir()


def _midcore(project: Path, data_dir: Path, *args: str) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "MIDCORE_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    out = subprocess.run(
        [str(MIDCORE), "gates", "run", "--format", "json", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if out.returncode not in (0, 1):
        sys.exit(f"midcore gates run failed ({out.returncode}): {out.stderr}")
    return elapsed, json.loads(out.stdout)


def _direct_commands(result: dict[str, object]) -> list[list[str]]:
    """The commands the gates ran, with their private report paths moved to a fresh dir."""
    commands = []
    for gate in result["gates"]:  # type: ignore[attr-defined]
        if gate["command"] and gate["verdict"] in ("passed", "failed"):
            commands.append(gate["command"])
    return commands


def _run_direct(project: Path, commands: list[list[str]]) -> float:
    with tempfile.TemporaryDirectory(prefix="gates-bench-") as scratch:
        moved = [
            [re.sub(re.escape(_TMP) + r"/midcore-gate-[^/]+", scratch, part) for part in command]
            for command in commands
        ]
        started = time.perf_counter()
        for command in moved:
            subprocess.run(command, cwd=project, capture_output=True, check=False)
        return time.perf_counter() - started


def _engine_cached(project: Path, data_dir: Path) -> float:
    from midcore.gates.runner import RunOptions, run_gates

    started = time.perf_counter()
    asyncio.run(run_gates(project, RunOptions(data_dir=data_dir)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    project = args.project.resolve()
    with tempfile.TemporaryDirectory(prefix="gates-bench-data-") as data:
        data_dir = Path(data)
        _, first = _midcore(project, data_dir, "--no-cache")  # also fills the tool-version cache
        commands = _direct_commands(first)
        cold = [_midcore(project, data_dir, "--no-cache")[0] for _ in range(args.repeat)]
        direct = [_run_direct(project, commands) for _ in range(args.repeat)]
        _midcore(project, data_dir)  # fill the result cache
        cached = [_midcore(project, data_dir)[0] for _ in range(args.repeat)]
        engine = [_engine_cached(project, data_dir) for _ in range(args.repeat)]
    cold_s, direct_s, cached_s = (statistics.median(x) for x in (cold, direct, cached))
    print(f"project: {project}")
    print(f"cpus: {os.cpu_count()}  repeat: {args.repeat} (medians)")
    gates = ", ".join(f"{g['name']}={g['verdict']}" for g in first["gates"])  # type: ignore[attr-defined]
    print(f"gates: {gates}")
    print(f"direct tools, one after another: {direct_s:.2f}s ({len(commands)} commands)")
    print(f"midcore gates run --no-cache:   {cold_s:.2f}s")
    print(f"midcore gates run (cached):      {cached_s:.2f}s")
    engine_s = statistics.median(engine)
    print(f"engine only, cached (in-process run_gates, no interpreter start): {engine_s:.3f}s")
    print(f"(a) midcore / direct = {cold_s / direct_s:.3f}  (target <= 1.0)")
    print(f"(b) cached / cold    = {cached_s / cold_s:.3f}  (target <= 0.05; whole CLI process)")
    print(f"    engine cached / cold = {engine_s / cold_s:.3f}  (without Python start-up)")


if __name__ == "__main__":
    main()
