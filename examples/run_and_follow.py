"""Start a run on a Midcore server, show it live, and exit 0 only if it succeeded.

    export MIDCORE_URL=http://127.0.0.1:8000 MIDCORE_API_KEY=mc_...
    python examples/run_and_follow.py /srv/repos/app "fix the test" my-agent --task {task}

The workspace is a path on the server (under its MIDCORE_WORKSPACE_ROOTS); `{task}` in the agent's
command line is replaced by the task.
"""

from __future__ import annotations

import sys

from midcore.client import (
    AgentOutputEvent,
    GateFinishedEvent,
    GateStartedEvent,
    Midcore,
    MidcoreError,
    RunFinishedEvent,
)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    workspace, task, *agent = argv
    try:
        with Midcore() as client:
            accepted = client.runs.create(task, workspace, agent, budget_seconds=600)
            print(f"run {accepted.run_id} started", file=sys.stderr)
            # The stream resumes by itself after a dropped connection: no event is lost or repeated.
            for event in client.runs.stream(accepted.session_id):
                if isinstance(event, AgentOutputEvent):
                    print(event.data.text, end="", flush=True)
                elif isinstance(event, GateStartedEvent):
                    print(f"gate {event.data.gate} ...", file=sys.stderr)
                elif isinstance(event, GateFinishedEvent):
                    print(f"gate {event.data.name}: {event.data.verdict}", file=sys.stderr)
                elif isinstance(event, RunFinishedEvent):
                    break
            run = client.runs.get(accepted.run_id)
    except MidcoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"run {run.id}: {run.status} ({run.status_reason})", file=sys.stderr)
    return 0 if run.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
