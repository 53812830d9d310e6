"""Schema 1.3's interned form (handles, delta lists) against the plain form of the same run:
once resolved, every record is the same, so the CLI's tables cannot differ; and the
interned bytes are fewer. The CLI's own reader of the form is tested in
test/parse-interned.test.ts; here its Python twin (interned.Decoder) resolves."""
import copy
import json

import pytest

import vsched_testlib as lib
from vsched_emitter import interned


def _records_without_version(trace):
    out = copy.deepcopy(list(trace))
    out[0].pop("schema_version")
    return out


@pytest.mark.parametrize("name", sorted(lib.SCENARIOS))
def test_interned_resolves_to_the_plain_records(tmp_path, scenarios, monkeypatch, name):
    monkeypatch.setenv("VLLM_SCHEDULER_LOG_FORMAT", "plain")
    plain = lib.run_case(tmp_path / name, *lib.SCENARIOS[name]())
    on = scenarios[name]
    assert on.header["schema_version"] == interned.SCHEMA_VERSION
    assert plain.header["schema_version"] in ("1.0", "1.1", "1.2")
    assert _records_without_version(on.trace) == _records_without_version(plain.trace)
    assert lib.schema_errors(on.trace) == [] and lib.schema_errors(plain.trace) == []
    wire = sum(len(json.dumps(r)) for r in on.trace.wire)
    assert wire < sum(len(json.dumps(r)) for r in plain.trace)


def test_handles_bound_at_arrival_and_freed_by_the_finishing_record(scenarios):
    # reused-id scenarios and aborts included: a handle is never named while unbound
    for name, case in scenarios.items():
        live: dict[int, str] = {}
        for rec in case.trace.wire[1:]:
            if rec["type"] == "arrival":
                assert rec["h"] not in live, (name, rec)
                live[rec["h"]] = rec["req"]
            elif rec["type"] == "finish" and isinstance(rec["req"], int):
                del live[rec["req"]]
            elif rec["type"] == "update":
                for f in rec["finished"]:
                    if isinstance(f[0], int):
                        del live[f[0]]
        assert len(live) <= len([r for r in case.trace if r["type"] == "arrival"])


def test_deltas_are_written(scenarios):
    steps = [r for r in scenarios["kv_preempt"].trace.wire if r["type"] == "step"]
    assert isinstance(steps[0]["sched"], list)
    assert any(isinstance(s["sched"], dict) for s in steps)


class _Out:
    def __init__(self, rid, n):
        self.request_id = rid
        self.new_token_ids = [0] * n


def _random_run(seed: int, steps: int = 300):
    """Random steps and updates (admissions, finishes, preemption-like reorders, ids used
    again, counts that follow or break the prediction), as the session queues them."""
    import random

    from vsched_emitter.records import OMIT, Deferred, StepValues, UpdateValues
    from vsched_emitter.session import _step_values, _update_values

    rng = random.Random(seed)
    queued = []
    live, running, computed = [], [], {}
    next_id = 0

    def arrive():
        nonlocal next_id
        rid = f"r{next_id % 40}" if rng.random() < 0.5 else f"cmpl-{next_id}"  # some ids come back
        next_id += 1
        if rid in live:
            return
        live.append(rid)
        computed[rid] = 0
        queued.append(("arrival", (next_id, rid, None, 10, 5, 0, None, "WAITING", OMIT, OMIT)))

    for _ in range(8):
        arrive()
    for s in range(steps):
        for _ in range(rng.randrange(3)):
            arrive()
        waiting = [r for r in live if r not in running]
        for r in waiting[: rng.randrange(3)]:
            running.insert(rng.randrange(len(running) + 1) if rng.random() < 0.2 else len(running), r)
        if running and rng.random() < 0.03:
            rng.shuffle(running)
        sched = [r for r in running if rng.random() < 0.97]
        nst = {r: (1 if rng.random() < 0.8 else rng.randrange(1, 30)) for r in sched}
        for r in nst:
            computed[r] += nst[r] + (rng.randrange(3) if rng.random() < 0.05 else 0)
        vals = StepValues(s, s, s, None, None, [[r, 0] for r in sched[:1]], [], [], [], 10, len(running), 0, 3,
                          OMIT, None, OMIT, [[r, 2] for r in sched[-2:]], OMIT, OMIT)
        queued.append(("step", Deferred(_step_values, nst, [computed[r] for r in nst], vals)))
        outs = [[_Out(r, n) for r, n in nst.items() if rng.random() < 0.97]]
        if outs[0] and rng.random() < 0.05:
            outs[0].append(outs[0][0])  # a request twice: written in full
        done = [r for r in sched if rng.random() < 0.04]
        for r in done:
            running.remove(r)
            live.remove(r)
        finished = [[r, "stop", 1] for r in done]
        queued.append(("update", Deferred(_update_values, outs, UpdateValues(s, s, s, None, None, finished, 10, 0, 0, [[r, 0] for r in done]))))
        if live and rng.random() < 0.05:
            r = rng.choice([x for x in live if x not in running] or [live[0]])
            if r in running:
                running.remove(r)
            live.remove(r)
            queued.append(("finish", (s, r, "abort", 0, "waiting")))
    return queued


@pytest.mark.parametrize("seed", range(6))
def test_random_lists_resolve_to_the_plain_records(seed):
    from vsched_emitter import records
    from vsched_emitter.records import Deferred

    queued = _random_run(seed)
    enc = interned.Encoder()
    wire = [json.loads(enc.encode(kind, values)) for kind, values in queued]
    plain = [json.loads(records.encode(kind, values.build() if type(values) is Deferred else values))
             for kind, values in queued]
    forms = {type(r[k]).__name__ for r in wire for k in ("sched", "tokens") if k in r}
    assert forms == {"list", "dict"}  # both full lists and deltas were written
    dec = interned.Decoder()
    assert [dec.decode(r) for r in wire] == plain
    assert len(dec.ids) <= 60  # bounded by the live requests, not the 600 arrivals
