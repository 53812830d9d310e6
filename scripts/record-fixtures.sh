#!/usr/bin/env bash
# Record the vsched fixtures under fixtures/<behaviour>/ by driving the real vLLM v1
# scheduler (CPU-only venv from emitter/scripts/vllm_env.sh) with the harness:
#   python -m vsched_emitter.harness ... --clock virtual --out fixtures/<name>
# Every fixture reads only the data slices in fixtures/data (so the repo alone regenerates
# them) and uses the virtual clock, so a re-run is byte-identical.
#
# usage: scripts/record-fixtures.sh [--check] [NAME...]
#   NAME...   only these fixtures (default: all)
#   --check   snapshot the existing fixtures, re-record, and diff (exit 1 on any difference)
# env:  VSCHED_VENV_0_34_0 / VSCHED_VENV_0_33_0 / VSCHED_VENV_0_11_0  use this venv instead of vllm_env.sh's
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

NEW=0.33.0   # the vLLM most fixtures were recorded on
V34=0.34.0   # the newest release: fixtures of the paths it added
OLD=0.11.0   # oldest supported

check=0
only=()
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) only+=("$a") ;;
  esac
done

declare -A VENV=()
venv_for() {  # print the venv of vLLM version $1 (created once per run)
  local v="$1" var="VSCHED_VENV_${1//./_}"
  if [ -z "${VENV[$v]:-}" ]; then
    if [ -n "${!var:-}" ]; then
      VENV[$v]="${!var}"   # used as is: PYTHONPATH below picks this checkout's emitter
    else
      VENV[$v]="$(bash "$root/emitter/scripts/vllm_env.sh" "$v")"
    fi
  fi
  echo "${VENV[$v]}"
}

wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local x; for x in "${only[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1
}

names=()
record() {  # record NAME VLLM_VERSION HARNESS_ARGS...
  local name="$1" version="$2"; shift 2
  wanted "$name" || return 0
  names+=("$name")
  local venv; venv="$(venv_for "$version")"
  rm -rf "fixtures/$name"
  mkdir -p "fixtures/$name"
  echo "== $name (vLLM $version)" >&2
  env PYTHONPATH="$root/emitter/src" PYTHONHASHSEED=0 TZ=UTC VLLM_LOGGING_LEVEL=ERROR HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    VLLM_CACHE_ROOT="${VLLM_CACHE_ROOT:-$HOME/.cache/vsched/vllm-cache-$version}" \
    "$venv/bin/python" -m vsched_emitter.harness --out "fixtures/$name" --data-dir fixtures/data \
    --clock virtual "$@"
}

snap=""
if [ "$check" = 1 ]; then
  snap="$(mktemp -d)"
  cp -a fixtures "$snap/"
fi

# -- the fixtures ------------------------------------------------------------------------
# Costs: splitwise = measured Llama-2-70B step times (8xA100 unless noted), see
# emitter/src/vsched_emitter/harness/cost_model.py. Outputs are capped to keep files small.

# Azure conv arrivals replayed 4x faster into chunked prefill with a 512-token budget.
AZURE_CONV=(--workload azure --azure-kind conv --n 80 --time-scale 4 --max-output-tokens 48
  --max-num-seqs 16 --max-num-batched-tokens 512 --num-blocks 1024 --enable-chunked-prefill
  --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8)
record azure-conv-chunked "$NEW" "${AZURE_CONV[@]}"

# The same recipe on the oldest supported vLLM.
record v0.11-azure-conv "$OLD" "${AZURE_CONV[@]}"

# Mooncake conversation trace: prompts built from hash ids (32 tokens per hash id, outputs
# scaled alike), so shared leading ids hit vLLM's prefix cache.
record mooncake-prefix "$NEW" --workload mooncake --mooncake-kind conversation --n 100 \
  --tokens-per-hash-block 32 --output-scale 0.0625 --time-scale 2 --max-num-seqs 16 \
  --max-num-batched-tokens 512 --num-blocks 1024 --enable-prefix-caching \
  --cost splitwise:llama2-70b:h100-80gb:8

# A burst of ShareGPT-length requests into a 64-block KV pool: preemptions (recompute).
record kv-pressure-preempt "$NEW" --workload synthetic --lengths sharegpt --n 32 --rate 20 \
  --max-prompt-tokens 160 --max-output-tokens 64 --max-num-seqs 16 --max-num-batched-tokens 512 \
  --num-blocks 64 --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8

# Chunked prefill off, long Azure code prompts against a 4096-token budget.
record no-chunk-long-prompt "$NEW" --workload azure --azure-kind code --n 60 --time-scale 2 \
  --max-output-tokens 24 --max-model-len 4096 --max-num-batched-tokens 4096 --max-num-seqs 16 \
  --num-blocks 1024 --no-enable-chunked-prefill --no-enable-prefix-caching \
  --cost splitwise:llama2-70b:a100-80gb:8

# Priority policy: three random classes, a queue backlog and KV pressure (priority preemption).
record priority-policy "$NEW" --workload azure --azure-kind conv --n 50 --time-scale 8 \
  --max-output-tokens 48 --max-prompt-tokens 1024 --priority-classes 0,1,2 --policy priority \
  --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 176 --no-enable-prefix-caching \
  --cost splitwise:llama2-70b:a100-80gb:8

# Async scheduling (the scheduler runs one step ahead of the model output).
record async-scheduling "$NEW" --workload azure --azure-kind conv --n 60 --time-scale 4 \
  --max-output-tokens 48 --max-num-seqs 16 --max-num-batched-tokens 512 --num-blocks 1024 \
  --async-scheduling --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8

# Aborts: 30% of requests aborted 0.2-4 s after arrival (some still waiting, some running);
# 20% stop early on EOS.
record aborts "$NEW" --workload azure --azure-kind conv --n 60 --time-scale 8 \
  --max-output-tokens 64 --max-prompt-tokens 1024 --abort-fraction 0.3 --abort-after 0.2:4 \
  --eos-fraction 0.2 --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 1024 \
  --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8

# A small max_num_seqs (4): the waiting queue is held back by the sequence limit.
record max-num-seqs "$NEW" --workload azure --azure-kind code --n 60 --time-scale 2 \
  --max-output-tokens 32 --max-prompt-tokens 2048 --max-num-seqs 4 --max-num-batched-tokens 2048 \
  --num-blocks 1024 --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8

# LoRA: max_loras=1 and three adapters; a waiting request whose adapter is not the one in
# the batch is skipped (lora_slots) while requests behind it may still be admitted.
record lora-slots "$NEW" --workload azure --azure-kind conv --n 40 --time-scale 8 \
  --max-output-tokens 32 --max-prompt-tokens 1024 --lora-ids 1,2,3 --lora-fraction 0.8 --max-loras 1 \
  --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 1024 --cost splitwise:llama2-70b:a100-80gb:8

# -- binding limits: the counterfactual oracle on (counterfactual.jsonl beside the trace) ------
# Every 3rd/4th step, vLLM's schedule() is re-run on deep copies of the scheduler with limits
# relaxed (emitter/src/vsched_emitter/harness/counterfactual.py); the trace is the same as
# without it. test/binding-limits-agreement.test.ts compares binding_limits with it.
CF=(--counterfactual-every 3 --counterfactual-max-requests 6)

# KV-bound: ShareGPT lengths into 96 blocks; decoding outgrows the pool (preemptions).
record cf-kv-bound "$NEW" --workload synthetic --lengths sharegpt --n 24 --rate 10 \
  --max-prompt-tokens 512 --max-output-tokens 128 --max-num-seqs 16 --max-num-batched-tokens 512 \
  --num-blocks 96 --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8 "${CF[@]}"

# Token-bound: a 256-token budget, 64 seats and plenty of KV.
record cf-token-bound "$NEW" --workload azure --azure-kind conv --n 40 --time-scale 4 \
  --max-output-tokens 24 --max-num-seqs 64 --max-num-batched-tokens 256 --num-blocks 1024 \
  --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8 "${CF[@]}"

# Seqs-bound: 4 seats, a 2048-token budget and plenty of KV.
record cf-seqs-bound "$NEW" --workload azure --azure-kind conv --n 40 --time-scale 4 \
  --max-output-tokens 32 --max-num-seqs 4 --max-num-batched-tokens 2048 --num-blocks 1024 \
  --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8 "${CF[@]}"

# LoRA-bound: one adapter slot, three adapters; prefix caching on, with the waiting-request
# prefix-cache probe (VLLM_SCHEDULER_LOG_WAITING_PROBE) the estimate needs.
record cf-lora-bound "$NEW" --workload azure --azure-kind conv --n 40 --time-scale 8 \
  --max-output-tokens 24 --max-prompt-tokens 1024 --lora-ids 1,2,3 --lora-fraction 0.8 --max-loras 1 \
  --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 512 --enable-prefix-caching --waiting-probe 4 \
  --cost splitwise:llama2-70b:a100-80gb:8 "${CF[@]}"

# The KV-bound recipe with vLLM's full-prompt admission check off: admitted on the first chunk,
# preempted while decoding; binding_limits has to notice the check is off (the header does not say).
record cf-kv-no-reserve "$NEW" --workload synthetic --lengths sharegpt --n 24 --rate 10 \
  --max-prompt-tokens 512 --max-output-tokens 128 --max-num-seqs 16 --max-num-batched-tokens 512 \
  --num-blocks 96 --no-enable-prefix-caching --no-scheduler-reserve-full-isl \
  --cost splitwise:llama2-70b:a100-80gb:8 "${CF[@]}"

# Prefix caching with shared prompt prefixes (Mooncake hash ids), 8 seats, tight KV: what a
# waiting request would hit in the prefix cache changes what fits; the probe records it.
record cf-prefix-probe "$NEW" --workload mooncake --mooncake-kind conversation --n 40 \
  --tokens-per-hash-block 32 --output-scale 0.0625 --time-scale 2 --max-num-seqs 8 \
  --max-num-batched-tokens 512 --num-blocks 320 --max-prompt-tokens 3072 --enable-prefix-caching --waiting-probe 6 \
  --cost splitwise:llama2-70b:h100-80gb:8 "${CF[@]}"

# The cf-prefix-probe recipe with the emitter's DEFAULT settings (no --waiting-probe: the probe's
# default, the first 8 waiting requests), the oracle asked about the first 24 waiting requests:
# what binding_limits gets on vLLM's default prefix caching as users record it (issue 18 §6).
record cf-prefix-default "$NEW" --workload mooncake --mooncake-kind conversation --n 40 \
  --tokens-per-hash-block 32 --output-scale 0.0625 --time-scale 2 --max-num-seqs 8 \
  --max-num-batched-tokens 512 --num-blocks 320 --max-prompt-tokens 3072 --enable-prefix-caching \
  --cost splitwise:llama2-70b:h100-80gb:8 --counterfactual-every 3 --counterfactual-max-requests 24

# Re-preemption while recomputing: long Azure code prompts into a 256-block pool with vLLM's
# full-prompt admission check off (--no-scheduler-reserve-full-isl, vLLM >= 0.33), so requests
# are admitted on their first chunk and some are preempted again before they have recomputed
# what an earlier preemption cost them. Under FCFS, priority and async scheduling.
REPREEMPT=(--workload azure --azure-kind code --n 40 --time-scale 4 --max-output-tokens 32
  --max-prompt-tokens 2048 --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 256
  --no-enable-prefix-caching --no-scheduler-reserve-full-isl --cost splitwise:llama2-70b:a100-80gb:8)
record repreempt-fcfs "$NEW" "${REPREEMPT[@]}"
record repreempt-priority "$NEW" "${REPREEMPT[@]}" --priority-classes 0,1,2 --policy priority
record repreempt-async "$NEW" "${REPREEMPT[@]}" --async-scheduling

# Request ids used again after their request finished (vLLM allows it; so does a client sending
# X-Request-Id): the last 12 of 40 requests take the ids of the first 12, each handed to the
# scheduler once the earlier request with its id has finished. Every lifetime is its own row.
REUSE=(--workload azure --azure-kind conv --n 40 --time-scale 8 --max-output-tokens 32
  --max-prompt-tokens 1024 --reuse-ids 12 --max-num-seqs 8 --max-num-batched-tokens 512
  --num-blocks 1024 --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8)
record reused-ids "$NEW" "${REUSE[@]}"
record reused-ids-priority "$NEW" "${REUSE[@]}" --priority-classes 0,1,2 --policy priority
record reused-ids-async "$NEW" "${REUSE[@]}" --async-scheduling

# Streaming-input sessions (vLLM >= 0.33, resumable requests; vLLM's own
# test_resumable_request_handoff in miniature): half of 40 Azure conv requests are sessions whose
# client sends two more chunks 0.5-6 s apart, some while the turn still runs (vLLM queues them)
# and some after it ended (the session waits for input), then closes the session, some while a
# turn runs (it finishes) and some while it waits (vLLM aborts it). A tight KV pool adds
# preemptions. Under FCFS, priority and async scheduling.
SESSIONS=(--workload azure --azure-kind conv --n 40 --time-scale 8 --max-output-tokens 32
  --max-prompt-tokens 1024 --sessions 0.5 --session-turns 2 --session-gap 0.5:6 --max-num-seqs 8
  --max-num-batched-tokens 512 --num-blocks 200 --no-scheduler-reserve-full-isl
  --cost splitwise:llama2-70b:a100-80gb:8)
record sessions-fcfs "$NEW" "${SESSIONS[@]}"
record sessions-priority "$NEW" "${SESSIONS[@]}" --priority-classes 0,1,2 --policy priority
record sessions-async "$NEW" "${SESSIONS[@]}" --async-scheduling
# Seed 003's A/B study (vsched compare): the same 250 Azure conv requests (arrivals 2x
# faster, so a backlog builds) under FCFS and under ISRTF (harness/isrtf.py) with three
# predictors. Every request asks for max_tokens=512 and stops at EOS after its trace length,
# so max_tokens gives the length away to no predictor. ab-fcfs-jitter1 re-draws only the
# arrival jitter (a null comparison). Gzipped, without oracle.jsonl, to stay small.
AB=(--workload azure --azure-kind conv --n 250 --time-scale 2 --max-prompt-tokens 1024
  --uniform-max-tokens 512 --arrival-jitter 0.5 --max-num-seqs 16 --max-num-batched-tokens 2048
  --num-blocks 4096 --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8 --gzip --no-oracle)
record ab-fcfs "$NEW" "${AB[@]}" --policy fcfs
record ab-fcfs-jitter1 "$NEW" "${AB[@]}" --policy fcfs --jitter-seed 1
record ab-isrtf-oracle "$NEW" "${AB[@]}" --policy isrtf --predictor oracle --repredict-every 50
record ab-isrtf-noisy0.5 "$NEW" "${AB[@]}" --policy isrtf --predictor noisy:0.5 --repredict-every 50
record ab-isrtf-learned "$NEW" "${AB[@]}" --policy isrtf --predictor learned --repredict-every 50

# Known-answer runs for vsched fit / simulate (test/fit-known-answer.test.ts): a linear step
# cost with chosen coefficients (seconds: 20 ms per step, 0.12 ms per prefill token, 0.3 ms
# per decode token, 0.5 ms per request), so the fit must recover them; the same workload
# under async scheduling (the step-time target must not be the overlapped forward_duration);
# and under a changed configuration, the held-out run that simulate must predict.
KNOWN_LINEAR=(--workload azure --azure-kind conv --n 80 --time-scale 4 --max-output-tokens 48
  --max-num-batched-tokens 512 --num-blocks 1024 --enable-chunked-prefill --no-enable-prefix-caching
  --cost linear:alpha=0.02,beta_prefill=0.00012,beta_decode=0.0003,per_req=0.0005)
record known-linear "$NEW" "${KNOWN_LINEAR[@]}" --max-num-seqs 16
record known-linear-async "$NEW" "${KNOWN_LINEAR[@]}" --max-num-seqs 16 --async-scheduling
record known-linear-seqs6 "$NEW" "${KNOWN_LINEAR[@]}" --max-num-seqs 6
# Client-chosen request ids that are hostile to HTML/CSV renderers (vLLM takes them from
# X-Request-Id): script-closing tags, attribute breakouts, line separators and a 1 MB id (10^6 characters).
# The id file is generated here (deterministic gzip), then the harness uses it verbatim.
if wanted hostile-ids; then
  python3 - <<'PY'
import gzip, json
ids = ["</script><script>window.__pwned='script'</script>",
       '"><img src=x onerror="window.__pwned=\'img\'">',
       "<!-- \u2028\u2029 & &amp; ${x} `tick` '\"",
       "</SCRIPT {} <script>window.__pwned='long'</script>"]
# a 1 MB id (10^6 characters), under the reader's 1 MiB cap on ids
ids[3] = ids[3].format("L" * (10**6 - len(ids[3]) + 2))
ids += [f"plain-{i}" for i in range(len(ids), 12)]
with open("fixtures/data/hostile-request-ids.jsonl.gz", "wb") as raw:
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write("".join(json.dumps(i) + "\n" for i in ids).encode())
PY
fi
record hostile-ids "$NEW" --workload synthetic --n 12 --rate 40 --prompt-len fixed:48 --output-len fixed:3 \
  --request-ids fixtures/data/hostile-request-ids.jsonl.gz --max-num-seqs 2 --max-num-batched-tokens 256 \
  --num-blocks 64 --no-enable-prefix-caching --gzip --cost splitwise:llama2-70b:a100-80gb:8
# (--gzip compresses the oracle too: the 1 MB id sits in vLLM's queue listing at every step)

# A second data-parallel rank (dp_rank 1): with kv-pressure-preempt (rank 0) it makes a
# two-rank run for the multi-rank views (vsched report, timeline).
record dp-rank-1 "$NEW" --workload azure --azure-kind conv --n 40 --time-scale 8 --max-output-tokens 32 \
  --max-prompt-tokens 1024 --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 256 \
  --no-enable-prefix-caching --dp-rank 1 --request-id-prefix rank1- --cost splitwise:llama2-70b:a100-80gb:8


# -- vLLM 0.34's new scheduler paths (recorded on 0.34.0) -----------------------------------
# The third waiting queue: 60% of requests are remote-prefill (vLLM's own NixlConnector, decode
# side; the harness reports each KV load done 80 ms after it starts) and at most 2 loads may be
# in flight (--max-num-inflight-kv-loads): the rest wait in async_kv_waiting (kv_load_cap).
record v0.34-async-kv-cap "$V34" --workload synthetic --n 24 --rate 40 --prompt-len uniform:64:256 \
  --output-len uniform:8:32 --remote-prefill-fraction 0.6 --max-num-inflight-kv-loads 2 --remote-kv-load-s 0.08 \
  --max-num-seqs 4 --max-num-batched-tokens 512 --num-blocks 256 --cost splitwise:llama2-70b:a100-80gb:8

# Cache-aware admission: half the prompts share a 192-token prefix; within a window of 8 vLLM
# moves those with a cached prefix ahead (threshold 0: at any KV usage).
record v0.34-cache-aware "$V34" --workload synthetic --n 30 --rate 30 --prompt-len uniform:256:512 \
  --output-len uniform:8:24 --shared-prefix 0.5:192 --max-num-seqs 4 --max-num-batched-tokens 512 \
  --num-blocks 256 --enable-prefix-caching --cache-aware-admission-window 8 \
  --cache-aware-admission-threshold 0.0 --cost splitwise:llama2-70b:a100-80gb:8

# Arrivals and aborts handled while a step executes, between schedule() and
# update_from_output() (0.34's EngineCoreProc._wait_for_output); 30% aborted 50 ms-2 s in.
record v0.34-mid-step-inputs "$V34" --workload azure --azure-kind conv --n 40 --time-scale 8 \
  --max-output-tokens 48 --max-prompt-tokens 1024 --abort-fraction 0.3 --abort-after 0.05:2 \
  --max-num-seqs 8 --max-num-batched-tokens 512 --num-blocks 1024 --no-enable-prefix-caching \
  --mid-step-inputs --cost splitwise:llama2-70b:a100-80gb:8

# Researchers' own scheduler classes (harness/research_schedulers.py, loaded as --scheduler-cls):
# schedule() overridden for shortest job first (extends AsyncScheduler, as vLLM #43724 asks),
# and the waiting queue swapped for a shortest-prompt heap.
RESEARCH=(--workload azure --azure-kind conv --n 24 --time-scale 4 --max-output-tokens 32
  --max-prompt-tokens 1024 --max-num-seqs 6 --max-num-batched-tokens 512 --num-blocks 1024
  --no-enable-prefix-caching --cost splitwise:llama2-70b:a100-80gb:8)
record v0.34-sjf-schedule "$V34" "${RESEARCH[@]}" --async-scheduling \
  --scheduler-cls vsched_emitter.harness.research_schedulers.AsyncSJFScheduler
record v0.34-queue-swap "$V34" "${RESEARCH[@]}" \
  --scheduler-cls vsched_emitter.harness.research_schedulers.ShortestPromptQueueScheduler

# true when two fixture directories differ only in .gz files whose decompressed bytes match
same_but_gzip_framing() {
  local a="$1" b="$2" f
  while IFS= read -r f; do
    case "$f" in
      *.gz) zcmp -s "$a/$f" "$b/$f" || return 1 ;;
      *) return 1 ;;
    esac
  done < <(diff -rq "$a" "$b" | sed -nE "s#^Files $a/(.*) and $b/.* differ\$#\1#p; /^Only in/ s#.*#ONLY#p")
  return 0
}
# -- check ---------------------------------------------------------------------------------
if [ "$check" = 1 ]; then
  status=0
  for n in "${names[@]}"; do
    if diff -r "$snap/fixtures/$n" "fixtures/$n" >/dev/null; then
      echo "identical: $n"
    elif same_but_gzip_framing "$snap/fixtures/$n" "fixtures/$n"; then
      # the writer hands gzip its records on a real-time cadence, so deflate's block
      # boundaries may move between runs; the records themselves must not
      echo "identical: $n (decompressed; gzip framing differs)"
      cp -a "$snap/fixtures/$n/." "fixtures/$n/"   # keep the committed bytes
    else
      echo "DIFFERS:   $n"; { diff -r "$snap/fixtures/$n" "fixtures/$n" || true; } | head -20; status=1
    fi
  done
  rm -rf "$snap"
  exit $status
fi
