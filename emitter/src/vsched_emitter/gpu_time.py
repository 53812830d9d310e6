"""Each step's GPU time, measured on the GPU (trace schema 1.6, ``update.gpu``).

Under async scheduling a step's update-to-update interval is not its GPU time. The engine
launches step k+1 before it takes step k's output, and the launch can wait on the GPU, so time
moves between neighbouring intervals: on the lent H100 the 8B shape's full-budget prefill steps
(~95 ms of GPU work each) read 105, 166 and 17 ms in a row. A step model fitted to those
intervals is right over a few steps and wrong on each one (issue 17: mixed steps' MAPE 30–40%).

So where vLLM's model runner runs in the scheduler's own process (the uniprocess executor,
vLLM's default for one GPU), two CUDA events are recorded on the runner's current stream per
step: one when ``execute_model()`` is entered, one when the step's sampling has been enqueued
(``sample_tokens()`` returns; ``execute_model()`` returns an output on a vLLM without
``sample_tokens``). At the step's ``update_from_output()`` vLLM has already waited for the
step's output, so both events have normally completed, and the update record gets
``gpu: [span_ns, gap_ns, host_ns]``:

* span: GPU time from the step's first to its last work on that stream, idle time inside it
  included (a step whose kernels the host launches slower than the GPU runs them shows it);
* gap: GPU time from the previous step's end event to this step's start event: how long the
  stream sat idle between the two steps (~0 while the host keeps ahead of the GPU); ``null``
  for the first timed step and after a step without a figure;
* host: the host's time inside the runner's ``execute_model()`` and ``sample_tokens()`` calls
  for the step (input preparation, kernel launches, and any wait on the device inside them):
  the part of the engine loop's CPU work that async scheduling overlaps with the GPU's.

An event is never waited on: a step whose end event has not completed gets ``[null, null,
host_ns]``; a step that ran no model (no scheduled tokens) gets ``null``. The wrappers are put
on the runner classes when the first Scheduler of the process is built, which vLLM does after
it has profiled memory and captured its CUDA graphs, so warm-up and capture are never timed.
Where the runner lives in another process (a multiprocess executor: tensor or pipeline
parallel) or CUDA is not initialised (a CPU platform), nothing is patched and the header's
``not_captured`` says why.
``VLLM_SCHEDULER_LOG_GPU_TIME=0`` turns it off.
"""
from __future__ import annotations

import logging
import sys
import time

from .gpu_stats import declare_minor

logger = logging.getLogger("vsched_emitter")

#: trace schema minor that declares ``update.gpu`` and ``capabilities.gpu_time``
GPU_TIME_SCHEMA_VERSION = "1.6"
NOT_CAPTURED_WHAT = "GPU time per step (update.gpu; per_iteration gpu_step_ns, gpu_gap_ns, runner_host_ns)"
#: vLLM's model runners: V2 (vLLM >= ~0.20, the default for Llama, Qwen3, Mistral, …) and V1;
#: each one loaded in the process is patched, the one the worker built is the one that runs
RUNNER_MODULES = ("vllm.v1.worker.gpu.model_runner", "vllm.v1.worker.gpu_model_runner")
#: executors that run the model runner in the engine-core process itself
IN_PROCESS_BACKENDS = ("uni", "external_launcher")
#: launched steps not yet taken by an update; more means updates stopped pairing with launches
MAX_PENDING = 64

_timer: "StepTimer | None" = None
#: the host clock the runner's calls are timed with (a test replaces it)
_now = time.perf_counter_ns


class StepTimer:
    """Start/end CUDA events per launched step, keyed by the SchedulerOutput's identity (the
    object vLLM passes to both ``execute_model()`` and ``update_from_output()``)."""

    def __init__(self, event_factory):
        self.new_event = event_factory
        self.pending: dict[int, list] = {}  # id(SchedulerOutput) -> [start, end | None, host ns]
        self.open: list | None = None       # the pair whose end event is still to be recorded
        self.last_end = None                # end event of the step taken last, if it had a figure
        self.originals: list[tuple[type, str, object]] = []

    # ---- the runner's side (its thread: the engine core's, with the uniprocess executor) ----
    def begin(self, scheduler_output) -> list | None:
        """The step's record, opened (None for a step that runs no model)."""
        if not getattr(scheduler_output, "total_num_scheduled_tokens", 0):
            self.open = None
            return None
        start = self.new_event()
        start.record()
        pair = [start, None, 0]
        pending = self.pending
        if len(pending) >= MAX_PENDING:  # updates stopped taking them: keep the newest only
            pending.pop(next(iter(pending)))
        pending[id(scheduler_output)] = pair
        self.open = pair
        return pair

    def end(self) -> None:
        pair = self.open
        if pair is not None:
            self.open = None
            end = self.new_event()
            end.record()
            pair[1] = end

    # ---- the scheduler's side ---------------------------------------------------------------
    def take(self, scheduler_output):
        """``[span_ns, gap_ns, host_ns]`` of the step (the first two null when its end event has
        not completed), or None for a step that ran no model. Never blocks on the GPU."""
        pair = self.pending.pop(id(scheduler_output), None)
        last, self.last_end = self.last_end, None
        if pair is None:
            return None
        start, end, host = pair
        if end is None or not end.query():
            return [None, None, host]
        span = round(start.elapsed_time(end) * 1e6)  # elapsed_time is in ms
        gap = round(last.elapsed_time(start) * 1e6) if last is not None else None
        self.last_end = end
        return [span, gap, host]


def _timed_execute(timer: StepTimer, original):
    """execute_model(): opens the step's record and times the call; an output returned here
    (no sample_tokens() follows: an older vLLM, or a step without sampling) closes it."""
    def execute_model(self, scheduler_output, *args, **kwargs):
        pair = None
        try:
            if kwargs.get("dummy_run"):  # V2's warm-up and DP padding runs: not a step
                timer.open = None
            else:
                pair = timer.begin(scheduler_output)
        except Exception as e:
            stop(e)
        t0 = _now()
        result = original(self, scheduler_output, *args, **kwargs)
        if pair is not None:
            pair[2] += _now() - t0
            if result is not None and timer.open is pair:
                try:
                    timer.end()
                except Exception as e:
                    stop(e)
        return result
    return execute_model


def _timed_sample(timer: StepTimer, original):
    """sample_tokens(): times the call and closes the open step's record."""
    def sample_tokens(self, *args, **kwargs):
        pair = timer.open
        t0 = _now()
        result = original(self, *args, **kwargs)
        if pair is not None:
            pair[2] += _now() - t0
            try:
                timer.end()
            except Exception as e:
                stop(e)
        return result
    return sample_tokens


_WRAPPERS = {"execute_model": _timed_execute, "sample_tokens": _timed_sample}


def stop(exc: BaseException) -> None:
    """A CUDA event call failed: restore the runner's methods; the steps after it get null."""
    logger.warning("vsched: GPU step time stopped: %r", exc)
    uninstall()


def _install(runner_classes, event_factory) -> StepTimer:
    global _timer
    if _timer is not None:
        return _timer
    timer = StepTimer(event_factory)
    for cls in runner_classes:
        for name in ("execute_model", "sample_tokens") if "sample_tokens" in cls.__dict__ else ("execute_model",):
            original = cls.__dict__[name]
            timer.originals.append((cls, name, original))
            wrapper = _WRAPPERS[name](timer, original)
            wrapper.__wrapped__ = original
            wrapper.__qualname__ = getattr(original, "__qualname__", name)
            setattr(cls, name, wrapper)
    _timer = timer
    return timer


def uninstall() -> None:
    """Restore the runner classes' methods exactly; later takes give None."""
    global _timer
    timer, _timer = _timer, None
    if timer is None:
        return
    for cls, name, original in timer.originals:
        setattr(cls, name, original)
    timer.pending.clear()
    timer.open = timer.last_end = None


def current() -> StepTimer | None:
    return _timer


#: a timer that is not CUDA's: the harness's replay timeline (harness/replay_gpu.py), which the
#: next Session takes instead of patching a model runner
_provided = None


def provide(timer) -> None:
    """The step timer the sessions built from now on use (None: CUDA events again)."""
    global _provided
    _provided = timer


def _why_not(sched) -> str | None:
    """Why the runner cannot be timed from this process, or None when it can."""
    pc = getattr(getattr(sched, "vllm_config", None), "parallel_config", None)
    if pc is None:
        return "the scheduler has no vllm_config.parallel_config to tell where the model runner runs"
    backend = getattr(pc, "distributed_executor_backend", None)
    world = getattr(pc, "world_size", 1)
    if world != 1 or (backend is not None and backend not in IN_PROCESS_BACKENDS):
        return (f"the model runner runs in other processes (executor {backend!r}, world size {world}); "
                "only the uniprocess executor's is timed")
    if not any(m in sys.modules for m in RUNNER_MODULES):
        return "no vLLM GPU model runner is loaded in the scheduler's process"
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return "CUDA is not initialised in the scheduler's process (not a CUDA platform)"
    return None


def prepare(enabled: bool, sched, header: dict, runner_classes=None, event_factory=None):
    """The process's StepTimer with ``header`` saying so, or None with a ``not_captured`` entry
    saying why. ``runner_classes``/``event_factory`` are for tests (default: vLLM's GPU model
    runners loaded in the process and ``torch.cuda.Event(enable_timing=True)``). Never raises."""
    timer = why = None
    try:
        if not enabled:
            why = "VLLM_SCHEDULER_LOG_GPU_TIME=0 turned it off"
        elif _provided is not None and runner_classes is None:
            timer = _provided
        elif runner_classes is None:
            why = _why_not(sched)
            if why is None:
                torch = sys.modules["torch"]
                runner_classes = [sys.modules[m].GPUModelRunner for m in RUNNER_MODULES if m in sys.modules]
                event_factory = lambda: torch.cuda.Event(enable_timing=True)  # noqa: E731
        if why is None and timer is None:
            runner_classes = [c for c in runner_classes if "execute_model" in c.__dict__]
            if not runner_classes:
                why = "no GPU model runner class has an execute_model of its own to time"
            else:
                timer = _install(runner_classes, event_factory)
    except Exception as e:
        why = f"cannot time the model runner: {type(e).__name__}: {e}"[:300]
        timer = None
    try:
        if timer is None:
            header["not_captured"].append({"what": NOT_CAPTURED_WHAT, "why": why})
        else:
            header["capabilities"]["gpu_time"] = True
            declare_minor(header, GPU_TIME_SCHEMA_VERSION)
    except Exception:
        return None
    return timer
