#!/usr/bin/env bash
# Installs (once) what the viewer's browser tests use, under the build folder:
#   scripts/web.sh BUILD_DIR   ->  BUILD_DIR/node/node_modules/playwright-core (pinned by
#                                  tests/web/package-lock.json); the browser is Debian's chromium
#                                  (scripts/deps.sh), never a downloaded one.
set -euo pipefail
build=${1:?usage: scripts/web.sh BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
dir="$build/node"
stamp="$dir/.lock"
if [ -d "$dir/node_modules/playwright-core" ] && [ -f "$stamp" ] && cmp -s "$here/tests/web/package-lock.json" "$stamp"; then
  exit 0
fi
echo "web: installing playwright-core into $dir"
mkdir -p "$dir"
cp "$here/tests/web/package.json" "$here/tests/web/package-lock.json" "$dir/"
# playwright-core downloads no browser; it drives /usr/bin/chromium.
(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
cp "$here/tests/web/package-lock.json" "$stamp"
