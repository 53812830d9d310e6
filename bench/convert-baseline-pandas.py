"""The naive converter a researcher would write with pandas: the baseline vsched is
compared with in bench/convert-throughput.mjs. It reads the whole trace into a
DataFrame, explodes each step's `sched` list into one row per (step, request) and
writes three CSVs. It derives far less than vsched (no waiting rows, no reasons, no
per-request timings) and holds everything in memory, so it is a generous baseline.

    python bench/convert-baseline-pandas.py TRACE.jsonl OUTDIR
"""
import os
import sys

import pandas as pd

trace, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

df = pd.read_json(trace, lines=True, dtype=False)

steps = df[df["type"] == "step"][["step", "t_start", "t_end", "sched", "running", "waiting", "free_blocks"]]
per_iter_req = steps[["step", "t_start", "sched"]].explode("sched").dropna(subset=["sched"])
per_iter_req["request_id"] = per_iter_req["sched"].str[0]
per_iter_req["scheduled_tokens"] = per_iter_req["sched"].str[1]
per_iter_req["computed_tokens"] = per_iter_req["sched"].str[2]
per_iter_req.drop(columns=["sched"]).to_csv(os.path.join(out, "per_iteration_requests.csv"), index=False)

per_iter = steps.drop(columns=["sched"]).copy()
per_iter["batch_size"] = steps["sched"].str.len()
per_iter.to_csv(os.path.join(out, "per_iteration.csv"), index=False)

arrivals = df[df["type"] == "arrival"][["req", "t", "prompt_tokens", "max_tokens"]]
updates = df[df["type"] == "update"][["step", "t_end", "finished"]].explode("finished").dropna(subset=["finished"])
updates["req"] = updates["finished"].str[0]
updates["finish_reason"] = updates["finished"].str[1]
updates["output_tokens"] = updates["finished"].str[2]
per_request = arrivals.merge(updates[["req", "t_end", "finish_reason", "output_tokens"]], on="req", how="left")
per_request["e2e_latency"] = per_request["t_end"] - per_request["t"]
per_request.to_csv(os.path.join(out, "per_request.csv"), index=False)

print(len(per_iter_req) + len(per_iter) + len(per_request))
