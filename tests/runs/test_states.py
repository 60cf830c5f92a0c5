from __future__ import annotations

import os
import time

import pytest
from fastapi import FastAPI

from midcore.runs.states import ALLOWED, TERMINAL, IllegalTransition, RunStatus, check


def test_terminal_states_are_final() -> None:
    for status in TERMINAL:
        for target in RunStatus:
            with pytest.raises(IllegalTransition):
                check(status, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RunStatus.queued, RunStatus.succeeded),
        (RunStatus.queued, RunStatus.gating),
        (RunStatus.running, RunStatus.queued),
        (RunStatus.cancelling, RunStatus.succeeded),
        (RunStatus.gating, RunStatus.running),
    ],
)
def test_illegal_transitions_are_refused(current: RunStatus, target: RunStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        check(current, target)


def test_every_active_state_can_end() -> None:
    for status, targets in ALLOWED.items():
        if status not in TERMINAL:
            assert RunStatus.error in targets


def test_expired_run_folders_are_removed(app: FastAPI) -> None:
    executor = app.state.executor
    old, fresh = (
        executor.run_dir("old0000000000000000000000"),
        executor.run_dir("new0000000000000000000000"),
    )
    for folder in (old, fresh):
        (folder / "work").mkdir(parents=True)
    past = time.time() - (executor.settings.run_retention_hours + 1) * 3600
    os.utime(old, (past, past))
    assert executor.remove_expired_run_dirs() == 1
    assert not old.exists() and fresh.exists()
