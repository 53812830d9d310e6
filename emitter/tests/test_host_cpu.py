"""The scheduler thread's CPU time and run-queue wait per step (host_cpu.py, step.cpu):
known answers from files written by the test, a known contention (a busy process pinned to
the same core as the measured thread), the header, and a real-clock run of vLLM's scheduler
whose steps carry ``cpu`` and validate against the schema."""
import os
import threading
import time
from multiprocessing import get_context

import vsched_testlib as lib
from vsched_emitter import env, host_cpu, machine
from vsched_testlib import Knobs, Spec



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
    t0 = time.thread_time_ns()
    _spin(0.02)
    cpu, wait, pressure = s.sample()
    # the wait and the pressure are the files' differences (PSI counts µs; the trace, ns); the
    # CPU time is the thread's own clock (schedstat's first figure lags by a tick), here ~20 ms
    assert (wait, pressure) == (1000, 30_000)
    assert 0.9 * (time.thread_time_ns() - t0) < cpu < 1.5 * (time.thread_time_ns() - t0) + 1_000_000
    assert s.sample()[1:] == (0, 0)
    s.close()


def test_without_psi_the_third_value_is_null(tmp_path):
    sched = tmp_path / "schedstat"
    write(sched, "10 0 1\n")
    s = host_cpu.CpuStats(str(sched), str(tmp_path / "absent"))
    write(sched, "25 5 2\n")
    cpu, wait, pressure = s.sample()
    assert (wait, pressure) == (5, None) and cpu >= 0
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
    assert got[0] is None and got[1][1:] == (0, None)


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


def test_a_busy_process_on_the_same_core_shows_as_wait():
    """Known answers that hold on a shared machine: a spinning thread is always either on its
    CPU or runnable and waiting for it, so its CPU time plus its wait is the wall time; and a
    busy process pinned to the same core takes a large share of that time (alone with the
    thread, half of it; with k other runnable tasks there, 1/(k+1) − 1/(k+2) more of it)."""
    saved = os.sched_getaffinity(0)
    cpu = min(saved)
    os.sched_setaffinity(0, {cpu})
    try:
        h = header()
        s = host_cpu.prepare(True, h)
        assert h["schema_version"] == "1.7" and h["capabilities"]["cpu_stats"] is True
        assert h["host_cpu"]["schedstat"] is True and h["host_cpu"]["cpus"] == 1

        def spin(seconds):
            s.sample()
            t0 = time.monotonic_ns()
            _spin(seconds)
            got = s.sample()
            return got, time.monotonic_ns() - t0

        alone, wall_alone = spin(0.4)
        hog = get_context("fork").Process(target=_busy_pinned, args=(cpu, 1.5))
        hog.start()
        try:
            time.sleep(0.1)
            shared, wall_shared = spin(0.8)
        finally:
            hog.join()
        s.close()
    finally:
        os.sched_setaffinity(0, saved)
    # within 10%: on a loaded 2-core machine (a clean-clone CI beside two busy test runs) 45 ms of
    # the shared 800 ms went unaccounted (5.6%); a wait the emitter failed to record would leave
    # about half of the shared wall time out
    for (cpu_ns, wait_ns, _), wall in ((alone, wall_alone), (shared, wall_shared)):
        assert abs(cpu_ns + wait_ns - wall) < 0.10 * wall, (cpu_ns, wait_ns, wall)
    # with k other runnable tasks on the core, alone waits k/(k+1) of the time and the hog adds
    # 1/(k+1) − 1/(k+2): read k from the alone share, so a loaded machine (k of 1–2) asks for the
    # smaller rise it gives (a fixed +0.1 failed at a measured alone share of 0.59: +0.07 of an
    # expected +0.12); an unrecorded wait would rise by ~0 on any machine
    w_alone = alone[1] / wall_alone
    k = w_alone / max(1e-9, 1 - w_alone)
    expected = 1 / (k + 1) - 1 / (k + 2)
    assert shared[1] / wall_shared - w_alone > 0.5 * expected, (alone, shared, expected)


def test_a_real_clock_run_records_cpu_on_every_step(tmp_path, monkeypatch):
    monkeypatch.delenv(env.CPU_STATS, raising=False)
    specs = [Spec(f"r{i}", 0.005 * i, lib.prompt(48, i), 16) for i in range(6)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512), clock="real",
                        step_cost=lambda shape: 0.003)
    assert lib.schema_errors(case.trace) == []
    h = case.header
    assert h["schema_version"] == "1.7" and h["capabilities"]["cpu_stats"] is True
    steps = case.of("step")
    assert len(steps) > 10 and all(len(st["cpu"]) == 3 for st in steps)
    # the thread cannot have run or waited for longer than it existed: over the run, CPU + wait
    # is at most the wall time between the first and the last entry. Only over the run: a step's
    # figures and its t_start are read one after the other, and a preemption between the two
    # reads (a loaded machine) moves up to a few ms from one step's interval to the next's
    total_wall = steps[-1]["t_start"] - steps[0]["t_start"]
    assert sum(st["cpu"][0] + st["cpu"][1] for st in steps[1:]) <= total_wall + 10_000_000
    assert sum(st["cpu"][0] for st in steps[1:]) < 0.9 * total_wall


def test_a_virtual_clock_run_has_no_cpu(tmp_path):
    specs = [Spec(f"r{i}", 0.0, lib.prompt(32, i), 4) for i in range(3)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512))
    assert all("cpu" not in st for st in case.of("step"))
    assert any(n["what"] == host_cpu.NOT_CAPTURED_WHAT for n in case.header["not_captured"])


def test_the_header_names_the_host_cpu_model(tmp_path):
    """machine.py reads /proc/cpuinfo's first ``model name`` (x86), else null (most ARM kernels
    print no such line; a platform without the file)."""
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n\n"
                   "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 2000.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd4f\n")
    assert machine.cpu_model(str(x86)) == "Intel(R) Xeon(R) Platinum 8480+"
    assert machine.cpu_model(str(arm)) is None
    assert machine.cpu_model(str(tmp_path / "none")) is None
    h = header()
    s = host_cpu.prepare(True, h)
    s.close()
    assert h["host_cpu"]["model"] == machine.cpu_model()
