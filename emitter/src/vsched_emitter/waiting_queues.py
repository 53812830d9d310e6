"""Which waiting queues this vLLM keeps, in the order its schedule() takes them from.

v0.11 has one (``waiting``). Later versions put requests whose KV blocks are held (a KV
connector finished loading them, a session between turns) in ``kv_holding_waiting``, taken
first. vLLM 0.34 with ``--max-num-inflight-kv-loads`` keeps the requests a connector may load
asynchronously in a third queue, ``async_kv_waiting``; schedule() takes from it or from
``waiting``, whichever head goes first (``Scheduler._next_waiting_queue``: arrival time under
FCFS, the request's own ordering under priority), so the trace's queue order is that merge.
``deferred_waiting`` holds requests vLLM leaves out of its waiting count. Each is
feature-detected once per scheduler.
"""
from __future__ import annotations

from itertools import chain


class WaitingQueues:
    __slots__ = ("has_kvh", "has_async_kv", "has_deferred", "by_priority")

    def __init__(self, sched, policy: str = "fcfs"):
        self.has_kvh = hasattr(sched, "kv_holding_waiting")
        self.has_async_kv = hasattr(sched, "async_kv_waiting")
        self.has_deferred = hasattr(sched, "deferred_waiting")
        self.by_priority = policy == "priority"

    def objects(self, sched) -> tuple:
        """Every waiting queue object (to wrap their pop_request)."""
        qs = (sched.kv_holding_waiting, sched.waiting) if self.has_kvh else (sched.waiting,)
        return qs + (sched.async_kv_waiting,) if self.has_async_kv else qs

    def requests(self, sched, sorted_heaps: bool = False) -> list:
        """The waiting requests in the order schedule() would take them (the trace's
        queue order): the KV-holding queue, then waiting merged with async_kv_waiting.
        ``sorted_heaps``: priority queues listed by sorting their heaps (the order the CLI
        assumes) instead of by popping a copy (the order vLLM pops)."""
        listed = (lambda q: sorted(q._heap)) if sorted_heaps else list
        waiting = listed(sched.waiting)
        if self.has_async_kv and sched.async_kv_waiting:
            waiting = self._merge(waiting, listed(sched.async_kv_waiting))
        if self.has_kvh and sched.kv_holding_waiting:
            return [*listed(sched.kv_holding_waiting), *waiting]
        return waiting

    def iterate(self, sched):
        """requests() without copying the queues where no merge is needed (a scan that
        stops early: the loop's head, the probe's first N)."""
        if self.has_async_kv and sched.async_kv_waiting:
            return iter(self.requests(sched))
        return chain(sched.kv_holding_waiting, sched.waiting) if self.has_kvh else iter(sched.waiting)

    def _merge(self, waiting: list, async_kv: list) -> list:
        """_next_waiting_queue's choice, step by step: the async head goes first when it
        sorts before waiting's head."""
        if self.by_priority:
            def first(a, w):
                return a < w
        else:
            def first(a, w):
                return a.arrival_time < w.arrival_time
        out = []
        i = j = 0
        while i < len(waiting) and j < len(async_kv):
            if first(async_kv[j], waiting[i]):
                out.append(async_kv[j])
                j += 1
            else:
                out.append(waiting[i])
                i += 1
        out += waiting[i:]
        out += async_kv[j:]
        return out

    def length(self, sched) -> int:
        """Requests in all queues."""
        n = len(sched.waiting)
        if self.has_kvh:
            n += len(sched.kv_holding_waiting)
        if self.has_async_kv:
            n += len(sched.async_kv_waiting)
        return n

    def count(self, sched) -> int:
        """What vLLM's SchedulerStats.num_waiting_reqs says (skipped/deferred excluded where
        this vLLM excludes them)."""
        n = self.length(sched)
        if self.has_deferred:
            n -= len(sched.deferred_waiting)
        return n
