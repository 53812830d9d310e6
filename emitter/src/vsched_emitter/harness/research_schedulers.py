"""Two scheduler classes written the way researchers plug policies into vLLM, loaded through
vLLM's own ``--scheduler-cls`` (SchedulerConfig.scheduler_cls), to test the emitter on them.

* ``SJFScheduler`` / ``AsyncSJFScheduler`` override ``schedule()``: shortest job first over
  the waiting list (fewest tokens left: prompt still to compute plus max_tokens), then vLLM's
  own admission. vLLM #43724 asks plugins to extend ``AsyncScheduler`` (the default V1
  scheduler) so async scheduling keeps overlapping; the sync variant extends ``Scheduler``.
* ``ShortestPromptQueueScheduler`` / ``AsyncShortestPromptQueueScheduler`` swap the request
  queue after ``__init__``, as seed 003's ISRTF fork swaps in its heap: ``waiting`` becomes a
  min-heap on the prompt tokens still to compute.

Neither knows about vsched: the emitter must capture them through its own hooks and feature
detection (emitter/tests/test_research_schedulers.py).
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

from vllm.v1.core.sched.async_scheduler import AsyncScheduler
from vllm.v1.core.sched.request_queue import RequestQueue, SchedulingPolicy, create_request_queue
from vllm.v1.core.sched.scheduler import Scheduler


def job_tokens(request) -> int:
    """What shortest-job-first sorts by: tokens still to compute, prompt and output."""
    max_tokens = getattr(request, "max_tokens", None) or 0
    return max(request.num_tokens - request.num_computed_tokens, 0) + max_tokens - request.num_output_tokens


class ShortestJobFirst:
    """schedule() overridden: re-sort the waiting list, then vLLM's admission over it."""

    def schedule(self, *args, **kwargs):
        waiting = list(self.waiting)
        ordered = sorted(waiting, key=job_tokens)  # stable: equal jobs keep arrival order
        if ordered != waiting:
            queue = create_request_queue(SchedulingPolicy.FCFS)
            for request in ordered:
                queue.add_request(request)
            self.waiting = queue
        return super().schedule(*args, **kwargs)


class SJFScheduler(ShortestJobFirst, Scheduler):
    pass


class AsyncSJFScheduler(ShortestJobFirst, AsyncScheduler):
    pass


class ShortestPromptQueue(RequestQueue):
    """Min-heap on the prompt tokens still to compute; ties by arrival time, then id."""

    def __init__(self) -> None:
        self._heap: list = []
        self._seq = 0

    def _key(self, request):
        self._seq += 1
        left = max(request.num_prompt_tokens - request.num_computed_tokens, 0)
        return (left, request.arrival_time, request.request_id, self._seq, request)

    def add_request(self, request) -> None:
        heapq.heappush(self._heap, self._key(request))

    def pop_request(self):
        if not self._heap:
            raise IndexError("pop from empty heap")
        return heapq.heappop(self._heap)[-1]

    def peek_request(self):
        if not self._heap:
            raise IndexError("peek from empty heap")
        return self._heap[0][-1]

    def prepend_request(self, request) -> None:
        self.add_request(request)  # a heap has no front: the key decides

    def prepend_requests(self, requests) -> None:
        for request in requests:
            self.add_request(request)

    def remove_request(self, request) -> None:
        self._heap = [e for e in self._heap if e[-1] is not request]
        heapq.heapify(self._heap)

    def remove_requests(self, requests: Iterable) -> None:
        drop = {id(r) for r in requests}
        self._heap = [e for e in self._heap if id(e[-1]) not in drop]
        heapq.heapify(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self) -> Iterator:
        return (e[-1] for e in sorted(self._heap))

    def __reversed__(self) -> Iterator:
        return (e[-1] for e in sorted(self._heap, reverse=True))


class ShortestPromptQueueScheduler(Scheduler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waiting = ShortestPromptQueue()


class AsyncShortestPromptQueueScheduler(AsyncScheduler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waiting = ShortestPromptQueue()
