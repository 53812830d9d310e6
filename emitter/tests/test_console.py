"""VLLM_SCHEDULER_LOG_CONSOLE: the console line, on vLLM's real scheduler, against vLLM's
own figures (the oracle: SchedulerStats after each update, SchedulerOutput, the requests'
preemption counts) and known answers (a virtual clock whose model run costs a fixed time)."""
import logging
import re

import pytest

import vsched_testlib as lib
from vsched_emitter import console, env
from vsched_testlib import Knobs, Spec

LINE = re.compile(
    r"vsched dp(?P<rank>\d+): steps (?P<first>\d+)-(?P<last>\d+) \((?P<steps>\d+) in (?P<span>[\d.]+)s\)"
    r" \| batch (?P<prefill>[\d.]+) prefill \+ (?P<decode>[\d.]+) decode reqs"
    r" \| (?P<tokens>\d+) tokens, (?P<rate>\d+) tok/s"
    r" \| schedule (?P<sched>[\d.]+) ms \(p95 (?P<sched95>[\d.]+)\) vs model (?P<model>[\d.]+) ms \(p95 (?P<model95>[\d.]+)\)"
    r" \| running (?P<running>\d+) waiting (?P<waiting>\d+) \| KV (?P<kv>[\d.]+)%"
    r" \| preempted (?P<preempted>\d+)(?: \| most waiting: (?P<cause>\w+) (?P<share>\d+)% of (?P<reqs>[\d.]+) req-s)?$")


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def lines(monkeypatch):
    monkeypatch.setenv(env.CONSOLE, "0.25")
    # vLLM configures logging when imported (dictConfig strips handlers off existing
    # "vllm.*" loggers): import it before listening
    import vllm.v1.core.sched.scheduler  # noqa: F401
    handler = Lines()
    log = logging.getLogger("vllm.vsched_emitter")
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.INFO)
    yield handler.lines
    log.removeHandler(handler)
    log.setLevel(old)


def parsed(lines):
    out = []
    for text in lines:
        m = LINE.match(text)
        assert m, f"not a console line: {text!r}"
        out.append({k: (v if k == "cause" else float(v)) for k, v in m.groupdict().items() if v is not None})
    return out


def test_console_lines_agree_with_vllms_own_figures(tmp_path, lines):
    specs, knobs = lib.sc_kv_preempt()
    specs += [Spec(f"x{i}", 0.3 + 0.05 * i, lib.prompt(40, 50 + i), 20) for i in range(6)]
    case = lib.run_case(tmp_path, specs, knobs)
    got = parsed(lines)
    assert len(got) >= 3, lines
    oracle = case.oracle_steps()
    # every step in exactly one line, in order
    assert [int(g["first"]) for g in got] == [0] + [int(g["last"]) + 1 for g in got[:-1]]
    assert int(got[-1]["last"]) == max(oracle) and sum(g["steps"] for g in got) == len(oracle)
    preemptions = sum(r["num_preemptions"] for r in case.oracle if r["type"] == "request")
    assert preemptions > 0 and sum(g["preempted"] for g in got) == preemptions
    scheduled = {i: o for i, o in enumerate(case.outputs)}  # vLLM's SchedulerOutput per step
    for g in got:
        steps = range(int(g["first"]), int(g["last"]) + 1)
        assert g["tokens"] == sum(scheduled[s][-1] for s in steps)
        # SchedulerStats after the interval's last update (synchronous scheduling)
        last = oracle[int(g["last"])]
        assert (g["running"], g["waiting"]) == (last["num_running_reqs"], last["num_waiting_reqs"])
        assert g["kv"] == pytest.approx(100 * last["kv_cache_usage"], abs=0.05)
    assert any(g.get("cause") == "memory_insufficient" for g in got), "KV pressure must show as the top cause"


def test_model_run_time_is_the_known_step_cost(tmp_path, lines):
    specs, knobs = lib.sc_max_num_seqs()
    lib.run_case(tmp_path, specs, knobs, step_cost=lambda shape: 0.02)
    got = parsed(lines)
    # steps that scheduled nothing run no model and are left out of the model-run figures
    assert got and all(g["model"] == pytest.approx(20.0, abs=0.02) and g["model95"] == pytest.approx(20.0, abs=0.02) for g in got)
    # 5 requests, max_num_seqs=2: the rest wait for a seat
    assert got[0]["cause"] == "max_num_seqs"


def test_off_by_default_and_never_breaks_the_trace(tmp_path, monkeypatch):
    monkeypatch.delenv(env.CONSOLE, raising=False)
    assert env.from_env({}).console_seconds == 0.0
    monkeypatch.setenv(env.CONSOLE, "1")
    monkeypatch.setattr(console.ConsoleStats, "observe", lambda self, kind, v: 1 / 0)
    specs, knobs = lib.sc_max_num_seqs()
    case = lib.run_case(tmp_path, specs, knobs)
    assert case.trace[-1]["type"] == "end" and lib.schema_errors(case.trace) == []


def test_p95_is_nearest_rank():
    assert console.p95([]) == 0.0
    assert console.p95([float(i) for i in range(1, 101)]) == 95.0
    assert console.p95([3.0, 1.0, 2.0]) == 3.0
