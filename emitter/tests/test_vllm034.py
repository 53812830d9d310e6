"""vLLM 0.34's scheduler paths and researchers' scheduler classes, on the real scheduler.

The fixtures (scripts/record-fixtures.sh, v0.34-*) are checked against vLLM's own figures in
test/oracle.test.ts and test/vllm-034.test.ts; these tests pin the emitter's side: the queue
order it writes is the order vLLM takes requests in, the renamed Request fields are read, and
a plugin class's header says what it is. Each feature is detected, not version-parsed: a test
needing a 0.34 feature skips on a vLLM without it (CI runs 0.34.0 and 0.11.0).
"""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import vsched_testlib as lib
from vsched_emitter.harness import driver, oracle, remote_kv
from vsched_emitter.waiting_queues import WaitingQueues
from vsched_emitter.why_waited import _hit_limit

Spec, Knobs = driver.RequestSpec, driver.SchedulerKnobs
needs_034 = pytest.mark.skipif(not remote_kv.has_inflight_kv_cap(), reason="this vLLM has no async_kv_waiting (0.34)")


@needs_034
@pytest.mark.parametrize("seed", range(3))
def test_merged_queue_order_is_the_order_vllm_takes_requests_in(seed):
    """WaitingQueues.requests() against vLLM's own _next_waiting_queue popping copies."""
    knobs = Knobs(max_num_inflight_kv_loads=2)
    vc = driver.build_vllm_config(knobs)
    remote_kv.configure(vc, 2)
    sched = driver.build_scheduler(knobs, vc)
    rng = random.Random(seed)
    for i in range(12):
        r = driver.make_request(Spec(f"q{i}", 0.0, lib.prompt(20, i), 4), 1000.0 + rng.random())
        (sched.async_kv_waiting if rng.random() < 0.5 else sched.waiting).add_request(r)
    mine = [r.request_id for r in WaitingQueues(sched).requests(sched)]
    assert mine == oracle._take_order(sched)
    assert sorted(mine) == sorted(f"q{i}" for i in range(12))
    assert WaitingQueues(sched).count(sched) == sched.get_request_counts()[1]


def test_prefix_cache_bound_follows_the_request_fields():
    """vLLM 0.34 renamed skip_reading_prefix_cache to prefix_cache_hit_limit (0 = no reads)."""
    new = SimpleNamespace(num_tokens=50, get_max_cache_hit_length=lambda: 0)
    assert _hit_limit(new) == 0
    new.get_max_cache_hit_length = lambda: 32
    assert _hit_limit(new) == 32
    assert _hit_limit(SimpleNamespace(num_tokens=50, skip_reading_prefix_cache=True)) == 0
    assert _hit_limit(SimpleNamespace(num_tokens=50, skip_reading_prefix_cache=False)) == 49


def _research_case(tmp_path, cls: str, level: str):
    specs = [Spec(f"r{i:02d}", 0.0 if i < 6 else 0.01 * i, lib.prompt(160 - 12 * i, i), 4) for i in range(10)]
    knobs = Knobs(max_num_seqs=2, max_num_batched_tokens=128, num_blocks=64, max_model_len=512,
                  scheduler_cls=f"vsched_emitter.harness.research_schedulers.{cls}")
    return lib.run_case(tmp_path / cls, specs, knobs, level=level)


@pytest.mark.parametrize("level", ["full", "summary"])
def test_swapped_queue_is_named_and_its_order_recorded(tmp_path, level):
    case = _research_case(tmp_path, "ShortestPromptQueueScheduler", level)
    h = case.header
    assert h["config"]["policy"] == "ShortestPromptQueue"  # swapped after vLLM's __init__
    assert h["capabilities"]["queue_order_rule"] is False
    lost = [n["what"] for n in h["not_captured"]]
    assert ("waiting-queue positions" in lost) == (level == "summary")
    assert lib.schema_errors(case.trace) == []
    if level == "full":  # the emitter's queue is vLLM's at every step (shortest prompt first)
        assert lib.fcfs_orders(case.trace) == {s: o["waiting_order"] for s, o in case.oracle_steps().items()}


def test_overridden_schedule_is_declared_and_its_order_recorded(tmp_path):
    case = _research_case(tmp_path, "SJFScheduler", "full")
    h = case.header
    assert h["config"]["policy"] == "fcfs"
    assert h["capabilities"]["queue_order_rule"] is False
    assert any("ShortestJobFirst.schedule" in n["what"] for n in h["not_captured"])
    assert lib.fcfs_orders(case.trace) == {s: o["waiting_order"] for s, o in case.oracle_steps().items()}
    assert lib.schema_errors(case.trace) == []


def test_mid_step_inputs_only_where_the_engine_handles_them(tmp_path):
    """vLLM 0.34's engine adds a request that comes while a step executes before that step's
    update_from_output(); the harness does it only where the engine does."""
    specs = [Spec("a", 0.0, lib.prompt(20, 1), 3), Spec("b", 0.001, lib.prompt(20, 2), 3)]
    knobs = Knobs(mid_step_inputs=True, max_num_seqs=2, max_num_batched_tokens=64, num_blocks=20, max_model_len=512)
    if not driver.engine_handles_inputs_mid_step():
        with pytest.raises(ValueError, match="mid-step-inputs"):
            lib.run_case(tmp_path, specs, knobs)
        return
    case = lib.run_case(tmp_path, specs, knobs)
    kinds = [(r["type"], r.get("req")) for r in case.trace]
    first_step = kinds.index(("step", None))
    assert first_step < kinds.index(("arrival", "b")) < kinds.index(("update", None))
    assert lib.schema_errors(case.trace) == []
