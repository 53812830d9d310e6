"""The trace against vLLM's own figures (the driver's oracle, computed by vLLM's code)."""
import pytest

import vsched_testlib as lib


@pytest.mark.parametrize("name", list(lib.SCENARIOS))
def test_order_rule_reproduces_vllm_waiting_queue(scenarios, name):
    case = scenarios[name]
    rebuild = lib.priority_orders if case.header["config"]["policy"] == "priority" else lib.fcfs_orders
    orders = rebuild(case.trace)
    oracle = case.oracle_steps()
    assert set(orders) == set(oracle)
    for step, rec in oracle.items():
        assert orders[step] == rec["waiting_order"], f"step {step}"


@pytest.mark.parametrize("name", list(lib.SCENARIOS))
def test_counts_and_kv_usage_equal_scheduler_stats(scenarios, name):
    case = scenarios[name]
    oracle = case.oracle_steps()
    total = case.header["config"]["num_gpu_blocks"] - 1  # vLLM's null block
    updates = case.of("update")
    assert [u["step"] for u in updates] == list(oracle)  # one update per SchedulerOutput, same order
    for u in updates:
        o = oracle[u["step"]]
        assert (u["running"], u["waiting"]) == (o["num_running_reqs"], o["num_waiting_reqs"]), u["step"]
        assert 1.0 - (u["free_blocks"] / total) == o["kv_cache_usage"], u["step"]
    for s in case.of("step"):
        assert s["running"] == len(oracle[s["step"]]["running"])


@pytest.mark.parametrize("name", ["basic", "kv_preempt", "async", "abort", "priority"])
def test_timestamps_are_vllms_own(scenarios, name):
    """arrival.t = QUEUED, sched_t = SCHEDULED/PREEMPTED, out_t = EngineCoreOutputs.timestamp."""
    case = scenarios[name]
    anchor = int(next(r for r in case.oracle if r["type"] == "meta")["anchor_monotonic_ns"])
    assert anchor == int(case.header["clock"]["monotonic_ns"])

    def rel(x):
        return round(x * 1e9) - anchor

    reqs = case.oracle_requests()
    for a in case.of("arrival"):
        queued = [ts for name_, ts in reqs[a["req"]]["events"] if name_ == "QUEUED"]
        assert a["t"] == rel(queued[0])
        assert int(a["vllm_arrival_epoch_ns"]) == round(reqs[a["req"]]["arrival_time"] * 1e9)
    sched_events = {}
    for rid, r in reqs.items():
        for name_, ts in r["events"]:
            if name_ in ("SCHEDULED", "PREEMPTED"):
                sched_events.setdefault(rel(ts), set()).add((rid, name_))
    for s in case.of("step"):
        touched = {(x[0], "SCHEDULED") for x in s["new"] + s["resumed"]} | {(p, "PREEMPTED") for p in s["preempted"]}
        if touched:
            assert s["sched_t"] is not None and touched <= sched_events[s["sched_t"]]
            assert s["t_start"] < s["sched_t"] < s["t_end"]
    first_token = {}
    for u in case.of("update"):
        for rid, n in u["tokens"]:
            first_token.setdefault(rid, u["out_t"])
    for rid, t in first_token.items():
        assert t == rel(reqs[rid]["first_token_ts"])


@pytest.mark.parametrize("name", list(lib.SCENARIOS))
def test_tokens_preemptions_and_finishes_match(scenarios, name):
    case = scenarios[name]
    reqs = case.oracle_requests()
    tokens = {}
    for u in case.of("update"):
        for rid, n in u["tokens"]:
            tokens[rid] = tokens.get(rid, 0) + n
    preempted = {}
    for s in case.of("step"):
        for rid in s["preempted"]:
            preempted[rid] = preempted.get(rid, 0) + 1
    finished = {f[0]: f[1] for u in case.of("update") for f in u["finished"]}
    finished.update({f["req"]: f["reason"] for f in case.of("finish")})
    for rid, r in reqs.items():
        assert tokens.get(rid, 0) == r["num_generation_tokens"], rid
        assert preempted.get(rid, 0) == r["num_preemptions"], rid
        assert finished.get(rid) == r["finish_reason"], rid


def test_oracle_intervals_are_vllm_formulas(scenarios):
    """Spot-check the oracle itself: vLLM's interval definitions over its own stamps."""
    for r in scenarios["kv_preempt"].oracle_requests().values():
        assert r["queued_time"] == r["scheduled_ts"] - r["queued_ts"]
        assert r["prefill_time"] == r["first_token_ts"] - r["scheduled_ts"]
        assert r["decode_time"] == r["last_token_ts"] - r["first_token_ts"]
        assert r["mean_time_per_output_token"] == r["decode_time"] / (r["num_generation_tokens"] - 1)
