#!/bin/bash
# run_example.sh PROGRAM ARGS...: runs an example and passes on its exit status; the
# example checks its own results (exit 0 on success, non-zero with a message).
set -u
program="$1"
shift
echo "running: ${program} $*"
"${program}" "$@"
status=$?
if [[ ${status} -ne 0 ]]; then
  echo "FAILED: ${program} exited with status ${status}" >&2
fi
exit "${status}"
