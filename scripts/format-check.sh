#!/usr/bin/env bash
# Checks that C sources are formatted as .clang-format says, changing nothing:
#   scripts/format-check.sh            every tracked .c and .h file
#   scripts/format-check.sh FILE...    only these
# Lists each file that differs (with how many lines would change) and exits 1 if any does,
# 0 if none, 2 if clang-format is missing. scripts/format.sh applies the formatting.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
command -v clang-format >/dev/null || { echo "format-check: clang-format is not installed (bash scripts/deps.sh)" >&2; exit 2; }
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -d '' files < <(git ls-files -z '*.c' '*.h')
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --style=file "$f" | cmp -s "$f" -; then
    n=$(clang-format --style=file "$f" | diff -U0 "$f" - | grep -c '^-[^-]' || true)
    echo "$f: $n line(s) not formatted"
    bad=$((bad + 1))
  fi
done
if [ $bad -gt 0 ]; then
  echo "format-check: $bad of ${#files[@]} files differ from .clang-format (run scripts/format.sh)" >&2
  exit 1
fi
echo "format-check: ${#files[@]} files formatted"
