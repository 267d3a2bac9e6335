#!/usr/bin/env bash
# Creates (once) the Python environments the tests use, under the build folder:
#   scripts/venv.sh BUILD_DIR   ->  BUILD_DIR/venv with pytest and a pinned mlflow, and
#                                   BUILD_DIR/venv-deploy with the manifest checkers (deploy/requirements.txt)
set -euo pipefail
build=${1:?usage: scripts/venv.sh BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
req="$here/tests/requirements.txt"
venv="$build/venv"
# make_venv DIR REQUIREMENTS: (re)creates DIR when REQUIREMENTS changed since it was made.
make_venv() {
  local dir=$1 reqs=$2
  if [ -x "$dir/bin/python" ] && [ -f "$dir/.requirements" ] && cmp -s "$reqs" "$dir/.requirements"; then
    return 0
  fi
  echo "venv: creating $dir from $reqs (this takes a minute or two the first time)"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -q -r "$reqs"
  cp "$reqs" "$dir/.requirements"
}
make_venv "$venv" "$req"
make_venv "$build/venv-deploy" "$here/deploy/requirements.txt"
