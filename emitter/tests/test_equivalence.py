"""Enabling the emitter changes no scheduling decision, also when it fails; traces are
reproducible; gzip/summary/buffer-cap behave as documented."""
import os

import pytest

import vsched_testlib as lib
from vsched_emitter import interned, records
from vsched_emitter.why_waited import WhyWaited
from vsched_emitter.writer import Writer

EQUIV = ["kv_preempt", "async", "lora", "no_chunk", "priority", "abort"]


@pytest.fixture(scope="module")
def untraced(tmp_path_factory):
    root = tmp_path_factory.mktemp("untraced")
    return {name: lib.run_case(root / name, *lib.SCENARIOS[name](), traced=False) for name in EQUIV}


def _decisions(case):
    """Oracle step records without timestamps (which the emitter's clock reads shift)."""
    return [{k: v for k, v in r.items()} for r in case.oracle if r["type"] == "step"]


@pytest.mark.parametrize("name", EQUIV)
def test_emitter_on_and_off_schedule_identically(scenarios, untraced, name):
    on, off = scenarios[name], untraced[name]
    assert off.result.trace_files == []
    assert len(on.outputs) == on.result.steps and on.outputs == off.outputs
    assert _decisions(on) == _decisions(off)
    assert on.result.finished == off.result.finished


def test_writer_raising_changes_nothing(tmp_path, untraced, monkeypatch):
    def broken(kind, values):
        raise RuntimeError("serialiser exploded")

    monkeypatch.setattr(records, "encode", broken)
    monkeypatch.setattr(interned.Encoder, "encode", lambda self, kind, values: broken(kind, values))
    for name in ("kv_preempt", "async"):
        case = lib.run_case(tmp_path / name, *lib.SCENARIOS[name]())
        assert case.outputs == untraced[name].outputs
        assert case.result.trace_files[0].stat().st_size == 0  # every record dropped, counted


def test_disk_full_changes_nothing(tmp_path, untraced):
    for name in ("kv_preempt", "async"):
        trace_dir = tmp_path / name / "trace"
        trace_dir.mkdir(parents=True)
        # The first trace of this process in this directory gets this name: make it /dev/full.
        (trace_dir / f"vsched-{os.getpid()}-dp0.jsonl").symlink_to("/dev/full")
        case = lib.run_case(tmp_path / name, *lib.SCENARIOS[name]())
        assert str(case.result.trace_files[0].resolve()) == os.path.realpath("/dev/full")
        assert case.outputs == untraced[name].outputs


def test_failing_hook_disables_itself_once(tmp_path, untraced, monkeypatch):
    calls = []
    original = WhyWaited._order_check

    def flaky(self, *args):
        calls.append(1)
        if len(calls) == 5:
            raise ValueError("bug in the emitter")
        return original(self, *args)

    monkeypatch.setattr(WhyWaited, "_order_check", flaky)
    case = lib.run_case(tmp_path / "kv", *lib.SCENARIOS["kv_preempt"]())
    assert case.outputs == untraced["kv_preempt"].outputs
    errors = case.of("emitter_error")
    assert len(errors) == 1 and errors[0]["where"] == "schedule" and "bug in the emitter" in errors[0]["error"]
    assert len(case.of("step")) == 4 and len(calls) == 5  # nothing recorded after the failure
    assert case.trace[-1]["type"] == "end" and lib.schema_errors(case.trace) == []


def test_buffer_cap_drops_and_counts(tmp_path, scenarios, monkeypatch):
    import time

    slow_write = Writer._write
    put = Writer.put
    waited = []

    def slow(self, data):
        # hold the writer until the scheduler has overflowed the cap once, so drops happen
        # however fast this machine is; then keep it slow so more follow. perf_counter: the
        # harness's virtual clock replaces time.monotonic
        deadline = time.perf_counter() + 10
        while self.buffer_dropped == 0 and time.perf_counter() < deadline:
            time.sleep(0.001)
        time.sleep(0.002)
        slow_write(self, data)

    def put_then_wait_once(self, kind, values, now_rel=None):
        # after a few drops, let the writer make room once: a small run on a fast vLLM can
        # otherwise end before the writer wakes, and only the end record counts the drops
        put(self, kind, values, now_rel)
        if self.buffer_dropped >= 3 and not waited:
            waited.append(1)
            deadline = time.perf_counter() + 10
            while len(self.queue) >= self.max_buffered and time.perf_counter() < deadline:
                time.sleep(0.001)

    monkeypatch.setattr(Writer, "put", put_then_wait_once)
    monkeypatch.setattr(Writer, "_write", slow)
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_MAX_BUFFERED", "3")
    case = lib.run_case(tmp_path / "capped", *lib.SCENARIOS["kv_preempt"]())
    assert case.outputs == scenarios["kv_preempt"].outputs
    dropped = case.of("dropped")
    end = case.trace[-1]
    assert dropped and end["type"] == "end" and end["dropped"] > 0
    assert sum(d["count"] for d in dropped) <= end["dropped"]
    # every record the full run wrote was either written here or counted as dropped
    assert len(case.trace) - len(dropped) + end["dropped"] == len(scenarios["kv_preempt"].trace)
    assert lib.schema_errors(case.trace) == []


def test_traces_are_reproducible_byte_for_byte(tmp_path):
    a = lib.run_case(tmp_path / "a", *lib.SCENARIOS["async"]())
    b = lib.run_case(tmp_path / "b", *lib.SCENARIOS["async"]())
    assert a.result.trace_files[0].read_bytes() == b.result.trace_files[0].read_bytes()
    assert a.oracle[1:] == b.oracle[1:]


def test_gzip_and_summary_level(tmp_path, scenarios):
    full = scenarios["kv_preempt"]
    case = lib.run_case(tmp_path / "s", *lib.SCENARIOS["kv_preempt"](), level="summary", gzip_=True)
    path = case.result.trace_files[0]
    assert path.name.endswith(".jsonl.gz") and path.read_bytes()[:2] == b"\x1f\x8b"
    assert lib.schema_errors(case.trace) == []
    assert case.header["level"] == "summary" and not case.header["capabilities"]["skip_causes"]
    for s in case.of("step"):
        assert not {"stop", "skipped", "blocks", "order"} & set(s)
    assert all("blocks" not in u for u in case.of("update"))
    keep = ("step", "sched", "new", "resumed", "preempted", "kv_fail", "free_blocks", "running", "waiting",
            "budget_left")
    assert [{k: s[k] for k in keep} for s in case.of("step")] == [{k: s[k] for k in keep} for s in full.of("step")]
    assert case.outputs == full.outputs
