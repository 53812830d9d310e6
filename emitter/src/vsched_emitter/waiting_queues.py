"""Which waiting queues this vLLM keeps, in the order its schedule() takes them from.

v0.11 has one (``waiting``); later versions put requests whose KV blocks are held (a KV
connector finished loading them) in ``kv_holding_waiting``, taken first. ``deferred_waiting``
holds requests vLLM leaves out of its waiting count. Feature-detected once per scheduler.
"""
from __future__ import annotations


class WaitingQueues:
    __slots__ = ("has_kvh", "has_deferred")

    def __init__(self, sched):
        self.has_kvh = hasattr(sched, "kv_holding_waiting")
        self.has_deferred = hasattr(sched, "deferred_waiting")

    def of(self, sched) -> tuple:
        """The queues in the order schedule() pops from them (the trace's queue order)."""
        return (sched.kv_holding_waiting, sched.waiting) if self.has_kvh else (sched.waiting,)

    def length(self, sched) -> int:
        """Requests in all queues."""
        n = len(sched.waiting)
        if self.has_kvh:
            n += len(sched.kv_holding_waiting)
        return n

    def count(self, sched) -> int:
        """What vLLM's SchedulerStats.num_waiting_reqs says (skipped/deferred excluded where
        this vLLM excludes them)."""
        n = self.length(sched)
        if self.has_deferred:
            n -= len(sched.deferred_waiting)
        return n
