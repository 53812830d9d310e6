"""Behaviour that needs something to happen between steps: pausing, preemption outside
schedule(), custom-policy scores, flushing while running, the real clock."""
import inspect
import time

import pytest

import vsched_testlib as lib
from vsched_emitter import hooks
from vsched_testlib import Knobs, Spec


def _scheduler_cls():
    from vllm.v1.core.sched.scheduler import Scheduler

    return Scheduler


def _check_against_oracle(case):
    assert lib.schema_errors(case.trace) == []
    orders = lib.fcfs_orders(case.trace)
    for step, rec in case.oracle_steps().items():
        assert orders[step] == rec["waiting_order"], step
    total = case.header["config"]["num_gpu_blocks"] - 1
    for u in case.of("update"):
        o = case.oracle_steps()[u["step"]]
        assert (u["running"], u["waiting"], 1.0 - u["free_blocks"] / total) == (
            o["num_running_reqs"], o["num_waiting_reqs"], o["kv_cache_usage"])


def _header_of_a_short_run(tmp_path):
    return lib.run_case(tmp_path, [Spec("h", 0.0, lib.prompt(16, 1), 2)], Knobs(num_blocks=64, max_model_len=512)).header


def test_pause_state_is_recorded(tmp_path):
    if not hasattr(_scheduler_cls(), "set_pause_state"):
        # this vLLM cannot pause (pausing came in 2026): the trace must say it is not captured
        header = _header_of_a_short_run(tmp_path)
        assert {"what": "pause state", "why": "Scheduler has no pause_state"} in header["not_captured"]
        return
    from vllm.v1.core.sched.interface import PauseState

    def on_update(sched, step, outputs):
        if step == 2:
            sched.set_pause_state(PauseState.PAUSED_NEW)
        elif step == 6:
            sched.set_pause_state(PauseState.UNPAUSED)

    specs = [Spec("long", 0.0, lib.prompt(16, 1), 30), Spec("late", 0.02, lib.prompt(16, 2), 3)]
    case = lib.run_case(tmp_path, specs, Knobs(num_blocks=64, max_model_len=512), on_update=on_update)
    steps = {s["step"]: s for s in case.of("step")}
    for n in range(3, 7):
        assert steps[n]["paused"] == "PAUSED_NEW" and steps[n]["stop"] == {"cause": "paused", "req": None}
        assert steps[n]["new"] == []
    assert "paused" not in steps[2] and "paused" not in steps[7]
    assert ["late", 0] in steps[7]["new"]
    _check_against_oracle(case)


def test_preemption_between_steps_goes_into_the_next_step(tmp_path):
    if "reset_running_requests" not in inspect.signature(_scheduler_cls().reset_prefix_cache).parameters:
        # this vLLM cannot preempt outside schedule(): the trace must say it does not watch for it
        header = _header_of_a_short_run(tmp_path)
        assert "preemptions outside schedule()" in [n["what"] for n in header["not_captured"]]
        assert header["capabilities"]["preempt_hook"] is False
        return
    def on_update(sched, step, outputs):
        if step == 3:
            assert sched.reset_prefix_cache(reset_running_requests=True)

    specs = [Spec(f"q{i}", 0.0, lib.prompt(20, i), 8) for i in range(3)]
    specs.append(Spec("w", 0.0, lib.prompt(20, 9), 8))
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=3, num_blocks=64, max_model_len=512),
                        on_update=on_update)
    s4 = case.of("step")[4]
    assert s4["preempted"] == ["q2", "q1", "q0"]  # reset preempts from the tail of running
    assert s4["stop"]["cause"] != "preemption"   # not a preemption inside schedule()
    assert [x[0] for x in s4["resumed"]] == ["q0", "q1", "q2"]  # re-admitted head first, same step
    assert all(n == 0 for _, n in s4["resumed"])  # the prefix cache was reset
    assert s4["order"] == ["w"]  # the rule keeps preempted requests at the head: recorded instead
    _check_against_oracle(case)


def test_custom_policy_scores(tmp_path, monkeypatch):
    """A fork's Request carrying predicted_remaining_tokens (seed 003 ISRTF): arrival
    carries it (inf -> null) and a score record follows every change."""
    from vllm.v1.request import Request

    monkeypatch.setattr(Request, "predicted_remaining_tokens", float("inf"), raising=False)

    def on_update(sched, step, outputs):
        for r in sched.running:
            r.predicted_remaining_tokens = float(r.max_tokens - r.num_output_tokens)

    specs = [Spec(f"i{i}", 0.0, lib.prompt(20, i), 4) for i in range(2)]
    case = lib.run_case(tmp_path, specs, Knobs(num_blocks=64, max_model_len=512), on_update=on_update)
    assert lib.schema_errors(case.trace) == []
    for a in case.of("arrival"):
        assert a["predicted_remaining"] is None and a["score"] is None
    preds = {}
    for s in case.of("score"):
        assert s["score"] is None
        preds.setdefault(s["req"], []).append(s["predicted_remaining"])
    assert preds == {"i0": [3.0, 2.0, 1.0], "i1": [3.0, 2.0, 1.0]}


def _step_lines(sched) -> int:
    text = hooks.session_of(sched).path.read_text()
    return sum(1 for line in text.splitlines() if '"type":"step"' in line)


def _count_fsyncs(monkeypatch) -> list:
    """Durable flushes (os.fsync calls of the writer), as they happen."""
    import os

    from vsched_emitter import writer as writer_module

    calls = []
    real = os.fsync

    def fsync(fd):
        calls.append(time.perf_counter())
        return real(fd)

    monkeypatch.setattr(writer_module.os, "fsync", fsync)
    return calls


def test_durable_flush_every_n_steps_and_hand_off_within_100ms(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FLUSH_STEPS", "2")
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FLUSH_SECONDS", "1000")
    fsyncs = _count_fsyncs(monkeypatch)
    seen = {}

    def on_update(sched, step, outputs):
        if step == 0:
            time.sleep(0.3)
            seen[0] = (_step_lines(sched), len(fsyncs))  # handed to the OS, not yet fsynced
        elif step == 1:
            seen[1] = _eventually(lambda: len(fsyncs) >= 1)  # two steps: fsynced while running

    lib.run_case(tmp_path, [Spec("f", 0.0, lib.prompt(20, 1), 8)], Knobs(num_blocks=64, max_model_len=512),
                 on_update=on_update)
    assert seen == {0: (1, 0), 1: True}


def test_durable_flush_every_s_seconds(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FLUSH_STEPS", "100000")
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FLUSH_SECONDS", "0.2")
    fsyncs = _count_fsyncs(monkeypatch)
    seen = {}

    def on_update(sched, step, outputs):
        if step == 0:
            seen[0] = _eventually(lambda: _step_lines(sched) == 1 and len(fsyncs) >= 1, timeout=3.0)

    lib.run_case(tmp_path, [Spec("f", 0.0, lib.prompt(20, 1), 8)], Knobs(num_blocks=64, max_model_len=512),
                 on_update=on_update)
    assert seen == {0: True}


def test_a_quiet_scheduler_is_flushed_without_waiting_for_n_steps_or_s_seconds(tmp_path, monkeypatch):
    # vLLM kills the engine core at shutdown before Scheduler.shutdown(): what an idle
    # scheduler recorded must already be on disk, and made durable soon after.
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FLUSH_STEPS", "100000")
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FLUSH_SECONDS", "1000")
    fsyncs = _count_fsyncs(monkeypatch)
    seen = {}

    def on_update(sched, step, outputs):
        if step == 0:
            seen["early"] = len(fsyncs)
            seen["after_idle"] = _eventually(lambda: _step_lines(sched) == 1 and len(fsyncs) >= 1, timeout=5.0)

    lib.run_case(tmp_path, [Spec("q", 0.0, lib.prompt(20, 1), 8)], Knobs(num_blocks=64, max_model_len=512),
                 on_update=on_update)
    assert seen == {"early": 0, "after_idle": True}


def _eventually(pred, timeout: float = 2.0) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_real_clock(tmp_path):
    specs = [Spec(f"c{i}", 0.002 * i, lib.prompt(24, i), 4) for i in range(3)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512), clock="real",
                        step_cost=lambda shape: 0.001)
    _check_against_oracle(case)
    header = case.header
    assert abs(int(header["clock"]["epoch_ns"]) - time.time_ns()) < 600 * 10**9  # a real wall clock
    ts = [r.get("t", r.get("t_start")) for r in case.trace[1:]]
    assert ts == sorted(ts)
    steps = case.of("step")
    assert steps[-1]["t_end"] - steps[0]["t_start"] >= 0.001 * (len(steps) - 2) * 1e9  # model time slept


def test_without_log_stats_the_emitter_uses_its_own_clock(tmp_path):
    """--disable-log-stats: no vLLM events, so arrival.t is the emitter's clock, sched_t is
    null, and the header says so."""
    from vsched_emitter.env import Settings
    from vsched_emitter.harness import driver

    hooks.install(Settings(enabled=True, log_dir=tmp_path))
    try:
        knobs = Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512, enable_prefix_caching=False)
        sched = driver.build_scheduler(knobs, log_stats=False)  # (prefix caching needs a block hasher)
        specs = {f"n{i}": Spec(f"n{i}", 0.0, lib.prompt(20, i), 3) for i in range(3)}
        for s in specs.values():
            sched.add_request(driver.make_request(s, time.time()))
        runner = driver._Runner(sched, specs, is_async=False)
        while sched.has_requests():
            out = sched.schedule()
            _, mro = runner.after_schedule(out)
            assert all(eco.scheduler_stats is None for eco in sched.update_from_output(out, mro).values())
        path = hooks.session_of(sched).path
        sched.shutdown()
    finally:
        hooks.install(None)
    trace = lib.load_jsonl(path)
    assert lib.schema_errors(trace) == []
    header = trace[0]
    assert header["config"]["log_stats"] is False and header["capabilities"]["event_timestamps"] is False
    assert any("log_stats" in x["why"] for x in header["not_captured"])
    arrivals = [r for r in trace if r["type"] == "arrival"]
    assert len(arrivals) == 3 and 0 < arrivals[0]["t"] < arrivals[1]["t"] < arrivals[2]["t"]
    steps = [r for r in trace if r["type"] == "step"]
    assert steps and all(s["sched_t"] is None for s in steps)
    assert {x[0] for s in steps for x in s["new"]} == set(specs)
    updates = [r for r in trace if r["type"] == "update"]
    assert all(u["out_t"] is None or u["t_start"] <= u["out_t"] <= u["t_end"] for u in updates)
    assert sum(n for u in updates for _, n in u["tokens"]) == 9
