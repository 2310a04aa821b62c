#!/usr/bin/env bash
# Run the test suite (installs what is missing first). Extra arguments go to
# pytest, e.g. tools/run_tests.sh tests/test_models -k loss
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python3}
EXTRAS=tests source tools/misc/ensure_installed.sh

workers=$("$PYTHON" -c 'import os; print(min(len(os.sched_getaffinity(0)), 4))')
"$PYTHON" -m pytest -n "$workers" --durations=10 -q "${@:-tests}"
