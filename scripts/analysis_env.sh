#!/usr/bin/env bash
# Create (once) and print the path of a venv with the reference libraries the tests check
# vsched against (scripts/analysis-requirements.txt). Cached in ~/.cache/vsched, keyed by
# that file, so CI builds it once.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/analysis-requirements.txt"
key="$(cat "$here/analysis_env.sh" "$req" | sha256sum | cut -c1-12)"
cache="${VSCHED_CACHE:-$HOME/.cache/vsched}"
venv="$cache/venv-analysis-$key"
if [ ! -x "$venv/.ready" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  printf '#!/bin/sh\nexit 0\n' > "$venv/.ready" && chmod +x "$venv/.ready"
fi
echo "$venv"
