"""The scheduler thread's CPU time and run-queue wait per step (host_cpu.py, step.cpu):
known answers from files written by the test, a known contention (a busy process pinned to
the same core as the measured thread), the header, and a real-clock run of vLLM's scheduler
whose steps carry ``cpu`` and validate against the schema."""
import os
import threading
import time
from multiprocessing import get_context

import pytest

import vsched_testlib as lib
from vsched_emitter import env, host_cpu
from vsched_testlib import Knobs, Spec

linux_schedstat = pytest.mark.skipif(not os.path.exists(host_cpu.SCHEDSTAT), reason="needs Linux schedstat")


def header():
    return {"schema_version": "1.4", "capabilities": {}, "not_captured": []}


def write(path, text):
    # rewritten in place: the open fd sees the new bytes, as procfs regenerates them per read
    with open(path, "r+" if os.path.exists(path) else "w") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def test_differences_of_known_counters(tmp_path):
    sched, psi = tmp_path / "schedstat", tmp_path / "pressure"
    write(sched, "1000 200 3\n")
    write(psi, "some avg10=0.00 avg60=0.00 avg300=0.00 total=50\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    s = host_cpu.CpuStats(str(sched), str(psi))
    write(sched, "4500 1200 9\n")
    write(psi, "some avg10=1.00 avg60=0.50 avg300=0.10 total=80\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert s.sample() == (3500, 1000, 30_000)  # PSI counts µs; the trace, ns
    assert s.sample() == (0, 0, 0)
    s.close()


def test_without_psi_the_third_value_is_null(tmp_path):
    sched = tmp_path / "schedstat"
    write(sched, "10 0 1\n")
    s = host_cpu.CpuStats(str(sched), str(tmp_path / "absent"))
    write(sched, "25 5 2\n")
    assert s.sample() == (15, 5, None)
    h = header()
    assert host_cpu.prepare(True, h, str(sched), str(tmp_path / "absent")).info()["pressure"] is False


def test_another_thread_reopens_and_gives_null_once(tmp_path):
    sched = tmp_path / "schedstat"
    write(sched, "10 0 1\n")
    s = host_cpu.CpuStats(str(sched), None)
    got = []
    t = threading.Thread(target=lambda: got.extend([s.sample(), s.sample()]))
    t.start()
    t.join()
    assert got == [None, (0, 0, None)]


def test_header_says_what_is_read_or_why_not(tmp_path):
    h = header()
    assert host_cpu.prepare(False, h) is None
    assert h["not_captured"] == [{"what": host_cpu.NOT_CAPTURED_WHAT, "why": "VLLM_SCHEDULER_LOG_CPU_STATS=0 turned it off"}]
    assert h["schema_version"] == "1.4" and "host_cpu" not in h

    h = header()
    assert host_cpu.prepare(True, h, str(tmp_path / "no-such-file")) is None
    assert "unreadable" in h["not_captured"][0]["why"] and "cpu_stats" not in h["capabilities"]

    bad = tmp_path / "garbage"
    write(bad, "not numbers\n")
    h = header()
    assert host_cpu.prepare(True, h, str(bad)) is None and len(h["not_captured"]) == 1


def test_the_setting():
    assert env.from_env({}).cpu_stats is True
    assert env.from_env({env.CPU_STATS: "0"}).cpu_stats is False
    assert env.from_env({env.CPU_STATS: "1"}).cpu_stats is True


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _busy_pinned(cpu, seconds):
    os.sched_setaffinity(0, {cpu})
    _spin(seconds)


@linux_schedstat
def test_a_busy_process_on_the_same_core_shows_as_wait():
    """Known answer: two CPU-bound tasks pinned to one core share it, so the measured thread
    waits about as long as it runs; alone on its core it hardly waits."""
    saved = os.sched_getaffinity(0)
    cpu = min(saved)
    os.sched_setaffinity(0, {cpu})
    try:
        h = header()
        s = host_cpu.prepare(True, h)
        assert h["schema_version"] == "1.5" and h["capabilities"]["cpu_stats"] is True
        assert h["host_cpu"]["schedstat"] is True and h["host_cpu"]["cpus"] == 1
        t0 = time.monotonic_ns()
        _spin(0.3)
        alone = s.sample()
        wall_alone = time.monotonic_ns() - t0
        hog = get_context("fork").Process(target=_busy_pinned, args=(cpu, 1.5))
        hog.start()
        try:
            time.sleep(0.1)
            s.sample()
            t0 = time.monotonic_ns()
            _spin(0.8)
            shared = s.sample()
            wall_shared = time.monotonic_ns() - t0
        finally:
            hog.join()
        s.close()
    finally:
        os.sched_setaffinity(0, saved)
    cpu_ns, wait_ns, _ = shared
    # ran about half the wall time and waited about the other half (CFS's fair share)
    assert 0.25 < wait_ns / wall_shared < 0.75, shared
    assert 0.25 < cpu_ns / wall_shared < 0.75, shared
    assert abs(cpu_ns + wait_ns - wall_shared) < 0.1 * wall_shared, (shared, wall_shared)
    # alone the thread ran most of the time (the machine is shared: other work may take some)
    assert alone[0] > 0.5 * wall_alone and alone[1] < alone[0], alone


@linux_schedstat
def test_a_real_clock_run_records_cpu_on_every_step(tmp_path, monkeypatch):
    monkeypatch.delenv(env.CPU_STATS, raising=False)
    specs = [Spec(f"r{i}", 0.005 * i, lib.prompt(48, i), 16) for i in range(6)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512), clock="real",
                        step_cost=lambda shape: 0.003)
    assert lib.schema_errors(case.trace) == []
    h = case.header
    assert h["schema_version"] == "1.5" and h["capabilities"]["cpu_stats"] is True
    steps = case.of("step")
    assert len(steps) > 10 and all(len(st["cpu"]) == 3 for st in steps)
    for prev, st in zip(steps, steps[1:]):
        cpu_ns, wait_ns, _ = st["cpu"]
        # the harness sleeps 3 ms per step: the thread is on a CPU for a small part of it,
        # and cannot have run or waited for longer than the interval between the two entries
        assert cpu_ns + wait_ns <= st["t_start"] - prev["t_start"] + 1_000_000
    total_wall = steps[-1]["t_start"] - steps[0]["t_start"]
    assert sum(st["cpu"][0] for st in steps[1:]) < 0.9 * total_wall


def test_a_virtual_clock_run_has_no_cpu(tmp_path):
    specs = [Spec(f"r{i}", 0.0, lib.prompt(32, i), 4) for i in range(3)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512))
    assert all("cpu" not in st for st in case.of("step"))
    assert any(n["what"] == host_cpu.NOT_CAPTURED_WHAT for n in case.header["not_captured"])
