"""The replay's own GPU timeline, written as the trace's ``update.gpu`` (schema 1.6).

A real run's trace carries each step's time on the GPU from CUDA events (gpu_time.py): its
span, the idle gap before it, and the host's time in the model runner. A replay clocked by a
GPU-clock model with a host loop (docs/fit.md, "Step clock") has the same timeline in the
driver: where each step started and ended on the simulated device and when its launch ended.
Written into the simulated trace the same way, the same tables (per_iteration ``gpu_step_ns``,
``gpu_gap_ns``, ``runner_host_ns``), summary's GPU busy share and calibrate's GPU comparison
read both runs alike, so a replay that got ahead shows where its GPU idled less than the real
one's did.

In a replay schedule() takes no time on the clock, so the runner's host time is the whole launch
(schedule() entry to the end of the launch).
"""
from __future__ import annotations


def _ns(seconds: float) -> int:
    return max(0, round(seconds * 1e9))


class ReplayGpuTimer:
    """The emitter's step timer (gpu_time.StepTimer's ``take``) fed by the driver's timeline,
    keyed by the SchedulerOutput's identity as the real one is."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[float, float, float]] = {}
        self.last_end: float | None = None

    def record(self, scheduler_output, start_s: float, end_s: float, host_s: float) -> None:
        """A launched step: on the device from start_s to end_s; its launch took host_s."""
        self.pending[id(scheduler_output)] = (start_s, end_s, host_s)

    def take(self, scheduler_output):
        """``[span_ns, gap_ns, host_ns]``, or None for a step that ran no model. As on a GPU, the
        gap is to the previous taken step's end, and null after a step without a figure."""
        rec = self.pending.pop(id(scheduler_output), None)
        last, self.last_end = self.last_end, None
        if rec is None:
            return None
        start, end, host = rec
        self.last_end = end
        return [_ns(end - start), _ns(start - last) if last is not None else None, _ns(host)]
