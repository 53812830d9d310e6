"""Load vsched's tables in Python with their declared types (run cell by cell, or as a script).

    pip install ./emitter        # vsched_emitter; pandas or Polars are used when installed
    vsched convert scheduler_logs/ -o logs/
    python docs/python-loader-example.py logs/
"""
import sys

from vsched_emitter import tables

# %% every table, typed from logs/manifest.json: ids as strings, ns as int64, causes as categoricals
t = tables.load(sys.argv[1] if len(sys.argv) > 1 else "logs/")
per_request, steps, rows = t["per_request"], t["per_iteration"], t["per_iteration_requests"]
print(f"output schema {t.manifest['output_schema_version']}, requests: {len(per_request)}, steps: {len(steps)}")

# %% the backend: pandas if installed, else Polars, else {column: [values]}
if hasattr(per_request, "to_dict") and hasattr(per_request, "iloc"):
    # %% seed 002's question: schedule vs model-run time per step, in ms
    print((steps[["scheduling_overhead", "forward_duration"]] / 1e6).describe().round(3).to_string())

    # %% why requests waited: request-steps per cause (a categorical, so every cause is listed)
    waiting = rows[rows["state"].isin(["waiting", "preempted"])]
    print(waiting["waiting_reason"].value_counts().to_string())

    # %% the longest waits, with the cause that held each request longest
    wait_cols = [c for c in per_request.columns if c.startswith("wait_") and c.endswith("_ns")]
    top = per_request.nlargest(5, "waiting_time")
    cause = top[wait_cols].astype("float64").idxmax(axis=1).str.slice(5, -3)
    print(top.assign(waiting_ms=top["waiting_time"] / 1e6, cause=cause)[["request_id", "waiting_ms", "cause"]].to_string(index=False))

# %% only some data-parallel ranks (a partitioned Parquet directory reads only their files)
rank0 = tables.load(sys.argv[1] if len(sys.argv) > 1 else "logs/", ranks=[0], tables=["per_request"])
print(f"rank 0 requests: {len(rank0['per_request'])}")
