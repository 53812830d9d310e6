#!/usr/bin/env bash
# Build what one GPU call needs to run real vLLM 0.24.0 with this checkout's emitter on an H100.
# Run from the root of a vsched checkout:  bash ../shared/gpu/prepare.sh   (any path to this file)
# Needs x86-64 Linux, PyPI reachable (the first time), python3 with pip, unzip, xz; ~2 GB free in
# ${TMPDIR:-/tmp}; ~2.5 min of 2 cores (mostly xz). Downloads (~320 MB) are cached in
# $VSCHED_GPU_CACHE (default ~/.cache/vsched-gpu). Writes, all under .gpu/ (git-excluded here):
#   .gpu/payload/site.tar.xz    pruned vLLM + the deps the GPU machine lacks + the emitter  (~39 MB)
#   .gpu/payload/extra.tar.xz   llguidance, xgrammar, apache-tvm-ffi                       (~12.5 MB)
#   .gpu/scripts/               device.sh, run_bench.py, probe.py, steptimer/, llama8b/, plan_*.txt,
#                               build_info.txt
#   .gpu/data/AzureLLMInferenceTrace_conv.csv.gz   the workload (gzip: 0.7 MB -> 0.18 MB)
# The GPU machine already has Python 3.12 with torch 2.11.0 (vLLM 0.24.0's pin), transformers,
# tokenizers, numba, triton, numpy and typing_extensions; everything else vLLM imports is packed here.
#
# How the payload is made (as for the recorded runs of 2026-12-06):
#  1. unzip vllm-0.24.0-cp38-abi3-manylinux_2_28_x86_64.whl (279 MB; checked against its sha256)
#  2. drop what an H100 + Python 3.12 + dense bf16 Llama never loads:
#       vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so (FA3 serves sm_90; FA2 import is try/except)
#       vllm/_moe_C_stable_libtorch.abi3.so (MoE only; its import failure is a logged warning)
#       vllm/vllm-rs (Rust frontend binary), vllm/third_party/fmha_sm100 (sm_100 only),
#       vllm/third_party/deep_gemm/_C.cpython-31{0,1,3,4}-*.so (other Pythons)
#  3. zero (not remove) every fatbin entry of vllm/_C_stable_libtorch.abi3.so that an sm_90
#     GPU never loads (fatbin_prune.py: per fatbin, keep the sm_90 cubins, or the PTX <= 90
#     where a fatbin has no sm_90 cubin); file size and all offsets unchanged, 67 of 83 MB
#     of fatbin payload zeroed, so it compresses from 85 MB to ~18 MB
#  4. pip-download the missing pure-Python / cp312 deps (list below), build the emitter wheel from a
#     copy of ./emitter, install all into site/ with pip --target (no deps); device.sh adds the
#     steptimer plugin on the GPU machine
#  5. tar | xz (dict 192 MiB, long-range matches: FA3's 153 MB .so packs to 8 MB; the x86 BCJ
#     filter in front of LZMA2 takes ~1.1 MiB more off the shared libraries)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CSV_SRC=${CSV_SRC:-$HERE/../data/AzureLLMInferenceTrace_conv.csv}
CACHE=${VSCHED_GPU_CACHE:-$HOME/.cache/vsched-gpu}
LIMIT_MIB=58   # what travels (checkout + carry) may be 64 MiB; keep >= 6 MiB for the checkout itself
VLLM_WHL=vllm-0.24.0-cp38-abi3-manylinux_2_28_x86_64.whl
VLLM_SHA256=2d2831aeba311292250df0132dbc4d8e9f42c654536eaec48e6fe58acb1822cf
die() { echo "prepare.sh: ERROR: $*" >&2; exit 1; }
ROOT=$(pwd -P); G=$ROOT/.gpu
[ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$ROOT" ] && [ -f emitter/pyproject.toml ] \
  || die "run from the root of a vsched checkout (with emitter/pyproject.toml)"
[ -f "$CSV_SRC" ] || die "workload CSV not found: $CSV_SRC (set CSV_SRC)"
for t in unzip xz tar sha256sum; do command -v $t >/dev/null || die "needs $t"; done
EXCL=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$EXCL")"
if ! grep -qx '/.gpu/' "$EXCL" 2>/dev/null; then
  [ -s "$EXCL" ] && [ -n "$(tail -c1 "$EXCL")" ] && echo >> "$EXCL"   # file without a final newline
  echo '/.gpu/' >> "$EXCL"
fi

# pip only downloads and unpacks wheels here, for the GPU machine's CPython 3.12: these flags
# select cp312 manylinux wheels whichever Python runs pip (checked with 3.11 and 3.12).
PY=${VSCHED_GPU_PYTHON:-}
if [ -z "$PY" ]; then if python3.12 -m pip --version >/dev/null 2>&1; then PY=python3.12; else PY=python3; fi; fi
$PY -m pip --version >/dev/null 2>&1 || die "$PY has no pip (set VSCHED_GPU_PYTHON)"
echo "pip: $($PY -m pip --version)"
PLAT=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
      --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_26_x86_64
      --platform manylinux_2_5_x86_64)
# versions: the newest release uploaded before vLLM 0.24.0 (2026-06-30) within vLLM's pins, as
# recorded. typing-extensions is not packed: an older copy on PYTHONPATH shadows the GPU machine's
# newer one and breaks `from typing_extensions import sentinel`.
DEPS=(fastapi==0.136.3 starlette==1.3.1 openai==2.44.0 pydantic==2.13.4 pydantic-core==2.46.4
  msgspec==0.21.1 pyzmq==27.1.0 cachetools==7.1.4 cbor2==6.1.2 openai-harmony==0.0.8
  typing-inspection==0.4.2 annotated-types==0.7.0 jiter==0.16.0 distro==1.9.0 blake3==1.0.9
  pybase64==1.4.3 sniffio==1.3.1 partial-json-parser==0.2.1.1.post7 setproctitle==1.3.8 depyf==0.20.0
  astor==0.8.1 dill==0.4.1 ijson==3.6.0 python-json-logger==4.2.0 diskcache==5.6.3 lark==1.2.2
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.6.3)
# llguidance and xgrammar: vLLM 0.24 evaluates class annotations llguidance.LLMatcher and
# xgr.GrammarMatcher at import (vllm/v1/structured_output/backend_{guidance,xgrammar}.py), so both
# must import even though no structured output is used. xgrammar's 65 MB static lib is dropped.
EXTRA=(llguidance==1.7.6 xgrammar==0.2.3 apache-tvm-ffi==0.1.9)

# downloads (cached; a folder per pin list, so a changed list never mixes with old wheels)
mkdir -p "$CACHE"
if ! echo "$VLLM_SHA256  $CACHE/$VLLM_WHL" | sha256sum -c --status 2>/dev/null; then
  echo "downloading $VLLM_WHL (279 MB) into $CACHE"
  $PY -m pip download -q --no-deps "${PLAT[@]}" -d "$CACHE" vllm==0.24.0 || die "pip download of vllm==0.24.0 failed"
  echo "$VLLM_SHA256  $CACHE/$VLLM_WHL" | sha256sum -c --status || die "$CACHE/$VLLM_WHL missing or not the recorded wheel (sha256)"
fi
fetch() {  # DIR PIP_ARGS... -> DIR/*.whl, once
  local d=$1; shift
  [ -f "$d/.complete" ] && return 0
  rm -rf "$d"; mkdir -p "$d"
  $PY -m pip download -q --no-deps "${PLAT[@]}" -d "$d" "$@" || die "pip download failed: $*"
  touch "$d/.complete"
}
DEPS_DIR=$CACHE/deps-$(echo "${DEPS[*]}" | sha256sum | cut -c1-12)
EXTRA_DIR=$CACHE/extra-$(echo "${EXTRA[*]}" | sha256sum | cut -c1-12)
echo "downloading deps into $DEPS_DIR and $EXTRA_DIR (cached)"
fetch "$DEPS_DIR" "${DEPS[@]}"
fetch "$EXTRA_DIR" --platform manylinux_2_31_x86_64 "${EXTRA[@]}"

W=$(mktemp -d "${TMPDIR:-/tmp}/vsched-gpu.XXXXXX"); trap 'rm -rf "$W"' EXIT
echo "unpacking and pruning vLLM in $W"
mkdir -p $W/site && unzip -q "$CACHE/$VLLM_WHL" -d $W/site   # vllm/ and vllm-0.24.0.dist-info/
cd $W/site/vllm
[ -f _C_stable_libtorch.abi3.so ] || die "unexpected wheel layout: no vllm/_C_stable_libtorch.abi3.so"
rm -rf vllm_flash_attn/_vllm_fa2_C.abi3.so _moe_C_stable_libtorch.abi3.so vllm-rs third_party/fmha_sm100 \
       third_party/deep_gemm/_C.cpython-31[0134]-x86_64-linux-gnu.so
mv _C_stable_libtorch.abi3.so $W/_C_full.so
python3 "$HERE/fatbin_prune.py" $W/_C_full.so _C_stable_libtorch.abi3.so && rm $W/_C_full.so
chmod 755 _C_stable_libtorch.abi3.so
cd "$ROOT"

echo "building the emitter wheel from a copy of ./emitter"
mkdir -p $W/emitter_src $W/whl   # build a copy: never write into the checkout
tar -C emitter --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache -cf - . \
  | tar -C $W/emitter_src -xf -
$PY -m pip wheel -q --no-deps -w $W/whl $W/emitter_src
$PY -m pip install -q --no-index --no-deps --no-compile --target $W/site "${PLAT[@]}" "$DEPS_DIR"/*.whl $W/whl/*.whl
grep -qs 'vllm.general_plugins' $W/site/vsched_emitter-*.dist-info/entry_points.txt \
  || die "the emitter wheel has no vllm.general_plugins entry point"
echo "packing site.tar.xz (xz -T2, a few minutes)"
tar -C $W -cf - site | xz -T2 --x86 --lzma2=preset=6,dict=192MiB > $W/site.tar.xz

mkdir -p $W/extra/site
$PY -m pip install -q --no-index --no-deps --no-compile --target $W/extra/site "${PLAT[@]}" \
  --platform manylinux_2_31_x86_64 "$EXTRA_DIR"/*.whl
rm -f $W/extra/site/xgrammar/lib/libxgrammar.a
echo "packing extra.tar.xz"
tar -C $W/extra -cf - site | xz -T2 --x86 --lzma2=preset=6,dict=64MiB > $W/extra.tar.xz

mkdir -p $G/payload $G/scripts $G/data
mv -f $W/site.tar.xz $W/extra.tar.xz $G/payload/
cp -r "$HERE"/{device.sh,run_bench.py,probe.py,steptimer,llama1b,llama8b,llama14b} "$HERE"/plan_*.txt $G/scripts/
find $G/scripts -name __pycache__ -prune -exec rm -rf {} +
rm -f $G/data/AzureLLMInferenceTrace_conv.csv
gzip -9 -n -c "$CSV_SRC" > $G/data/AzureLLMInferenceTrace_conv.csv.gz
dirty=$(git status --porcelain -- emitter)
{ echo "built $(date -u +%FT%TZ) by shared/gpu/prepare.sh; pip of $($PY -V 2>&1)"
  echo "checkout $(git rev-parse HEAD)${dirty:+ (emitter/ has uncommitted changes)}"
  echo "vllm $VLLM_WHL sha256 $VLLM_SHA256"
  (cd $W/whl && sha256sum *.whl | awk '{print "emitter " $2 " sha256 " $1}')
  (cd $G/payload && sha256sum *.tar.xz | awk '{print "payload " $2 " sha256 " $1}')
} > $G/scripts/build_info.txt

bytes() { du -sb "$@" | awk '{s += $1} END {print s}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
site=$(bytes $G/payload/site.tar.xz); extra=$(bytes $G/payload/extra.tar.xz)
carry=$(bytes $G/payload $G/scripts $G/data)
tree=$(git ls-files -z -co --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1 || true)
# a shared/ folder inside the checkout travels even where git ignores it
if [ -d shared ] && git check-ignore -q shared; then tree=$(( ${tree:-0} + $(bytes shared) )); fi
echo "site.tar.xz $(mib $site) MiB, extra.tar.xz $(mib $extra) MiB; payload + scripts + data: $(mib $carry) MiB (limit $LIMIT_MIB)"
echo "checkout (tracked + untracked not ignored): $(mib ${tree:-0}) MiB; with the carry $(mib $(( carry + ${tree:-0} ))) MiB of 64"
[ "$carry" -le $(( LIMIT_MIB * 1048576 )) ] || die "payload + scripts + data is $(mib $carry) MiB, over $LIMIT_MIB MiB: it will not fit run's 64 MiB with the checkout"
[ $(( carry + ${tree:-0} )) -le $(( 64 * 1048576 )) ] \
  || die "with the checkout ($(mib ${tree:-0}) MiB) this is $(mib $(( carry + ${tree:-0} ))) MiB, over run's 64 MiB: bash gpu/park.sh (parks bench/h100 and the largest CPU fixtures inside .git for the call), git-ignore or remove untracked files, or shrink the payload"
echo "OK. On the GPU machine: bash .gpu/scripts/device.sh .gpu/scripts/plan_smoke.txt 545"
echo '   carry [".gpu/payload", ".gpu/scripts", ".gpu/data"], timeout ~580 s'
