"""Helper of bench/simulate-speed.mjs (run with the harness venv's Python): times one command,
or runs the emitter's harness as ``python -m vsched_emitter.harness`` does while marking where
its start ends and its loop begins and ends, or runs the same workload through vLLM's bare
scheduler (emitter off, no oracle) timing only schedule() and update_from_output().

    python bench/simulate_speed.py time OUT.json -- CMD...        wall and CPU (user+sys, the
                                                                   command and what it waited for)
    python bench/simulate_speed.py phases OUT.json -- HARNESS ARGS   marks of the harness's loop
    python bench/simulate_speed.py bare OUT.json -- HARNESS ARGS     vLLM's own per-step cost

Marks use CLOCK_MONOTONIC through time.clock_gettime, which the harness's virtual clock does
not replace (it patches time.monotonic/time/…), and which is one clock for every process, so
the ``time`` wrapper's spawn and exit and the harness's marks line up. Whichever emitter is
first on PYTHONPATH is the one measured (main's or this checkout's).
"""
from __future__ import annotations

import json
import os
import resource
import runpy
import subprocess
import sys
import time

MONO = time.CLOCK_MONOTONIC


def now() -> float:
    return time.clock_gettime(MONO)


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cmd_time(out: str, cmd: list[str]) -> int:
    """Runs cmd; its wall and CPU (its own and that of the processes it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = now()
    env = {**os.environ, "VSCHED_BENCH_SPAWN": repr(t0)}
    code = subprocess.run(cmd, env=env).returncode
    t1 = now()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out, "w") as f:
        json.dump({"spawn": t0, "exit": t1, "wall_s": t1 - t0, "cpu_s": cpu, "code": code}, f)
    return code


def _virtual_seconds() -> float:
    """Engine time the virtual clock stands at (read while it is installed)."""
    from vsched_emitter.harness.clock import MONO_BASE_NS

    return (time.monotonic_ns() - MONO_BASE_NS) / 1e9


def cmd_phases(out: str, args: list[str]) -> None:
    """The harness as `python -m vsched_emitter.harness ARGS` runs it (its __main__ block
    included), with marks written to OUT as each phase ends (the branch's harness leaves with
    os._exit, so nothing may wait for the end)."""
    from vsched_emitter.harness import driver

    marks = {"start": now(), "cpu_start": cpu_self(), "spawn": float(os.environ.get("VSCHED_BENCH_SPAWN", "nan"))}

    def save():
        with open(out, "w") as f:
            json.dump(marks, f)

    real_loop, real_run = driver._loop, driver.run

    def loop(*a, **k):
        marks["loop_start"], marks["cpu_loop_start"] = now(), cpu_self()
        steps, finished = real_loop(*a, **k)
        marks["loop_end"], marks["cpu_loop_end"] = now(), cpu_self()
        marks["simulated_s"], marks["steps"] = _virtual_seconds(), steps
        save()
        return steps, finished

    def run(*a, **k):
        res = real_run(*a, **k)
        marks["run_end"] = now()
        save()
        return res

    driver._loop, driver.run = loop, run
    sys.argv = ["vsched_emitter.harness", *args]
    runpy.run_module("vsched_emitter.harness", run_name="__main__", alter_sys=True)


def cmd_bare(out: str, args: list[str]) -> None:
    """The harness's workload, knobs and cost, but the emitter off and no oracle: what vLLM's
    schedule() and update_from_output() cost per step, and the loop around them."""
    from vsched_emitter.harness import __main__ as harness, driver

    acc = {"schedule_s": 0.0, "update_s": 0.0, "schedule_cpu_s": 0.0, "update_cpu_s": 0.0}

    def timed(fn, key):
        def call(*a, **k):
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                acc[key + "_s"] += time.perf_counter() - t
                acc[key + "_cpu_s"] += time.thread_time() - c
        return call

    real_build, real_loop, real_run = driver.build_scheduler, driver._loop, harness.run

    def build(*a, **k):
        s = real_build(*a, **k)
        s.schedule = timed(s.schedule, "schedule")
        s.update_from_output = timed(s.update_from_output, "update")
        return s

    def loop(*a, **k):
        t, c = time.perf_counter(), cpu_self()
        steps, finished = real_loop(*a, **k)
        acc.update(loop_s=time.perf_counter() - t, loop_cpu_s=cpu_self() - c, steps=steps, simulated_s=_virtual_seconds())
        return steps, finished

    def run(specs, knobs, cost, **k):
        k.update(trace_dir=None, oracle_path=None)
        return real_run(specs, knobs, cost, **k)

    driver.build_scheduler, driver._loop, harness.run = build, loop, run
    harness.main([*args, "--no-recipe"])
    with open(out, "w") as f:
        json.dump(acc, f)


if __name__ == "__main__":
    mode, out, sep, *rest = sys.argv[1:]
    assert sep == "--", "usage: simulate_speed.py time|phases|bare OUT.json -- ARGS..."
    if mode == "time":
        sys.exit(cmd_time(out, rest))
    {"phases": cmd_phases, "bare": cmd_bare}[mode](out, rest)
