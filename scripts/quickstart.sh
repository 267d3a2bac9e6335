#!/usr/bin/env bash
# The quickstart: installs what llmaj needs, builds it, starts the bundled mock LLM on a free
# port and runs the example evaluation (examples/quickstart/job.json) against it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/deps.sh"
bash "$here/scripts/build.sh" "$here/build"
bin="$here/build/bin"

log=$(mktemp)
"$bin/llmaj-mockllm" --port 0 --latency uniform:20:120 --unscorable-rate 0.02 >"$log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null; wait $mock 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on //p' "$log" | head -n1)
  [ -n "$url" ] && break
  kill -0 $mock 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "${url:-}" ] || { echo "the mock LLM did not start"; cat "$log"; exit 1; }
echo "mock LLM at $url"

# The example job's model strings point at the mock through the usual variables.
export MOCK_BASE_URL="$url/v1" MOCK_API_KEY=mock-key
export ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=mock-key
"$bin/llmaj" run --spec "$here/examples/quickstart/job.json"
