"""Harness additions for issue 7: the oracle's computed tokens at preemption, request ids
reused after finishing, and the feature-detected scheduler_reserve_full_isl knob."""
import pytest

import vsched_testlib as lib
from vsched_emitter.harness import __main__ as harness_main
from vsched_emitter.harness import driver
from vsched_emitter.harness.driver import RequestSpec as Spec
from vsched_emitter.harness.driver import SchedulerKnobs as Knobs


def test_oracle_records_num_computed_tokens_at_each_preemption(scenarios):
    from vllm.v1.core.sched.scheduler import Scheduler

    case = scenarios["kv_preempt"]
    pre = [r for r in case.oracle if r["type"] == "preemption"]
    in_trace = [(s["step"], rid) for s in case.of("step") for rid in s["preempted"]]
    if not hasattr(Scheduler, "_preempt_request"):  # vLLM 0.11: preemption is inline, nothing to watch
        assert pre == [] and in_trace
        return
    assert [(p["step"], p["req"]) for p in pre] == in_trace
    # what each had computed = the end of the last chunk the emitter saw scheduled for it
    last_end: dict[str, int] = {}
    for s in case.of("step"):
        for p in (p for p in pre if p["step"] == s["step"]):
            assert p["num_computed_tokens"] == last_end[p["req"]] > 0
            last_end[p["req"]] = 0
        for rid, n, before in s["sched"]:
            if rid not in s["preempted"]:
                last_end[rid] = before + n


def test_a_request_id_reused_after_finishing_is_a_second_lifetime(tmp_path):
    # "r" finishes, then arrives again (the third spec, due while the first is still running,
    # is handed over once it has finished); a client reusing X-Request-Id does the same
    specs = [Spec("r", 0.0, lib.prompt(20, 1), 4), Spec("o", 0.0, lib.prompt(20, 2), 8), Spec("r", 0.001, lib.prompt(24, 3), 3)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=64, max_model_len=512))
    assert lib.schema_errors(case.trace) == []
    lines = [(i, r) for i, r in enumerate(case.trace) if r.get("req") == "r" or
             (r["type"] == "update" and any(f[0] == "r" for f in r["finished"]))]
    kinds = [r["type"] for _, r in lines]
    assert kinds == ["arrival", "update", "arrival", "update"], kinds
    assert [r["prompt_tokens"] for _, r in lines if r["type"] == "arrival"] == [20, 24]
    reqs = [r for r in case.oracle if r["type"] == "request" and r["req"] == "r"]
    assert [r.get("instance", 0) for r in reqs] == [0, 1]
    assert [r["num_generation_tokens"] for r in reqs] == [4, 3]
    assert case.result.finished == 3


def test_reuse_ids_takes_the_first_ids():
    specs = [Spec(f"q{i}", float(i), [5], 1) for i in range(6)]
    assert [s.req_id for s in harness_main.reuse_ids(specs, 2)] == ["q0", "q1", "q2", "q3", "q0", "q1"]
    with pytest.raises(ValueError):
        harness_main.reuse_ids(specs, 4)


def test_scheduler_reserve_full_isl_is_feature_detected(tmp_path, capsys):
    from vllm.config import SchedulerConfig

    fields = getattr(SchedulerConfig, "__dataclass_fields__", None) or getattr(SchedulerConfig, "model_fields", {})
    assert driver.has_reserve_full_isl() == ("scheduler_reserve_full_isl" in fields)
    knobs = Knobs(scheduler_reserve_full_isl=False)
    argv = ["--out", str(tmp_path / "o"), "--n", "2", "--no-scheduler-reserve-full-isl"]
    if driver.has_reserve_full_isl():
        assert driver.build_vllm_config(knobs).scheduler_config.scheduler_reserve_full_isl is False
        assert driver.build_vllm_config(Knobs()).scheduler_config.scheduler_reserve_full_isl is True
    else:
        with pytest.raises(ValueError, match="scheduler_reserve_full_isl"):
            driver.build_vllm_config(knobs)
        with pytest.raises(SystemExit) as e:
            harness_main.main(argv)
        assert e.value.code == 2 and "has no scheduler_reserve_full_isl" in capsys.readouterr().err
