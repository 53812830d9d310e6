#!/bin/bash
# GPU-machine side: unpack the payload, check the install, run a plan of benchmark runs, pack
# the results into $OUT/results_<plan>.tar.gz. Run from the checkout root on the GPU machine:
#   bash .gpu/scripts/device.sh .gpu/scripts/PLAN.txt DEADLINE_S
# DEADLINE_S: seconds from start by which the tarball must be written (keep it ~35 s under the
# call's timeout). A run is skipped once less than MIN_LEFT s remain; each run is capped at RUNCAP s.
# PLAN lines: "TAG on|off|summary|full MAX_NUM_SEQS MAX_NUM_BATCHED_TOKENS N RATE [run_bench.py args]"; '#' = comment.
#   "--cpu-hog K" among the args is device.sh's own: K busy-loop processes share the host's cores
#   with the engine for that run (a slower host on purpose, so a fit sees runs whose schedule()
#   and kernel launches ran at different CPU speeds; issue 17's host-bound 1B shape). The count is
#   written to the run's hog.txt.
# Environment (all optional):
#   SKIP_PROBE=1                 skip probe.py (imports + pruned-kernel check, ~35 s)
#   VSCHED_EMITTER_SRC           a checkout's emitter/src, ahead of the payload's emitter
#   RUNCAP (330) MIN_LEFT (150)  per-run cap / minimum time left to start a run, in seconds
#   CSV                          workload (default .gpu/data/AzureLLMInferenceTrace_conv.csv.gz)
#   VLLM_SCHEDULER_LOG_LEVEL     emitter level for the "on" runs: full (default) | summary | off
#   VLLM_SCHEDULER_LOG_*         passed through to the emitter (FLUSH_SECONDS defaults to 1 here;
#                                LOG_DIR is always the run's trace/ folder)
set -u
R=$PWD; G=$R/.gpu; D=$G/dev; S=$G/scripts
PLAN=${1:?usage: device.sh PLAN DEADLINE_S}; DEADLINE=${2:-520}
CSV=${CSV:-$G/data/AzureLLMInferenceTrace_conv.csv.gz}
OUT=${OUT:-$G/out}
PY=${PYTHON:-python3}
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
mkdir -p $D/runs
echo "== device.sh start $(date -u +%FT%TZ) plan=$PLAN deadline=$DEADLINE"
[ -f "$PLAN" ] || { echo "NO PLAN FILE $PLAN"; exit 2; }
[ -f "$CSV" ] || { echo "NO WORKLOAD CSV $CSV (carry .gpu/data)"; exit 2; }
[ -f $G/payload/site.tar.xz ] || { echo "NO PAYLOAD (carry .gpu/payload; build it with prepare.sh)"; exit 2; }
unpack() {  # tarball -> $D (the tarballs hold site/...)
  if command -v xz >/dev/null; then tar -C $D -xJf "$1"
  else $PY -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$1" $D; fi
}
if [ ! -f $D/site/.ok ]; then
  rm -rf $D/site
  unpack $G/payload/site.tar.xz || { echo UNPACK FAILED; exit 3; }
  # the device's own (newer) typing_extensions must win: an older copy on PYTHONPATH breaks
  # `from typing_extensions import sentinel` (prepare.sh no longer packs one; this is a guard)
  rm -rf $D/site/typing_extensions.py $D/site/typing_extensions-*.dist-info
  cp -r $S/steptimer/* $D/site/ && touch $D/site/.ok
  echo "unpacked at $(el)s"; du -sh $D/site
else echo "site already unpacked"; fi
if [ -f $G/payload/extra.tar.xz ] && [ ! -f $D/site/.extra_ok ]; then
  unpack $G/payload/extra.tar.xz && touch $D/site/.extra_ok && echo "extra unpacked at $(el)s"
fi
# VSCHED_EMITTER_SRC=$PWD/emitter/src runs the checkout's emitter instead of the packed wheel's
# (the entry point resolves the module by name), so an emitter change needs no new payload
export PYTHONPATH=${VSCHED_EMITTER_SRC:+$VSCHED_EMITTER_SRC:}$D/site
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 PYTHONUNBUFFERED=1
# compile caches live in .gpu/dev and are lost with the machine: the first run of every call compiles
export VLLM_CACHE_ROOT=$D/cache/vllm TRITON_CACHE_DIR=$D/cache/triton TORCHINDUCTOR_CACHE_DIR=$D/cache/inductor
export VLLM_USE_FLASHINFER_SAMPLER=0   # flashinfer is not carried; vLLM's own (PyTorch) top-k/top-p sampler
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
EM_LEVEL=${VLLM_SCHEDULER_LOG_LEVEL:-full}
export VLLM_SCHEDULER_LOG_FLUSH_SECONDS=${VLLM_SCHEDULER_LOG_FLUSH_SECONDS:-1}
echo "emitter settings for 'on' runs: VLLM_SCHEDULER_LOG_LEVEL=$EM_LEVEL"; env | grep '^VLLM_SCHEDULER_LOG_' | sort
if [ ! -f $D/env.done ]; then
  { nvidia-smi; $PY -VV; command -v $PY; $PY -m pip list 2>/dev/null; command -v xz zstd; nproc; free -g; df -h $R /tmp; } > $D/env.txt 2>&1
  if [ -n "${SKIP_PROBE:-}" ]; then echo "probe skipped" > $D/probe.txt; prc=0; else $PY $S/probe.py > $D/probe.txt 2>&1; prc=$?; fi
  grep -v "^  File\|^    " $D/probe.txt | tail -25
  echo "probe rc=$prc at $(el)s"
  [ $prc -eq 0 ] || { mkdir -p $OUT; cp $D/env.txt $D/probe.txt $OUT/; exit 4; }
  touch $D/env.done
fi
FAILED=
HOGS=()
# busy loops of a --cpu-hog run must not outlive the script (a timeout or a kill mid-run)
trap '[ ${#HOGS[@]} -gt 0 ] && kill ${HOGS[@]} 2>/dev/null' EXIT
while read -r TAG EM SEQS TOK N RATE EXTRA || [ -n "${TAG:-}" ]; do
  [ -z "${TAG:-}" ] && continue; case $TAG in \#*) continue;; esac
  left=$(( DEADLINE - $(el) ))
  if [ $left -lt ${MIN_LEFT:-150} ]; then echo "SKIP $TAG (only ${left}s left)"; continue; fi
  RD=$D/runs/$TAG; rm -rf $RD; mkdir -p $RD/trace $RD/steptimer
  # EM: on (level $EM_LEVEL), summary or full (on at that level, for this run only), off
  lvl=$EM_LEVEL; case $EM in summary|full) lvl=$EM; EM=on;; esac
  if [ "$EM" = on ]; then export VLLM_SCHEDULER_LOGGING=1; else unset VLLM_SCHEDULER_LOGGING; fi
  export VLLM_SCHEDULER_LOG_DIR=$RD/trace VLLM_SCHEDULER_LOG_LEVEL=$lvl STEPTIMER_DIR=$RD/steptimer
  HOG=0; case " $EXTRA " in *" --cpu-hog "*)
    HOG=$(echo " $EXTRA " | sed -E 's/.* --cpu-hog ([0-9]+) .*/\1/')
    EXTRA=$(echo " $EXTRA " | sed -E 's/ --cpu-hog [0-9]+ / /; s/^ +//; s/ +$//');; esac
  HOGS=(); for _ in $(seq 1 $HOG); do sh -c 'while :; do :; done' & HOGS+=($!); done
  echo "$HOG" > $RD/hog.txt
  echo "== RUN $TAG emitter=$EM seqs=$SEQS tokens=$TOK n=$N rate=$RATE $EXTRA (start at $(el)s, left ${left}s)"
  lim=$((left - 15)); [ $lim -gt ${RUNCAP:-330} ] && lim=${RUNCAP:-330}
  timeout -k 10 $lim $PY $S/run_bench.py $RD --model $S/llama8b --csv "$CSV" \
     --n $N --rate $RATE --max-num-seqs $SEQS --max-num-batched-tokens $TOK $EXTRA > $RD/run.log 2>&1 < /dev/null
  rc=$?; [ ${#HOGS[@]} -gt 0 ] && { kill ${HOGS[@]}; wait ${HOGS[@]} 2>/dev/null; HOGS=(); }
  echo "rc=$rc at $(el)s (cpu hogs: $HOG)"; grep -E "ENGINE READY|RUN DONE|Error|error:|Traceback" $RD/run.log | cut -c1-600 | tail -6
  ls -la $RD/trace $RD/steptimer | grep -v total
  grep -q "RUN DONE" $RD/run.log || { echo "ABORT plan: $TAG failed"; grep -v "^(EngineCore" $RD/run.log | tail -5 | cut -c1-400; FAILED=1; }
  for p in $(nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null); do echo "killing leftover GPU process $p"; kill -9 $p; done
  [ -n "$FAILED" ] && break
done < "$PLAN"
mkdir -p $OUT
cp $S/build_info.txt $D/ 2>/dev/null || echo "no build_info.txt" > $D/build_info.txt
cd $D/runs && shopt -s nullglob && for r in */; do r=${r%/}; for f in $r/trace/*.jsonl; do gzip -kf "$f"; done; done
runs=(*/)
tar -czf $OUT/results_$(basename $PLAN .txt).tar.gz --exclude='*.jsonl' "${runs[@]}" -C $D env.txt probe.txt build_info.txt
ls -la $OUT; echo "== device.sh end at $(el)s"
