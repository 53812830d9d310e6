"""Record layout: the scheduler thread builds plain tuples, the writer thread turns them
into JSON objects in the key order of src/schema/raw.ts.

A queued record is ``(type, values)`` where ``values`` lines up with ``KEYS[type]``;
a value equal to ``OMIT`` leaves that (optional) key out. The header travels as a ready
dict. ``end`` is completed by the writer (records written, records dropped).
"""
from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

OMIT = object()

SCHEMA_VERSION = "1.0"
# 1.1 adds ``prediction`` records. A trace declares 1.1 only when its scheduler can
# predict (capabilities.can_predict), so traces of every other scheduler stay byte-identical.
PREDICTION_SCHEMA_VERSION = "1.1"
# 1.2 adds streaming-input sessions: ``chunk`` records and ``update.turn_ends``. Declared only
# where the session hook is in place (vLLM >= 0.33: Scheduler._update_request_as_session).
SESSION_SCHEMA_VERSION = "1.2"


class StepValues(NamedTuple):
    """A ``step`` record's values, in schema key order; OMIT leaves an optional key out.
    ``sched`` is None on the scheduler thread: the writer fills it in (session._step_values)."""
    step: int
    t_start: int
    t_end: int
    sched_t: Any
    sched: Any
    new: list
    resumed: list
    preempted: list
    kv_fail: list
    free_blocks: int
    running: int
    waiting: int
    budget_left: int
    paused: Any
    stop: Any
    skipped: Any
    blocks: Any
    order: Any
    probe: Any
    reorder: Any = OMIT  # vLLM 0.34 cache-aware admission: {cause, before, after}
    cpu: Any = OMIT  # schema 1.5: [cpu_ns, wait_ns, pressure_ns] since the last step (host_cpu.py)


class UpdateValues(NamedTuple):
    """An ``update`` record's values; ``tokens`` is filled in on the writer thread."""
    step: int
    t_start: int
    t_end: int
    out_t: Any
    tokens: Any
    finished: list
    free_blocks: int
    running: int
    waiting: int
    blocks: Any
    turn_ends: Any = OMIT
    gpu: Any = OMIT  # schema 1.6: [span_ns, gap_ns, host_ns] of the step's model run (gpu_time.py)


KEYS: dict[str, tuple[str, ...]] = {
    "arrival": ("t", "req", "vllm_arrival_epoch_ns", "prompt_tokens", "max_tokens", "priority",
                "lora", "status", "score", "predicted_remaining"),
    "step": StepValues._fields,
    "update": UpdateValues._fields,
    "finish": ("t", "req", "reason", "output_tokens", "from"),
    "score": ("t", "req", "score", "predicted_remaining"),
    "prediction": ("t", "req", "output_tokens", "predicted_remaining"),
    "chunk": ("t", "queued_t", "req", "vllm_arrival_epoch_ns", "prompt_tokens", "max_tokens", "computed"),
    "gpu": ("t", "devices"),  # schema 1.4: NVML samples (gpu_stats.py)
    "kv": ("t", "req", "event", "tokens", "async", "job", "direction", "blocks"),  # 1.4: kv_connector.py
    "dropped": ("t", "count"),
    "emitter_error": ("t", "where", "error"),
    "end": ("t", "steps", "records", "dropped"),
}

class Deferred:
    """Record values built on the writer thread: ``fn(*args)`` returns the values tuple.
    ``args`` must not change after the hook returns (no live Request objects)."""

    __slots__ = ("fn", "args")

    def __init__(self, fn, *args):
        self.fn = fn
        self.args = args

    def build(self):
        return self.fn(*self.args)


class ComputedFromOutput:
    """The computed-token counts of a step, read on the writer thread from vLLM's own
    SchedulerOutput (``scheduled_new_reqs[i].num_computed_tokens`` and
    ``scheduled_cached_reqs.num_computed_tokens``: each scheduled request's count before the
    step, which vLLM built for the model runner and does not change afterwards) instead of
    from every Request object on the scheduler thread. ``resolve(nst)`` gives the counts after
    the step in ``nst`` order (None for a request the output does not list)."""

    __slots__ = ("out",)

    def __init__(self, out):
        self.out = out

    @staticmethod
    def applies(out, nst) -> bool:
        """Whether this output lists every scheduled request (checked by count, O(1))."""
        try:
            return len(out.scheduled_new_reqs) + len(out.scheduled_cached_reqs.req_ids) == len(nst)
        except (AttributeError, TypeError):
            return False

    def resolve(self, nst) -> list:
        out = self.out
        cached = out.scheduled_cached_reqs
        before = dict(zip(cached.req_ids, cached.num_computed_tokens))
        for r in out.scheduled_new_reqs:
            before[r.req_id] = r.num_computed_tokens
        get = before.get
        return [(b + n) if (b := get(rid)) is not None else None for rid, n in nst.items()]


def computed_list(nst, computed) -> list:
    """Computed-token counts after the step, in nst order, whichever way they were captured."""
    return computed.resolve(nst) if type(computed) is ComputedFromOutput else computed


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def to_dict(kind: str, values) -> dict:
    if kind == "header":
        return values
    obj = {"type": kind}
    for key, value in zip(KEYS[kind], values):
        if value is not OMIT:
            obj[key] = value
    return obj


def encode(kind: str, values) -> bytes:
    return (_dumps(to_dict(kind, values)) + "\n").encode("utf-8")


def finite_or_none(x):
    """Scores may be inf/nan (ISRTF starts at inf); JSON has no such numbers."""
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
