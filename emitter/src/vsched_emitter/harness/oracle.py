"""vLLM's own figures for a driver run, computed by vLLM's own code.

The driver plays vLLM's frontend: every EngineCoreOutputs returned by
update_from_output goes through ``vllm.v1.metrics.stats.IterationStats.update_from_output``
with a per-request ``RequestStateStats``, exactly as ``OutputProcessor.process_outputs``
does (``is_prefilling`` is True until the first output of a request has been processed),
and a finished output goes through ``IterationStats.update_from_finished_request``, which
yields queued/prefill/decode/inference time and mean time per output token.

Aborts: vLLM's frontend computes no interval stats for a request it aborts. The oracle
still reports them: at abort time it feeds the request's not-yet-delivered engine events
(peeked, never drained) through ``IterationStats.update_from_events`` and applies the same
``update_from_finished_request`` (finish_reason "abort").

Per step it records the SchedulerStats vLLM returned (num_running_reqs, num_waiting_reqs,
kv_cache_usage) plus the waiting queue after schedule(): ``list(waiting)`` for FCFS (KV
holding queue first where the version has one), heap-pop order of a copy for priority
(that is what iterating vLLM's PriorityRequestQueue does).

vLLM >= 0.34: with requests in ``async_kv_waiting`` the order is the one schedule() takes
them in (vLLM's own ``_next_waiting_queue`` on copies of the two queues) and the step has
``async_kv_waiting`` (that queue's ids); a cache-aware admission reorder is a ``reorder``
record (the queue before and after, in the step it happened in).

Preemptions (vLLM versions with ``Scheduler._preempt_request``, 0.12+): one
``{"type": "preemption", "step", "req", "num_computed_tokens"}`` record per call, with
``request.num_computed_tokens`` read just before vLLM resets it to 0 (the tokens the
request had computed when it was preempted; ``step`` is the schedule() call it happened
in). Written among the step records, in the order they happened.

A request id used again after its request finished gets a new request record, with
``"instance": n`` (the earlier requests with that id; absent for the first).

Streaming-input sessions (vLLM >= 0.33, resumable requests): the oracle plays the frontend's
OutputProcessor for them too. A chunk sent while the previous input is still being answered
waits in the frontend's chunk queue; an output with a finish reason (not abort/error) while
more input may come is a chunk boundary, not a finish: the turn's end (``[timestamp, reason]``
in ``turn_ends``), the next queued chunk applied (its arrival_time, prefilling again). vLLM's
stats see one request: its queued_ts is the last QUEUED, its scheduled_ts the first SCHEDULED
(so its queued_time can be negative, vLLM PR #56238) and first_token_ts the last turn's. The
record also has ``turn_first_token_ts``: the token timestamp of each turn's first output.
Closing a session that waits for input makes vLLM abort it (the frontend computes no stats);
the oracle reports it as an abort.

Records are written by the driver, never by the emitter.
"""
from __future__ import annotations

import gzip
import inspect
import io
import json
import time
from collections import deque
from pathlib import Path


_accepted: dict = {}  # function -> the keyword names it takes (inspect.signature is slow: once each)


def _call(fn, **kwargs):
    key = getattr(fn, "__func__", fn)  # a bound method of each new IterationStats: its function
    names = _accepted.get(key)
    if names is None:
        names = _accepted[key] = frozenset(inspect.signature(fn).parameters)
    return fn(**{k: v for k, v in kwargs.items() if k in names})


class _Req:
    __slots__ = ("req_id", "instance", "arrival_time", "prompt_len", "max_tokens", "stats", "is_prefilling",
                 "events", "finished", "finish_reason", "session", "streaming_input", "chunk_queue",
                 "turn_ends", "turn_first_token_ts")

    def __init__(self, stats_cls, req_id, instance, arrival_time, prompt_len, max_tokens, session=False):
        self.req_id = req_id
        self.instance = instance  # earlier requests with this id (vLLM lets a finished id be reused)
        self.arrival_time = arrival_time
        self.prompt_len = prompt_len
        self.max_tokens = max_tokens
        self.stats = stats_cls(arrival_time=arrival_time)
        self.is_prefilling = True
        self.events: list = []
        self.finished = None
        self.finish_reason = None
        # the frontend's streaming-input state (output_processor.RequestState)
        self.session = session
        self.streaming_input = session
        self.chunk_queue: deque | None = deque() if session else None
        self.turn_ends: list = []
        self.turn_first_token_ts: list = []

    def apply_chunk(self, chunk: dict) -> None:
        """RequestState.apply_streaming_update: the chunk's arrival_time, prefilling again."""
        self.streaming_input = not chunk["final"]
        self.stats.arrival_time = chunk["arrival_time"]
        self.is_prefilling = True


class Oracle:
    def __init__(self, path: Path):
        from vllm.v1.metrics import stats

        self.path = Path(path)
        self._stats = stats
        lora_cls = getattr(stats, "LoRARequestStates", None)
        try:
            self._lora_states = _call(lora_cls, log_stats=False) if lora_cls else None
        except Exception:
            self._lora_states = None
        self.reqs: dict[str, _Req] = {}  # the latest request with each id
        self.order: list[_Req] = []
        self.steps: list[dict] = []

    # ---- driver callbacks ---------------------------------------------------------
    def add_request(self, req_id: str, arrival_time: float, prompt_len: int, max_tokens: int,
                    session: bool = False) -> None:
        earlier = self.reqs.get(req_id)
        st = _Req(self._stats.RequestStateStats, req_id, 0 if earlier is None else earlier.instance + 1,
                  arrival_time, prompt_len, max_tokens, session)
        self.reqs[req_id] = st
        self.order.append(st)

    def on_chunk(self, req_id: str, arrival_time: float | None, pending_events: list) -> None:
        """The session's client sent its next chunk (arrival_time None: it closed the session),
        just before the driver hands it to the scheduler (OutputProcessor's
        _update_streaming_request_state)."""
        st = self.reqs.get(req_id)
        if st is None or st.finished is not None:
            return
        if arrival_time is None:
            if st.chunk_queue is None:  # the last input is answered: vLLM aborts the waiting session
                self.on_abort(req_id, pending_events)
            elif st.chunk_queue:
                st.chunk_queue[-1]["final"] = True
            else:
                st.streaming_input = False
            return
        chunk = {"arrival_time": arrival_time, "final": False}
        if st.chunk_queue is None:
            st.apply_chunk(chunk)
            st.chunk_queue = deque()
        else:
            st.chunk_queue.append(chunk)

    def watch_preemptions(self, sched, current_step) -> bool:
        """Wrap this scheduler's _preempt_request (instance attribute; the class, and the
        emitter's hook on it, stay as they are). False where vLLM has no such method."""
        original = getattr(sched, "_preempt_request", None)
        if original is None:
            return False

        def preempt(request, *args, **kwargs):
            rec = {"type": "preemption", "step": current_step(), "req": request.request_id,
                   "num_computed_tokens": request.num_computed_tokens}
            st = self.reqs.get(request.request_id)
            if st is not None and st.instance:
                rec["instance"] = st.instance
            self.steps.append(rec)
            return original(request, *args, **kwargs)

        sched._preempt_request = preempt
        self._watch_reorders(sched, current_step)
        return True

    def _watch_reorders(self, sched, current_step) -> None:
        """vLLM >= 0.34 cache-aware admission: one ``{"type": "reorder", "step", "before",
        "after"}`` record (the whole waiting queue, ids) per call that changed the order."""
        original = getattr(sched, "_reorder_waiting_by_cached_prefix", None)
        if original is None or not getattr(sched, "cache_aware_window", 0):
            return

        def reorder(*args, **kwargs):
            before = [r.request_id for r in sched.waiting]
            result = original(*args, **kwargs)
            after = [r.request_id for r in sched.waiting]
            if after != before:
                self.steps.append({"type": "reorder", "step": current_step(), "before": before, "after": after})
            return result

        sched._reorder_waiting_by_cached_prefix = reorder

    @staticmethod
    def snapshot(sched) -> dict:
        """Queues right after schedule()."""
        waiting = []
        if hasattr(sched, "kv_holding_waiting"):
            waiting.extend(r.request_id for r in sched.kv_holding_waiting)
        snap = {}
        if getattr(sched, "async_kv_waiting", None):
            waiting.extend(_take_order(sched))
            snap["async_kv_waiting"] = [r.request_id for r in sched.async_kv_waiting]
        else:
            waiting.extend(r.request_id for r in sched.waiting)
        return {"waiting_order": waiting, "running": [r.request_id for r in sched.running], **snap}

    def on_update(self, step: int, snap: dict, engine_core_outputs: dict) -> None:
        stats_obj = None
        for eco in engine_core_outputs.values():
            it = self._stats.IterationStats()
            for out in eco.outputs:
                self._process_output(it, out, eco.timestamp)
            if eco.scheduler_stats is not None:
                stats_obj = eco.scheduler_stats
        rec = {"type": "step", "step": step}
        if stats_obj is not None:
            rec["num_running_reqs"] = stats_obj.num_running_reqs
            rec["num_waiting_reqs"] = stats_obj.num_waiting_reqs
            rec["kv_cache_usage"] = stats_obj.kv_cache_usage
        else:
            rec["num_running_reqs"] = rec["num_waiting_reqs"] = rec["kv_cache_usage"] = None
        rec.update(snap)
        self.steps.append(rec)

    def on_abort(self, req_id: str, pending_events: list) -> None:
        """Called just before the driver aborts a live request."""
        from vllm.v1.engine import FinishReason

        st = self.reqs.get(req_id)
        if st is None or st.finished is not None:
            return
        it = self._stats.IterationStats()
        if pending_events:
            self._events(it, req_id, pending_events, st)
        self._finish(it, req_id, st, FinishReason.ABORT)

    # ---- vLLM's stats code ------------------------------------------------------------
    def _events(self, it, req_id, events, st) -> None:
        st.events.extend([e.type.name, e.timestamp] for e in events)
        _call(it.update_from_events, req_id=req_id, events=events, is_prefilling=st.is_prefilling,
              req_stats=st.stats, lora_stats=None, lora_states=self._lora_states, lora_name=None)

    def _process_output(self, it, out, timestamp) -> None:
        st = self.reqs.get(out.request_id)
        if st is None or st.finished is not None:
            return
        if out.events:
            st.events.extend([e.type.name, e.timestamp] for e in out.events)
        if st.session and st.is_prefilling:
            st.turn_first_token_ts.append(timestamp)
        _call(it.update_from_output, output=out, engine_core_timestamp=timestamp,
              is_prefilling=st.is_prefilling, prompt_len=st.prompt_len, req_stats=st.stats,
              lora_stats=None, lora_states=self._lora_states, lora_name=None)
        st.is_prefilling = False
        if out.finish_reason is None:
            return
        from vllm.v1.engine import FinishReason

        if st.streaming_input and out.finish_reason not in (FinishReason.ABORT, FinishReason.ERROR):
            st.turn_ends.append([timestamp, str(out.finish_reason)])
            if st.chunk_queue:
                st.apply_chunk(st.chunk_queue.popleft())
            else:
                st.chunk_queue = None
            return
        self._finish(it, out.request_id, st, out.finish_reason)

    def _finish(self, it, req_id, st, reason) -> None:
        before = len(it.finished_requests)
        _call(it.update_from_finished_request, finish_reason=reason, request_id=req_id,
              num_prompt_tokens=st.prompt_len, max_tokens_param=st.max_tokens, req_stats=st.stats,
              num_cached_tokens=0)
        st.finished = it.finished_requests[before] if len(it.finished_requests) > before else None
        st.finish_reason = str(reason)

    # ---- output -------------------------------------------------------------------------
    def request_records(self) -> list[dict]:
        out = []
        for st in self.order:
            s = st.stats
            f = st.finished
            rec = {
                "type": "request",
                "req": st.req_id,
                "arrival_time": st.arrival_time,
                "queued_ts": s.queued_ts,
                "scheduled_ts": s.scheduled_ts,
                "first_token_ts": s.first_token_ts,
                "last_token_ts": s.last_token_ts,
                "queued_time": f.queued_time if f else None,
                "prefill_time": f.prefill_time if f else None,
                "decode_time": f.decode_time if f else None,
                "inference_time": f.inference_time if f else None,
                "mean_time_per_output_token": f.mean_time_per_output_token if f else None,
                "num_generation_tokens": s.num_generation_tokens,
                "num_preemptions": sum(1 for name, _ in st.events if name == "PREEMPTED"),
                "finish_reason": st.finish_reason,
                "events": st.events,
            }
            if st.instance:  # only for a reused id, so oracles without reuse keep their bytes
                rec["instance"] = st.instance
            if st.session:  # likewise only for sessions
                rec["turn_ends"] = st.turn_ends
                rec["turn_first_token_ts"] = st.turn_first_token_ts
            out.append(rec)
        return out

    def write(self, meta: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a .gz path is written gzipped (mtime 0: byte-reproducible), e.g. for ids of a megabyte
        raw = open(self.path, "wb")
        f = io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if self.path.suffix == ".gz" else raw, encoding="utf-8")
        with raw, f:
            for rec in [meta, *self.steps, *self.request_records()]:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")


class NoOracle:
    """Stands in for the Oracle when none is written (``--no-oracle``; vsched simulate): it keeps
    only the oracle's reads of the clock. Under the virtual clock every read ticks it (clock.py),
    and the oracle reads it through vLLM's ``IterationStats()`` (``time.time()``) once per
    EngineCoreOutputs it processes and once per request it aborts; taking the same reads at the
    same points keeps the trace byte-identical with and without the oracle
    (tests/test_no_oracle.py), so dropping it changes no timestamp."""

    def __init__(self, sched):
        self.sched = sched

    def add_request(self, *args, **kwargs) -> None:
        pass

    def watch_preemptions(self, sched, current_step) -> bool:
        return False

    @staticmethod
    def snapshot(sched) -> None:
        return None

    def on_update(self, step: int, snap, engine_core_outputs: dict) -> None:
        for _ in engine_core_outputs:
            time.time()

    def on_abort(self, req_id: str, pending_events: list) -> None:
        time.time()  # the driver aborts only live requests, which the oracle has not finished

    def on_chunk(self, req_id: str, arrival_time: float | None, pending_events: list) -> None:
        """Closing a session that waits for input is an abort to the oracle (Oracle.on_chunk)."""
        r = self.sched.requests.get(req_id)
        if arrival_time is None and r is not None and r.status.name == "WAITING_FOR_STREAMING_REQ":
            time.time()


def _take_order(sched) -> list[str]:
    """vLLM >= 0.34 with async_kv_waiting: the order schedule() takes waiting and
    async_kv_waiting in, by vLLM's own Scheduler._next_waiting_queue on copies of both."""
    from types import SimpleNamespace

    from vllm.v1.core.sched.request_queue import create_request_queue

    copies = SimpleNamespace(policy=sched.policy, waiting=create_request_queue(sched.policy),
                             async_kv_waiting=create_request_queue(sched.policy))
    for name in ("waiting", "async_kv_waiting"):
        for r in getattr(sched, name):
            getattr(copies, name).add_request(r)
    order = []
    while copies.waiting or copies.async_kv_waiting:
        order.append(type(sched)._next_waiting_queue(copies, True).pop_request().request_id)
    return order
