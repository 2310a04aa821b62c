#!/usr/bin/env bash
# The embedded demo: pretrain DeCUR on the built-in synthetic two-modality
# dataset on CPU (a few minutes), then check that decoupling worked.
# Writes into $WORK_DIR (default work_dirs/demo_synthetic):
#   epoch_*.pth, logs, report/alignment_hist.png, report/decoupling_report.json
# Extra arguments go to tools/train.py (e.g. --cfg-options ...).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python3}
source tools/misc/ensure_installed.sh

CONFIG=configs/decur/demo_synthetic.py
WORK_DIR=${WORK_DIR:-work_dirs/demo_synthetic}
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
"$PYTHON" tools/analysis_tools/decoupling_report.py "$CONFIG" "$CHECKPOINT" \
    --out-dir "$WORK_DIR/report" --strict
echo "[mmdecur] report: $WORK_DIR/report/decoupling_report.json, $WORK_DIR/report/alignment_hist.png"
