#!/usr/bin/env bash
# Creates (once) the Python environment the tests use, under the build folder:
#   scripts/venv.sh BUILD_DIR   ->  BUILD_DIR/venv with pytest and a pinned mlflow
set -euo pipefail
build=${1:?usage: scripts/venv.sh BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
req="$here/tests/requirements.txt"
venv="$build/venv"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  exit 0
fi
echo "venv: creating $venv (pytest, mlflow; this takes a minute the first time)"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r "$req"
cp "$req" "$stamp"
