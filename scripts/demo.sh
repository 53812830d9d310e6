#!/usr/bin/env bash
# The main job on the bundled real trace: set up, convert it, print the summary, write report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-node.sh >/dev/null
trace="${1:-fixtures/e2e-vllm-cpu/trace}"
out="${2:-logs}"
node bin/vsched.js convert "$trace" -o "$out"
node bin/vsched.js summary "$out"
# the same run as one self-contained page (charts, waiting by cause, per-request lanes)
node bin/vsched.js report "$trace" -o "${3:-report.html}"
echo "demo: open ${3:-report.html} in a browser (one file, works offline)" >&2
