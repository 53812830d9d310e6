"""``python -m vsched_emitter.harness``: drive the real vLLM v1 scheduler with a workload.

Builds a RequestSpec stream (synthetic / azure / mooncake), runs it through the scheduler
driver with a fake model whose step time comes from a cost model, and writes into ``--out``:
the raw trace (via the emitter), ``oracle.jsonl`` (vLLM's own stats) and ``recipe.json``
(the exact command, vLLM version, resolved parameters, data checksums and a summary).
Prints one summary line.

Examples::

    python -m vsched_emitter.harness --workload azure --azure-kind conv --n 100 --out out/conv
    python -m vsched_emitter.harness --workload mooncake --n 200 --tokens-per-hash-block 32 \\
        --output-scale 0.0625 --cost splitwise:llama2-70b:h100-80gb:8 --out out/mc
    python -m vsched_emitter.harness --workload synthetic --n 64 --rate inf \\
        --prompt-len uniform:64:256 --num-blocks 48 --out out/kv
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import math
import os
import shlex
import sys
from collections import Counter
from pathlib import Path

from .. import interned
from . import cost_model, workloads
from .driver import SchedulerKnobs, has_reserve_full_isl, run


def _ints(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in s.split(",") if x.strip())


def _floats(s: str) -> tuple[float, ...]:
    return tuple(float(x) for x in s.split(",") if x.strip())


def _range(s: str) -> tuple[float, float]:
    lo, _, hi = s.partition(":")
    return (float(lo), float(hi or lo))


def _workload(s: str) -> str:
    if s in ("synthetic", "azure", "mooncake") or (s.startswith("file:") and len(s) > 5):
        return s
    raise argparse.ArgumentTypeError(f"{s!r}: use synthetic, azure, mooncake or file:PATH")


def _rate(s: str) -> float:
    return math.inf if s in ("inf", "burst") else float(s)


KNOB_HELP = {
    "max_num_seqs": "max running requests",
    "max_num_batched_tokens": "token budget per step",
    "max_model_len": "max prompt+output tokens (workloads are fitted to it)",
    "num_blocks": "KV blocks in the pool",
    "block_size": "tokens per KV block",
    "enable_chunked_prefill": "chunked prefill",
    "enable_prefix_caching": "prefix caching",
    "policy": "fcfs, priority, or isrtf (waiting queue ordered by predicted remaining tokens; see --predictor)",
    "async_scheduling": "async scheduling",
    "long_prefill_token_threshold": "cap on one request's prefill chunk (0 = none)",
    "max_loras": "max LoRA adapters per batch",
    "scheduler_reserve_full_isl": "vLLM >= 0.33: admit only if the whole prompt fits in KV (default: vLLM's own)",
    "max_num_inflight_kv_loads": "vLLM >= 0.34: cap on async KV loads; remote-prefill requests wait in async_kv_waiting",
    "cache_aware_admission_window": "vLLM >= 0.34: FCFS + prefix caching admit cached prefixes first within this window (0 = off)",
    "cache_aware_admission_threshold": "vLLM >= 0.34: KV usage from which the window applies (default: vLLM's 0.5)",
    "remote_kv_load_s": "seconds a remote-prefill request's KV load takes (--remote-prefill-fraction)",
    "mid_step_inputs": "handle arrivals and aborts while a step executes, before its update (vLLM >= 0.34's engine)",
    "scheduler_cls": "your own Scheduler subclass, MODULE:CLASS or a dotted name (vLLM's --scheduler-cls; extend "
                     "AsyncScheduler with async scheduling), e.g. vsched_emitter.harness.research_schedulers.AsyncSJFScheduler",
    "request_queue_cls": "your own waiting-queue class (MODULE:CLASS), built where vLLM calls create_request_queue",
}
# knobs added after fixtures were recorded: left out of recipe.json at their default, so
# older recipes stay byte-identical
_LATER_KNOBS = {"max_num_inflight_kv_loads": None, "cache_aware_admission_window": 0,
                "cache_aware_admission_threshold": None, "remote_kv_load_s": 0.05, "mid_step_inputs": False,
                "scheduler_cls": None, "request_queue_cls": None}
_OPTIONAL_KNOB_TYPES = {"max_loras": int, "max_num_inflight_kv_loads": int, "cache_aware_admission_threshold": float,
                        "scheduler_cls": str, "request_queue_cls": str}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vsched_emitter.harness",
                                description="Run a workload through the real vLLM v1 scheduler and record a vsched trace.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="output directory (trace, oracle.jsonl, recipe.json)")

    w = p.add_argument_group("workload")
    w.add_argument("--workload", type=_workload, default="synthetic",
                   help="synthetic | azure | mooncake | file:PATH (a workload file from vsched simulate)")
    w.add_argument("--n", type=int, default=None, help="number of requests (synthetic: default 100; traces: default all)")
    w.add_argument("--start", type=int, default=0, help="first trace row/line to use (azure, mooncake)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--data-dir", default=None, help="folder with the data files (default ../shared/data from the repo root)")
    w.add_argument("--data-file", default=None, help="the data file itself (overrides --data-dir)")
    w.add_argument("--time-scale", type=float, default=1.0, help="divide trace arrival offsets by this (azure, mooncake)")
    w.add_argument("--max-prompt-tokens", type=int, default=None)
    w.add_argument("--max-output-tokens", type=int, default=None)
    w.add_argument("--rate", type=_rate, default=math.inf, help="synthetic: Poisson arrivals, req/s ('inf' = all at t=0)")
    w.add_argument("--prompt-len", default="uniform:128:1024", help="synthetic: fixed:N | uniform:A:B | lognormal:MEDIAN:SIGMA")
    w.add_argument("--output-len", default="uniform:16:256", help="synthetic: as --prompt-len")
    w.add_argument("--lengths", choices=["dist", "sharegpt"], default="dist",
                   help="synthetic: lengths from the distributions or sampled from the ShareGPT CSV")
    w.add_argument("--azure-kind", choices=sorted(workloads.AZURE_FILES), default="conv")
    w.add_argument("--mooncake-kind", choices=sorted(workloads.MOONCAKE_FILES), default="conversation")
    w.add_argument("--tokens-per-hash-block", type=int, default=workloads.MOONCAKE_HASH_BLOCK_TOKENS,
                   help="mooncake: tokens per hash id (multiple of --block-size; 512 = the trace's own)")
    w.add_argument("--output-scale", type=float, default=1.0, help="mooncake: multiply output lengths")
    w.add_argument("--priority-classes", type=_ints, default=(), help="e.g. 0,1,2 (lower = served first)")
    w.add_argument("--priority-weights", type=_floats, default=None, help="e.g. 1,1,2")
    w.add_argument("--abort-fraction", type=float, default=0.0)
    w.add_argument("--abort-after", type=_range, default=(0.5, 2.0), help="LO:HI seconds after arrival")
    w.add_argument("--eos-fraction", type=float, default=0.0, help="fraction that sample EOS before max_tokens")
    w.add_argument("--shared-prefix", type=_shared_prefix, default=None, metavar="FRACTION:TOKENS",
                   help="this fraction of requests starts with one common prefix of TOKENS tokens (prefix-cache hits)")
    w.add_argument("--remote-prefill-fraction", type=float, default=0.0,
                   help="fraction whose prompt KV a prefill instance sends (vLLM's NixlConnector, decode side)")
    w.add_argument("--lora-ids", type=_ints, default=())
    w.add_argument("--lora-fraction", type=float, default=1.0)
    w.add_argument("--request-id-prefix", default="", help="prepended to every request id")
    w.add_argument("--request-ids", default=None, metavar="FILE",
                   help="JSON Lines file (.gz accepted), one JSON string per line: the i-th request in arrival "
                        "order gets the i-th id instead of its index (client-chosen ids, e.g. hostile ones)")
    w.add_argument("--reuse-ids", type=int, default=0,
                   help="the last N requests (by arrival) take the ids of the first N: vLLM lets a finished id be "
                        "used again; one whose id is still live is handed over when that request finishes")
    w.add_argument("--arrival-jitter", type=float, default=0.0,
                   help="add uniform [0, S) seconds to every arrival (same requests, other arrival times)")
    w.add_argument("--jitter-seed", type=int, default=0, help="seed of --arrival-jitter only")
    w.add_argument("--sessions", type=float, default=0.0, metavar="FRACTION",
                   help="that fraction of requests become streaming-input sessions (vLLM >= 0.33): "
                        "resumable, with --session-turns more input chunks")
    w.add_argument("--session-turns", type=int, default=2, help="input chunks after a session's first request")
    w.add_argument("--session-gap", type=_range, default=(0.2, 4.0),
                   help="LO:HI seconds between a session's chunks (uniform; a chunk may come while the turn runs)")
    w.add_argument("--session-chunk-len", type=_range, default=(8, 64), help="LO:HI tokens per later chunk")
    w.add_argument("--session-close-after", type=_range, default=(0.0, 1.0),
                   help="LO:HI seconds after the last chunk the client closes the session")
    w.add_argument("--uniform-max-tokens", type=int, default=None,
                   help="every request asks for max_tokens=N and stops at EOS after its own output length "
                        "(when shorter), as a client with one fixed cap: max_tokens then says nothing about "
                        "the length, which a length predictor has to find out")

    i = p.add_argument_group("isrtf (with --policy isrtf; harness/isrtf.py)")
    i.add_argument("--predictor", default=None,
                   help="oracle (true remaining tokens) | noisy:SIGMA (oracle x log-normal noise) | learned "
                        "(length-bucket regressor fitted on the ShareGPT length CSV)")
    i.add_argument("--repredict-every", type=int, default=50, help="re-predict every N output tokens")
    i.add_argument("--predictor-seed", type=int, default=0, help="seed of the noisy predictor")

    k = p.add_argument_group("scheduler knobs")
    for f in dataclasses.fields(SchedulerKnobs):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            k.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                           help=KNOB_HELP.get(f.name))
        elif f.name == "scheduler_reserve_full_isl":
            k.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                           help=KNOB_HELP.get(f.name))
        elif f.name in _OPTIONAL_KNOB_TYPES:
            k.add_argument(flag, dest=f.name, type=_OPTIONAL_KNOB_TYPES[f.name], default=default, help=KNOB_HELP.get(f.name))
        elif f.name == "policy":
            k.add_argument(flag, dest=f.name, choices=["fcfs", "priority", "isrtf"], default=default, help=KNOB_HELP.get(f.name))
        else:
            k.add_argument(flag, dest=f.name, type=type(default), default=default, help=KNOB_HELP.get(f.name))

    r = p.add_argument_group("run")
    r.add_argument("--cost", default="splitwise:llama2-70b:a100-80gb:8",
                   help="linear[:alpha=S,beta_prefill=S,beta_decode=S,per_req=S] | splitwise[:MODEL:HW[:TP]]")
    r.add_argument("--clock", choices=["virtual", "real"], default="virtual",
                   help="virtual: deterministic simulated time (byte-reproducible); real: sleeps the model cost")
    r.add_argument("--pid", type=int, default=None,
                   help="process id the emitter records (trace file name and header); default 1 with the "
                        "virtual clock so traces are byte-reproducible, the real pid otherwise")
    r.add_argument("--dp-rank", type=int, default=0,
                   help="data-parallel rank the scheduler reports (traces of several ranks for multi-rank tests)")
    r.add_argument("--level", choices=["full", "summary"], default="full")
    r.add_argument("--max-steps", type=int, default=None)
    r.add_argument("--gzip", action="store_true", help="gzip the trace and oracle.jsonl")
    r.add_argument("--no-oracle", dest="oracle", action="store_false",
                   help="do not write oracle.jsonl (vLLM's own figures; large on long runs); the trace is the same")
    r.add_argument("--counterfactual-every", type=int, default=None, metavar="N",
                   help="every Nth step, re-run schedule() on copies with limits relaxed and write "
                        "counterfactual.jsonl (which minimal relaxations admit each waiting request); "
                        "the trace is unchanged (vLLM 0.33)")
    r.add_argument("--waiting-probe", type=int, default=0, metavar="N",
                   help="record the prefix-cache hit of the first N waiting requests per step "
                        "(VLLM_SCHEDULER_LOG_WAITING_PROBE; level full, prefix caching on)")
    r.add_argument("--counterfactual-max-requests", type=int, default=8, metavar="K",
                   help="with --counterfactual-every: the first K waiting requests of each sampled step")
    r.add_argument("--no-recipe", dest="recipe", action="store_false", help="do not write recipe.json")
    r.add_argument("--force", action="store_true", help="delete earlier *.jsonl[.gz] and recipe.json in --out first")
    return p


def reuse_ids(specs: list, n: int) -> list:
    """The last n specs (in arrival order) take the request ids of the first n."""
    if not 0 < n <= len(specs) // 2:
        raise ValueError(f"--reuse-ids must be between 1 and half the requests ({len(specs) // 2}), got {n}")
    out = list(specs)
    for i in range(n):
        out[len(out) - n + i] = dataclasses.replace(out[len(out) - n + i], req_id=out[i].req_id)
    return out


def _shared_prefix(text: str) -> tuple[float, int]:
    try:
        fraction, tokens = text.split(":")
        out = (float(fraction), int(tokens))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FRACTION:TOKENS, got {text!r}") from None
    if not (0 < out[0] <= 1 and out[1] > 0):
        raise argparse.ArgumentTypeError(f"expected 0 < FRACTION <= 1 and TOKENS > 0, got {text!r}")
    return out


def share_prefix(specs: list, fraction: float, tokens: int, *, seed: int) -> None:
    """The chosen requests' prompts start with one common prefix (their own tokens after it);
    prompts shorter than prefix + 1 are left alone."""
    rng = workloads._rng(seed, "shared-prefix")
    prefix = [rng.randrange(workloads.TOKEN_LO, workloads.TOKEN_HI) for _ in range(tokens)]
    for s in specs:
        if rng.random() < fraction and len(s.prompt_token_ids) > tokens:
            s.prompt_token_ids = prefix + list(s.prompt_token_ids[tokens:])


def build_workload(a: argparse.Namespace, knobs) -> tuple[list, dict]:
    extras = workloads.Extras(priority_classes=a.priority_classes, priority_weights=a.priority_weights,
                              abort_fraction=a.abort_fraction, abort_after_s=a.abort_after,
                              eos_fraction=a.eos_fraction, lora_ids=a.lora_ids, lora_fraction=a.lora_fraction)
    common = dict(seed=a.seed, max_model_len=knobs.max_model_len, max_prompt_tokens=a.max_prompt_tokens,
                  max_output_tokens=a.max_output_tokens, data_dir=a.data_dir, path=a.data_file, extras=extras)
    if a.workload.startswith("file:"):
        path = Path(a.workload[5:])
        specs = workloads.from_file(path, max_model_len=knobs.max_model_len)
        if a.n is not None:
            specs = specs[: a.n]
        desc = {"source": "file", "file": path.name, "n": len(specs)}
        return specs, {"workload": desc, "data_files": [path]}
    if a.workload == "synthetic":
        n = 100 if a.n is None else a.n
        params = dict(n=n, rate=a.rate, prompt_len=a.prompt_len, output_len=a.output_len, lengths=a.lengths)
        specs = workloads.synthetic(**params, **common)
        data = workloads.SHAREGPT_FILE if a.lengths == "sharegpt" else None
    elif a.workload == "azure":
        params = dict(kind=a.azure_kind, n=a.n, start=a.start, time_scale=a.time_scale)
        specs = workloads.azure(**params, **common)
        data = workloads.AZURE_FILES[a.azure_kind]
    else:
        params = dict(kind=a.mooncake_kind, n=a.n, start=a.start, time_scale=a.time_scale,
                      tokens_per_hash_block=a.tokens_per_hash_block, block_size=knobs.block_size,
                      output_scale=a.output_scale)
        specs = workloads.mooncake(**params, **common)
        data = workloads.MOONCAKE_FILES[a.mooncake_kind]
    if a.request_ids:
        specs = with_request_ids(specs, Path(a.request_ids))
    if a.request_id_prefix:
        specs = [dataclasses.replace(s, req_id=a.request_id_prefix + s.req_id) for s in specs]
    desc = {"source": a.workload, **{k: v for k, v in params.items()}, "seed": a.seed,
            "max_prompt_tokens": a.max_prompt_tokens, "max_output_tokens": a.max_output_tokens,
            "extras": dataclasses.asdict(extras)}
    if a.reuse_ids:
        specs = reuse_ids(specs, a.reuse_ids)
        desc["reuse_ids"] = a.reuse_ids  # only when set: older recipes keep their bytes
    if desc.get("rate") == math.inf:
        desc["rate"] = "inf"
    files = []
    if data is not None:
        files.append(Path(a.data_file) if a.data_file else Path(a.data_dir or workloads.default_data_dir()) / data)
    if a.request_ids:
        desc["request_ids"] = _rel(a.request_ids)
        files.append(Path(a.request_ids))
    if a.uniform_max_tokens is not None:
        cap = a.uniform_max_tokens
        if cap < 1:
            raise ValueError("--uniform-max-tokens must be >= 1")
        for s in specs:
            length = s.max_tokens if s.eos_at is None else s.eos_at + 1
            s.max_tokens = cap
            s.eos_at = length - 1 if length < cap else None
        desc["uniform_max_tokens"] = cap
    if a.sessions:
        make_sessions(specs, a)
        desc["sessions"] = {"fraction": a.sessions, "turns": a.session_turns, "gap_s": list(a.session_gap),
                            "chunk_len": list(a.session_chunk_len), "close_after_s": list(a.session_close_after)}
    if a.shared_prefix:
        share_prefix(specs, *a.shared_prefix, seed=a.seed)
        desc["shared_prefix"] = list(a.shared_prefix)  # only when set
    if a.remote_prefill_fraction:
        pick = workloads._rng(a.seed, "remote-prefill")
        for s in specs:
            s.remote_prefill = pick.random() < a.remote_prefill_fraction
        desc["remote_prefill_fraction"] = a.remote_prefill_fraction  # only when set
    if a.arrival_jitter:
        jitter = workloads._rng(a.jitter_seed, "arrival-jitter")
        for s in specs:
            s.arrival_s = round(s.arrival_s + jitter.uniform(0.0, a.arrival_jitter), 9)
        desc["arrival_jitter_s"] = a.arrival_jitter
        desc["jitter_seed"] = a.jitter_seed
    return specs, {"workload": desc, "data_files": files}


def make_sessions(specs: list, a: argparse.Namespace) -> None:
    """Turn a seeded fraction of the specs into streaming-input sessions (in place): each keeps
    its first prompt and max_tokens, and gets --session-turns more chunks of that max_tokens."""
    from .driver import FILLER_TOKEN_ID, TurnSpec

    if not 0.0 < a.sessions <= 1.0 or a.session_turns < 1:
        raise ValueError("--sessions must be in (0, 1] and --session-turns >= 1")
    rng = workloads._rng(a.seed, "sessions")
    for s in specs:
        if rng.random() >= a.sessions:
            continue
        s.turns = [TurnSpec(after_s=round(rng.uniform(*a.session_gap), 6),
                            prompt_token_ids=[FILLER_TOKEN_ID] * int(rng.uniform(*a.session_chunk_len)),
                            max_tokens=s.max_tokens)
                   for _ in range(a.session_turns)]
        s.end_after_s = round(rng.uniform(*a.session_close_after), 6)
        s.eos_at = None
        s.abort_after_s = None


def with_request_ids(specs: list, path: Path) -> list:
    """vLLM takes request ids from clients (X-Request-Id), so they can hold anything; this
    replaces the workload's index ids with the ones in ``path`` to record such traces."""
    with _open(path) as f:
        ids = [json.loads(line) for line in f if line.strip()]
    if any(not isinstance(i, str) or not i for i in ids):
        raise ValueError(f"{path}: every line must be a non-empty JSON string")
    if len(ids) < len(specs):
        raise ValueError(f"{path}: {len(ids)} ids for {len(specs)} requests")
    return [dataclasses.replace(s, req_id=i) for s, i in zip(specs, ids)]


def build_isrtf(a: argparse.Namespace, specs: list, info: dict):
    """The ISRTF policy object for --policy isrtf (None otherwise); adds its description to info."""
    if a.policy != "isrtf":
        if a.predictor is not None:
            raise ValueError("--predictor needs --policy isrtf")
        return None
    from . import isrtf

    spec = a.predictor or "oracle"
    train = Path(a.data_dir or workloads.default_data_dir()) / workloads.SHAREGPT_FILE
    predictor = isrtf.from_spec(spec, train_csv=train, seed=a.predictor_seed)
    info["isrtf"] = {"predictor": spec, "repredict_every": a.repredict_every, "predictor_seed": a.predictor_seed}
    if spec == "learned":
        info["data_files"].append(train)
        info["isrtf"]["trained_on"] = workloads.SHAREGPT_FILE
    return isrtf.ISRTF(predictor, {s.req_id: s for s in specs}, a.repredict_every)


def _open(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def summarize_trace(paths) -> dict:
    """Counts read back from the written trace (all shards)."""
    c = Counter()
    reasons: dict[tuple[str, int], str] = {}  # (request id, lifetime): ids may be reused after finishing
    lifetime: Counter = Counter()
    steps = set()
    for path in paths:
        path = Path(path)
        if not path.exists():
            continue
        decoder = None
        with _open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                t = rec.get("type")
                if t == "header" and int(rec["schema_version"].split(".")[1]) >= 3:
                    decoder = interned.Decoder()  # handles and deltas back to ids and lists
                elif decoder is not None:
                    rec = decoder.decode(rec)
                c["records"] += 1
                if t == "arrival":
                    c["requests"] += 1
                    lifetime[rec["req"]] += 1
                elif t == "step":
                    steps.add(rec["step"])
                    c["preemptions"] += len(rec.get("preempted", ()))
                    for _, computed in rec.get("new", ()):
                        if computed:
                            c["prefix_hit_requests"] += 1
                            c["prefix_hit_tokens"] += computed
                    for _, computed in rec.get("resumed", ()):
                        c["resumed"] += 1
                    c["kv_fail"] += len(rec.get("kv_fail", ()))
                elif t == "update":
                    for rid, reason, _ in rec.get("finished", ()):
                        reasons.setdefault((rid, lifetime[rid]), reason)
                elif t == "finish":
                    reasons.setdefault((rec["req"], lifetime[rec["req"]]), rec["reason"])
                    if rec.get("from") == "waiting":
                        c["finished_while_waiting"] += 1
                elif t in ("dropped",):
                    c["dropped"] += rec.get("count", 0)
                elif t == "emitter_error":
                    c["emitter_errors"] += 1
    out = {k: c[k] for k in ("requests", "preemptions", "resumed", "kv_fail", "prefix_hit_requests",
                              "prefix_hit_tokens", "finished_while_waiting", "records", "dropped", "emitter_errors")}
    out["steps"] = len(steps)
    out["finished"] = dict(sorted(Counter(reasons.values()).items()))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _vllm_version() -> str:
    try:
        from importlib.metadata import version
        return version("vllm")
    except Exception:  # pragma: no cover
        return "unknown"


def _rel(p) -> str:
    p = Path(p)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return p.name


def _knobs_record(knobs) -> dict:
    """Knobs for recipe.json; a knob added later is listed only when set, so older recipes stay byte-identical."""
    d = dataclasses.asdict(knobs)
    if d.get("scheduler_reserve_full_isl") is None:
        d.pop("scheduler_reserve_full_isl", None)
    for name, default in _LATER_KNOBS.items():
        if d.get(name) == default:
            d.pop(name, None)
    return d


def _import_vllm() -> None:
    """Import vLLM's config and scheduler (torch comes with them) before run() does, with the
    cyclic GC paused: the import makes ~600k objects and the collections it triggers cost ~0.6 s
    of a ~6 s start (bench/simulate-speed.mjs); cyclic garbage it leaves is collected once the GC
    runs again."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import vllm.config  # noqa: F401
        import vllm.v1.core.sched.scheduler  # noqa: F401
    finally:
        if was_enabled:
            gc.enable()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    a = parser.parse_args(argv)
    knobs = SchedulerKnobs(**{f.name: getattr(a, f.name) for f in dataclasses.fields(SchedulerKnobs)})
    if knobs.scheduler_reserve_full_isl is not None and not has_reserve_full_isl():
        parser.error(f"this vLLM ({_vllm_version()}) has no scheduler_reserve_full_isl (it checks only the "
                     "first chunk before admitting): drop --[no-]scheduler-reserve-full-isl")
    try:
        cost = cost_model.from_spec(a.cost, data_dir=a.data_dir)
        if hasattr(cost, "configure"):  # a fitted model's CUDA graphs follow the simulated max_num_seqs
            cost.configure(knobs.max_num_seqs)
        specs, info = build_workload(a, knobs)
        policy = build_isrtf(a, specs, info)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.force:
        for old in [*out.glob("*.jsonl"), *out.glob("*.jsonl.gz"), out / "recipe.json"]:  # counterfactual.jsonl too
            old.unlink(missing_ok=True)
    oracle = (out / ("oracle.jsonl.gz" if a.gzip else "oracle.jsonl")) if a.oracle else None  # --gzip: the oracle too
    pid = a.pid if a.pid is not None else (1 if a.clock == "virtual" else None)
    _import_vllm()
    res = run(specs, knobs, cost, trace_dir=out, level=a.level, clock=a.clock, oracle_path=oracle,
              max_steps=a.max_steps, gzip=a.gzip, pid=pid, dp_rank=a.dp_rank, isrtf=policy,
              waiting_probe=a.waiting_probe,
              counterfactual=None if a.counterfactual_every is None
              else (a.counterfactual_every, a.counterfactual_max_requests))
    trace_files = [Path(p) for p in (res.trace_files or [])]
    cf_files = [out / "counterfactual.jsonl"] if a.counterfactual_every is not None else []
    summary = summarize_trace(trace_files)
    if a.recipe:
        recipe = {
            "command": "python -m vsched_emitter.harness " + shlex.join(argv),
            "argv": argv,
            "vllm_version": _vllm_version(),
            "python": "%d.%d" % sys.version_info[:2],
            "clock": a.clock,
            "level": a.level,
            "knobs": _knobs_record(knobs),
            "cost": cost.describe() if hasattr(cost, "describe") else {"spec": a.cost},
            **{k: v for k, v in info.items() if k != "data_files"},
            "data": {_rel(p): _sha256(p) for p in info["data_files"]},
            "outputs": sorted(_rel(p) for p in [*trace_files, oracle, *cf_files] if p is not None and Path(p).exists()),
            "summary": {"driver_steps": res.steps, "driver_finished": res.finished, **summary},
        }
        (out / "recipe.json").write_text(json.dumps(recipe, indent=2, sort_keys=False) + "\n")
    fin = ",".join(f"{k}={v}" for k, v in summary["finished"].items()) or "-"
    size = sum(Path(p).stat().st_size for p in trace_files if Path(p).exists())
    print(f"vsched harness: {a.workload} requests={summary['requests']} steps={res.steps} finished={res.finished} "
          f"({fin}) preemptions={summary['preemptions']} prefix_hits={summary['prefix_hit_requests']}"
          f"/{summary['prefix_hit_tokens']}tok clock={a.clock} level={a.level} "
          f"trace={','.join(_rel(p) for p in trace_files)} ({size} B) oracle={_rel(oracle) if oracle else '-'}")
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is written and closed (the emitter's writer by Scheduler.shutdown(), recipe.json
    # by write_text); tearing down the interpreter with vLLM and torch loaded takes ~1.3 s more.
    # Under a profiler or coverage (python -m cProfile -m …) exit normally: they write at exit.
    if sys.getprofile() is None and sys.gettrace() is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
