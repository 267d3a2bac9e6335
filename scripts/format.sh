#!/usr/bin/env bash
# Formats C sources in place with clang-format and the repository's .clang-format:
#   scripts/format.sh            every tracked .c and .h file
#   scripts/format.sh FILE...    only these
# scripts/format-check.sh says which files differ without changing them. The style was tuned
# with clang-format 14 (Debian 12's, installed by scripts/deps.sh); other versions may differ.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
command -v clang-format >/dev/null || { echo "format: clang-format is not installed (bash scripts/deps.sh)" >&2; exit 2; }
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -d '' files < <(git ls-files -z '*.c' '*.h')
fi
[ ${#files[@]} -eq 0 ] && exit 0
clang-format -i --style=file "${files[@]}"
