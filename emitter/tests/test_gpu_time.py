"""gpu_time.py: each step's GPU time from two CUDA events (trace schema 1.6, update.gpu).

No GPU here: the events are fakes stamped from a scripted GPU clock, the model runner a class
with vLLM's method names, so every figure has a known answer. The real events are exercised on
the lent H100 (bench/h100 runs, test/gpu-time.test.ts asserts on them)."""
import pytest

import vsched_testlib as lib
from vsched_emitter import env, gpu_time
from vsched_testlib import Knobs, Spec


class Gpu:
    """A GPU clock in ns that the fake runner advances (events stamp it when recorded), and the
    host clock the runner's calls are timed with (gpu_time._now, replaced by the fixtures)."""

    def __init__(self):
        self.t = 0
        self.host = 0
        self.done = True  # whether a recorded event reports completion


class Event:
    def __init__(self, gpu):
        self.gpu = gpu
        self.t = None
        self.done = True

    def record(self):
        self.t = self.gpu.t
        self.done = self.gpu.done

    def query(self):
        return self.done

    def elapsed_time(self, other):  # ms, as torch's
        assert self.done and other.done, "elapsed_time on an event that has not completed"
        return (other.t - self.t) / 1e6


class Out:
    """What the runner and the scheduler share: vLLM's SchedulerOutput, reduced."""

    def __init__(self, tokens):
        self.total_num_scheduled_tokens = tokens


def runner_class(gpu, with_sample=True):
    """A model runner that 'runs' 1,000 ns per token in execute_model and 500 in sampling on the
    GPU, and spends 200 ns per token and 50 ns of host time in those calls."""

    class Runner:
        def execute_model(self, scheduler_output, intermediate_tensors=None, dummy_run=False):
            gpu.t += 1000 * scheduler_output.total_num_scheduled_tokens
            gpu.host += 200 * scheduler_output.total_num_scheduled_tokens
            if not with_sample or scheduler_output.total_num_scheduled_tokens == 0:
                gpu.t += 0 if scheduler_output.total_num_scheduled_tokens == 0 else 500
                return "output"
            return None

        if with_sample:
            def sample_tokens(self, grammar_output):
                gpu.t += 500
                gpu.host += 50
                return "output"

    return Runner


def header():
    return {"schema_version": "1.3", "capabilities": {}, "not_captured": []}


@pytest.fixture
def timed(monkeypatch):
    gpu = Gpu()
    monkeypatch.setattr(gpu_time, "_now", lambda: gpu.host)
    cls = runner_class(gpu)
    originals = dict(cls.__dict__)
    h = header()
    timer = gpu_time.prepare(True, None, h, runner_classes=[cls], event_factory=lambda: Event(gpu))
    yield gpu, cls, timer, h
    gpu_time.uninstall()
    assert cls.__dict__["execute_model"] is originals["execute_model"]
    assert cls.__dict__["sample_tokens"] is originals["sample_tokens"]


def launch(gpu, runner, out, idle_before=0):
    gpu.t += idle_before
    runner.execute_model(out)
    if hasattr(type(runner), "sample_tokens") and out.total_num_scheduled_tokens:
        runner.sample_tokens(None)


def test_header_declares_1_6_and_the_capability(timed):
    _gpu, _cls, timer, h = timed
    assert timer is gpu_time.current()
    assert h["schema_version"] == "1.6" and h["capabilities"] == {"gpu_time": True} and h["not_captured"] == []


def test_spans_and_gaps_in_launch_order_with_two_steps_in_flight(timed):
    gpu, cls, timer, _ = timed
    r = cls()
    a, b, c = Out(10), Out(3), Out(7)
    launch(gpu, r, a, idle_before=2_000)
    launch(gpu, r, b, idle_before=0)      # async: launched before a's update
    assert timer.take(a) == [10_500, None, 2_050]  # first timed step: no gap
    launch(gpu, r, c, idle_before=4_000)
    assert timer.take(b) == [3_500, 0, 650]
    assert timer.take(c) == [7_500, 4_000, 1_450]
    assert timer.take(c) is None  # taken once
    assert timer.pending == {}


def test_an_incomplete_end_event_is_null_and_never_waited_on(timed):
    gpu, cls, timer, _ = timed
    r = cls()
    a, b, c = Out(4), Out(5), Out(6)
    launch(gpu, r, a)
    gpu.done = False
    launch(gpu, r, b, idle_before=100)
    gpu.done = True
    launch(gpu, r, c, idle_before=300)
    assert timer.take(a) == [4_500, None, 850]
    assert timer.take(b) == [None, None, 1_050]  # Event.elapsed_time would have raised
    assert timer.take(c) == [6_500, None, 1_250]  # no gap across a step without a figure


def test_steps_without_tokens_and_dummy_runs_are_not_timed(timed):
    gpu, cls, timer, _ = timed
    r = cls()
    empty, real = Out(0), Out(2)
    launch(gpu, r, empty)
    assert timer.pending == {} and timer.take(empty) is None
    r.execute_model(Out(8), dummy_run=True)  # V2's warm-up / DP padding: sample_tokens not called
    assert timer.pending == {} and timer.open is None
    launch(gpu, r, real, idle_before=50)
    assert timer.take(real) == [2_500, None, 450]


def test_a_runner_without_sample_tokens_ends_at_execute_model(monkeypatch):
    gpu = Gpu()
    monkeypatch.setattr(gpu_time, "_now", lambda: gpu.host)
    cls = runner_class(gpu, with_sample=False)
    timer = gpu_time.prepare(True, None, header(), runner_classes=[cls], event_factory=lambda: Event(gpu))
    try:
        a = Out(9)
        launch(gpu, cls(), a)
        assert timer.take(a) == [9_500, None, 1_800]
    finally:
        gpu_time.uninstall()


def test_pending_steps_are_bounded_when_updates_stop_taking_them(timed):
    gpu, cls, timer, _ = timed
    r = cls()
    outs = [Out(1) for _ in range(gpu_time.MAX_PENDING + 5)]
    for o in outs:
        launch(gpu, r, o)
    assert len(timer.pending) == gpu_time.MAX_PENDING
    assert timer.take(outs[0]) is None and timer.take(outs[-1]) == [1_500, None, 250]


def test_a_failing_event_restores_the_runner_and_vllm_still_runs():
    gpu = Gpu()
    cls = runner_class(gpu)
    original = cls.__dict__["execute_model"]

    def broken():
        raise RuntimeError("CUDA error: no device")

    gpu_time.prepare(True, None, header(), runner_classes=[cls], event_factory=broken)
    assert cls.__dict__["execute_model"] is not original
    assert cls().execute_model(Out(3)) is None  # the original ran
    assert cls.__dict__["execute_model"] is original and gpu_time.current() is None


def test_not_captured_says_why():
    h = header()
    assert gpu_time.prepare(False, None, h) is None
    assert h["not_captured"] == [{"what": gpu_time.NOT_CAPTURED_WHAT, "why": "VLLM_SCHEDULER_LOG_GPU_TIME=0 turned it off"}]
    assert h["schema_version"] == "1.3" and h["capabilities"] == {}

    class PC:
        def __init__(self, backend, world):
            self.distributed_executor_backend, self.world_size = backend, world

    class Sched:
        def __init__(self, pc):
            self.vllm_config = type("VC", (), {"parallel_config": pc})()

    h = header()
    assert gpu_time.prepare(True, Sched(PC("mp", 2)), h) is None
    assert "other processes" in h["not_captured"][0]["why"] and "'mp'" in h["not_captured"][0]["why"]
    assert env.from_env({}).gpu_time is True and env.from_env({env.GPU_TIME: "0"}).gpu_time is False


@pytest.mark.parametrize("async_scheduling,fmt", [(False, "interned"), (True, "interned"), (True, "plain")])
def test_a_real_scheduler_run_writes_each_steps_gpu_time(tmp_path, monkeypatch, async_scheduling, fmt):
    """vLLM's own Scheduler (AsyncScheduler) under the harness, with the fake runner called on
    each SchedulerOutput as the engine core would: every update carries its step's span (1,000
    ns per scheduled token + 500) and host time (200 per token + 50) by construction, checked
    against the step record's own token count (max_num_batched_tokens - budget_left); gaps are
    the scripted idle time."""
    monkeypatch.setenv(env.FORMAT, fmt)
    gpu = Gpu()
    monkeypatch.setattr(gpu_time, "_now", lambda: gpu.host)
    cls = runner_class(gpu)
    runner = cls()
    real_prepare = gpu_time.prepare
    monkeypatch.setattr(gpu_time, "prepare", lambda enabled, sched, h: real_prepare(
        enabled, sched, h, runner_classes=[cls], event_factory=lambda: Event(gpu)))
    launched = []

    def on_schedule(sched, out):
        idle = 3_000 if len(launched) % 3 == 0 else 0
        launched.append(out.total_num_scheduled_tokens)
        launch(gpu, runner, out, idle_before=idle)

    specs = [Spec(f"r{i}", 0.01 * i, lib.prompt(40 + 8 * i, i), 6) for i in range(8)]
    knobs = Knobs(max_num_seqs=4, max_num_batched_tokens=64, num_blocks=128, max_model_len=512,
                  async_scheduling=async_scheduling)
    try:
        case = lib.run_case(tmp_path, specs, knobs, on_schedule=on_schedule)
    finally:
        gpu_time.uninstall()
    assert lib.schema_errors(case.trace) == []
    h = case.header
    assert h["schema_version"] == "1.6" and h["capabilities"]["gpu_time"] is True
    assert all("gpu" in r for r in case.trace.wire if r["type"] == "update")  # as written, either format
    budget = {st["step"]: 64 - st["budget_left"] for st in case.of("step")}
    updates = case.of("update")
    assert len(updates) > 10
    timed = [u for u in updates if budget[u["step"]] > 0]
    assert timed and all(u["gpu"][0] == 1000 * budget[u["step"]] + 500 for u in timed)
    assert all(u["gpu"][2] == 200 * budget[u["step"]] + 50 for u in timed)
    assert all(u["gpu"] is None for u in updates if budget[u["step"]] == 0)
    gaps = [u["gpu"][1] for u in timed[1:] if u["gpu"][1] is not None]
    assert gaps and set(gaps) <= {0, 3_000} and 3_000 in gaps


def test_the_harness_says_why_not(tmp_path):
    specs = [Spec(f"r{i}", 0.0, lib.prompt(32, i), 4) for i in range(3)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512))
    why = [n["why"] for n in case.header["not_captured"] if n["what"] == gpu_time.NOT_CAPTURED_WHAT]
    assert len(why) == 1 and "model runner" in why[0]
    assert all("gpu" not in u for u in case.of("update"))
