#!/usr/bin/env bash
# Set up (if needed) and run the test suite: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
VENV=${VENV:-.venv}
"$VENV/bin/ruff" check ppdet_wsd ppdet_wsd_runtime tools tests
exec "$VENV/bin/python" -m pytest tests -q "$@"
