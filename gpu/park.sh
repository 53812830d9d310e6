#!/usr/bin/env bash
# A GPU call carries the checkout, and the checkout plus the vLLM payload must fit 64 MiB. What
# the GPU machine never reads travels for nothing: the store of real runs (bench/h100, read by
# bench/sim-to-real.mjs here) and the two largest CPU fixtures. Park them inside .git (which
# does not travel) for the call, and bring them back after:
#   bash gpu/park.sh            before the call
#   bash gpu/park.sh restore    after it (git status is clean again)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PARKED=(bench/h100 bench/h200 fixtures/cf-kv-bound fixtures/cf-kv-no-reserve)
lot="$(git rev-parse --git-dir)/vsched-parked"
if [ "${1:-}" = "restore" ]; then
  for p in "${PARKED[@]}"; do
    [ -e "$lot/$p" ] || continue
    [ -e "$p" ] && { echo "park.sh: $p exists in the checkout and in $lot; left both" >&2; exit 1; }
    mkdir -p "$(dirname "$p")" && mv "$lot/$p" "$p"
  done
  echo "restored: ${PARKED[*]}"
else
  for p in "${PARKED[@]}"; do
    [ -e "$p" ] || continue
    mkdir -p "$lot/$(dirname "$p")" && mv "$p" "$lot/$p"
  done
  echo "parked in $lot: ${PARKED[*]} (bash gpu/park.sh restore after the GPU call)"
fi
