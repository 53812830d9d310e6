"""The counterfactual oracle (harness/counterfactual.py): it leaves the real run untouched
(the trace is byte-identical with it on and off) and gives known answers on scenarios built
so that exactly one limit holds the queue back."""
import json

import pytest

import vsched_testlib as lib
from vsched_emitter.harness import counterfactual, driver


def _run(tmp, name, cf):
    specs, knobs = lib.SCENARIOS[name]()
    res = driver.run(specs, knobs, lib.cost, trace_dir=tmp / "trace", oracle_path=tmp / "oracle.jsonl",
                     pid=7, counterfactual=cf)
    rows = []
    path = tmp / "trace" / "counterfactual.jsonl"
    if path.exists():
        rows = [json.loads(x) for x in path.read_text().splitlines()]
    oracle = [x for x in (tmp / "oracle.jsonl").read_text().splitlines() if not x.startswith('{"type":"meta"')]
    return res.trace_files[0].read_bytes(), oracle, rows


def _supported():
    specs, knobs = lib.SCENARIOS["basic"]()
    return counterfactual.unsupported_reason(driver.build_scheduler(knobs)) is None


SUPPORTED = _supported()


@pytest.mark.parametrize("name", ["kv_preempt", "token_budget", "max_num_seqs", "lora", "priority", "async", "no_chunk"])
def test_trace_is_identical_with_the_oracle_on(tmp_path, name):
    off = _run(tmp_path / "off", name, None)
    on = _run(tmp_path / "on", name, (1, 8))
    assert on[0] == off[0]          # the raw trace, byte for byte
    assert on[1] == off[1]          # vLLM's own per-step figures (the meta line names the directory)
    if SUPPORTED:
        assert on[2], "the oracle wrote nothing"
        assert all("check" not in r for r in on[2]), "a copy with nothing relaxed did not reproduce the real step"
    else:
        assert on[2] == []


def _by(rows):
    return {(r["step"], r["req"]): r["admitted_by"] for r in rows}


def test_known_answers(tmp_path):
    if not SUPPORTED:
        # vLLM 0.11: nothing to relax the budget with; the driver says so and writes no rows
        specs, knobs = lib.SCENARIOS["basic"]()
        reason = counterfactual.unsupported_reason(driver.build_scheduler(knobs))
        assert "running loop" in reason
        return
    seqs = _by(_run(tmp_path / "seqs", "max_num_seqs", (1, 8))[2])
    # 5 requests, max_num_seqs=2: the three behind wait for a seat and nothing else
    assert seqs[(0, "s2")] == [["max_num_seqs"]] and seqs[(0, "s4")] == [["max_num_seqs"]]
    budget = _by(_run(tmp_path / "budget", "token_budget", (1, 8))[2])
    # four 100-token prompts, 32-token budget: only a larger budget admits them at step 0
    assert budget[(0, "b1")] == [["token_budget"]] and budget[(0, "b3")] == [["token_budget"]]
    kv = _by(_run(tmp_path / "kv", "kv_preempt", (1, 8))[2])
    # 9 usable blocks, three 40-token prompts take 3 each: at step 1 the fourth needs more KV
    assert kv[(1, "k3")] == [["kv_blocks"]]
    lora = _by(_run(tmp_path / "lora", "lora", (1, 8))[2])
    # max_loras=1, adapter 1 in the batch: adapter-2 requests wait for a LoRA slot
    assert lora[(0, "l1")] == [["max_loras"]]
