#!/usr/bin/env bash
# Create (or reuse) a virtual environment with ppdet-wsd and the tested, pinned host.
#   bash scripts/setup_env.sh            -> .venv, paddlepaddle 3.3.1 CPU
#   VENV=/tmp/v PADDLE_LINE=2.6 bash scripts/setup_env.sh   -> paddle 2.6.2 line (numpy 1.x)
# A re-run with unchanged requirement files installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
case "${PADDLE_LINE:-3}" in
  3) REQ=requirements/paddle3.txt ;;
  2.6) REQ=requirements/paddle26.txt ;;
  *) echo "setup_env.sh: PADDLE_LINE must be 3 or 2.6, got '${PADDLE_LINE}'" >&2; exit 2 ;;
esac
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.ppdet-wsd-requirements"
want=$(cat "$REQ" requirements/common.txt requirements/host.txt requirements/deploy.txt setup.py \
       | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup_env.sh: installing into $VENV ($REQ) ..."
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  # optional for users (ONNX export, the onnx backend); the tests use it where it works
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements/deploy.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r requirements/host.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
