"""The console line (``VLLM_SCHEDULER_LOG_CONSOLE=SECONDS``): one summary per interval in
vLLM's log, like seed 002's ``VLLM_SCHEDULER_PROFILING_CONSOLE``.

It runs on the writer thread: the writer hands every record to ``ConsoleStats.observe``
in trace order, after the scheduler thread has moved on, so the scheduler pays nothing
beyond what recording already costs. Intervals are cut on the trace's own clock (a step
whose ``t_start`` is SECONDS past the interval's first step closes it), so a virtual-clock
harness run prints the same lines every time; the last partial interval is printed at
the trace's end.

The waiting cause is a live approximation of docs/waiting-reasons.md (rules 1-7 applied
to the step record's counts, without priority_outranked): each waiting request is
charged the time until the next step under the label its step's skip or stop cause gives.
``vsched summary`` of the same trace has the exact per-request figures.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

# vLLM configures the "vllm" logger; a child logger's records reach its handler.
logger = logging.getLogger("vllm.vsched_emitter")

_STOP_LABEL = {
    "max_num_seqs": "max_num_seqs",
    "token_budget": "max_num_batched_tokens",
    "kv_full": "memory_insufficient",
    "prompt_exceeds_budget": "prompt_exceeds_budget",
    "encoder_budget": "encoder_budget",
    "paused": "paused",
    "preemption": "memory_insufficient",
}
_SKIP_LABEL = {"other": "unknown"}


def p95(values: List[float]) -> float:
    """Nearest-rank 95th percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


class ConsoleStats:
    def __init__(self, seconds: float, emit=None):
        self.interval_ns = int(seconds * 1e9)
        # vLLM's logging.config.dictConfig (at `import vllm`) disables loggers that existed
        # before it, ours too when the plugin was imported first: the line is asked for, so
        # it is switched back on here, at Scheduler construction
        logger.disabled = False
        self.emit = emit or logger.info
        self.rank = 0
        self.usable_blocks = 0
        self.max_num_seqs = 0
        self.prompts: Dict[str, int] = {}
        self.step_end: Dict[int, int] = {}
        self.pending_wait: Optional[tuple] = None  # (t_start, {label: requests}) of the last step
        self._reset(None)

    def _reset(self, start: Optional[int]) -> None:
        self.start = start
        self.last_t = start
        self.steps = self.prefill = self.decode = self.tokens = self.preempted = 0
        self.first_step = self.last_step = 0
        self.sched_ms: List[float] = []
        self.model_ms: List[float] = []
        self.running = self.waiting = 0
        self.free_blocks: Optional[int] = None
        self.wait_ns: Dict[str, float] = {}

    # ---- records, in trace order ------------------------------------------------------
    def observe(self, kind: str, v: Any) -> None:
        if kind == "step":
            self._step(v)
        elif kind == "update":
            self._update(v)
        elif kind == "arrival":
            self.prompts[v[1]] = v[3]
        elif kind == "chunk":
            self.prompts[v[2]] = v[4]
        elif kind == "finish":
            self.prompts.pop(v[1], None)
        elif kind == "header":
            config = v.get("config", {})
            self.rank = v.get("dp_rank", 0)
            self.usable_blocks = max(0, int(config.get("num_gpu_blocks", 0)) - 1)
            self.max_num_seqs = int(config.get("max_num_seqs", 0))
        elif kind == "end":
            self._charge_wait(v[0])
            self.flush()

    def _step(self, v) -> None:
        step, t_start, t_end = v[0], v[1], v[2]
        if self.start is None:
            self._reset(t_start)
        elif t_start - self.start >= self.interval_ns:
            self._charge_wait(t_start)
            self.flush()
            self._reset(t_start)
        self._charge_wait(t_start)
        if not self.steps:
            self.first_step = step
        self.steps += 1
        self.last_step = step
        self.last_t = t_start
        for req, n, before in v[4]:
            self.tokens += n
            if before < self.prompts.get(req, 0):
                self.prefill += 1
            else:
                self.decode += 1
        self.sched_ms.append((t_end - t_start) / 1e6)
        if v[4]:  # a step that scheduled nothing runs no model (vLLM returns an empty output)
            self.step_end[step] = t_end
        self.preempted += len(v[7])
        self.running, self.waiting, self.free_blocks = v[10], v[11], v[9]  # until its update comes
        self.pending_wait = (t_start, self._wait_labels(v))

    def _update(self, v) -> None:
        end = self.step_end.pop(v[0], None)
        if end is not None and self.start is not None:
            self.model_ms.append((v[1] - end) / 1e6)
        # after the update: what vLLM's SchedulerStats report
        self.free_blocks, self.running, self.waiting = v[6], v[7], v[8]
        for f in v[5]:
            self.prompts.pop(f[0], None)

    def _wait_labels(self, v) -> Dict[str, int]:
        """Waiting requests after this schedule(), by the label rules 1-7 give them."""
        waiting = v[11]
        labels: Dict[str, int] = {}
        skipped = v[15] if isinstance(v[15], list) else []
        for _, cause in skipped:
            label = _SKIP_LABEL.get(cause, cause)
            labels[label] = labels.get(label, 0) + 1
        rest = max(0, waiting - len(skipped))
        if not rest:
            return labels
        stop = v[14] if isinstance(v[14], dict) else None
        if v[13] not in (None, "UNPAUSED") and isinstance(v[13], str):
            label = "paused"
        elif v[7]:
            label = "memory_insufficient"
        elif stop is not None:
            label = _STOP_LABEL.get(stop["cause"], "unknown")
            if stop["cause"] == "token_budget" and not v[5] and not v[6]:
                label = "decode_priority"
            if stop["cause"] in ("kv_full", "prompt_exceeds_budget", "encoder_budget") and stop.get("req") is not None:
                labels[label] = labels.get(label, 0) + 1
                rest, label = rest - 1, "head_of_line_blocked"
        elif self.max_num_seqs and v[10] >= self.max_num_seqs:
            label = "max_num_seqs"
        elif v[12] <= 0:
            label = "max_num_batched_tokens"
        elif any(state == "waiting" for _, state in v[8]):
            label = "memory_insufficient"
        else:
            label = "unknown"
        if rest:
            labels[label] = labels.get(label, 0) + rest
        return labels

    def _charge_wait(self, until: int) -> None:
        if self.pending_wait is None:
            return
        since, labels = self.pending_wait
        dt = max(0, until - since)
        for label, n in labels.items():
            self.wait_ns[label] = self.wait_ns.get(label, 0) + n * dt
        self.pending_wait = (until, labels)

    # ---- the line ---------------------------------------------------------------------
    def line(self) -> Optional[str]:
        if not self.steps:
            return None
        span_s = max(self.interval_ns, (self.last_t or 0) - (self.start or 0)) / 1e9
        kv = ""
        if self.usable_blocks and self.free_blocks is not None:
            kv = f" | KV {100.0 * (self.usable_blocks - self.free_blocks) / self.usable_blocks:.1f}%"
        top = ""
        total = sum(self.wait_ns.values())
        if total > 0:
            label, ns = max(self.wait_ns.items(), key=lambda kv_: kv_[1])
            top = f" | most waiting: {label} {100.0 * ns / total:.0f}% of {total / 1e9:.1f} req-s"
        mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
        return (f"vsched dp{self.rank}: steps {self.first_step}-{self.last_step} ({self.steps} in {span_s:.1f}s)"
                f" | batch {self.prefill / self.steps:.1f} prefill + {self.decode / self.steps:.1f} decode reqs"
                f" | {self.tokens} tokens, {self.tokens / span_s:.0f} tok/s"
                f" | schedule {mean(self.sched_ms):.2f} ms (p95 {p95(self.sched_ms):.2f})"
                f" vs model {mean(self.model_ms):.2f} ms (p95 {p95(self.model_ms):.2f})"
                f" | running {self.running} waiting {self.waiting}{kv}"
                f" | preempted {self.preempted}{top}")

    def flush(self) -> None:
        text = self.line()
        if text is not None:
            self.emit(text)
