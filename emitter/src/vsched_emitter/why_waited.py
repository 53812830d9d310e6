"""Why waiting requests waited: what the session infers from vLLM's state after schedule().

The session (session.py) records what vLLM did; this reads vLLM's queues and config to
say why the rest waited: the cause of each request popped and put back (``skipped``), why
the admission loop stopped (``stop``), the waiting order where it departs from the
documented rule (``order``), the prefix-cache hit of the first waiting requests
(``probe``), and the queue head as vLLM 0.34's cache-aware admission reordered it
(``reorder``). Scheduler thread only; reads, never mutates vLLM state.
"""
from __future__ import annotations

from itertools import islice
from operator import attrgetter

from . import capabilities, waiting_probe
from .waiting_probe import hit_limit as _hit_limit  # noqa: F401 (vLLM 0.34 tests)
from .order_rule import expected_order
from .records import OMIT

_REQUEST_ID = attrgetter("request_id")
GRAMMAR_WAIT = frozenset({"WAITING_FOR_FSM", "WAITING_FOR_STRUCTURED_OUTPUT_GRAMMAR"})


class WhyWaited:
    def __init__(self, sched, settings, queues, *, policy: str, session_hook: bool):
        full = settings.level == "full"
        self.queues = queues
        self.chunked = capabilities.chunked_prefill(sched)
        self.max_active = int(getattr(sched, "max_num_active_reqs", None) or sched.max_num_running_reqs)
        self.long_prefill = int(getattr(sched.scheduler_config, "long_prefill_token_threshold", 0) or 0)
        self.has_streaming_count = hasattr(sched, "num_waiting_for_streaming_input")
        self.waiting_probe = waiting_probe.setup(sched, settings)
        # vLLM 0.34 --max-num-inflight-kv-loads: async KV loads past the cap wait in their queue
        self.load_capped = None
        if getattr(sched.scheduler_config, "max_num_inflight_kv_loads", None) and \
                getattr(sched, "connector", None) is not None and queues.has_async_kv:
            self.load_capped = getattr(sched, "_admits_inflight_kv_load", None)
        # vLLM 0.34 cache-aware admission (FCFS + prefix caching + a window): the head is
        # reordered by cached prefix before the admission loop
        self.cache_aware = full and bool(getattr(sched, "cache_aware_window", 0)) and \
            hasattr(sched, "_reorder_waiting_by_cached_prefix")
        self.reordered = OMIT
        # FCFS-like policies: the order is written only where it departs from the rule
        self.write_order = full and policy != "priority"
        self.order: list = []                    # waiting queue (Request objects) as of the last step record
        self.order_ids: set[str] = set()         # their ids (exact while not order_dups)
        self.order_dups = False                  # an id twice in order: no fast path
        self.arrivals_since: list = []           # Request objects added since the last step record
        self.finished_since: set[str] = set()
        # priority: a chunk that commences while its session waits in a heap changes that
        # entry's arrival_time in place, so the heap pops in an order no sort gives; until it
        # has left, the step records carry the true order (``order``) when it differs
        self.track_stale_heap = full and policy == "priority" and session_hook
        self.stale_heap_ids: set[str] = set()

    # ---- what the order check needs to know between steps ----------------------------
    def arrived(self, request) -> None:
        if self.write_order:
            self.arrivals_since.append(request)

    def left(self, rid: str) -> None:
        if self.write_order:
            self.finished_since.add(rid)

    def chunk_commenced(self, rid: str) -> None:
        """A session's next chunk took a new arrival_time while the session was queued."""
        if self.track_stale_heap:
            self.stale_heap_ids.add(rid)

    # ---- skipped: popped and put back ------------------------------------------------
    def skipped(self, sched, popped, admitted, loop_ran: bool = True):
        """([[id, cause], ...], their ids) for requests popped this step and not admitted,
        then (the admission loop ran and the in-flight KV-load cap is reached) every
        request left in async_kv_waiting: none of them can start its load this step."""
        skipped = []
        ids = set()
        for r, status, lora_blocked in popped:
            rid = r.request_id
            if rid in admitted or rid in ids:
                continue
            ids.add(rid)
            skipped.append([rid, self._skip_cause(sched, r, status.name, lora_blocked)])
        if loop_ran and self.load_capped is not None and sched.async_kv_waiting and not self.load_capped():
            for r in sched.async_kv_waiting:
                rid = r.request_id
                if rid not in ids:
                    ids.add(rid)
                    skipped.append([rid, "kv_load_cap"])
        return skipped, ids

    def _skip_cause(self, sched, r, at_pop: str, lora_blocked: bool) -> str:
        if at_pop in GRAMMAR_WAIT:
            return "grammar_compiling"
        if at_pop == "WAITING_FOR_REMOTE_KVS" or r.status.name == "WAITING_FOR_REMOTE_KVS":
            return "remote_kv_transfer"
        if at_pop == "WAITING_FOR_STREAMING_REQ":
            return "streaming_input"
        if getattr(r, "num_stale_output_tokens", 0) and not getattr(r, "drop_stale_output", True):
            return "other"  # async: output of a preempted step still in flight
        if lora_blocked:
            return "lora_slots"
        if getattr(sched, "connector", None) is not None:
            return "kv_connector_pending"
        if not self.chunked:
            return "prompt_exceeds_budget"
        if getattr(r, "has_encoder_inputs", False):
            return "encoder_budget"
        return "other"

    # ---- stop: why the admission loop ended ------------------------------------------
    def stop(self, sched, in_step, paused, kv_fail, skipped_ids, budget_left) -> dict:
        if in_step:
            return {"cause": "preemption", "req": None}
        if paused is not OMIT:
            return {"cause": "paused", "req": None}
        for rid, phase in kv_fail:
            if phase == "waiting":  # a failed waiting allocation always ends the loop
                return {"cause": "kv_full", "req": rid}
        if self.queues.length(sched) <= len(skipped_ids):
            return {"cause": "empty", "req": None}
        if budget_left <= 0:
            return {"cause": "token_budget", "req": None}
        running = len(sched.running)
        if self.has_streaming_count:
            running += sched.num_waiting_for_streaming_input
        if running >= self.max_active:
            return {"cause": "max_num_seqs", "req": None}
        head = None
        for r in self.queues.iterate(sched):
            if r.request_id not in skipped_ids:
                head = r
                break
        if head is None:
            return {"cause": "empty", "req": None}
        if self.load_capped is not None and not self.load_capped() and sched.connector.may_load_async(head):
            return {"cause": "kv_load_cap", "req": head.request_id}
        if not self.chunked:
            need = head.num_tokens - head.num_computed_tokens
            if 0 < self.long_prefill < need:
                need = self.long_prefill
            if need > budget_left:
                return {"cause": "prompt_exceeds_budget", "req": head.request_id}
        if getattr(head, "has_encoder_inputs", False):
            return {"cause": "encoder_budget", "req": head.request_id}
        return {"cause": "other", "req": head.request_id}

    # ---- order: the waiting queue where it departs from the rule ------------------------
    def order_of_step(self, sched, preempted, admitted):
        """The step's ``order`` value (OMIT when the CLI's rule gives the queue); consumes
        the arrivals and departures noted since the last step."""
        if self.write_order:
            order = self._order_check(sched, preempted, admitted)
            self.arrivals_since = []
            self.finished_since = set()
            return order
        if self.stale_heap_ids:
            return self._heap_order_check(sched)
        return OMIT

    def _heap_order_check(self, sched):
        """Priority policy with a mutated heap entry: the pop order (iterating vLLM's
        PriorityRequestQueue pops a copy), or OMIT when it equals the sort the CLI assumes.
        Tracking stops once no mutated entry is queued and the two agree again."""
        queues = self.queues
        actual = list(map(_REQUEST_ID, queues.requests(sched)))
        sortable = all(hasattr(q, "_heap") for q in queues.objects(sched))
        expected = list(map(_REQUEST_ID, queues.requests(sched, sorted_heaps=True))) if sortable else actual
        if actual == expected:
            if self.stale_heap_ids.isdisjoint(actual):
                self.stale_heap_ids.clear()
            return OMIT
        return actual

    def _order_check(self, sched, preempted, admitted):
        """The waiting order, or OMIT when it equals the documented expectation:
        [preempted this step, reversed] + ([previous order + arrivals since, in order]
        minus requests admitted/resumed this step and requests finished since).

        Fast path (C-speed list copies and identity comparisons of Request objects): the
        queue is the preempted requests followed by the previous order + arrivals with only
        removed requests dropped from its head. Anything else takes the exact id comparison."""
        objs = self.queues.requests(sched)
        arrivals = self.arrivals_since
        base = self.order + arrivals if arrivals else self.order
        removed = self.finished_since | admitted if self.finished_since else admitted
        order_ids = self.order_ids
        n_pre = len(preempted)
        fast = not self.order_dups and len(objs) >= n_pre
        if fast and arrivals:
            for r in arrivals:
                rid = r.request_id
                if rid in order_ids:
                    fast = False
                    break
                order_ids.add(rid)
            if not fast:
                self.order_dups = True
        if fast and n_pre:
            for r, rid in zip(objs, reversed(preempted)):
                if r.request_id != rid:
                    fast = False
                    break
        if fast:
            k = 0
            n_base = len(base)
            while k < n_base and base[k].request_id in removed:
                k += 1
            rest = objs[n_pre:] if n_pre else objs
            if (rest == base[k:] if k else rest == base):
                for r in base[:k]:
                    order_ids.discard(r.request_id)
                if removed.isdisjoint(order_ids):
                    for rid in preempted:
                        if rid in order_ids:
                            self.order_dups = True
                        order_ids.add(rid)
                    self.order = objs
                    return OMIT
        # exact: ids, as written
        expected = expected_order(list(map(_REQUEST_ID, self.order)), list(map(_REQUEST_ID, arrivals)), removed, preempted)
        actual = list(map(_REQUEST_ID, objs))
        self.order = objs
        ids = set(actual)
        self.order_ids = ids
        self.order_dups = len(ids) != len(actual)
        return OMIT if actual == expected else actual

    # ---- probe: prefix-cache hits of the first waiting requests -------------------------
    def probe(self, sched):
        """[id, hit tokens, hit blocks now free (evictable)] for the first N waiting requests
        that start from nothing computed, or OMIT when the probe is off (waiting_probe.py: on
        by default for the head, answers reused while their blocks are unchanged)."""
        if self.waiting_probe is None:
            return OMIT
        return self.waiting_probe([self.queues.iterate(sched)]) or OMIT

    # ---- reorder: vLLM 0.34's cache-aware admission --------------------------------------
    def watch_reorder(self, sched, reorder):
        """A stand-in for sched._reorder_waiting_by_cached_prefix for one schedule() call:
        it notes the window head before and after when vLLM reorders it."""
        window = int(sched.cache_aware_window)

        def reorder_waiting_by_cached_prefix():
            before = list(map(_REQUEST_ID, islice(sched.waiting, window)))
            reorder()
            after = list(map(_REQUEST_ID, islice(sched.waiting, window)))
            if after != before:
                self.reordered = {"cause": "cache_aware_admission", "before": before, "after": after}
        return reorder_waiting_by_cached_prefix

    def take_reorder(self):
        """This step's ``reorder`` value (OMIT when the head kept its order)."""
        r = self.reordered
        self.reordered = OMIT
        return r


