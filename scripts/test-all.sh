#!/usr/bin/env bash
# Every test: TypeScript (typecheck + vitest, incl. goldens of the built CLI) and the Python
# emitter against the real vLLM scheduler, newest release and the 0.11 line.
# The vLLM venvs are cached in ~/.cache/vsched keyed by version and requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-node.sh
npx tsc --noEmit
npx vitest run
for version in ${VSCHED_VLLM_VERSIONS:-0.33.0 0.11.0}; do
  venv="$(bash emitter/scripts/vllm_env.sh "$version")"
  echo "== emitter tests against vLLM $version"
  (cd emitter && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests e2e/test_fixture.py)
done
