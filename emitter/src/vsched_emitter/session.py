"""One recording session per Scheduler instance.

The hooks (hooks.py) call into a Session around vLLM's own methods. Everything here runs
on the scheduler thread, so it only reads vLLM state (never drains: no make_stats,
take_events, make_prefix_cache_stats, kv_cache_manager.take_events), builds tuples and
hands them to the writer thread. Per-step cost is O(#scheduled + #preempted + #popped),
plus one pass over the waiting queue at level full for the order check.

The session records what vLLM did; why the others waited (skip and stop causes, the
waiting order, the prefix-cache probe) is inferred in why_waited.py.

Times: every ``t`` is ``time.monotonic_ns() - anchor``; vLLM's float monotonic seconds
(event and output timestamps) become ``round(x * 1e9) - anchor``.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from itertools import chain, compress, repeat
from operator import attrgetter, is_not, ne
from pathlib import Path

from . import capabilities, gpu_stats, gpu_time, host_cpu, interned, kv_connector
from .env import Settings
from .patches import InstancePatches
from .records import OMIT, ComputedFromOutput, Deferred, StepValues, UpdateValues, computed_list, finite_or_none
from .waiting_queues import WaitingQueues
from .why_waited import WhyWaited
from .writer import Writer

logger = logging.getLogger("vsched_emitter")

# RequestStatus name -> trace finish reason (schema FinishReason).
FINISH_REASONS = {
    "FINISHED_STOPPED": "stop",
    "FINISHED_LENGTH_CAPPED": "length",
    "FINISHED_ABORTED": "abort",
    "FINISHED_ERROR": "error",
    "FINISHED_IGNORED": "ignored",
    "FINISHED_REPETITION": "repetition",
}
_NUM_COMPUTED = attrgetter("num_computed_tokens")
_FINISH_REASON = attrgetter("finish_reason")

_path_lock = threading.Lock()
_path_seq: dict[tuple[str, int], int] = {}


def trace_path(log_dir: Path, rank: int, use_gzip: bool, pid: int | None = None) -> Path:
    """vsched-<pid>-dp<rank>.jsonl; a second scheduler in the same process and directory
    gets a -<n> suffix instead of overwriting the first one's trace."""
    log_dir.mkdir(parents=True, exist_ok=True)
    key = (str(log_dir.resolve()), rank)
    with _path_lock:
        n = _path_seq.get(key, 0) + 1
        _path_seq[key] = n
    suffix = "" if n == 1 else f"-{n}"
    if pid is None:
        pid = os.getpid()
    return log_dir / f"vsched-{pid}-dp{rank}{suffix}.jsonl{'.gz' if use_gzip else ''}"


def _in_order(nst, ids):
    """The keys of ``nst`` that are in ``ids``, in ``nst``'s order. vLLM schedules running
    requests first, so requests just admitted are at the end: scan from there and stop
    once all are found (the whole dict only when they are not where expected)."""
    want = len(ids)
    found = []
    for rid in reversed(nst):
        if rid in ids:
            found.append(rid)
            if len(found) == want:
                break
    found.reverse()
    return found


def _step_values(nst, computed, values: StepValues) -> StepValues:
    """Writer thread: fill in ``sched`` = [[id, scheduled, computed before], ...]."""
    # tuples: cheaper to build and to encode than lists, and the same JSON arrays
    computed = computed_list(nst, computed)
    sched_list = [(rid, n, (c - n) if c is not None else 0) for (rid, n), c in zip(nst.items(), computed)]
    return values._replace(sched=sched_list)


def _update_values(outputs, values: UpdateValues) -> UpdateValues:
    """Writer thread: fill in ``tokens`` = [[id, new tokens], ...] from the EngineCoreOutputs."""
    tokens = [(o.request_id, n) for outs in outputs for o in outs if (n := len(o.new_token_ids))]
    return values._replace(tokens=tokens)


class Session:
    def __init__(self, sched, settings: Settings, patched: frozenset):
        from vllm.v1.engine import EngineCoreEventType
        from vllm.v1.request import RequestStatus

        self.enabled = False
        self.closed = False
        self._failed = False
        self.gpu_sampler = None
        self.cpu = None
        self.gpu_timer = None
        self.kv = None
        self.full = settings.level == "full"
        # Clock anchor: sampled back to back.
        epoch_ns = time.time_ns()
        self.anchor = time.monotonic_ns()

        self.RUNNING = RequestStatus.RUNNING
        self.PREEMPTED = RequestStatus.PREEMPTED
        self.EV_QUEUED = EngineCoreEventType.QUEUED
        self.EV_SCHEDULED = EngineCoreEventType.SCHEDULED
        self.EV_PREEMPTED = EngineCoreEventType.PREEMPTED

        self.log_stats = bool(getattr(sched, "log_stats", False))
        self.policy = capabilities.policy_name(sched)
        self.preempt_hooked = "_preempt_request" in patched
        self.queues = WaitingQueues(sched, self.policy)
        self.has_pause = hasattr(type(sched), "pause_state")
        self.session_hook = "_update_request_as_session" in patched
        self.why = WhyWaited(sched, settings, self.queues, policy=self.policy, session_hook=self.session_hook)
        self.block_map = capabilities.block_map(sched) if self.full else None
        lora_config = getattr(sched, "lora_config", None)
        self.max_loras = int(lora_config.max_loras) if lora_config is not None else None
        self.max_active = self.why.max_active

        self.header = capabilities.header(sched, level=settings.level, anchor_epoch_ns=epoch_ns,
                                          anchor_mono_ns=self.anchor, patched=patched, pid=settings.pid)
        encoder = None
        if settings.format == "interned":
            encoder = interned.Encoder()
            self.header["schema_version"] = interned.SCHEMA_VERSION
        self.path = trace_path(settings.log_dir, self.header["dp_rank"], settings.gzip, self.header["pid"])
        self.writer = Writer(self.path, use_gzip=settings.gzip, flush_steps=settings.flush_steps,
                             flush_seconds=settings.flush_seconds, max_buffered=settings.max_buffered,
                             encoder=encoder, console_seconds=settings.console_seconds)
        # NVML sampling on a thread of its own (gpu_stats.py); decided before the header is written
        self.gpu_sampler = gpu_stats.prepare(getattr(settings, "gpu_stats_ms", 0), self.header)
        # the scheduler thread's CPU time and run-queue wait per step (host_cpu.py)
        self.cpu = host_cpu.prepare(getattr(settings, "cpu_stats", False), self.header)
        self._cpu = OMIT
        # each step's GPU time from CUDA events around the model runner (gpu_time.py)
        self.gpu_timer = gpu_time.prepare(getattr(settings, "gpu_time", False), sched, self.header)
        # KV connector loads/stores (kv_connector.py): where vLLM built a connector
        self.kv = kv_connector.attach(self, sched)
        if self.kv is not None:
            self.header["capabilities"]["kv_connector_transfers"] = True
            self.header["capabilities"]["kv_connector_jobs"] = self.kv.jobs is not None
            gpu_stats.declare_minor(self.header, kv_connector.KV_SCHEMA_VERSION)
        self.writer.put("header", self.header)

        self.step_no = 0
        self.out_steps: dict[int, tuple[int, object]] = {}  # id(SchedulerOutput) -> (step, output)
        self.running_ids: set[str] = set()       # in vLLM's running list, as far as we know
        self.preempted_ids: set[str] = set()     # preempted and not yet resumed
        self.resumable_ids: set[str] = set()     # live streaming-input sessions (vLLM >= 0.33)
        self.outside_preempted: list[str] = []   # preempted between schedule() calls
        self.step_preempted: list[str] = []      # preempted inside the current schedule()
        self.blocks: dict[str, int] = {}         # last block count written per request
        self.scores: dict[str, tuple] = {}
        self.track_scores = False
        # prediction_history (seed 003's fork): entries already written, per live request
        self.predictions_seen: dict[str, int] = {}
        self.track_predictions = False
        # per-call scratch
        self.in_schedule = False
        self.in_update = False
        self.update_finished: list = []
        self.finish_from: dict[str, str] = {}
        self._patches = InstancePatches()
        self._kv_fail: list = []
        self._popped: list = []
        self._t_start = 0
        # allocate_slots is wrapped only in steps where an allocation could fail (see
        # _alloc_may_fail); these are the per-scheduler parts of that bound.
        kvc = getattr(sched, "kv_cache_config", None)
        groups = getattr(kvc, "kv_cache_groups", None)
        bs = int(getattr(sched, "block_size", 0) or 0)
        self.always_wrap_alloc = (
            groups is None or bs <= 0 or getattr(sched, "connector", None) is not None
            or bool(getattr(sched, "is_encoder_decoder", False))
            or not isinstance(getattr(sched, "max_num_scheduled_tokens", None), int)
        )
        if not self.always_wrap_alloc:
            look = int(getattr(sched, "num_lookahead_tokens", 0) or 0) + int(getattr(sched, "num_spec_tokens", 0) or 0)
            max_len = int(getattr(sched, "max_model_len", 0) or sched.scheduler_config.max_model_len)
            self.alloc_groups = max(1, len(groups))
            self.alloc_budget = sched.max_num_scheduled_tokens // bs + 1
            self.alloc_per_running = look // bs + 3
            self.alloc_per_admitted = (max_len + look) // bs + 3
        self.enabled = True
        if self.gpu_sampler is not None:
            self.gpu_sampler.start(self.writer.put, self.now)

    # ---- helpers -----------------------------------------------------------------
    def now(self) -> int:
        return time.monotonic_ns() - self.anchor

    def rel(self, seconds: float) -> int:
        return round(seconds * 1e9) - self.anchor

    def emit(self, kind: str, values) -> None:
        self.writer.put(kind, values, self.now)

    def _cpu_sample(self) -> None:
        """step.cpu of the step being scheduled; a read that fails stops these reads alone
        (the steps after it have no ``cpu``), never the trace."""
        try:
            self._cpu = self.cpu.sample()
        except Exception as e:
            self._cpu = OMIT
            cpu, self.cpu = self.cpu, None
            cpu.close()
            logger.warning("vsched: CPU stats stopped: %r", e)

    def _gpu_time(self, scheduler_output):
        """update.gpu of this step: [span_ns, gap_ns, host_ns], null for a step that ran no model,
        absent when not captured (gpu_time.py)."""
        if self.gpu_timer is None:
            return OMIT
        try:
            return self.gpu_timer.take(scheduler_output)
        except Exception as e:  # a failed event query stops the timing alone
            gpu_time.stop(e)
            return None

    def fail(self, where: str, exc: BaseException) -> None:
        """A hook failed: log once, write emitter_error once, stop recording."""
        self.enabled = False
        if self._failed:
            return
        self._failed = True
        try:
            logger.warning("vsched: %s hook failed, emitter disabled for this scheduler: %r", where, exc,
                           exc_info=exc)
            self.writer.put("emitter_error", (self.now(), where, f"{type(exc).__name__}: {exc}"[:2000]))
        except Exception:
            pass

    def waiting_count(self, sched) -> int:
        return self.queues.count(sched)

    def _blocks_of(self, rid: str) -> int:
        return len(self.block_map.get(rid, ()))

    # ---- add_request -----------------------------------------------------------------
    def _queued_t(self, request) -> int:
        """vLLM's latest QUEUED stamp of the request when it keeps events, else now."""
        if self.log_stats:
            for ev in reversed(request.events):
                if ev.type == self.EV_QUEUED:
                    return self.rel(ev.timestamp)
        return self.now()

    def on_arrival(self, sched, request) -> None:
        rid = request.request_id
        t = self._queued_t(request)
        arrival = getattr(request, "arrival_time", None)
        lora = request.lora_request
        score = pred = OMIT
        if hasattr(request, "priority_score") or hasattr(request, "predicted_remaining_tokens"):
            self.track_scores = True
            score = finite_or_none(getattr(request, "priority_score", None))
            pred = finite_or_none(getattr(request, "predicted_remaining_tokens", None))
            self.scores[rid] = (score, pred)
        if hasattr(request, "prediction_history"):
            self.track_predictions = True
        self.emit("arrival", (
            t, rid, None if arrival is None else str(round(arrival * 1e9)),
            int(request.num_prompt_tokens), getattr(request, "max_tokens", None), int(request.priority),
            lora.lora_int_id if lora is not None else None, request.status.name, score, pred,
        ))
        self.why.arrived(request)
        if getattr(request, "resumable", False):
            self.resumable_ids.add(rid)
        if self.track_predictions:
            self._predictions((request,))

    def on_next_chunk(self, request) -> None:
        """_update_request_as_session returned: a session's next input chunk commenced (vLLM
        extended its prompt, took the chunk's arrival_time and recorded QUEUED again)."""
        t = self._queued_t(request)
        arrival = getattr(request, "arrival_time", None)
        if not self.in_update:
            self.why.chunk_commenced(request.request_id)
        # inside update_from_output() (the chunk had come while the turn ran): stamped with the
        # update's start, as that update's other records are, so record times never go back
        self.emit("chunk", (
            self._t_start if self.in_update else t, t, request.request_id, None if arrival is None else str(round(arrival * 1e9)),
            int(request.num_prompt_tokens), getattr(request, "max_tokens", None),
            int(request.num_computed_tokens),
        ))

    # ---- schedule ----------------------------------------------------------------------
    def _patch(self, obj, name, fn) -> None:
        self._patches.patch(obj, name, fn)

    def restore(self) -> None:
        self._patches.restore()
        self.in_schedule = False

    def before_schedule(self, sched) -> None:
        self._t_start = self.now()
        if self.cpu is not None:
            self._cpu_sample()
        self.in_schedule = True
        if self.track_predictions:  # made between steps (the harness re-predicts after updates)
            self._predictions(sched.running, self._t_start)
            for q in self.queues.objects(sched):
                self._predictions(q, self._t_start)
        kv_fail = self._kv_fail = []
        kvm = sched.kv_cache_manager
        if self.always_wrap_alloc or self._alloc_may_fail(sched, kvm):
            alloc = kvm.allocate_slots
            running = self.RUNNING

            def allocate_slots(request, *args, **kwargs):
                blocks = alloc(request, *args, **kwargs)
                if blocks is None:
                    kv_fail.append([request.request_id, "running" if request.status == running else "waiting"])
                return blocks

            self._patch(kvm, "allocate_slots", allocate_slots)

        if not self.preempt_hooked:
            # Without _preempt_request (v0.11), preemption is inline in schedule() and ends
            # with waiting.prepend_request(victim) after status = PREEMPTED.
            waiting = sched.waiting
            prepend = waiting.prepend_request
            step_preempted = self.step_preempted
            preempted_status = self.PREEMPTED

            def prepend_request(request):
                prepend(request)
                if request.status == preempted_status:
                    step_preempted.append(request.request_id)

            self._patch(waiting, "prepend_request", prepend_request)

        if self.full:
            popped = self._popped = []
            max_loras = self.max_loras
            for q in self.queues.objects(sched):
                self._patch(q, "pop_request", self._make_pop(q.pop_request, popped, sched, max_loras))
            if self.why.cache_aware:  # vLLM 0.34: reorders the queue head before admitting
                self._patch(sched, "_reorder_waiting_by_cached_prefix",
                            self.why.watch_reorder(sched, sched._reorder_waiting_by_cached_prefix))

    def _alloc_may_fail(self, sched, kvm) -> bool:
        """False only when this step cannot run out of KV blocks: twice a bound on the blocks
        all allocate_slots calls of one schedule() can take from the pool. A running request
        takes at most ceil((scheduled + lookahead) / block_size) + 1 blocks (the scheduled
        tokens of all of them share the token budget); an admitted one at most its whole
        length (prefix-cache hits on evictable blocks count too); per KV cache group."""
        running = len(sched.running)
        waiting = self.queues.length(sched)
        admitted = min(waiting, max(self.max_active - running, 0) + 1)
        need = (self.alloc_budget + running * self.alloc_per_running + admitted * self.alloc_per_admitted)
        return 2 * need * self.alloc_groups + 64 >= kvm.block_pool.get_num_free_blocks()

    def _make_pop(self, pop, popped, sched, max_loras):
        if max_loras is None:
            def pop_request():
                r = pop()
                popped.append((r, r.status, False))
                return r
            return pop_request

        def pop_request():
            r = pop()
            lr = r.lora_request
            blocked = False
            if lr is not None and lr.lora_int_id > 0:
                ids = {x.lora_request.lora_int_id for x in sched.running
                       if x.lora_request is not None and x.lora_request.lora_int_id > 0}
                blocked = len(ids) >= max_loras and lr.lora_int_id not in ids
            popped.append((r, r.status, blocked))
            return r
        return pop_request

    def on_preempt(self, request) -> None:
        rid = request.request_id
        if self.in_schedule:
            self.step_preempted.append(rid)
        else:
            self.outside_preempted.append(rid)
            self.running_ids.discard(rid)
            self.preempted_ids.add(rid)

    def after_schedule(self, sched, out) -> None:
        t_end = self.now()
        step = self.step_no
        self.step_no += 1
        out_steps = self.out_steps
        out_steps[id(out)] = (step, out)
        if len(out_steps) > 64:  # outputs that never reached update_from_output
            for key in list(out_steps)[: len(out_steps) - 64]:
                del out_steps[key]

        reqs = sched.requests
        nst = out.num_scheduled_tokens
        if ComputedFromOutput.applies(out, nst):  # read on the writer thread (records.py)
            computed = ComputedFromOutput(out)
        else:
            try:  # C speed; the writer thread pairs these with nst (which does not change)
                computed = list(map(_NUM_COMPUTED, map(reqs.__getitem__, nst)))
            except (KeyError, AttributeError):
                computed = [(r.num_computed_tokens if r is not None else None) for r in map(reqs.get, nst)]
        admitted, new, resumed = self._admissions(reqs, nst)
        in_step = self.step_preempted
        self.step_preempted = []
        for rid in in_step:
            self.running_ids.discard(rid)
            self.preempted_ids.add(rid)
        preempted = self.outside_preempted + in_step if self.outside_preempted else in_step
        self.outside_preempted = []
        sched_t = self._sched_t(reqs, new, resumed, in_step) if self.log_stats else None

        kv_fail = self._kv_fail
        self._kv_fail = []
        budget_left = int(sched.max_num_scheduled_tokens - out.total_num_scheduled_tokens)
        paused = OMIT
        if self.has_pause:
            state = sched.pause_state
            if state.name != "UNPAUSED":
                paused = state.name
        stop = skipped = blocks = order = probe = reorder = OMIT
        if self.full:
            why = self.why
            popped = self._popped
            self._popped = []
            loop_ran = not in_step and paused is OMIT
            skipped, skipped_ids = why.skipped(sched, popped, admitted, loop_ran)
            stop = why.stop(sched, in_step, paused, kv_fail, skipped_ids, budget_left)
            blocks = self._block_changes(nst, preempted)
            order = why.order_of_step(sched, preempted, admitted)
            probe = why.probe(sched)
            reorder = why.take_reorder()

        self.emit("step", Deferred(_step_values, nst, computed, StepValues(
            step=step, t_start=self._t_start, t_end=t_end, sched_t=sched_t, sched=None,
            new=new, resumed=resumed, preempted=preempted, kv_fail=kv_fail,
            free_blocks=sched.kv_cache_manager.block_pool.get_num_free_blocks(),
            running=len(sched.running), waiting=self.waiting_count(sched), budget_left=budget_left,
            paused=paused, stop=stop, skipped=skipped, blocks=blocks, order=order, probe=probe,
            reorder=reorder, cpu=self._cpu,
        )))
        if self.track_scores:
            self._scores(reqs, out.num_scheduled_tokens)
        if self.track_predictions:  # made inside schedule() (a fork's initial prediction)
            self._predictions(map(reqs.get, out.num_scheduled_tokens))
        if self.kv is not None:
            self.kv.flush()

    def _admissions(self, reqs, nst):
        """(ids admitted or resumed this step, new [[id, computed before]], resumed [...]):
        the scheduled requests that were not running, in schedule order."""
        running_ids = self.running_ids
        preempted_ids = self.preempted_ids
        new = []
        resumed = []
        admitted = nst.keys() - running_ids
        if admitted:
            running_ids |= admitted
            for rid in _in_order(nst, admitted):
                r = reqs.get(rid)
                before = (r.num_computed_tokens - nst[rid]) if r is not None else 0
                if rid in preempted_ids:
                    preempted_ids.discard(rid)
                    resumed.append([rid, before])
                else:
                    new.append([rid, before])
        return admitted, new, resumed

    def _sched_t(self, reqs, new, resumed, in_step):
        """vLLM's own SCHEDULED/PREEMPTED stamp of the step (the first one found), or None."""
        for rid, ev_type in chain(((x[0], self.EV_SCHEDULED) for x in chain(new, resumed)),
                                  ((rid, self.EV_PREEMPTED) for rid in in_step)):
            r = reqs.get(rid)
            if r is not None and r.events and r.events[-1].type == ev_type:
                return self.rel(r.events[-1].timestamp)
        return None

    def _block_changes(self, nst, preempted) -> list:
        """[[id, blocks held], ...] for scheduled and preempted requests whose count changed."""
        blocks = []
        if self.block_map is None:
            return blocks
        last = self.blocks
        bm = self.block_map
        counts = list(map(len, map(bm.get, nst, repeat(()))))
        changed = list(compress(zip(nst, counts), map(ne, counts, map(last.get, nst, repeat(0)))))
        if changed:
            last.update(changed)
            blocks.extend(map(list, changed))
        for rid in preempted:
            c = self._blocks_of(rid)
            if last.get(rid, 0) != c:
                last[rid] = c
                blocks.append([rid, c])
        return blocks

    def _scores(self, reqs, ids) -> None:
        scores = self.scores
        for rid in ids:
            r = reqs.get(rid)
            if r is None:
                continue
            cur = (finite_or_none(getattr(r, "priority_score", None)),
                   finite_or_none(getattr(r, "predicted_remaining_tokens", None)))
            if scores.get(rid) != cur:
                scores[rid] = cur
                self.emit("score", (self.now(), rid, cur[0], cur[1]))

    def _predictions(self, requests, t=None) -> None:
        """One ``prediction`` record per new entry of ``Request.prediction_history``, a list
        of (output tokens at prediction, predicted remaining tokens) as seed 003's fork keeps
        it. ``t`` is when the emitter saw it: the hook boundary after it was made."""
        seen = self.predictions_seen
        for r in requests:
            hist = getattr(r, "prediction_history", None) if r is not None else None
            if not hist:
                continue
            rid = r.request_id
            k = seen.get(rid, 0)
            n = len(hist)
            if n <= k:
                continue
            seen[rid] = n
            at_t = self.now() if t is None else t
            for entry in hist[k:]:
                try:
                    at, pred = entry[0], entry[1]
                    at = int(at)
                except (TypeError, ValueError, IndexError):
                    at, pred = int(r.num_output_tokens), entry
                self.emit("prediction", (at_t, rid, max(at, 0), finite_or_none(pred)))

    # ---- update_from_output ---------------------------------------------------------
    def before_update(self) -> None:
        self._t_start = self.now()
        self.in_update = True
        self.update_finished = []

    def after_update(self, sched, scheduler_output, result) -> None:
        t_end = self.now()
        self.in_update = False
        entry = self.out_steps.pop(id(scheduler_output), None)
        step = entry[0] if entry is not None and entry[1] is scheduler_output else max(self.step_no - 1, 0)
        outputs = []  # EngineCoreOutput lists: not changed after update_from_output
        out_t = None
        ts_min = None
        turn_ends = None  # a list once a session's turn ends here (schema 1.2)
        if result:
            running_ids = self.running_ids
            for eco in result.values():
                ts = getattr(eco, "timestamp", None)
                if ts is not None and (ts_min is None or ts < ts_min):
                    ts_min = ts
                outs = eco.outputs
                outputs.append(outs)
                if not self.resumable_ids:
                    continue  # only a streaming-input session ends a turn without being freed
                for o in compress(outs, map(is_not, map(_FINISH_REASON, outs), repeat(None))):
                    # A resumable (streaming-input) request "finishes" a turn without being
                    # freed: it is back in the waiting queue for its next input chunk.
                    r = sched.requests.get(o.request_id)
                    if r is not None and not r.is_finished():
                        running_ids.discard(o.request_id)
                        if self.session_hook:
                            turn_ends = turn_ends or []
                            turn_ends.append((o.request_id, str(o.finish_reason)))
        if ts_min is not None:
            out_t = self.rel(ts_min)
        finished = self.update_finished
        self.update_finished = []
        blocks = OMIT
        if self.full:
            blocks = []
            for rid, _reason, _n in finished:
                if self.blocks.pop(rid, 0) != 0:
                    blocks.append([rid, 0])
        self.emit("update", Deferred(_update_values, outputs, UpdateValues(
            step=step, t_start=self._t_start, t_end=t_end, out_t=out_t, tokens=None, finished=finished,
            free_blocks=sched.kv_cache_manager.block_pool.get_num_free_blocks(),
            running=len(sched.running), waiting=self.waiting_count(sched), blocks=blocks,
            turn_ends=turn_ends or OMIT, gpu=self._gpu_time(scheduler_output),
        )))
        if self.track_scores:
            self._scores(sched.requests, scheduler_output.num_scheduled_tokens)
        if self.track_predictions:  # made inside update_from_output() (the fork's re-prediction)
            self._predictions(map(sched.requests.get, scheduler_output.num_scheduled_tokens))
        if self.kv is not None:
            self.kv.flush()

    # ---- finishing ---------------------------------------------------------------------
    def before_finish(self, sched, request_ids) -> None:
        reqs = sched.requests
        if request_ids is None:
            ids = list(reqs)
        elif isinstance(request_ids, str):
            ids = (request_ids,)
        else:
            ids = request_ids
        running = self.RUNNING
        for rid in ids:
            r = reqs.get(rid)
            if r is not None:
                self.finish_from[rid] = "running" if r.status == running else "waiting"

    def after_finish(self) -> None:
        self.finish_from.clear()

    def on_free(self, request) -> None:
        rid = request.request_id
        reason = FINISH_REASONS.get(request.status.name, "error")
        n_out = int(request.num_output_tokens)
        if self.in_update:
            self.update_finished.append([rid, reason, n_out])
        else:
            src = self.finish_from.get(rid)
            if src is None:
                src = "running" if rid in self.running_ids else "waiting"
            self.emit("finish", (self.now(), rid, reason, n_out, src))
            self.blocks.pop(rid, None)
        self.running_ids.discard(rid)
        self.preempted_ids.discard(rid)
        self.why.left(rid)
        self.resumable_ids.discard(rid)
        self.scores.pop(rid, None)
        if self.track_predictions:  # inside update_from_output: stamped at its start, as its update record
            self._predictions((request,), self._t_start if self.in_update else None)
            self.predictions_seen.pop(rid, None)

    # ---- shutdown ----------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.enabled = False
        if self.gpu_sampler is not None:
            self.gpu_sampler.stop()
        if self.cpu is not None:
            self.cpu.close()
            self.cpu = None
        if self.kv is not None:
            self.kv.restore()
        try:
            self.writer.close((self.now(), self.step_no, self.writer.buffer_dropped))
        except Exception as e:
            logger.warning("vsched: closing %s failed: %r", self.path, e)
