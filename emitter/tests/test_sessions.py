"""Streaming-input sessions (vLLM >= 0.33, resumable requests): the emitter records each chunk
that commences (``chunk``) and each turn vLLM keeps the session after (``update.turn_ends``),
changes no decision, and on a vLLM without sessions the harness refuses them by name."""
import pytest

import vsched_testlib as lib
from vsched_emitter import interned
from vsched_emitter.capabilities import has_sessions
from vsched_emitter.harness.driver import RequestSpec as Spec, SchedulerKnobs as Knobs, TurnSpec


def sc_sessions(async_scheduling: bool = False):
    # s0's chunks come while its turn runs (vLLM queues them); s1's long after (it waits for input)
    specs = [Spec("s0", 0.0, lib.prompt(40, 1), 6, turns=[TurnSpec(0.01, lib.prompt(12, 2), 6)] * 2, end_after_s=0.0),
             Spec("s1", 0.0, lib.prompt(30, 3), 4, turns=[TurnSpec(0.5, lib.prompt(9, 4), 4)], end_after_s=0.5),
             Spec("r2", 0.002, lib.prompt(50, 5), 8)]
    return specs, Knobs(max_num_seqs=2, max_num_batched_tokens=64, num_blocks=64, max_model_len=512,
                        async_scheduling=async_scheduling)


@pytest.mark.parametrize("async_scheduling", [False, True])
def test_session_records_match_vllms_events_and_change_nothing(tmp_path, async_scheduling):
    if not has_sessions():
        with pytest.raises(ValueError, match=r"no resumable requests \(vLLM >= 0.33\)"):
            lib.run_case(tmp_path / "on", *sc_sessions(async_scheduling))
        return
    on = lib.run_case(tmp_path / "on", *sc_sessions(async_scheduling))
    off = lib.run_case(tmp_path / "off", *sc_sessions(async_scheduling), traced=False)
    assert on.outputs == off.outputs and on.result.finished == off.result.finished
    trace = on.trace
    # the interned form (1.3, the default) includes 1.2's session records
    assert trace[0]["schema_version"] == interned.SCHEMA_VERSION and trace[0]["capabilities"]["session_hook"] is True
    assert not lib.schema_errors(trace)
    oracle = {r["req"]: r for r in on.oracle if r["type"] == "request"}
    chunks = [r for r in trace if r["type"] == "chunk"]
    anchor = int(trace[0]["clock"]["monotonic_ns"])
    for rid in ("s0", "s1"):
        queued = [round(t * 1e9) - anchor for kind, t in oracle[rid]["events"] if kind == "QUEUED"]
        assert [c["queued_t"] for c in chunks if c["req"] == rid] == queued[1:]
        ends = [e for r in trace if r["type"] == "update" for e in r.get("turn_ends", []) if e[0] == rid]
        assert [reason for _, reason in ends] == [reason for _, reason in oracle[rid]["turn_ends"]]
    # s0's chunks commenced inside update_from_output (stamped with its t_start), s1's from add_request
    assert all(c["t"] < c["queued_t"] for c in chunks if c["req"] == "s0")
    assert all(c["t"] == c["queued_t"] for c in chunks if c["req"] == "s1")
    # s1 was closed while waiting for input: vLLM aborted it; s0 finished at its last turn's end
    finishes = {r["req"]: r for r in trace if r["type"] == "finish"}
    assert finishes["s1"]["reason"] == "abort" and finishes["s1"]["from"] == "waiting"
    assert [f for r in trace if r["type"] == "update" for f in r["finished"] if f[0] == "s0"][0][1] == "length"
