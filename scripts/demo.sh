#!/usr/bin/env bash
# The main job on the bundled real trace: set up, convert it, print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-node.sh >/dev/null
trace="${1:-fixtures/e2e-vllm-cpu/trace}"
out="${2:-logs}"
node bin/vsched.js convert "$trace" -o "$out"
node bin/vsched.js summary "$out"
