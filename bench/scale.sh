#!/usr/bin/env bash
# Runs the "scale" benchmark scenario (bench/README.md); flags are passed on, e.g. --quick.
exec python3 "$(dirname "$0")/bench.py" scale "$@"
