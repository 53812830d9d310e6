#!/usr/bin/env bash
# Install the locked npm packages when they are missing or stale, then build the CLI bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.vsched-lock-hash
want="$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
node scripts/build.mjs
