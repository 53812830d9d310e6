#!/usr/bin/env bash
# vLLM's own scheduler tests (tests/v1/core/test_scheduler.py, test_async_scheduler.py, from the
# sdist of VERSION) run twice, without and with the vsched emitter; every trace converted and
# validated. See emitter/vllm_suite/README.md. Exit 0 ok, 1 a check failed, 2 cannot run here.
#   emitter/scripts/run_vllm_suite.sh 0.33.0 [run.py options: --out DIR --sequential --json FILE ...]
# VSCHED_VLLM_SUITE_VENV overrides the venv (default: the one vllm_env.sh builds for VERSION).
set -euo pipefail
version="${1:?usage: run_vllm_suite.sh VLLM_VERSION [options]}"
shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${VSCHED_VLLM_SUITE_VENV:-$(bash "$here/vllm_env.sh" "$version")}"
exec "$venv/bin/python" "$here/../vllm_suite/run.py" --venv "$venv" "$version" "$@"
