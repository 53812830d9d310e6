#!/usr/bin/env bash
# Chromium for the browser tests (test/browser) and `vsched report --png`: Debian's
# package, driven by the npm package playwright-core (no browser download from npm).
# Installs it with apt-get when missing; prints the path.
set -euo pipefail
exe="${VSCHED_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$exe" ]; then
  echo "setup-browser: installing Debian's chromium (apt-get)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
fi
"$exe" --version >&2
echo "$exe"
