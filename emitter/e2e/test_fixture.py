"""The recorded run in fixtures/e2e-vllm-cpu still passes every trace-vs-Prometheus check
(fast, standard library only; no engine)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
FIX = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "e2e-vllm-cpu")

import json  # noqa: E402

import pytest  # noqa: E402

import compare  # noqa: E402


def test_recorded_run_matches_prometheus():
    reqs = json.load(open(os.path.join(FIX, "requests.json")))["requests"]
    checks = compare.compare(os.path.join(FIX, "trace"),
                             open(os.path.join(FIX, "metrics.prom")).read(), reqs)
    bad = [c for c in checks if not c["ok"] and not c.get("informational")]
    assert not bad, json.dumps(bad, indent=1)
    by = {c["check"]: c for c in checks}
    assert by["sum(step.preempted) == vllm:num_preemptions_total"]["trace"] == 27
    assert by["finished requests == vllm:request_success_total"]["trace"] == 30


def test_prom_parser_sums_label_sets():
    p = compare.Prom('# HELP x\nvllm:a_total{engine="0",r="x"} 2.0\nvllm:a_total{engine="0",r="y"} 3\n'
                     'vllm:h_bucket{le="0.5"} 1\nvllm:h_bucket{le="+Inf"} 4\n')
    assert p.total("vllm:a_total") == 5.0 and p.total("vllm:a_total", r="y") == 3.0
    assert p.buckets("vllm:h") == [(0.5, 1.0), (float("inf"), 4.0)]
