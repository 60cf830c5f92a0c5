"""Running a process under isolation, budget and clean kill."""

from midcore.sandbox.process import (
    ENV_ALLOWLIST,
    ProcessResult,
    ResourceLimits,
    build_env,
    group_alive,
    run_process,
    terminate_group,
)

__all__ = [
    "ENV_ALLOWLIST",
    "ProcessResult",
    "ResourceLimits",
    "build_env",
    "group_alive",
    "run_process",
    "terminate_group",
]
