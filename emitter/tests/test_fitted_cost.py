"""The harness side of vsched fit / simulate: the fitted cost model (--cost fitted:FILE) and
file workloads (--workload file:PATH). End-to-end agreement with vsched's own feature
definitions is proven in test/fit-known-answer.test.ts (a run clocked by a fitted model on
context features, whose coefficients vsched fit must recover)."""
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from vsched_emitter.harness import cost_model as cm
from vsched_emitter.harness import workloads

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Shape:
    num_reqs: int = 0
    num_prefill_reqs: int = 0
    num_decode_reqs: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    context_tokens: int = 0
    decode_context_tokens: int = 0
    attention_work: int = 0
    running_depth: int = 0
    kv_ratio: float = 0.0


def doc(terms, **extra):
    return {"format": "vsched-step-model", "format_version": "1.0", "unit": "seconds",
            "terms": [{"name": n, "factors": f, "coef": c} for n, f, c in terms], **extra}


def test_fitted_cost_sums_terms_and_adds_the_overhead(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc([("intercept", [], 0.02), ("prefill_tokens", ["prefill_tokens"], 1e-4),
                                 ("p2", ["prefill_tokens", "prefill_tokens"], 1e-8),
                                 ("dk", ["decode_tokens", "kv_ratio"], 1e-3)], per_step_overhead_s=0.001)))
    cost = cm.from_spec(f"fitted:{p}")
    s = Shape(3, 1, 2, 100, 2, kv_ratio=0.5)
    assert cost(s) == pytest.approx(0.02 + 1e-2 + 1e-4 + 1e-3 + 0.001, rel=1e-12)
    assert cost(Shape()) == 0.0  # an empty batch runs no model
    assert cost.describe()["kind"] == "fitted"


def test_fitted_cost_time_scale_multiplies_the_whole_step():
    # simulate --step-scale: floor and overhead scale with the terms (a uniformly slower engine)
    cost = cm.FittedCost(doc([("intercept", [], 0.01), ("prefill_tokens", ["prefill_tokens"], 1e-4)],
                             per_step_overhead_s=0.001, min_step_s=0.02, time_scale=1.5))
    assert cost(Shape(1, 1, 0, 50, 0)) == pytest.approx(1.5 * (0.02 + 0.001), rel=1e-12)  # floored
    assert cost(Shape(1, 1, 0, 500, 0)) == pytest.approx(1.5 * (0.01 + 0.05 + 0.001), rel=1e-12)
    assert cost.describe()["time_scale"] == 1.5
    assert cm.FittedCost(doc([("intercept", [], 0.01)]))(Shape(1, 0, 1, 0, 1)) == 0.01  # absent: 1


def test_fitted_cost_cpu_wait_term_is_zero_and_the_share_scales_every_step():
    # simulate --cpu-wait: a simulated step has no measured wait (the term adds nothing); the run's
    # contention slows each step to f / (1 - coef x share): here 0.8 x 0.25, so 1.25 x f
    cost = cm.FittedCost(doc([("intercept", [], 0.01), ("cpu_wait_ns", ["cpu_wait_ns"], 0.8e-9)],
                             cpu_wait={"coef": 0.8, "training_shares": [0.0, 0.3], "share": 0.25, "scale": 1.25}))
    assert cost(Shape(1, 0, 1, 0, 1)) == pytest.approx(0.0125, rel=1e-12)
    assert cost.describe()["cpu_wait_scale"] == 1.25
    assert cm.FittedCost(doc([("intercept", [], 0.01), ("cpu_wait_ns", ["cpu_wait_ns"], 0.8e-9)]))(Shape(1, 0, 1, 0, 1)) == 0.01


def test_fitted_cost_floors_at_min_step():
    cost = cm.FittedCost(doc([("intercept", [], -1.0)], min_step_s=0.005))
    assert cost(Shape(1, 0, 1, 0, 1)) == 0.005


@pytest.mark.parametrize("bad, message", [
    ({"format": "other"}, "not a vsched-step-model"),
    (doc([("x", ["no_such_feature"], 1.0)]), "unknown feature"),
    (doc([]), "no terms"),
    ({**doc([("i", [], 1.0)]), "format_version": "2.0"}, "unsupported format_version"),
    (doc([("i", [], 1.0)], time_scale=0), "time_scale must be a positive number"),
    (doc([("i", [], 1.0)], cpu_wait={"scale": -1}), "cpu_wait.scale must be a positive number"),
])
def test_fitted_cost_rejects_bad_files(bad, message):
    with pytest.raises(ValueError, match=message):
        cm.FittedCost(bad)


def test_fitted_cost_file_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        cm.from_spec(f"fitted:{tmp_path / 'missing.json'}")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        cm.from_spec(f"fitted:{tmp_path / 'bad.json'}")


def test_feature_names_agree_with_vsched_fit():
    ts = (REPO / "src" / "analysis" / "fit" / "features.ts").read_text()
    block = re.search(r"STEP_FEATURES = \[(.*?)\] as const", ts, re.S).group(1)
    names = re.findall(r'"([a-z_]+)"', block)
    assert names == list(cm.FITTED_FEATURES)


def test_workload_file_round_trip(tmp_path):
    p = tmp_path / "w.jsonl"
    lines = [{"type": "header", "format": "vsched-workload", "format_version": "1.0"},
             {"type": "request", "req": "b", "arrival_ns": 2_500_000_000, "prompt_tokens": 40, "max_tokens": 8,
              "eos_at": 3, "priority": 1, "lora_id": None, "abort_after_ns": None},
             {"type": "request", "req": "a", "arrival_ns": 1_000, "prompt_tokens": 16, "max_tokens": 4,
              "eos_at": None, "priority": 0, "lora_id": None, "abort_after_ns": 500_000_000}]
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    specs = {s.req_id: s for s in workloads.from_file(p)}
    assert specs["b"].arrival_s == 2.5 and len(specs["b"].prompt_token_ids) == 40 and specs["b"].eos_at == 3
    assert specs["b"].priority == 1 and specs["a"].abort_after_s == 0.5 and specs["a"].max_tokens == 4
    # prompts are deterministic per id and distinct across ids
    again = {s.req_id: s for s in workloads.from_file(p)}
    assert again["a"].prompt_token_ids == specs["a"].prompt_token_ids != specs["b"].prompt_token_ids[:16]
    # max_model_len caps max_tokens
    assert {s.req_id: s for s in workloads.from_file(p, max_model_len=44)}["b"].max_tokens == 4


def test_workload_file_errors_name_the_line(tmp_path):
    p = tmp_path / "w.jsonl"
    p.write_text('{"type": "request", "req": "x"}\n')
    with pytest.raises(ValueError, match=r"w.jsonl:1: field"):
        workloads.from_file(p)
    p.write_text('{"type": "header", "format": "nope"}\n')
    with pytest.raises(ValueError, match=r"w.jsonl:1: not a vsched-workload"):
        workloads.from_file(p)


def _arrivals(trace):
    epoch = next(r for r in trace if r["type"] == "header")["clock"]["epoch_ns"]
    return {r["req"]: (r["t"], int(epoch) + r["t"] - int(r["vllm_arrival_epoch_ns"]))
            for r in trace if r["type"] == "arrival"}


def test_idle_engine_adds_the_waking_request_at_once_and_schedules_after_the_wakeup(tmp_path):
    """vLLM's idle engine core blocks on its input queue: the request that wakes it is added at
    once, schedule() follows idle_wakeup_s later with every request that arrived meanwhile; the
    frontend stamped vLLM's arrival frontend_delay_s before the request became visible."""
    import vsched_testlib as lib
    from vsched_emitter.harness.driver import RequestSpec as Spec
    from vsched_emitter.harness.driver import SchedulerKnobs as Knobs

    cost = cm.FittedCost(doc([("intercept", [], 0.010)], idle_wakeup_s=0.002))
    specs = [Spec("a", 0.100, lib.prompt(16, 1), 2, frontend_delay_s=0.0015),
             Spec("b", 0.101, lib.prompt(16, 2), 2, frontend_delay_s=0.0007),  # within a's wake-up
             Spec("c", 0.1025, lib.prompt(16, 3), 2)]  # after it: the next step
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=64, max_model_len=512),
                        step_cost=cost)
    arr = _arrivals(case.trace)
    t0 = arr["a"][0]
    assert arr["b"][0] - t0 == pytest.approx(1_000_000, abs=2_000)  # added when it came, not at the wake-up's end
    assert abs(arr["a"][1] - 1_500_000) < 2_000 and abs(arr["b"][1] - 700_000) < 2_000
    steps = [r for r in case.trace if r["type"] == "step"]
    assert steps[0]["t_start"] - t0 == pytest.approx(2_000_000, abs=50_000)
    assert len(steps[0]["sched"]) == 2  # a and b share the first batch
    # c (no frontend delay) became visible mid-step: added at the step boundary, 0.1 + 0.002 +
    # 0.010 s, so its recorded frontend delay is the boundary wait alone, 9.5 ms
    assert steps[1]["t_start"] - arr["c"][0] == pytest.approx(0, abs=50_000)
    assert arr["c"][1] == pytest.approx(9_500_000, abs=50_000)


def _update_cadence(tmp_path, cost, async_scheduling):
    """Update-to-update times (ns) of one request decoding 40 tokens alone (decode-only batches of 1)."""
    import vsched_testlib as lib
    from vsched_emitter.harness.driver import RequestSpec as Spec
    from vsched_emitter.harness.driver import SchedulerKnobs as Knobs

    case = lib.run_case(tmp_path, [Spec("a", 0.0, lib.prompt(16, 1), 40)],
                        Knobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=64, max_model_len=512,
                              async_scheduling=async_scheduling), step_cost=cost)
    ups = sorted((r for r in case.trace if r["type"] == "update"), key=lambda r: r["step"])
    return [b["t_start"] - a["t_start"] for a, b in zip(ups, ups[1:])]


@pytest.mark.parametrize("async_scheduling", [True, False])
@pytest.mark.parametrize("gpu_s,pre_s,post_s,expect_s", [
    (0.002, 0.005, 0.001, 0.006),   # host-bound: each update waits for a launch, the loop is pre + post
    (0.010, 0.003, 0.001, None),    # GPU-bound: async, the device's time; sync, post + the device
])
def test_host_loop_of_a_gpu_clock_model(tmp_path, async_scheduling, gpu_s, pre_s, post_s, expect_s):
    """A GPU-clock model's host part (docs/fit.md, "Step clock"): a step's update comes at the later
    of its end on the device and the end of the launch that precedes the update (async: the next
    step's; sync: its own), and the next schedule() post_update_s after the update. Known answers on
    vLLM's own schedulers: the steady update cadence is max(device, pre + post) under async
    scheduling and post + max(device, pre) without it."""
    cost = cm.FittedCost(doc([("intercept", [], gpu_s)], clock="gpu",
                             host={"terms": [{"name": "intercept", "factors": [], "coef": pre_s}], "post_update_s": post_s}))
    steady = _update_cadence(tmp_path, cost, async_scheduling)[5:-3]
    want = max(gpu_s, pre_s + post_s) if async_scheduling else post_s + max(gpu_s, pre_s)
    if expect_s is not None:
        assert want == pytest.approx(expect_s)
    assert len(steady) > 20
    for dt in steady:
        assert dt == pytest.approx(want * 1e9, abs=20_000)  # the virtual clock's reads add a few µs


@pytest.mark.parametrize("async_scheduling", [True, False])
@pytest.mark.parametrize("gpu_s,pre_s,post_s", [(0.002, 0.005, 0.001), (0.010, 0.003, 0.001)])
def test_a_cuda_graph_runs_once_the_host_has_launched_it(tmp_path, async_scheduling, gpu_s, pre_s, post_s):
    """A step with a CUDA graph (a decode batch of 1 within the capture sizes) starts on the GPU at
    the end of its launch, where a step without one streams its kernels as they are launched
    (the test above, no capture sizes: every step graphless). Known answers on vLLM's own
    schedulers: under async scheduling the next launch overlaps the GPU and the cadence is still
    max(device, pre + post); without it nothing overlaps, post + pre + device."""
    cost = cm.FittedCost(doc([("intercept", [], gpu_s)], clock="gpu", cudagraph={"capture_sizes": [1, 2, 4, 8]},
                             host={"terms": [{"name": "intercept", "factors": [], "coef": pre_s}], "post_update_s": post_s}))
    steady = _update_cadence(tmp_path, cost, async_scheduling)[5:-3]
    want = max(gpu_s, pre_s + post_s) if async_scheduling else post_s + pre_s + gpu_s
    assert len(steady) > 20
    for dt in steady:
        assert dt == pytest.approx(want * 1e9, abs=20_000)


def test_a_model_without_a_host_part_runs_on_the_device_alone(tmp_path):
    cost = cm.FittedCost(doc([("intercept", [], 0.002)]))
    assert cost.host is None
    steady = _update_cadence(tmp_path, cost, True)[5:-3]
    assert all(dt == pytest.approx(2_000_000, abs=20_000) for dt in steady)


def test_the_loop_after_an_update_walks_the_batch_where_the_model_has_a_line():
    """post_terms (fit's line of the update-to-schedule time in the batch) replace the median: a
    batch of 128 pays its 128 requests' output handling, a model file without them the median."""
    line = [{"name": "intercept", "factors": [], "coef": 0.0001}, {"name": "batch_size", "factors": ["batch_size"], "coef": 0.000004}]
    pre = [{"name": "intercept", "factors": [], "coef": 0.001}]
    cost = cm.FittedCost(doc([("intercept", [], 0.002)], clock="gpu", host={"terms": pre, "post_update_s": 0.0002, "post_terms": line}, host_cpu={"index": 1.5}))
    assert cost.host_post(Shape(128, 0, 128, 0, 128)) == pytest.approx(1.5 * (0.0001 + 128 * 0.000004))
    assert cost.host_post(Shape(8, 0, 8, 0, 8)) == pytest.approx(1.5 * (0.0001 + 8 * 0.000004))
    assert cost.host_post() == pytest.approx(1.5 * 0.0002)  # no batch known: the median
    old = cm.FittedCost(doc([("intercept", [], 0.002)], clock="gpu", host={"terms": pre, "post_update_s": 0.0002}))
    assert old.host_post(Shape(128, 0, 128, 0, 128)) == pytest.approx(0.0002)
    with pytest.raises(ValueError, match="host.post_terms\\[1\\]: unknown feature"):
        cm.FittedCost(doc([("intercept", [], 0.002)], host={"terms": pre, "post_update_s": 0, "post_terms": [line[0], {"name": "x", "factors": ["nope"], "coef": 1}]}))


def test_the_harness_loop_charges_each_update_its_own_batch(tmp_path):
    """Under async scheduling the steady cadence is max(device, pre + post(batch)): the same engine
    with a post line steep in the batch runs slower than with its median."""
    pre = [{"name": "intercept", "factors": [], "coef": 0.001}]
    flat = cm.FittedCost(doc([("intercept", [], 0.001)], clock="gpu", host={"terms": pre, "post_update_s": 0.0005}))
    steep = cm.FittedCost(doc([("intercept", [], 0.001)], clock="gpu", host={"terms": pre, "post_update_s": 0.0005,
                          "post_terms": [{"name": "intercept", "factors": [], "coef": 0.0005}, {"name": "batch_size", "factors": ["batch_size"], "coef": 0.001}]}))
    (tmp_path / "flat").mkdir()
    (tmp_path / "steep").mkdir()
    a = _update_cadence(tmp_path / "flat", flat, True)[5:-3]
    b = _update_cadence(tmp_path / "steep", steep, True)[5:-3]
    assert sum(b) / len(b) > 1.5 * sum(a) / len(a)


def test_host_part_scales_with_the_cpu_index_and_rejects_bad_terms():
    host = {"terms": [{"name": "intercept", "factors": [], "coef": 0.004},
                      {"name": "batch_size", "factors": ["batch_size"], "coef": 0.001}], "post_update_s": 0.0005}
    cost = cm.FittedCost(doc([("intercept", [], 0.002)], host=host, host_cpu={"index": 2.0}))
    s = Shape(3, 0, 3, 0, 3)
    assert cost.host_pre(s) == pytest.approx(2.0 * (0.004 + 0.003))
    assert cost.host_post() == pytest.approx(2.0 * 0.0005)
    with pytest.raises(ValueError, match="host.terms\\[0\\]: unknown feature"):
        cm.FittedCost(doc([("intercept", [], 0.002)], host={"terms": [{"name": "x", "factors": ["nope"], "coef": 1}], "post_update_s": 0}))


def test_a_host_that_changed_speed_mid_run_replays_window_by_window(tmp_path):
    """host_cpu.index_profile (simulate --cpu-index recorded): from each window's from_s on, the
    host loop runs at that window's index. Known answer on vLLM's own async scheduler: a host-bound
    engine (pre 5 ms + post 1 ms against 2 ms on the device) updates every 6 ms at index 1 and every
    12 ms once the host is twice as slow, from 0.1 s on: about 0.1 / 0.006 = 16 updates at the first
    pace, the rest at the second."""
    host = {"terms": [{"name": "intercept", "factors": [], "coef": 0.005}], "post_update_s": 0.001}
    cost = cm.FittedCost(doc([("intercept", [], 0.002)], clock="gpu", host=host,
                             host_cpu={"index": 1.5, "index_profile": [{"from_s": 0.0, "index": 1.0}, {"from_s": 0.1, "index": 2.0}]}))
    steady = _update_cadence(tmp_path, cost, True)[2:-3]
    fast = [dt for dt in steady if dt == pytest.approx(6e6, abs=50_000)]
    slow = [dt for dt in steady if dt == pytest.approx(12e6, abs=50_000)]
    assert len(fast) + len(slow) >= len(steady) - 2  # a step that straddles the switch may sit between
    assert steady[0] == pytest.approx(6e6, abs=50_000) and steady[-1] == pytest.approx(12e6, abs=50_000)
    assert 12 <= len(fast) <= 17


def test_the_index_profile_applies_by_time_and_is_checked():
    cost = cm.FittedCost(doc([("intercept", [], 0.002)], host={"terms": [{"name": "intercept", "factors": [], "coef": 0.004}], "post_update_s": 0.001},
                             host_cpu={"index": 1.0, "index_profile": [{"from_s": 2.0, "index": 0.5}, {"from_s": 7.0, "index": 3.0}]}))
    for t, index in [(0.0, 0.5), (2.0, 0.5), (6.99, 0.5), (7.0, 3.0), (100.0, 3.0)]:  # before the first window: the first's
        cost.at_time(t)
        assert cost.host_pre(Shape(1, 0, 1, 0, 1)) == pytest.approx(index * 0.004)
    for bad in ([{"from_s": 1.0}], [{"from_s": 1.0, "index": 0}], [{"from_s": 2.0, "index": 1}, {"from_s": 1.0, "index": 1}]):
        with pytest.raises(ValueError, match="host_cpu.index_profile\\["):
            cm.FittedCost(doc([("intercept", [], 0.002)], host_cpu={"index": 1.0, "index_profile": bad}))


def _prefill_cadence(tmp_path, cost):
    """Update-to-update times (ns) of one 1,200-token prompt prefilled 16 tokens a step (every
    step a prefill, graphless: 16 tokens are past the capture sizes 1-8), async scheduling."""
    import vsched_testlib as lib
    from vsched_emitter.harness.driver import RequestSpec as Spec
    from vsched_emitter.harness.driver import SchedulerKnobs as Knobs

    case = lib.run_case(tmp_path, [Spec("a", 0.0, lib.prompt(1200, 1), 2)],
                        Knobs(max_num_seqs=4, max_num_batched_tokens=16, num_blocks=128, max_model_len=2048,
                              async_scheduling=True), step_cost=cost)
    ups = sorted((r for r in case.trace if r["type"] == "update"), key=lambda r: r["step"])
    return [b["t_start"] - a["t_start"] for a, b in zip(ups, ups[1:])]


@pytest.mark.parametrize("sync_share,want_s", [(0.0, 0.010), (1.0, 0.011)])
def test_a_launch_that_waits_for_its_step_ends_with_it(tmp_path, sync_share, want_s):
    """host.sync_share (docs/fit.md, "Step clock"): a share of a real engine's prefill launches
    return only when their own step's work ends. Known answers on vLLM's own async scheduler with
    GPU-bound prefill steps (device 10 ms, launch 3 ms, loop 1 ms): no launch waits, the cadence
    is the device's, max(10, 3 + 1) ms; every launch waits, nothing overlaps the device but the
    loop after the update, 1 + max(10, 3) ms."""
    cost = cm.FittedCost(doc([("intercept", [], 0.010)], clock="gpu", cudagraph={"capture_sizes": [1, 2, 4, 8]},
                             host={"terms": [{"name": "intercept", "factors": [], "coef": 0.003}], "post_update_s": 0.001,
                                   "sync_share": sync_share}))
    steady = _prefill_cadence(tmp_path, cost)[5:-5]
    assert len(steady) > 40
    for dt in steady:
        assert dt == pytest.approx(want_s * 1e9, abs=20_000)


def test_sync_share_moves_a_prefill_launch_toward_its_step_end_and_is_checked():
    from vsched_emitter.harness.driver import _synced

    cost = cm.FittedCost(doc([("intercept", [], 0.010)], host={"terms": [{"name": "intercept", "factors": [], "coef": 0.003}],
                                                              "post_update_s": 0.001, "sync_share": 0.25}))
    prefill, decode = Shape(2, 1, 1, 20, 1), Shape(2, 0, 2, 0, 2)
    assert _synced(cost, prefill, launched=1.0, done=1.4) == pytest.approx(1.1)
    assert _synced(cost, prefill, launched=1.0, done=0.9) == pytest.approx(1.0)  # the step ended first: nothing to wait for
    assert _synced(cost, decode, launched=1.0, done=1.4) == pytest.approx(1.0)  # decode launches never waited
    old = cm.FittedCost(doc([("intercept", [], 0.010)], host={"terms": [{"name": "intercept", "factors": [], "coef": 0.003}], "post_update_s": 0.001}))
    assert _synced(old, prefill, launched=1.0, done=1.4) == pytest.approx(1.0)  # model files before the field
    with pytest.raises(ValueError, match="host.sync_share must be within"):
        cm.FittedCost(doc([("intercept", [], 0.010)], host={"terms": [{"name": "intercept", "factors": [], "coef": 0.003}], "post_update_s": 0.001, "sync_share": 1.5}))


def _gpu_records(tmp_path, cost, async_scheduling=True):
    """The replayed trace's header and update.gpu of one request decoding 40 tokens alone."""
    import vsched_testlib as lib
    from vsched_emitter.harness.driver import RequestSpec as Spec
    from vsched_emitter.harness.driver import SchedulerKnobs as Knobs

    case = lib.run_case(tmp_path, [Spec("a", 0.0, lib.prompt(16, 1), 40)],
                        Knobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=64, max_model_len=512,
                              async_scheduling=async_scheduling), step_cost=cost)
    header = next(r for r in case.trace if r["type"] == "header")
    ups = sorted((r for r in case.trace if r["type"] == "update"), key=lambda r: r["step"])
    return header, [u.get("gpu") for u in ups]


@pytest.mark.parametrize("gpu_s,pre_s,post_s,gap_s", [
    (0.010, 0.003, 0.001, 0.0),     # GPU-bound: the next step is launched before this one ends; no idle
    (0.002, 0.005, 0.001, 0.004),   # host-bound graphs: the GPU idles from one step's end to the next launch's, pre + post - device
])
def test_the_replay_writes_its_own_gpu_timeline(tmp_path, gpu_s, pre_s, post_s, gap_s):
    """A replay on a GPU-clock model with a host loop records its device timeline as update.gpu,
    as a real run's CUDA events are recorded (harness/replay_gpu.py). Known answers on vLLM's own
    async scheduler, decode steps of 1 with a CUDA graph: each span is the model's device time,
    each launch its host time, and the idle gap between two steps the steady cadence
    max(device, pre + post) less the device time."""
    cost = cm.FittedCost(doc([("intercept", [], gpu_s)], clock="gpu", cudagraph={"capture_sizes": [1, 2, 4, 8]},
                             host={"terms": [{"name": "intercept", "factors": [], "coef": pre_s}], "post_update_s": post_s}))
    header, gpu = _gpu_records(tmp_path, cost)
    assert header["capabilities"].get("gpu_time") is True
    assert not any("update.gpu" in n["what"] for n in header["not_captured"])
    assert gpu[0][1] is None  # the first timed step has no previous end
    steady = gpu[5:-3]
    assert len(steady) > 20
    for span, gap, host in steady:
        assert span == pytest.approx(gpu_s * 1e9, abs=1)
        assert host == pytest.approx(pre_s * 1e9, abs=1)
        assert gap == pytest.approx(gap_s * 1e9, abs=20_000)  # the virtual clock's reads add a few µs


def test_a_replay_without_a_host_loop_says_gpu_time_was_not_captured(tmp_path):
    header, gpu = _gpu_records(tmp_path, cm.FittedCost(doc([("intercept", [], 0.002)])))
    assert "gpu_time" not in header["capabilities"]
    assert any("update.gpu" in n["what"] for n in header["not_captured"])
    assert all(g is None for g in gpu)
