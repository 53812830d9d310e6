"""ISRTF in the harness (harness/isrtf.py) against vLLM's real Scheduler, and the emitter's
prediction records. The oracle is vLLM's own state: its waiting queue and what each
schedule() admitted, and the prediction_history on its Request objects."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from vsched_emitter import interned
from vsched_emitter.harness import driver, isrtf
from vsched_emitter.harness.driver import RequestSpec as Spec, SchedulerKnobs
from vsched_testlib import cost, load_jsonl, prompt, schema_errors

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "data"


def specs(n=24):
    # a burst of requests whose lengths differ widely; every one asks for max_tokens=200
    lengths = [(i * 37) % 150 + 5 for i in range(n)]
    return [Spec(f"r{i}", i * 0.002, prompt(30 + i, i), 200, eos_at=lengths[i] - 1) for i in range(n)]


def run(tmp, predictor="oracle", every=20, n=24, traced=True):
    s = specs(n)
    policy = isrtf.ISRTF(isrtf.from_spec(predictor, train_csv=DATA / "sharegpt_8k_filtered_stats_llama2_tokenizer.csv"),
                         {x.req_id: x for x in s}, every)
    knobs = SchedulerKnobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=512, policy="isrtf",
                           enable_prefix_caching=False)
    seen = {"admitted": [], "histories": {}}

    def on_schedule(sched, out):
        waiting = [r for q in policy.queues for r in q]
        for new in out.scheduled_new_reqs:
            r = sched.requests[new.req_id]
            seen["admitted"].append((r.predicted_remaining_tokens, r.arrival_time,
                                     min(((w.predicted_remaining_tokens, w.arrival_time) for w in waiting), default=None)))

    def on_update(sched, step, outputs):
        for r in sched.requests.values():
            seen["histories"][r.request_id] = list(r.prediction_history)

    driver._schedule_observers.append(on_schedule)
    driver._update_observers.append(on_update)
    try:
        res = driver.run(s, knobs, cost, trace_dir=tmp / "trace" if traced else None, isrtf=policy)
    finally:
        driver._schedule_observers.remove(on_schedule)
        driver._update_observers.remove(on_update)
    trace = load_jsonl(res.trace_files[0]) if traced else []
    return res, trace, seen


def test_isrtf_admits_the_shortest_predicted_first(tmp_path):
    res, _, seen = run(tmp_path)
    assert res.finished == 24
    assert seen["admitted"]
    for pred, arrival, best_left in seen["admitted"]:
        if best_left is not None:  # nothing left in vLLM's waiting queue was predicted shorter
            assert (pred, arrival) <= best_left


def test_fcfs_would_have_admitted_in_arrival_order(tmp_path):
    # the same burst under vLLM's fcfs admits r0, r1, r2, ... (so the test above can fail)
    knobs = SchedulerKnobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=512, enable_prefix_caching=False)
    order = []
    driver._schedule_observers.append(lambda sched, out: order.extend(r.req_id for r in out.scheduled_new_reqs))
    try:
        driver.run(specs(), knobs, cost, trace_dir=None)
    finally:
        driver._schedule_observers.pop()
    assert order == [f"r{i}" for i in range(24)]


def test_prediction_records_equal_vllm_requests_prediction_history(tmp_path):
    _, trace, seen = run(tmp_path, predictor="noisy:0.5")
    assert trace[0]["schema_version"] == interned.SCHEMA_VERSION and trace[0]["config"]["policy"] == "isrtf"
    assert not schema_errors(trace)
    recorded: dict[str, list] = {}
    for rec in trace:
        if rec["type"] == "prediction":
            recorded.setdefault(rec["req"], []).append((rec["output_tokens"], rec["predicted_remaining"]))
    expected = {rid: h for rid, h in seen["histories"].items() if h}
    assert recorded == {rid: [(k, p) for k, p in h] for rid, h in expected.items()}
    # re-predicted every 20 output tokens, from 0
    assert all([k for k, _ in h] == list(range(0, 20 * len(h), 20)) for h in recorded.values())
    assert any(len(h) > 1 for h in recorded.values())


def test_nothing_predicts_nothing_new(tmp_path, monkeypatch):
    # the plain format's version says whether predictions may follow
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FORMAT", "plain")
    knobs = SchedulerKnobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=512, enable_prefix_caching=False)
    res = driver.run(specs(8), knobs, cost, trace_dir=tmp_path / "t")
    trace = load_jsonl(res.trace_files[0])
    assert trace[0]["schema_version"] == ("1.2" if trace[0]["capabilities"].get("session_hook") else "1.0")
    assert not [r for r in trace if r["type"] == "prediction"]


def test_predictors():
    s = specs(3)[2]
    truth = isrtf.true_output_tokens(s)
    assert isrtf.oracle()(s, 10) == truth - 10
    noisy = isrtf.noisy(0.5, seed=3)
    assert noisy(s, 10) == noisy(s, 10)  # reproducible
    draws = [isrtf.noisy(0.5, seed=k)(s, 0) / truth for k in range(400)]
    logs = sorted(math.log(d) for d in draws)
    assert abs(logs[200]) < 0.1 and 0.4 < (logs[340] - logs[60]) / 2 < 0.6  # median 1, sigma ~ 0.5
    model = isrtf.LengthBuckets.fit(isrtf.read_sharegpt_lengths(DATA / "sharegpt_8k_filtered_stats_llama2_tokenizer.csv"))
    assert model.edges == sorted(model.edges)
    assert 0 <= model.remaining(100, 0, 512) <= 512
    assert model.remaining(100, 500, 512) <= 12  # capped by max_tokens
    with pytest.raises(ValueError):
        isrtf.from_spec("noisy:x")
