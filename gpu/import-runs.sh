#!/usr/bin/env bash
# Copy runs from a GPU results tarball (device.sh's $OUT/results_<plan>.tar.gz), or from a folder
# of unpacked runs (shared/data/h100), into fixtures/ or another folder of the checkout:
#   bash gpu/import-runs.sh [--into DIR] RESULTS.tar.gz|RUNS_DIR TAG[=NAME] ...
# Without --into, run TAG lands in fixtures/h100-TAG (or fixtures/NAME); with --into bench/h100,
# in bench/h100/TAG: the store of real runs that bench/sim-to-real.mjs replays (bench/README.md).
# Each run keeps its raw trace (as recorded, gzipped), summary.json (vLLM's resolved engine
# config and the client's figures) and requests.csv (client-side send/first/done times), nothing
# else: the GPU call carries the checkout, so keep it lean.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
into=""; prefix="h100-"
if [ "${1:-}" = "--into" ]; then into="$root/${2:?--into DIR}"; prefix=""; shift 2; fi
src_arg="${1:?usage: gpu/import-runs.sh [--into DIR] RESULTS.tar.gz|RUNS_DIR TAG[=NAME] ...}"; shift
if [ -d "$src_arg" ]; then runs="$src_arg"; else
  runs="$(mktemp -d)"; trap 'rm -rf "$runs"' EXIT
  tar -C "$runs" -xzf "$src_arg"
fi
for spec in "$@"; do
  tag="${spec%%=*}"; name="${spec#*=}"; [ "$name" = "$spec" ] && name="$prefix$tag"
  src="$runs/$tag"; dst="${into:-$root/fixtures}/$name"
  [ -d "$src/trace" ] || { echo "no trace for run $tag in $src_arg" >&2; exit 2; }
  rm -rf "$dst"; mkdir -p "$dst"
  for f in "$src"/trace/vsched-*-dp*.jsonl*; do
    case "$f" in *.gz) cp "$f" "$dst/";; *) gzip -9 -n -c "$f" > "$dst/$(basename "$f").gz";; esac
  done
  python3 - "$src/summary.json" "$dst/summary.json" "$src/hog.txt" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
s["args"] = {k: v for k, v in s.get("args", {}).items() if k not in ("out", "model", "csv")} | {"model": s["args"]["model"].rsplit("/", 1)[-1]}
# device.sh's --cpu-hog: busy loops beside the engine (a slower host on purpose); kept with the run
hog = int(open(sys.argv[3]).read().strip() or 0) if os.path.exists(sys.argv[3]) else 0
if hog:
    s["args"]["cpu_hog"] = hog
json.dump(s, open(sys.argv[2], "w"), indent=1, sort_keys=True)
open(sys.argv[2], "a").write("\n")
PY
  cp "$src/requests.csv" "$dst/"
  echo "${dst#$root/}: $(du -sh "$dst" | cut -f1)"
done
