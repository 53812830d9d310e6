#!/usr/bin/env python3
"""Compare a vsched raw trace with vLLM's own Prometheus figures (and the client's view).

    python compare.py RUN_DIR            # RUN_DIR as written by run_e2e.py
    python compare.py --trace DIR --metrics metrics.prom [--requests requests.json]

Standard library only. Prints one line per check and writes nothing; exit 1 if a
check fails. `compare(...)` returns the same as a list of dicts (used by test_e2e.py
and written to comparison.json by run_e2e.py).

What is comparable, and why (vLLM v1, vllm/v1/metrics/stats.py):
- Counters (finished requests by reason, preemptions, prompt and generation tokens) are
  counts of the same events the trace records: they must be equal.
- queue / prefill / decode / inference time histograms are built from engine-core
  timestamps (time.monotonic() in the EngineCore process: QUEUED and SCHEDULED events and
  EngineCoreOutputs.timestamp). The trace records the same instants (arrival.t, step.sched_t,
  update.out_t) relative to its own monotonic anchor, so per-request intervals agree to
  float rounding: sums within 1 ms total, and bucket counts equal except for values within
  1e-4 s of a bucket bound.
- TTFT and e2e latency are measured by the API-server process with time.time() (arrival in
  the frontend, end when the frontend processes the output). The trace's estimate uses the
  engine-core output timestamp mapped to epoch through the header's clock anchor, so the
  Prometheus value is larger by the ZMQ hop + output processing: checked as
  0 <= (prom - trace) / N <= 50 ms, and the mean lag is reported.
- Gauges (KV usage, running, waiting) are the last SchedulerStats: compared with the last
  update record.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import math
import os
import re
import sys
from collections import defaultdict

NS = 1e9

# ---------------------------------------------------------------- Prometheus text


_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prom(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        try:
            val = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, val))
    return out


class Prom:
    def __init__(self, text: str):
        self.samples = parse_prom(text)

    def total(self, name: str, **match) -> float | None:
        vals = [v for n, l, v in self.samples if n == name
                and all(l.get(k) == w for k, w in match.items())]
        return sum(vals) if vals else None

    def buckets(self, hist: str) -> list[tuple[float, float]]:
        acc: dict[float, float] = defaultdict(float)
        for n, l, v in self.samples:
            if n == hist + "_bucket":
                acc[float(l["le"])] += v
        return sorted(acc.items())

    def names(self) -> set[str]:
        return {n for n, _, _ in self.samples}


# ---------------------------------------------------------------- raw trace


def _open(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def load_trace(trace_dir: str) -> list[dict]:
    """One dict per trace file: {'file', 'header', 'records', 'truncated_tail'}."""
    files = sorted(glob.glob(os.path.join(trace_dir, "*.jsonl")) +
                   glob.glob(os.path.join(trace_dir, "*.jsonl.gz")))
    out = []
    for f in files:
        recs, truncated = [], False
        with _open(f) as fh:
            lines = fh.read().split("\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError:
                if i >= len(lines) - 2:  # a cut last line (killed process)
                    truncated = True
                    continue
                raise
        header = next((r for r in recs if r.get("type") == "header"), None)
        if header is not None and int(str(header.get("schema_version", "1.0")).split(".")[1]) >= 3:
            recs = _resolved(recs)
        out.append({"file": os.path.basename(f), "header": header, "records": recs,
                    "truncated_tail": truncated})
    return out


def _resolved(recs: list[dict]) -> list[dict]:
    """Trace schema 1.3 (handles, delta lists) back to ids and full lists."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    from vsched_emitter import interned

    return interned.decode_all(recs)


def derive(files: list[dict]) -> dict:
    """Per-request figures from the trace, in vLLM's own definitions."""
    reqs: dict[str, dict] = {}
    preempt_total = 0
    steps = updates = 0
    last_update = None
    header = None
    has_end = False
    emitter_errors = []
    dropped = 0
    sched_t_missing = out_t_missing = 0
    for f in files:
        h = f["header"] or {}
        header = header or h
        clock = h.get("clock") or {}
        epoch0 = int(clock["epoch_ns"]) if clock.get("epoch_ns") is not None else None  # AbsNs: decimal string
        for r in f["records"]:
            ty = r.get("type")
            if ty == "arrival":
                q = reqs.setdefault(r["req"], {})
                q.update(arrival_t=r["t"], prompt_tokens=r["prompt_tokens"],
                         max_tokens=r.get("max_tokens"),
                         arrival_epoch_ns=(int(r["vllm_arrival_epoch_ns"])
                                           if r.get("vllm_arrival_epoch_ns") is not None else None),
                         epoch0=epoch0,
                         preemptions=0, gen=0)
            elif ty == "step":
                steps += 1
                st = r.get("sched_t")
                if st is None:
                    # vLLM's scheduled_timestamp is observable only in steps with SCHEDULED
                    # events; it matters only where a request is admitted.
                    sched_t_missing += bool(r.get("new"))
                    st = r["t_start"]
                for req, _computed in r.get("new", []):
                    q = reqs.setdefault(req, {"preemptions": 0, "gen": 0})
                    q.setdefault("admit_t", st)
                for req in r.get("preempted", []):
                    preempt_total += 1
                    reqs.setdefault(req, {"preemptions": 0, "gen": 0})["preemptions"] += 1
            elif ty == "update":
                updates += 1
                last_update = r
                ot = r.get("out_t")
                if ot is None:
                    out_t_missing += any(n > 0 for _, n in r.get("tokens", []))
                    ot = r["t_end"]
                for req, n in r.get("tokens", []):
                    q = reqs.setdefault(req, {"preemptions": 0, "gen": 0})
                    if n > 0:
                        q.setdefault("first_out_t", ot)
                        q["last_out_t"] = ot
                    q["gen"] += n
                for req, reason, ntok in r.get("finished", []):
                    q = reqs.setdefault(req, {"preemptions": 0, "gen": 0})
                    q["finish_reason"], q["output_tokens"] = reason, ntok
            elif ty == "finish":
                q = reqs.setdefault(r["req"], {"preemptions": 0, "gen": 0})
                q.setdefault("finish_reason", r["reason"])
                q.setdefault("output_tokens", r["output_tokens"])
            elif ty == "end":
                has_end = True
            elif ty == "emitter_error":
                emitter_errors.append(r)
            elif ty == "dropped":
                dropped += r.get("count", 0)

    for q in reqs.values():
        a, s = q.get("arrival_t"), q.get("admit_t")
        fo, lo = q.get("first_out_t"), q.get("last_out_t")
        if a is not None and s is not None:
            q["queue_s"] = (s - a) / NS
        if s is not None and fo is not None:
            q["prefill_s"] = (fo - s) / NS
            q["inference_s"] = (lo - s) / NS
        if fo is not None:
            q["decode_s"] = (lo - fo) / NS
        if fo is not None and q.get("arrival_epoch_ns") and q.get("epoch0") is not None:
            q["ttft_est_s"] = (q["epoch0"] + fo - q["arrival_epoch_ns"]) / NS
            q["e2e_est_s"] = (q["epoch0"] + lo - q["arrival_epoch_ns"]) / NS
    return {"requests": reqs, "preemptions_total": preempt_total, "steps": steps,
            "updates": updates, "last_update": last_update, "header": header,
            "has_end": has_end, "emitter_errors": emitter_errors, "dropped": dropped,
            "sched_t_missing": sched_t_missing, "out_t_missing": out_t_missing}


# ---------------------------------------------------------------- checks


def _bucket_counts(values, bounds):
    return [sum(1 for v in values if v <= b) for b in bounds]


def _near_bound(values, bounds, eps):
    return sum(1 for v in values for b in bounds if not math.isinf(b) and abs(v - b) <= eps)


def compare(trace_dir: str, metrics_text: str, requests: list[dict] | None = None) -> list[dict]:
    prom = Prom(metrics_text)
    files = load_trace(trace_dir)
    checks: list[dict] = []

    def add(name, trace, prom_v, ok, note=""):
        checks.append({"check": name, "trace": trace, "prometheus": prom_v,
                       "ok": bool(ok), "note": note})

    if not files:
        add("trace files present", 0, None, False, f"no *.jsonl in {trace_dir}")
        return checks
    d = derive(files)
    reqs = d["requests"]
    finished = {k: v for k, v in reqs.items() if "finish_reason" in v}
    n = len(finished)

    add("trace has header", bool(d["header"]), None, d["header"] is not None)
    add("trace has end record (clean shutdown flushed)", d["has_end"], None, d["has_end"],
        "informational: vLLM SIGKILLs EngineCore at shutdown before Scheduler.shutdown() runs (also with --shutdown-timeout 10)")
    checks[-1]["informational"] = True
    add("no emitter_error records", len(d["emitter_errors"]), None, not d["emitter_errors"],
        "; ".join(f"{e.get('where')}: {e.get('error')}" for e in d["emitter_errors"][:3]))
    add("no dropped records", d["dropped"], None, d["dropped"] == 0)
    add("every arrival finished", f"{n}/{sum(1 for q in reqs.values() if 'arrival_t' in q)}",
        None, n == sum(1 for q in reqs.values() if "arrival_t" in q))

    # ---- counters: exact
    succ = prom.total("vllm:request_success_total")
    add("finished requests == vllm:request_success_total", n, succ, succ == n)
    by_reason = defaultdict(int)
    for q in finished.values():
        by_reason[q["finish_reason"]] += 1
    for reason in sorted(set(by_reason) | {"length", "stop"}):
        pv = prom.total("vllm:request_success_total", finished_reason=reason)
        if reason in ("abort", "error") and pv is None:
            continue
        add(f"finished[{reason}] == request_success_total{{finished_reason={reason}}}",
            by_reason.get(reason, 0), pv, (pv or 0) == by_reason.get(reason, 0))
    pre = prom.total("vllm:num_preemptions_total")
    add("sum(step.preempted) == vllm:num_preemptions_total", d["preemptions_total"], pre,
        pre == d["preemptions_total"])
    ph = "vllm:request_num_preemptions"  # histogram of per-request preemption counts, if present
    if prom.total(ph + "_sum") is not None:
        s = sum(q["preemptions"] for q in finished.values())
        add(f"sum(per-request preemptions) == {ph}_sum", s, prom.total(ph + "_sum"),
            prom.total(ph + "_sum") == s)
    ptok = sum(q.get("prompt_tokens", 0) for q in finished.values())
    for name in ("vllm:prompt_tokens_total", "vllm:request_prompt_tokens_sum"):
        pv = prom.total(name)
        if pv is not None:
            add(f"sum(arrival.prompt_tokens) == {name}", ptok, pv, pv == ptok)
    gtok = sum(q.get("output_tokens", 0) for q in finished.values())
    gtok_upd = sum(q.get("gen", 0) for q in finished.values())
    add("sum(finished output_tokens) == sum(update.tokens)", gtok, gtok_upd, gtok == gtok_upd)
    for name in ("vllm:generation_tokens_total", "vllm:request_generation_tokens_sum"):
        pv = prom.total(name)
        if pv is not None:
            add(f"sum(output_tokens) == {name}", gtok, pv, pv == gtok)

    # ---- engine-core-clock intervals: sums within 1 ms, bucket counts equal
    same_clock_note = ("engine-core monotonic clock on both sides"
                       + (f"; sched_t missing in {d['sched_t_missing']} admitting steps" if d["sched_t_missing"] else "")
                       + (f"; out_t missing in {d['out_t_missing']} updates with tokens" if d["out_t_missing"] else ""))
    exact_clock = d["sched_t_missing"] == 0 and d["out_t_missing"] == 0
    for key, hist in (("queue_s", "vllm:request_queue_time_seconds"),
                      ("prefill_s", "vllm:request_prefill_time_seconds"),
                      ("decode_s", "vllm:request_decode_time_seconds"),
                      ("inference_s", "vllm:request_inference_time_seconds")):
        vals = [q[key] for q in finished.values() if key in q]
        pc, ps = prom.total(hist + "_count"), prom.total(hist + "_sum")
        if pc is None:
            continue
        add(f"count({key}) == {hist}_count", len(vals), pc, pc == len(vals) == n)
        tol = 1e-3 if exact_clock else 0.05 * max(1, len(vals))
        add(f"sum({key}) ~= {hist}_sum", round(sum(vals), 6), round(ps, 6),
            abs(sum(vals) - ps) <= tol,
            f"|diff| {abs(sum(vals) - ps):.2e} s, tolerance {tol:g} s; {same_clock_note}")
        b = prom.buckets(hist)
        if b and exact_clock:
            bounds = [x for x, _ in b]
            tc = _bucket_counts(vals, bounds)
            pcs = [int(c) for _, c in b]
            diff = sum(abs(x - y) for x, y in zip(tc, pcs))
            slack = _near_bound(vals, bounds, 1e-4)
            add(f"bucket counts({key}) == {hist}_bucket", diff, slack, diff <= slack,
                "trace = total |bucket difference|, prometheus = values within 1e-4 s of a bound")

    # ---- frontend-clock intervals: prom larger by the frontend lag
    for key, hist in (("ttft_est_s", "vllm:time_to_first_token_seconds"),
                      ("e2e_est_s", "vllm:e2e_request_latency_seconds")):
        vals = [q[key] for q in finished.values() if key in q]
        pc, ps = prom.total(hist + "_count"), prom.total(hist + "_sum")
        if pc is None or not vals:
            continue
        add(f"count({key}) == {hist}_count", len(vals), pc, pc == len(vals))
        lag = (ps - sum(vals)) / len(vals)
        add(f"sum({key}) vs {hist}_sum: mean frontend lag", round(sum(vals), 6), round(ps, 6),
            -0.002 <= lag <= 0.050,
            f"mean lag {lag * 1e3:.2f} ms/request (allowed -2..50 ms): API-server time.time() vs "
            "engine-core output timestamp mapped through the header clock anchor")

    # ---- gauges vs the last update record
    lu, h = d["last_update"], d["header"] or {}
    if lu is not None:
        nb = (h.get("config") or {}).get("num_gpu_blocks")
        kv = prom.total("vllm:kv_cache_usage_perc")
        if nb and kv is not None:
            usage = 1.0 - lu["free_blocks"] / (nb - 1)
            add("1 - free_blocks/(num_gpu_blocks-1) at last update == vllm:kv_cache_usage_perc",
                round(usage, 9), kv, abs(usage - kv) <= 1e-6)
        for key, name in (("running", "vllm:num_requests_running"),
                          ("waiting", "vllm:num_requests_waiting")):
            pv = prom.total(name)
            if pv is not None:
                add(f"last update.{key} == {name}", lu[key], pv, pv == lu[key])

    # ---- the client's view
    if requests:
        ok_reqs = [r for r in requests if r.get("ok")]
        add("client requests == trace arrivals", len(ok_reqs),
            sum(1 for q in reqs.values() if "arrival_t" in q),
            len(ok_reqs) == sum(1 for q in reqs.values() if "arrival_t" in q))
        matched = mism = 0
        for r in ok_reqs:
            rid = r.get("response_id")
            cands = [k for k in reqs if rid and (k == rid or k.startswith(rid + "-"))]
            if len(cands) != 1:
                continue
            q = reqs[cands[0]]
            matched += 1
            if (q.get("prompt_tokens") != r.get("prompt_tokens")
                    or q.get("output_tokens") != r.get("completion_tokens")):
                mism += 1
        add("client usage (prompt, completion tokens) == trace, per request",
            f"{matched - mism}/{len(ok_reqs)} match", None,
            matched == len(ok_reqs) and mism == 0,
            "trace request id = response id + '-' suffix (vLLM's internal id)")
    return checks


def compare_cli(per_request_csv: str, metrics_text: str) -> list[dict]:
    """The vsched CLI's per_request.csv (from `vsched convert`) against Prometheus: the
    vllm_* columns are vLLM's own interval definitions in ns, so their sums must equal the
    histogram sums; counts and token totals must be equal."""
    import csv

    prom = Prom(metrics_text)
    rows = list(csv.DictReader(open(per_request_csv)))
    checks = []

    def col(name):
        return [float(r[name]) for r in rows if r.get(name) not in (None, "")]

    def add(name, trace, prom_v, ok, note=""):
        checks.append({"check": "cli " + name, "trace": trace, "prometheus": prom_v,
                       "ok": bool(ok), "note": note})

    succ = prom.total("vllm:request_success_total")
    done = [r for r in rows if r.get("finish_reason") in ("stop", "length")]
    add("completed rows == vllm:request_success_total", len(done), succ, len(done) == succ)
    for column, name in (("preemption_count", "vllm:num_preemptions_total"),
                         ("input_tokens", "vllm:prompt_tokens_total"),
                         ("output_tokens", "vllm:generation_tokens_total")):
        v, pv = sum(col(column)), prom.total(name)
        if pv is not None:
            add(f"sum({column}) == {name}", int(v), pv, v == pv)
    for column, hist in (("vllm_queued_time", "vllm:request_queue_time_seconds"),
                         ("vllm_prefill_time", "vllm:request_prefill_time_seconds"),
                         ("vllm_decode_time", "vllm:request_decode_time_seconds"),
                         ("vllm_inference_time", "vllm:request_inference_time_seconds")):
        v, ps = col(column), prom.total(hist + "_sum")
        if ps is None:
            continue
        tot = sum(v) / NS
        add(f"sum({column}) ~= {hist}_sum", round(tot, 6), round(ps, 6),
            len(v) == len(done) and abs(tot - ps) <= 1e-3, f"|diff| {abs(tot - ps):.2e} s")
    v, ps = col("ttft_from_vllm_arrival"), prom.total("vllm:time_to_first_token_seconds_sum")
    if ps is not None and v:
        lag = (ps - sum(v) / NS) / len(v)
        add("sum(ttft_from_vllm_arrival) vs vllm:time_to_first_token_seconds_sum",
            round(sum(v) / NS, 6), round(ps, 6), -0.002 <= lag <= 0.050,
            f"mean frontend lag {lag * 1e3:.2f} ms/request")
    return checks


def summary_figures(trace_dir: str) -> dict:
    d = derive(load_trace(trace_dir))
    fin = [q for q in d["requests"].values() if "finish_reason" in q]
    return {"requests": len(d["requests"]), "finished": len(fin), "steps": d["steps"],
            "updates": d["updates"], "preemptions": d["preemptions_total"],
            "preempted_requests": sum(1 for q in fin if q["preemptions"]),
            "max_queue_s": max((q.get("queue_s", 0) for q in fin), default=0),
            "header_config": (d["header"] or {}).get("config")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Compare a vsched trace with vLLM's /metrics")
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--trace")
    ap.add_argument("--metrics")
    ap.add_argument("--requests")
    a = ap.parse_args(argv)
    trace = a.trace or os.path.join(a.run_dir, "trace")
    metrics = a.metrics or os.path.join(a.run_dir, "metrics.prom")
    reqf = a.requests or (os.path.join(a.run_dir, "requests.json") if a.run_dir else None)
    requests = None
    if reqf and os.path.exists(reqf):
        requests = json.load(open(reqf))["requests"]
    checks = compare(trace, open(metrics).read(), requests)
    bad = 0
    for c in checks:
        flag = "ok  " if c["ok"] else ("info" if c.get("informational") else "FAIL")
        bad += (not c["ok"]) and not c.get("informational")
        print(f"{flag} {c['check']}: trace={c['trace']} prometheus={c['prometheus']}"
              + (f"  ({c['note']})" if c["note"] else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
