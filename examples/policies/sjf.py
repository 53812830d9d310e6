"""Shortest job first, as a researcher writes a policy for vLLM: a Scheduler subclass that
orders the waiting list by the output each request asked for (``max_tokens``) before vLLM's
own ``schedule()`` admits from its head (seed 003's idea with a perfect length oracle).

Load it in vLLM with ``--scheduler-cls examples.policies.sjf.AsyncSJFScheduler`` (async
scheduling, vLLM's default, needs an AsyncScheduler subclass: vLLM #43724), or replay a
recorded run through it without a GPU:

    vsched simulate logs/ --model coeffs.json --scheduler-cls examples.policies.sjf:AsyncSJFScheduler -o sim-sjf/
    vsched compare logs/ sim-sjf/logs
"""
from vllm.v1.core.sched.async_scheduler import AsyncScheduler
from vllm.v1.core.sched.scheduler import Scheduler


def job_length(request) -> tuple:
    # ties keep arrival order, as FCFS would
    return (request.max_tokens, request.arrival_time)


class SJFMixin:
    def schedule(self):
        waiting = sorted(self.waiting, key=job_length)
        self.waiting.clear()
        self.waiting.extend(waiting)
        return super().schedule()


class SJFScheduler(SJFMixin, Scheduler):
    pass


class AsyncSJFScheduler(SJFMixin, AsyncScheduler):
    pass
