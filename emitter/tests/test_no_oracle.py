"""Without the oracle (``--no-oracle``, as vsched simulate runs the harness) the trace is the
one written with it, byte for byte: under the virtual clock every read ticks the clock, so the
driver's stand-in (oracle.NoOracle) must read it where the oracle's IterationStats() do, or
every later timestamp moves by microseconds. Scenarios with aborts, preemptions, async
scheduling, priorities and streaming sessions (one closed while it waits for input, which the
oracle counts as an abort)."""
import pytest

import vsched_testlib as lib
from test_sessions import sc_sessions
from vsched_emitter.capabilities import has_sessions
from vsched_emitter.harness import driver

SCENARIOS = {**lib.SCENARIOS, "sessions": sc_sessions, "sessions_async": lambda: sc_sessions(True)}


def _trace(tmp, specs, knobs, oracle: bool) -> bytes:
    res = driver.run(specs, knobs, lib.cost, trace_dir=tmp / "trace", pid=7,
                     oracle_path=tmp / "oracle.jsonl" if oracle else None)
    assert (tmp / "oracle.jsonl").exists() == oracle and (res.oracle_path is not None) == oracle
    return res.trace_files[0].read_bytes()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trace_is_identical_without_the_oracle(tmp_path, name):
    if name.startswith("sessions") and not has_sessions():
        # vLLM < 0.33 has no streaming-input sessions: both paths refuse the scenario alike
        for oracle in (True, False):
            with pytest.raises(ValueError, match=r"no resumable requests \(vLLM >= 0.33\)"):
                _trace(tmp_path / str(oracle), *SCENARIOS[name](), oracle=oracle)
        return
    with_oracle = _trace(tmp_path / "on", *SCENARIOS[name](), oracle=True)
    without = _trace(tmp_path / "off", *SCENARIOS[name](), oracle=False)
    assert with_oracle == without


def test_the_stand_in_is_needed(tmp_path, monkeypatch):
    """The check above can fail: a stand-in that skips the oracle's clock reads moves the trace."""
    monkeypatch.setattr("vsched_emitter.harness.oracle.NoOracle.on_update", lambda *a: None)
    specs, knobs = lib.SCENARIOS["abort"]()
    assert _trace(tmp_path / "on", specs, knobs, oracle=True) != _trace(tmp_path / "off", *lib.SCENARIOS["abort"](), oracle=False)


def test_oracle_keyword_filter_reads_each_signature_once(monkeypatch):
    """Oracle._call filters keywords by the function's signature, inspected once per function
    (it ran per output before: ~40% of a simulate loop)."""
    import inspect

    from vsched_emitter.harness import oracle as oracle_mod

    calls = []
    real = inspect.signature
    monkeypatch.setattr(oracle_mod.inspect, "signature", lambda fn: calls.append(fn) or real(fn))
    monkeypatch.setattr(oracle_mod, "_accepted", {})

    class Stats:
        def update(self, a, b=0):
            return (a, b)

    got = [oracle_mod._call(Stats().update, a=i, b=2, c=3) for i in range(5)]
    assert got == [(i, 2) for i in range(5)] and len(calls) == 1
