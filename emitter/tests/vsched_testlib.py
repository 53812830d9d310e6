"""Shared helpers: scenarios, trace reading, schema validation, the CLI's order rule."""
from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vsched_emitter import interned
from vsched_emitter.harness import driver
from vsched_emitter.harness.driver import RequestSpec as Spec
from vsched_emitter.harness.driver import SchedulerKnobs as Knobs

SCHEMA_PATH = Path(__file__).parents[2] / "schema" / "raw-trace.schema.json"


# ---- reading and validating -------------------------------------------------------------
class Trace(list):
    """A trace's records resolved (schema 1.3's handles and deltas decoded, so tests read
    ids and full lists whatever the format); ``wire`` holds them as written."""

    wire: list


def load_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        wire = [json.loads(line) for line in f]
    if not wire or wire[0].get("type") != "header":
        return wire
    trace = Trace(interned.decode_all(wire))
    trace.wire = wire
    return trace


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema), {
        o["properties"]["type"]["const"]: set(o["properties"]) for o in schema["oneOf"]
    }


def schema_errors(records: list[dict]) -> list[str]:
    """Checks records as written (a Trace's wire records)."""
    records = getattr(records, "wire", records)
    validator, keys = _validator()
    errors = []
    for i, rec in enumerate(records):
        for e in validator.iter_errors(rec):
            errors.append(f"record {i} ({rec.get('type')}): {e.message[:200]}")
        extra = set(rec) - keys.get(rec.get("type"), set())
        if extra:
            errors.append(f"record {i} ({rec.get('type')}): keys not in the schema: {sorted(extra)}")
    return errors


# ---- running ----------------------------------------------------------------------------
def cost(shape) -> float:
    """A deterministic toy cost model: 5 ms per step + per-token terms."""
    return 0.005 + 0.00005 * shape.prefill_tokens + 0.0002 * shape.decode_tokens


def summarize_output(sched, out) -> tuple:
    """What the model runner would see from one SchedulerOutput, made comparable."""
    cached = out.scheduled_cached_reqs
    resumed = getattr(cached, "resumed_req_ids", None)
    if resumed is None:
        flags = getattr(cached, "resumed_from_preemption", [])
        resumed = {rid for rid, f in zip(cached.req_ids, flags) if f}
    preempted = getattr(out, "preempted_req_ids", None)
    if preempted is None:  # v0.11: no field; read the queue
        preempted = {r.request_id for r in sched.waiting if r.status.name == "PREEMPTED"}
    return (tuple(out.num_scheduled_tokens.items()),
            tuple(r.req_id for r in out.scheduled_new_reqs),
            tuple(r.num_computed_tokens for r in out.scheduled_new_reqs),
            tuple(cached.req_ids), tuple(sorted(resumed)), tuple(sorted(preempted)),
            tuple(sorted(out.finished_req_ids)), out.total_num_scheduled_tokens)


@dataclass
class Case:
    result: object
    trace: list[dict]
    oracle: list[dict]
    outputs: list[tuple] = field(default_factory=list)

    def of(self, kind: str) -> list[dict]:
        return [r for r in self.trace if r["type"] == kind]

    @property
    def header(self) -> dict:
        return self.trace[0]

    def oracle_steps(self) -> dict[int, dict]:
        return {r["step"]: r for r in self.oracle if r["type"] == "step"}

    def oracle_requests(self) -> dict[str, dict]:
        return {r["req"]: r for r in self.oracle if r["type"] == "request"}


def run_case(out_dir: Path, specs, knobs, *, traced: bool = True, level: str = "full", gzip_: bool = False,
             max_steps: int | None = None, clock: str = "virtual", step_cost=cost, on_schedule=None,
             on_update=None) -> Case:
    """Run the driver; `on_schedule(sched, out)` / `on_update(sched, step, outputs)` run after
    each schedule() / update_from_output()."""
    outputs: list[tuple] = []

    def observe(sched, out):
        outputs.append(summarize_output(sched, out))
        if on_schedule is not None:
            on_schedule(sched, out)

    driver._schedule_observers.append(observe)
    if on_update is not None:
        driver._update_observers.append(on_update)
    try:
        res = driver.run(specs, knobs, step_cost, trace_dir=(out_dir / "trace") if traced else None, level=level,
                         oracle_path=out_dir / "oracle.jsonl", max_steps=max_steps, gzip=gzip_, clock=clock)
    finally:
        driver._schedule_observers.remove(observe)
        if on_update is not None:
            driver._update_observers.remove(on_update)
    readable = res.trace_files and os.path.isfile(os.path.realpath(res.trace_files[0]))  # not /dev/full
    trace = load_jsonl(res.trace_files[0]) if readable else []
    return Case(res, trace, load_jsonl(res.oracle_path), outputs)


# ---- scenarios ----------------------------------------------------------------------------
def prompt(n: int, seed: int) -> list[int]:
    return [(seed * 131 + i * 7) % 1000 + 10 for i in range(n)]


def sc_basic():
    specs = [Spec(f"r{i}", i * 0.01, prompt(40 + 10 * i, i), 6, eos_at=3 if i == 2 else None) for i in range(6)]
    specs.append(Spec("ab", 0.0, prompt(30, 99), 50, abort_after_s=0.05))
    return specs, Knobs(max_num_seqs=3, max_num_batched_tokens=64, num_blocks=20, max_model_len=512)


def sc_max_num_seqs():
    return ([Spec(f"s{i}", 0.0, prompt(20, i), 5) for i in range(5)],
            Knobs(max_num_seqs=2, max_num_batched_tokens=256, num_blocks=64, max_model_len=512))


def sc_token_budget():
    return ([Spec(f"b{i}", 0.0, prompt(100, i), 4) for i in range(4)],
            Knobs(max_num_seqs=8, max_num_batched_tokens=32, num_blocks=64, max_model_len=512))


def sc_kv_preempt(async_scheduling: bool = False):
    # 10 blocks (9 usable) of 16 tokens: 3 prompts of 40 fill 9 blocks, the 4th waits (kv_full);
    # decoding past 48 tokens needs a 4th block each, so running requests get preempted.
    return ([Spec(f"k{i}", 0.001 * i, prompt(40, i), 30) for i in range(4)],
            Knobs(max_num_seqs=8, max_num_batched_tokens=256, num_blocks=10, max_model_len=512,
                  async_scheduling=async_scheduling))


def sc_no_chunk():
    # Chunked prefill off (vLLM then requires max_num_batched_tokens >= max_model_len): two
    # decoding requests use 2 tokens of the 128 budget, so a 127-token prompt cannot fit.
    return ([Spec("a", 0.0, prompt(20, 1), 12), Spec("c", 0.0, prompt(20, 2), 12),
             Spec("big", 0.05, prompt(127, 3), 2)],
            Knobs(max_num_seqs=4, max_num_batched_tokens=128, max_model_len=128, num_blocks=64,
                  enable_chunked_prefill=False))


def sc_priority():
    pri = [3, 1, 2, 0, 1, 3, 0, 2]
    return ([Spec(f"p{i}", 0.004 * i, prompt(30 + 5 * i, i), 20, priority=pri[i]) for i in range(8)],
            Knobs(max_num_seqs=3, max_num_batched_tokens=128, num_blocks=9, max_model_len=512, policy="priority"))


def sc_lora():
    loras = [1, 2, 1, 2, 2]
    return ([Spec(f"l{i}", 0.0, prompt(24, i), 6, lora_id=loras[i]) for i in range(5)],
            Knobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=64, max_model_len=512, max_loras=1))


def sc_abort():
    specs = [Spec("run0", 0.0, prompt(20, 1), 40, abort_after_s=0.08),   # aborted while running
             Spec("wait1", 0.001, prompt(20, 2), 5, abort_after_s=0.02),  # aborted while waiting
             Spec("wait2", 0.002, prompt(20, 3), 5)]
    return specs, Knobs(max_num_seqs=1, max_num_batched_tokens=128, num_blocks=64, max_model_len=512)


def sc_prefix():
    shared = prompt(64, 42)
    specs = [Spec(f"x{i}", 0.2 * i, shared + prompt(10, i), 4) for i in range(3)]
    return specs, Knobs(max_num_seqs=4, max_num_batched_tokens=256, num_blocks=64, max_model_len=512)


def sc_async():
    specs, knobs = sc_kv_preempt(async_scheduling=True)
    specs.append(Spec("a_ab", 0.002, prompt(16, 77), 30, abort_after_s=0.03))
    return specs, knobs


SCENARIOS = {
    "basic": sc_basic,
    "max_num_seqs": sc_max_num_seqs,
    "token_budget": sc_token_budget,
    "kv_preempt": sc_kv_preempt,
    "no_chunk": sc_no_chunk,
    "priority": sc_priority,
    "lora": sc_lora,
    "abort": sc_abort,
    "prefix": sc_prefix,
    "async": sc_async,
}


# ---- the CLI's reconstruction rules, reimplemented --------------------------------------------
from vsched_emitter.order_rule import expected_order  # noqa: E402  (the rule the emitter writes by)


def fcfs_orders(trace: list[dict]) -> dict[int, list[str]]:
    """Waiting order after each step from `order` + the documented expectation."""
    order: list[str] = []
    arrivals: list[str] = []
    finished: set[str] = set()
    orders = {}
    for rec in trace:
        kind = rec["type"]
        if kind == "arrival":
            arrivals.append(rec["req"])
        elif kind == "finish":
            finished.add(rec["req"])
        elif kind == "update":
            finished.update(f[0] for f in rec["finished"])
        elif kind == "step":
            removed = {x[0] for x in rec["new"]} | {x[0] for x in rec["resumed"]} | finished
            expected = expected_order(order, arrivals, removed, rec["preempted"])
            order = rec["order"] if rec.get("order") is not None else expected
            orders[rec["step"]] = order
            arrivals, finished = [], set()
    return orders


def priority_orders(trace: list[dict]) -> dict[int, list[str]]:
    """Priority policy: the waiting set sorted by (priority, arrival_time, request_id)."""
    key: dict[str, tuple] = {}
    waiting: set[str] = set()
    orders = {}
    for rec in trace:
        kind = rec["type"]
        if kind == "arrival":
            waiting.add(rec["req"])
            key[rec["req"]] = (rec["priority"], int(rec["vllm_arrival_epoch_ns"]), rec["req"])
        elif kind == "finish":
            waiting.discard(rec["req"])
        elif kind == "update":
            waiting.difference_update(f[0] for f in rec["finished"])
        elif kind == "step":
            waiting.update(rec["preempted"])
            waiting.difference_update(x[0] for x in rec["new"] + rec["resumed"])
            orders[rec["step"]] = sorted(waiting, key=key.__getitem__)
    return orders
