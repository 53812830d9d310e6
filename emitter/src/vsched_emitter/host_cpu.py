"""What the host's CPU did to the engine between two steps (trace schema 1.5, ``step.cpu``).

A step of a small model on a GPU is mostly CPU work in the engine-core thread (schedule,
launch, output handling), and async scheduling hides it only while the GPU is busier. When
other processes compete for the cores, that thread is runnable but not running, and every
step is late by that much: on the lent H100, 16 busy loops on 16 cores took the 1B shape's
decode steps from 2.2 ms to 3.2–5.7 ms, while ``schedule()`` durations (what the host index
reads) did not change. So at each ``schedule()`` entry the emitter reads:

* the scheduler thread's CPU time (``time.thread_time_ns``: exact, where schedstat's own
  figure for a running thread lags by up to a scheduler tick, a few ms, longer than a step);
* its time spent runnable on a run queue from ``/proc/thread-self/schedstat`` (Linux
  ``sched_info``: ``run_delay``, in ns; exact for the reading thread, since it is added when a
  waiting thread gets its CPU back);
* ``/proc/pressure/cpu``'s ``some total`` (PSI, µs): time in which at least one runnable task
  of the machine (or of the cgroup, in a container) waited for a CPU.

and writes the differences since the previous step's entry as ``[cpu_ns, wait_ns,
pressure_ns]`` (the last ``null`` where the kernel has no PSI). Each file read is one ``pread``
on a file kept open (~1 µs). A file is bound to the thread that opened it, so it is reopened if
``schedule()`` is ever called from another thread. Where schedstat cannot be read (not
Linux; a kernel without sched_info) nothing is written and the header's ``not_captured``
says why. ``VLLM_SCHEDULER_LOG_CPU_STATS=0`` turns it off; the CPU harness does under its
virtual clock, whose traces must be byte-reproducible.
"""
from __future__ import annotations

import os
import threading
import time

from .gpu_stats import declare_minor
from .machine import MACHINE_SCHEMA_VERSION, cpu_model

#: trace schema minor that declares ``step.cpu`` and ``header.host_cpu``
CPU_SCHEMA_VERSION = "1.5"
NOT_CAPTURED_WHAT = "engine thread CPU and run-queue wait, CPU pressure (step.cpu; per_iteration engine_* columns)"

SCHEDSTAT = "/proc/thread-self/schedstat"
PRESSURE = "/proc/pressure/cpu"


def _read_wait(fd: int) -> int:
    # "<on-cpu ns> <run-queue wait ns> <timeslices>\n": the on-CPU figure of a running thread is
    # as of its last tick, so the CPU time comes from thread_time_ns instead
    return int(os.pread(fd, 96, 0).split(b" ", 2)[1])


def _read_pressure(fd: int) -> int:
    # "some avg10=… avg60=… avg300=… total=<µs>\nfull …": the first line's total
    line = os.pread(fd, 256, 0).split(b"\n", 1)[0]
    return int(line.rsplit(b"total=", 1)[1]) * 1000


class CpuStats:
    """Per-step differences of the scheduler thread's schedstat and the machine's PSI."""

    def __init__(self, schedstat_path: str = SCHEDSTAT, pressure_path: str | None = PRESSURE):
        self.schedstat_path = schedstat_path
        self.tid = threading.get_native_id()
        self.fd = os.open(schedstat_path, os.O_RDONLY)
        self.last = (time.thread_time_ns(), _read_wait(self.fd))  # raises where the file has another format
        self.pfd = None
        self.last_p = None
        if pressure_path is not None:
            try:
                self.pfd = os.open(pressure_path, os.O_RDONLY)
                self.last_p = _read_pressure(self.pfd)
            except (OSError, ValueError, IndexError):  # no PSI (kernel, or psi=0): wait_ns still tells
                self.close_pressure()

    def close_pressure(self) -> None:
        if self.pfd is not None:
            try:
                os.close(self.pfd)
            except OSError:
                pass
        self.pfd = None
        self.last_p = None

    def info(self) -> dict:
        """header.host_cpu: what is read, the cores this process may run on, and the CPU's model
        (machine.py: which host it was)."""
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count()
        return {"schedstat": True, "pressure": self.pfd is not None, "cpus": cpus, "model": cpu_model()}

    def sample(self):
        """[cpu_ns, wait_ns, pressure_ns | None] since the previous call, on the calling thread."""
        tid = threading.get_native_id()
        if tid != self.tid:  # the fd reads the thread that opened it: follow the scheduler
            os.close(self.fd)
            self.fd = os.open(self.schedstat_path, os.O_RDONLY)
            self.tid = tid
            self.last = (time.thread_time_ns(), _read_wait(self.fd))
            return None
        a, w = time.thread_time_ns(), _read_wait(self.fd)
        la, lw = self.last
        self.last = (a, w)
        p = None
        if self.pfd is not None:
            now_p = _read_pressure(self.pfd)
            p = now_p - self.last_p
            self.last_p = now_p
        return (a - la, w - lw, p)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.close_pressure()


def prepare(enabled: bool, header: dict, schedstat_path: str = SCHEDSTAT,
            pressure_path: str | None = PRESSURE):
    """A CpuStats opened on the calling (scheduler) thread with ``header`` updated to say so, or
    None with a ``not_captured`` entry saying why. Never raises."""
    stats = why = None
    if not enabled:
        why = "VLLM_SCHEDULER_LOG_CPU_STATS=0 turned it off"
    else:
        try:
            stats = CpuStats(schedstat_path, pressure_path)
        except (OSError, ValueError) as e:  # not Linux, or no sched_info in this kernel
            why = f"{schedstat_path} unreadable: {type(e).__name__}: {e}"[:300]
    try:
        if stats is None:
            header["not_captured"].append({"what": NOT_CAPTURED_WHAT, "why": why})
        else:
            header["host_cpu"] = stats.info()
            header["capabilities"]["cpu_stats"] = True
            declare_minor(header, MACHINE_SCHEMA_VERSION)  # step.cpu (1.5) and the CPU's model (1.7)
    except Exception:  # a header we cannot annotate: do not sample either
        if stats is not None:
            stats.close()
        return None
    return stats
