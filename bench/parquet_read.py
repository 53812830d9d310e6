"""Read time of a logs directory's tables as CSV and as Parquet in pandas, Polars and DuckDB.

    python bench/parquet_read.py LOGS_DIR [--repeat 3]     (the analysis venv: scripts/analysis_env.sh)

Prints one JSON object: for each library, the best-of-N seconds to load every table fully
into memory (DuckDB: materialise with a count over every column) from the CSVs and from
the Parquet files, and their ratio. Called by bench/parquet-vs-csv.mjs.
"""
import json
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

TABLES = ["per_request", "per_iteration", "per_iteration_requests", "events", "state_transitions"]


def best(fn, repeat):
    fn()  # warm up: imports, thread pools, page cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    logs = Path(sys.argv[1])
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    csv = [logs / f"{t}.csv" for t in TABLES]
    pq = [logs / f"{t}.parquet" for t in TABLES]
    con = duckdb.connect()
    con.execute("SET threads = 1")  # one core each, like pandas; the machine is shared

    def duck(reader, files):
        def run():
            for f in files:
                con.execute(f"SELECT count(*) FROM (SELECT * FROM {reader}('{f}'))").fetchall()
                con.execute(f"CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM {reader}('{f}')")
        return run

    readers = {
        "pandas": (lambda: [pd.read_csv(f) for f in csv], lambda: [pd.read_parquet(f) for f in pq]),
        "polars": (lambda: [pl.read_csv(f) for f in csv], lambda: [pl.read_parquet(f) for f in pq]),
        "duckdb": (duck("read_csv", csv), duck("read_parquet", pq)),
    }
    out = {}
    for name, (from_csv, from_pq) in readers.items():
        c = best(from_csv, repeat)
        p = best(from_pq, repeat)
        out[name] = {"csv_s": round(c, 3), "parquet_s": round(p, 3), "parquet_over_csv": round(p / c, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
