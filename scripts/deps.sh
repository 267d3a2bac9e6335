#!/usr/bin/env bash
# Installs everything llmaj needs to build and test on Debian 12 (run as root).
# Idempotent: packages already present are left alone.
#   scripts/deps.sh          build, test and format tools (clang-format for scripts/format*.sh)
#   scripts/deps.sh fuzz     also clang and its libFuzzer runtime (tests/fuzz/README.md)
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git
      libzmq3-dev libcurl4-openssl-dev libmsgpack-dev libcjson-dev libssl-dev
      libsqlite3-dev libmicrohttpd-dev zlib1g-dev
      python3 python3-venv python3-pip wrk clang-format
      chromium    # the viewer's browser tests: playwright-core drives Debian's chromium
      buildah iproute2)   # deploy/: the container image (no daemon), multi-host tests in network namespaces
if [ "${1:-}" = fuzz ]; then
  pkgs+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm for those tests: Debian's, unless a node with npm is already installed (another
# distribution's nodejs package ships npm itself and conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
