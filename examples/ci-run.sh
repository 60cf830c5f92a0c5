#!/bin/sh
# Start a run on a Midcore server, follow it live, and fail (exit 1) unless it succeeded, which
# needs every required gate to pass.
#
#   MIDCORE_URL, MIDCORE_API_KEY   the server and a key with the operator role
#   WORKSPACE                      a path on the server, under its MIDCORE_WORKSPACE_ROOTS
#   AGENT                          the agent's command line; {task} is replaced by the task
#   RUN_KEY                        optional: the same key never starts a second run (a retried job)
#
#   ci-run.sh "make the failing test pass"
set -eu
: "${MIDCORE_URL:?set MIDCORE_URL}" "${MIDCORE_API_KEY:?set MIDCORE_API_KEY}"
: "${WORKSPACE:?set WORKSPACE}" "${AGENT:?set AGENT}"
task=${1:?usage: ci-run.sh TASK}

run_id=$(midcore run "$task" --workspace "$WORKSPACE" --agent-command "$AGENT" \
    ${RUN_KEY:+--idempotency-key "$RUN_KEY"} --detach --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
echo "run $run_id started" >&2

# Shows the agent's output, each gate's verdict and the final one; resumes after a network drop;
# exits 0 if the run succeeded, 1 otherwise.
midcore runs follow "$run_id"
