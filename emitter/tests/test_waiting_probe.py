"""The waiting-request prefix-cache probe (VLLM_SCHEDULER_LOG_WAITING_PROBE, step.probe): it
reports the hit vLLM itself gives the request when it is admitted, and changes nothing vLLM
does or counts (its SchedulerStats, prefix-cache counters included, are the same without it)."""
import json

import vsched_testlib as lib
from vsched_emitter.harness import driver
from vsched_emitter.harness.driver import RequestSpec as Spec, SchedulerKnobs as Knobs


def _case():
    shared = lib.prompt(64, 42)  # 4 full blocks of 16
    specs = [Spec("x0", 0.0, shared + lib.prompt(20, 1), 6), Spec("x1", 0.0, shared + lib.prompt(20, 2), 6),
             Spec("y", 0.0, lib.prompt(40, 3), 6)]
    return specs, Knobs(max_num_seqs=1, max_num_batched_tokens=256, num_blocks=64, max_model_len=512)


def _run(tmp, probe):
    specs, knobs = _case()
    res = driver.run(specs, knobs, lib.cost, trace_dir=tmp / "trace", oracle_path=tmp / "oracle.jsonl", pid=3,
                     waiting_probe=probe)
    trace = lib.load_jsonl(res.trace_files[0])
    oracle = [x for x in (tmp / "oracle.jsonl").read_text().splitlines() if not x.startswith('{"type":"meta"')]
    return trace, oracle


def test_probe_reports_the_hit_vllm_gives_and_changes_nothing(tmp_path):
    off_trace, off_oracle = _run(tmp_path / "off", 0)
    on_trace, on_oracle = _run(tmp_path / "on", 4)
    assert on_oracle == off_oracle  # vLLM's own per-step stats, prefix-cache counters included
    strip = [{k: v for k, v in r.items() if k != "probe"} for r in on_trace]
    assert json.dumps(strip) == json.dumps(off_trace)  # the trace gains only the probe field
    assert not any("probe" in r for r in off_trace)
    assert lib.schema_errors(on_trace) == []
    steps = [r for r in on_trace if r["type"] == "step"]
    # x0 runs alone (max_num_seqs=1); once its prompt is computed, x1 would hit the shared 64 tokens,
    # held by x0 (not in the free pool), and y nothing
    probes = [dict((rid, (hit, ev)) for rid, hit, ev in s["probe"]) for s in steps if "probe" in s]
    assert any(p.get("x1") == (64, 0) and p.get("y") == (0, 0) for p in probes)
    admitted_x1 = [c for s in steps for rid, c in s["new"] if rid == "x1"]
    assert admitted_x1 == [64]  # vLLM's own hit at admission: the shared blocks
