"""The analysis snippet of seed 000 §8 runs unmodified on vsched's output (plain
pd.read_csv, no options), on a trace recorded from a real `vllm serve`."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

# Seed 000 §8, verbatim except the directory name (the seed's scheduler_logs/ is our -o).
SNIPPET = """
import pandas as pd

# Request 요약 통계
requests = pd.read_csv('scheduler_logs/per_request.csv')
print(f"Average TTFT: {requests['ttft'].mean()}")
print(f"Average TPOT: {requests['tpot'].mean()}")
print(f"Preemption rate: {(requests['preemption_count'] > 0).mean()}")

# Iteration별 리소스 사용률
iterations = pd.read_csv('scheduler_logs/per_iteration.csv')
iterations['kv_cache_util'] = iterations['kv_cache_used'] / iterations['kv_cache_total']
print(f"Average KV cache utilization: {iterations['kv_cache_util'].mean()}")

# 이벤트 로그 분석
events = pd.read_csv('scheduler_logs/events.csv')
preemption_events = events[events['event_type'] == 'request_preempted']
print(f"Total preemptions: {len(preemption_events)}")
"""


def test_seed_section_8_snippet_runs_unmodified(tmp_path):
    trace = ROOT / "fixtures" / "e2e-vllm-cpu" / "trace"
    subprocess.run(["node", str(ROOT / "bin" / "vsched.js"), "convert", str(trace), "-o", str(tmp_path / "scheduler_logs"), "-q"],
                   check=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", SNIPPET], cwd=tmp_path, check=True, capture_output=True, text=True,
                         timeout=300).stdout
    values = dict(line.split(": ", 1) for line in out.strip().splitlines())
    # the same figures computed here from the tables, and against what the real server reported
    requests = pd.read_csv(tmp_path / "scheduler_logs" / "per_request.csv")
    assert float(values["Average TTFT"]) == requests["ttft"].mean() > 0
    assert float(values["Preemption rate"]) == (requests["preemption_count"] > 0).mean() > 0
    assert 0 < float(values["Average KV cache utilization"]) <= 1
    # 27 = vllm:num_preemptions_total scraped from that server (fixtures/e2e-vllm-cpu/metrics.prom)
    prom = (ROOT / "fixtures" / "e2e-vllm-cpu" / "metrics.prom").read_text()
    total = next(float(l.split()[-1]) for l in prom.splitlines() if l.startswith("vllm:num_preemptions_total"))
    assert int(values["Total preemptions"]) == int(total) == 27


def test_absolute_epoch_ns_read_by_pandas_are_exact(tmp_path):
    # epoch ns exceed 2^53: pandas reads them as int64, exactly, never as float
    subprocess.run(["node", str(ROOT / "bin" / "vsched.js"), "convert", str(ROOT / "fixtures" / "e2e-vllm-cpu" / "trace"),
                    "-o", str(tmp_path), "-q"], check=True, timeout=300)
    r = pd.read_csv(tmp_path / "per_request.csv")
    assert str(r["arrival_time_epoch_ns"].dtype) == "int64"
    raw = (tmp_path / "per_request.csv").read_text().splitlines()
    col = raw[0].split(",").index("arrival_time_epoch_ns")
    assert [int(line.split(",")[col]) for line in raw[1:]] == r["arrival_time_epoch_ns"].tolist()
    assert (r["arrival_time_epoch_ns"] > 2**53).all()
