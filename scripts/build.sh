#!/usr/bin/env bash
# Builds llmaj: scripts/build.sh [BUILD_DIR] [extra cmake args]
#   build/        optimised build (default)
#   build-asan/   pass -DLLMAJ_SANITIZE=ON for AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
shift || true
cmake -S "$here" -B "$build" -G Ninja "$@" >/dev/null
ninja -C "$build" -j"$(nproc)"
