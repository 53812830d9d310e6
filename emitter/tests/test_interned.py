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
    assert plain.header["schema_version"] in ("1.0", "1.1")
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
