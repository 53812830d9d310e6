#!/usr/bin/env bash
# Copy runs from a GPU results tarball (device.sh's $OUT/results_<plan>.tar.gz) into fixtures/:
#   bash gpu/import-runs.sh RESULTS.tar.gz TAG[=FIXTURE_NAME] ...
# Each fixture gets the run's raw trace (as recorded, gzipped), summary.json (vLLM's resolved
# engine config and the client's figures) and requests.csv (client-side send/first/done times),
# nothing else: the tests read these, and the GPU call carries the checkout, so keep it lean.
set -euo pipefail
tarball="${1:?usage: gpu/import-runs.sh RESULTS.tar.gz TAG[=NAME] ...}"; shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xzf "$tarball"
for spec in "$@"; do
  tag="${spec%%=*}"; name="${spec#*=}"; [ "$name" = "$spec" ] && name="h100-$tag"
  src="$tmp/$tag"; dst="$root/fixtures/$name"
  [ -d "$src/trace" ] || { echo "no trace for run $tag in $tarball" >&2; exit 2; }
  rm -rf "$dst"; mkdir -p "$dst"
  for f in "$src"/trace/vsched-*-dp*.jsonl*; do
    case "$f" in *.gz) cp "$f" "$dst/";; *) gzip -9 -n -c "$f" > "$dst/$(basename "$f").gz";; esac
  done
  python3 - "$src/summary.json" "$dst/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["args"] = {k: v for k, v in s.get("args", {}).items() if k not in ("out", "model", "csv")} | {"model": s["args"]["model"].rsplit("/", 1)[-1]}
json.dump(s, open(sys.argv[2], "w"), indent=1, sort_keys=True)
open(sys.argv[2], "a").write("\n")
PY
  cp "$src/requests.csv" "$dst/"
  echo "fixtures/$name: $(du -sh "$dst" | cut -f1)"
done
