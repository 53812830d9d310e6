"""Drive the real vLLM (AsyncLLM) with an Azure-conv-shaped workload and Poisson arrivals.

usage: python3 run_bench.py OUTDIR --model DIR --csv AZURE_CONV_CSV[.gz] [--n 400] [--rate 20]
         [--seed 0] [--max-prompt 4096] [--max-num-seqs 128] [--max-num-batched-tokens 8192]
         [--eager] [--gpu-mem 0.90] [--no-chunked-prefill] [--no-prefix-caching]

Requests are rows --offset..--offset+n of the CSV (ContextTokens capped at --max-prompt,
GeneratedTokens as max_tokens with ignore_eos, so each request returns exactly that many
tokens); prompt token ids are random (seeded). Arrival times are a Poisson process of rate
--rate (exponential gaps, seeded), each request submitted at its own time through
AsyncLLM.generate (timed arrivals, not a batch). The emitter is on or off by the environment
(VLLM_SCHEDULER_LOGGING). Writes OUTDIR/summary.json and OUTDIR/requests.csv.
"""
import argparse
import asyncio
import csv
import gzip
import json
import os
import sys
import time


def build(args):
    import numpy as np
    opener = gzip.open if args.csv.endswith(".gz") else open
    with opener(args.csv, "rt", newline="") as f:
        rows = list(csv.DictReader(f))[args.offset:args.offset + args.n]
    rng = np.random.default_rng(args.seed)
    gaps = rng.exponential(1.0 / args.rate, size=len(rows))
    arr = np.cumsum(gaps) - gaps[0]
    reqs = []
    for i, r in enumerate(rows):
        p = max(1, min(int(r["ContextTokens"]), args.max_prompt))
        o = max(1, int(r["GeneratedTokens"]))
        ids = rng.integers(100, 128000, size=p).tolist()
        reqs.append((f"r{i}", float(arr[i]), ids, o))
    return reqs


async def main(args):
    from vllm import SamplingParams
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.sampling_params import RequestOutputKind
    from vllm.v1.engine.async_llm import AsyncLLM

    os.makedirs(args.out, exist_ok=True)
    reqs = build(args)
    t_a = time.time()
    eargs = AsyncEngineArgs(
        model=args.model, skip_tokenizer_init=True, load_format="dummy", dtype="bfloat16",
        max_model_len=8192, max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
        gpu_memory_utilization=args.gpu_mem, enforce_eager=args.eager, seed=0,
        enable_chunked_prefill=not args.no_chunked_prefill,
        enable_prefix_caching=not args.no_prefix_caching,
    )
    engine = AsyncLLM.from_engine_args(eargs)
    t_ready = time.time()
    vc = engine.vllm_config
    info = {
        "vllm_version": __import__("vllm").__version__,
        "startup_s": t_ready - t_a,
        "emitter": os.environ.get("VLLM_SCHEDULER_LOGGING", "0"),
        "emitter_level": os.environ.get("VLLM_SCHEDULER_LOG_LEVEL", "full"),
        "args": vars(args),
    }
    try:
        cc = vc.compilation_config
        info.update({
            "compilation_mode": str(getattr(cc, "mode", getattr(cc, "level", None))),
            "cudagraph_mode": str(getattr(cc, "cudagraph_mode", None)),
            "cudagraph_capture_sizes_n": len(getattr(cc, "cudagraph_capture_sizes", []) or []),
            "max_cudagraph_capture_size": getattr(cc, "max_cudagraph_capture_size", None),
            "enforce_eager": vc.model_config.enforce_eager,
            "async_scheduling": vc.scheduler_config.async_scheduling,
            "enable_chunked_prefill": vc.scheduler_config.enable_chunked_prefill,
            "max_num_seqs": vc.scheduler_config.max_num_seqs,
            "max_num_batched_tokens": vc.scheduler_config.max_num_batched_tokens,
            "num_gpu_blocks": vc.cache_config.num_gpu_blocks,
            "block_size": vc.cache_config.block_size,
            "enable_prefix_caching": vc.cache_config.enable_prefix_caching,
            "attention_backend": str(getattr(getattr(vc, "attention_config", None), "backend", None)),
        })
    except Exception as e:  # noqa
        info["config_error"] = repr(e)
    print("ENGINE READY", json.dumps(info, default=str), flush=True)

    async def one(rid, prompt_ids, max_tokens, t_due, T0, rec):
        now = time.perf_counter()
        if t_due is not None and T0 + t_due > now:
            await asyncio.sleep(T0 + t_due - now)
        sp = SamplingParams(max_tokens=max_tokens, ignore_eos=True, temperature=0.0,
                            detokenize=False, output_kind=RequestOutputKind.DELTA)
        t_send = time.perf_counter()
        t_first = None
        n = 0
        async for out in engine.generate({"prompt_token_ids": prompt_ids}, sp, rid):
            k = len(out.outputs[0].token_ids) if out.outputs else 0
            if k and t_first is None:
                t_first = time.perf_counter()
            n += k
        t_done = time.perf_counter()
        rec.append((rid, len(prompt_ids), max_tokens, n, t_send - T0, (t_first or t_done) - T0, t_done - T0))

    # warm-up: 4 small requests (they are in the trace too, ids warm0..warm3)
    wrec = []
    T0 = time.perf_counter()
    await asyncio.gather(*[one(f"warm{i}", list(range(1000, 1064)), 8, None, T0, wrec) for i in range(4)])
    await asyncio.sleep(1.0)

    rec = []
    T0 = time.perf_counter()
    await asyncio.gather(*[one(rid, ids, o, t, T0, rec) for rid, t, ids, o in reqs])
    T_end = time.perf_counter()
    dur = T_end - T0
    n_out = sum(r[3] for r in rec)
    n_in = sum(r[1] for r in rec)
    ttft = sorted(r[5] - r[4] for r in rec)
    e2e = sorted(r[6] - r[4] for r in rec)
    q = lambda a, p: a[min(len(a) - 1, int(p * len(a)))]
    info.update({
        "n_requests": len(rec), "duration_s": dur, "last_arrival_s": reqs[-1][1],
        "prompt_tokens": n_in, "output_tokens": n_out,
        "output_tok_per_s": n_out / dur, "total_tok_per_s": (n_in + n_out) / dur,
        "req_per_s": len(rec) / dur,
        "ttft_p50": q(ttft, 0.5), "ttft_p90": q(ttft, 0.9), "e2e_p50": q(e2e, 0.5), "e2e_p90": q(e2e, 0.9),
        "all_lengths_exact": all(r[3] == r[2] for r in rec),
    })
    with open(os.path.join(args.out, "requests.csv"), "w") as f:
        f.write("id,prompt_tokens,max_tokens,output_tokens,send_s,first_s,done_s\n")
        for r in sorted(rec, key=lambda r: int(r[0][1:])):
            f.write("%s,%d,%d,%d,%.6f,%.6f,%.6f\n" % r)
    print("RUN DONE", json.dumps({k: info[k] for k in ("startup_s", "duration_s", "output_tok_per_s",
          "total_tok_per_s", "req_per_s", "ttft_p50", "e2e_p50", "all_lengths_exact")}), flush=True)
    await asyncio.sleep(2.5)  # emitter / steptimer flush before vLLM SIGKILLs the engine core
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(info, f, indent=1, default=str)
    engine.shutdown()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-prompt", type=int, default=4096)
    ap.add_argument("--max-num-seqs", type=int, default=128)
    ap.add_argument("--max-num-batched-tokens", type=int, default=8192)
    ap.add_argument("--gpu-mem", type=float, default=0.90)
    ap.add_argument("--eager", action="store_true")
    ap.add_argument("--no-chunked-prefill", action="store_true")
    ap.add_argument("--no-prefix-caching", action="store_true")
    a = ap.parse_args()
    asyncio.run(main(a))
    sys.exit(0)
