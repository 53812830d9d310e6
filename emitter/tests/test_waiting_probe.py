"""The waiting-request prefix-cache probe (VLLM_SCHEDULER_LOG_WAITING_PROBE, step.probe): it
reports the hit vLLM itself gives the request when it is admitted, and changes nothing vLLM
does or counts (its SchedulerStats, prefix-cache counters included, are the same without it)."""
import json

import vsched_testlib as lib
from vsched_emitter import env
from vsched_emitter.harness import driver
from vsched_emitter.harness.driver import RequestSpec as Spec, SchedulerKnobs as Knobs


def _case():
    shared = lib.prompt(64, 42)  # 4 full blocks of 16
    specs = [Spec("x0", 0.0, shared + lib.prompt(20, 1), 6), Spec("x1", 0.0, shared + lib.prompt(20, 2), 6),
             Spec("y", 0.0, lib.prompt(40, 3), 6)]
    return specs, Knobs(max_num_seqs=1, max_num_batched_tokens=256, num_blocks=64, max_model_len=512)


def _run(tmp, probe, monkeypatch=None):
    specs, knobs = _case()
    if probe == 0:  # the driver leaves the variable unset for 0: the default is what we turn off
        monkeypatch.setattr(env, "WAITING_PROBE_DEFAULT", 0)
    res = driver.run(specs, knobs, lib.cost, trace_dir=tmp / "trace", oracle_path=tmp / "oracle.jsonl", pid=3,
                     waiting_probe=probe)
    trace = lib.load_jsonl(res.trace_files[0])
    oracle = [x for x in (tmp / "oracle.jsonl").read_text().splitlines() if not x.startswith('{"type":"meta"')]
    return trace, oracle


def test_probe_reports_the_hit_vllm_gives_and_changes_nothing(tmp_path, monkeypatch):
    off_trace, off_oracle = _run(tmp_path / "off", 0, monkeypatch)
    monkeypatch.undo()
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


def test_reused_answers_equal_fresh_lookups_under_eviction(tmp_path, monkeypatch):
    """The memo (answers kept while their blocks are unchanged) against a lookup at every
    probe, on a run whose shared prefixes are cached, held, freed and evicted (a small pool)."""
    from vsched_emitter import waiting_probe

    prefixes = [lib.prompt(96, 100 + k) for k in range(3)]
    specs = [Spec(f"r{i}", 0.02 * i, prefixes[i % 3] + lib.prompt(16 + 8 * (i % 4), i), 8 + i % 5) for i in range(18)]
    knobs = Knobs(max_num_seqs=3, max_num_batched_tokens=128, num_blocks=40, max_model_len=512)

    def run(name):
        res = driver.run(specs, knobs, lib.cost, trace_dir=tmp_path / name / "trace", oracle_path=tmp_path / name / "o.jsonl",
                         pid=3, waiting_probe=6)
        return lib.load_jsonl(res.trace_files[0])

    made = []
    setup = waiting_probe.setup
    monkeypatch.setattr(waiting_probe, "setup", lambda *a: made.append(setup(*a)) or made[-1])
    with_memo = run("memo")
    assert made and made[0].get_cached is not None and made[0].reused >= 5  # the memo was used
    init = waiting_probe.WaitingProbe.__init__

    def no_memo(self, *a, **k):
        init(self, *a, **k)
        self.get_cached = None

    monkeypatch.setattr(waiting_probe.WaitingProbe, "__init__", no_memo)
    fresh = run("fresh")
    probes = [s.get("probe") for s in fresh if s["type"] == "step"]
    assert sum(1 for p in probes if p and any(hit for _, hit, _ in p)) >= 5  # hits were there to get wrong
    assert any(s["preempted"] for s in fresh if s["type"] == "step") or any(
        ev < hit // 16 for p in probes if p for _, hit, ev in p)  # blocks held, freed, evicted
    assert json.dumps(with_memo) == json.dumps(fresh)
