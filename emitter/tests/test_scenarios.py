"""Each waiting cause vLLM v1 can produce on this setup, forced by a scenario and checked
in the trace (stop / skipped / kv_fail / preempted / new / finish)."""
import pytest

import vsched_testlib as lib


@pytest.mark.parametrize("name", list(lib.SCENARIOS))
def test_every_record_validates_against_the_schema(scenarios, name):
    case = scenarios[name]
    assert case.trace[0]["type"] == "header" and case.trace[-1]["type"] == "end"
    assert lib.schema_errors(case.trace) == []
    kinds = {r["type"] for r in case.trace}
    assert {"arrival", "step", "update"} <= kinds
    assert "emitter_error" not in kinds and "dropped" not in kinds
    end = case.trace[-1]
    assert end["steps"] == case.result.steps == len(case.of("step"))
    assert end["records"] == len(case.trace) - 1 and end["dropped"] == 0


def test_header_describes_the_scheduler(scenarios):
    import vllm

    h = scenarios["basic"].header
    assert h["vllm_version"] == vllm.__version__ and h["level"] == "full" and h["dp_rank"] == 0
    cfg = h["config"]
    assert cfg["scheduler_class"] == "vllm.v1.core.sched.scheduler.Scheduler"
    assert (cfg["max_num_seqs"], cfg["max_num_batched_tokens"], cfg["num_gpu_blocks"], cfg["block_size"]) == (3, 64, 20, 16)
    # tiny model: 2 layers x (K+V) x 16 tokens x 2 heads x 16 dims x 2 bytes
    assert cfg["bytes_per_block"] == 2 * 2 * 16 * 2 * 16 * 2
    assert cfg["log_stats"] is True and cfg["policy"] == "fcfs" and cfg["async_scheduling"] is False
    assert int(h["clock"]["epoch_ns"]) > int(h["clock"]["monotonic_ns"]) > 0
    caps = h["capabilities"]
    assert caps["event_timestamps"] and caps["skip_causes"] and caps["block_counts"]
    from vllm.v1.core.sched.scheduler import Scheduler

    assert caps["preempt_hook"] == hasattr(Scheduler, "_preempt_request")
    assert caps["pause_state"] == hasattr(Scheduler, "pause_state")
    assert any(x["what"] == "pause state" for x in h["not_captured"]) != caps["pause_state"]
    assert scenarios["async"].header["config"]["scheduler_class"].endswith("AsyncScheduler")
    assert scenarios["async"].header["config"]["async_scheduling"] is True
    assert scenarios["lora"].header["config"]["max_loras"] == 1


def _stops(case, cause):
    return [s for s in case.of("step") if (s.get("stop") or {}).get("cause") == cause]


def test_max_num_seqs(scenarios):
    case = scenarios["max_num_seqs"]
    hits = _stops(case, "max_num_seqs")
    assert hits and all(s["running"] == 2 and s["waiting"] > 0 and s["stop"]["req"] is None for s in hits)
    assert [x[0] for x in case.of("step")[0]["new"]] == ["s0", "s1"]


def test_token_budget(scenarios):
    case = scenarios["token_budget"]
    hits = _stops(case, "token_budget")
    assert hits and all(s["budget_left"] == 0 and s["waiting"] > 0 for s in hits)
    first = case.of("step")[0]
    assert first["sched"] == [["b0", 32, 0]] and first["new"] == [["b0", 0]]
    # chunked prefill: the next chunk of b0 starts where the last one ended
    assert case.of("step")[1]["sched"][0] == ["b0", 32, 32]


def test_kv_exhaustion_preemption_and_resume(scenarios):
    case = scenarios["kv_preempt"]
    steps = case.of("step")
    kv_full = _stops(case, "kv_full")
    assert kv_full and all([s["stop"]["req"], "waiting"] in s["kv_fail"] for s in kv_full)
    pre = [s for s in steps if s["preempted"]]
    assert pre, "small num_blocks must force a preemption"
    for s in pre:
        assert s["stop"] == {"cause": "preemption", "req": None}
        assert any(phase == "running" for _, phase in s["kv_fail"])
        assert s["new"] == [] and s["resumed"] == []  # vLLM skips the waiting loop
        for rid in s["preempted"]:
            assert [rid, 0] in s["blocks"]  # preemption frees all of its blocks
    preempted = {rid for s in pre for rid in s["preempted"]}
    resumed = {x[0] for s in steps for x in s["resumed"]}
    assert preempted <= resumed
    finished = {f[0]: f for u in case.of("update") for f in u["finished"]}
    assert set(finished) == {"k0", "k1", "k2", "k3"} and all(f[1:] == ["length", 30] for f in finished.values())


def test_chunked_prefill_off_long_prompt(scenarios):
    """v0.11 skips the too-long prompt and keeps scanning; later versions stop at it."""
    case = scenarios["no_chunk"]
    blocked = [s for s in case.of("step")
               if s["stop"] == {"cause": "prompt_exceeds_budget", "req": "big"}
               or ["big", "prompt_exceeds_budget"] in s["skipped"]]
    assert blocked
    for s in blocked:
        assert "big" not in [x[0] for x in s["new"]] and s["budget_left"] < 127
    admitted = [s for s in case.of("step") if ["big", 0] in s["new"]]
    assert admitted and admitted[0]["step"] > blocked[-1]["step"] and admitted[0]["sched"][-1] == ["big", 127, 0]


def test_priority_policy(scenarios):
    case = scenarios["priority"]
    assert case.header["config"]["policy"] == "priority"
    assert all("order" not in s for s in case.of("step"))  # never written for priority
    first_new = [x[0] for s in case.of("step") for x in s["new"]]
    # p3 (priority 0) overtakes everything still waiting when it arrives
    assert first_new.index("p3") < first_new.index("p2") and first_new.index("p6") < first_new.index("p4")
    assert _stops(case, "max_num_seqs")
    # KV pressure preempts the worst (priority, arrival) running request, not the newest
    key = {a["req"]: (a["priority"], int(a["vllm_arrival_epoch_ns"])) for a in case.of("arrival")}
    running, victims = set(), 0
    for rec in case.trace:
        if rec["type"] == "step":
            if rec["preempted"]:
                victims += 1
                assert rec["preempted"][0] == max(running, key=key.__getitem__)
            running.difference_update(rec["preempted"])
            running.update(x[0] for x in rec["new"] + rec["resumed"])
        elif rec["type"] == "update":
            running.difference_update(f[0] for f in rec["finished"])
    assert victims > 0


def test_lora_slots(scenarios):
    case = scenarios["lora"]
    first = case.of("step")[0]
    assert [x[0] for x in first["new"]] == ["l0", "l2"]
    assert sorted(first["skipped"]) == [["l1", "lora_slots"], ["l3", "lora_slots"], ["l4", "lora_slots"]]
    assert first["stop"] == {"cause": "empty", "req": None}
    arrivals = {a["req"]: a["lora"] for a in case.of("arrival")}
    assert arrivals == {"l0": 1, "l1": 2, "l2": 1, "l3": 2, "l4": 2}


def test_abort_while_waiting_and_running(scenarios):
    case = scenarios["abort"]
    fin = {f["req"]: f for f in case.of("finish")}
    assert fin["wait1"]["from"] == "waiting" and fin["wait1"]["reason"] == "abort"
    assert fin["wait1"]["output_tokens"] == 0
    assert fin["run0"]["from"] == "running" and fin["run0"]["reason"] == "abort"
    assert 0 < fin["run0"]["output_tokens"] < 40
    admitted = {x[0] for s in case.of("step") for x in s["new"]}
    assert "wait1" not in admitted and "wait2" in admitted
    steps_after = [s for s in case.of("step") if s["t_start"] > fin["run0"]["t"]]
    assert steps_after and all("run0" not in [x[0] for x in s["sched"]] for s in steps_after)


def test_prefix_cache_hits(scenarios):
    case = scenarios["prefix"]
    new = {x[0]: x[1] for s in case.of("step") for x in s["new"]}
    assert new["x0"] == 0 and new["x1"] == 64 and new["x2"] == 64  # 4 full shared blocks
    first_x1 = next(s for s in case.of("step") if any(x[0] == "x1" for x in s["new"]))
    assert ["x1", 10, 64] in first_x1["sched"]  # only the unique suffix is computed


def test_async_scheduling_interleaves(scenarios):
    case = scenarios["async"]
    order = [(r["type"], r["step"]) for r in case.trace if r["type"] in ("step", "update")]
    # schedule() of step N+1 runs before update_from_output() of step N
    assert order[:3] == [("step", 0), ("step", 1), ("update", 0)]
    assert sorted(s for t, s in order if t == "update") == [s for t, s in order if t == "step"]
    assert any(s["preempted"] for s in case.of("step"))
    assert {f["req"] for f in case.of("finish")} == {"a_ab"}


def test_blocks_follow_computed_tokens(scenarios):
    """Without prefix hits a request holds ceil(computed/block_size) blocks after schedule()."""
    case = scenarios["max_num_seqs"]
    held = {}
    for s in case.of("step"):
        for rid, n in s["blocks"]:
            held[rid] = n
        for rid, scheduled, before in s["sched"]:
            assert held[rid] == -(-(before + scheduled) // 16)
    for u in case.of("update"):
        for rid, _, _ in u["finished"]:
            assert [rid, 0] in u["blocks"]
