#!/usr/bin/env bash
# Installs mmdecur (editable) and its dependencies into the current Python if
# any of them is missing. Sourced by tools/demo.sh and tools/run_tests.sh.
#   PYTHON=/path/to/python  selects the interpreter (default: python3)
#   EXTRAS=tests            also installs requirements/tests.txt
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-}
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check='import mmdecur, mmengine, mmseg, mmpretrain, timm, cv2, sklearn, matplotlib, captum'
if [ -n "$EXTRAS" ]; then check="$check, pytest, xdist"; fi
if ! "$PYTHON" -c "$check" >/dev/null 2>&1; then
    echo "[mmdecur] installing mmdecur and its dependencies into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install --upgrade "pip>=23" "setuptools<82" wheel
    target="$REPO_ROOT"
    if [ -n "$EXTRAS" ]; then target="$REPO_ROOT[$EXTRAS]"; fi
    "$PYTHON" -m pip install -e "$target"
fi
