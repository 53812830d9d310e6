#!/usr/bin/env bash
# tmux for test/watch.test.ts: `vsched watch` is followed in a real terminal (a tmux pane,
# read back with capture-pane). Installs Debian's package with apt-get when missing.
set -euo pipefail
if ! command -v tmux >/dev/null 2>&1; then
  echo "setup-tmux: installing Debian's tmux (apt-get)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tmux >&2
fi
tmux -V >&2
