#!/usr/bin/env bash
# Create (once) and print the path of a venv holding the real vLLM VERSION on the CPU.
#
# vLLM wheels pin CUDA builds of torch; we install the CPU build of torch 2.13.0 first,
# then vLLM itself with --no-deps plus its own requirement list minus the GPU-only
# packages (emitter/scripts/vllm_requirements.py). The scheduler is pure Python, so this
# is the real scheduler code. The venv lives in ~/.cache/vsched keyed by the vLLM version
# and a hash of the files that decide its contents, so CI reuses it across runs.
set -euo pipefail
version="${1:?usage: vllm_env.sh VLLM_VERSION}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
key="$(cat "$here/vllm_env.sh" "$here/vllm_requirements.py" "$here/../pyproject.toml" | sha256sum | cut -c1-12)"
cache="${VSCHED_CACHE:-$HOME/.cache/vsched}"
venv="$cache/venv-vllm-$version-$key"
if [ ! -x "$venv/.ready" ]; then
  mkdir -p "$cache/wheels"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check packaging torch==2.13.0 >&2
  whl="$(ls "$cache/wheels"/vllm-"$version"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$whl" ]; then
    "$venv/bin/pip" download -q --no-deps -d "$cache/wheels" "vllm==$version" >&2
    whl="$(ls "$cache/wheels"/vllm-"$version"-*.whl | head -n1)"
  fi
  "$venv/bin/python" "$here/vllm_requirements.py" "$whl" > "$venv/requirements-cpu.txt"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$venv/requirements-cpu.txt" torch==2.13.0 pytest jsonschema >&2
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps "$whl" >&2
  printf '#!/bin/sh\nexit 0\n' > "$venv/.ready" && chmod +x "$venv/.ready"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$here/.." >&2
echo "$venv"
