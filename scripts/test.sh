#!/usr/bin/env bash
# Every test: installs what is needed, builds with AddressSanitizer + UndefinedBehaviorSanitizer
# into build-asan/, prepares the test Python environment (pytest, a pinned MLflow) and the
# browser tests' playwright-core once, and runs
# the unit and integration tests with ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-asan"
bash "$here/scripts/deps.sh"
bash "$here/scripts/build.sh" "$build" -DLLMAJ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
bash "$here/scripts/venv.sh" "$build"
bash "$here/scripts/web.sh" "$build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j2 --timeout 900
