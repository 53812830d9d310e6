"""A recorded vsched trace re-told as vLLM's journey and step tracing (seed 004 §5), built
with OpenTelemetry's own protos and written as OTLP/JSON, the way an OTel collector's file
exporter stores it. Used by test_otlp_import.py: converting this file must give the tables
the original trace gives, wherever OTLP carries the data.

Shapes (seed 004): a span per request (scope vllm.scheduler) with events QUEUED,
SCHEDULED (schedule.kind FIRST|RESUME), FIRST_TOKEN, PREEMPTED, FINISHED carrying
scheduler.step, prefill_total_tokens, decode_max_tokens, decode_done_tokens, finish.status;
a span per step (scope vllm.scheduler.step) with step.BATCH_SUMMARY and one
step.REQUEST_SNAPSHOT per scheduled request.
"""
import base64
import json
import sys
from collections import defaultdict
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

ROOT = Path(__file__).resolve().parents[3]
STATUS = {"stop": "stopped", "length": "length", "abort": "aborted", "ignored": "ignored", "error": "error"}


def kv(key, v):
    if isinstance(v, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=v))
    if isinstance(v, int):
        return KeyValue(key=key, value=AnyValue(int_value=v))
    return KeyValue(key=key, value=AnyValue(string_value=str(v)))


def load_trace(path: Path):
    sys.path.insert(0, str(ROOT / "emitter" / "src"))
    from vsched_emitter import interned

    recs = [json.loads(line) for line in path.read_text().split("\n") if line.strip()]
    return interned.decode_all(recs) if recs[0]["schema_version"] >= "1.3" else recs


def build(recs) -> ExportTraceServiceRequest:
    header = recs[0]
    anchor = int(header["clock"]["epoch_ns"])
    ep = lambda t: anchor + t  # noqa: E731
    cfg = header["config"]
    updates = {r["step"]: r for r in recs if r["type"] == "update"}
    journey = defaultdict(list)  # request id -> [(name, time, attrs)]
    steps = []  # (step, [(name, time, attrs)])
    prompt, outputs, first_token = {}, defaultdict(int), set()
    for r in recs:
        if r["type"] == "arrival":
            prompt[r["req"]] = r["prompt_tokens"]
            journey[r["req"]].append(("QUEUED", ep(r["t"]), {"prefill_total_tokens": r["prompt_tokens"], "decode_max_tokens": r["max_tokens"]}))
        elif r["type"] == "step":
            u = updates[r["step"]]
            at = ep(r["sched_t"] if r.get("sched_t") is not None else r["t_start"])
            end = ep(u["out_t"] if u.get("out_t") is not None else u["t_start"])
            events = [("step.BATCH_SUMMARY", ep(r["t_start"]), {
                "step.id": r["step"], "step.ts_start_ns": ep(r["t_start"]), "step.ts_end_ns": end,
                "queue.running_depth": u["running"], "queue.waiting_depth": u["waiting"],
                "batch.scheduled_tokens": sum(n for _, n, _ in r["sched"]), "batch.num_preempted": len(r["preempted"]),
                "batch.num_finished": len(u["finished"]), "kv.blocks_total_gpu": cfg["num_gpu_blocks"], "kv.blocks_free_gpu": u["free_blocks"]})]
            for req, n, before in r["sched"]:
                events.append(("step.REQUEST_SNAPSHOT", ep(r["t_start"]), {
                    "step.id": r["step"], "request.id": req, "request.num_prompt_tokens": prompt[req],
                    "request.num_computed_tokens": before + n, "request.num_output_tokens": outputs[req],
                    "request.scheduled_tokens_this_step": n}))
            steps.append((r["step"], events))
            for key, kind in (("new", "FIRST"), ("resumed", "RESUME")):
                for req, _ in r[key]:
                    journey[req].append(("SCHEDULED", at, {"scheduler.step": r["step"], "schedule.kind": kind}))
            for req in r["preempted"]:
                journey[req].append(("PREEMPTED", at, {"scheduler.step": r["step"]}))
        elif r["type"] == "update":
            t = ep(r["out_t"] if r.get("out_t") is not None else r["t_start"])
            for req, n in r["tokens"]:
                outputs[req] += n
                if req not in first_token:
                    first_token.add(req)
                    journey[req].append(("FIRST_TOKEN", t, {"scheduler.step": r["step"]}))
            for req, reason, out in r["finished"]:
                journey[req].append(("FINISHED", t, {"scheduler.step": r["step"], "finish.status": STATUS[reason], "decode_done_tokens": out}))
        elif r["type"] == "finish":
            journey[r["req"]].append(("FINISHED", ep(r["t"]), {"finish.status": STATUS[r["reason"]], "decode_done_tokens": r["output_tokens"]}))

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "vllm"), kv("service.version", header["vllm_version"]),
                                   kv("vllm.config.max_num_seqs", cfg["max_num_seqs"]),
                                   kv("vllm.config.max_num_batched_tokens", cfg["max_num_batched_tokens"]),
                                   kv("vllm.config.block_size", cfg["block_size"]), kv("vllm.config.max_model_len", cfg["max_model_len"])])

    def span(scope, name, trace_key, events, attrs=()):
        s = scope.spans.add()
        s.trace_id = trace_key.to_bytes(16, "big")
        s.span_id = (trace_key + 1).to_bytes(8, "big")
        s.name, s.kind = name, Span.SPAN_KIND_INTERNAL
        s.start_time_unix_nano = min(t for _, t, _ in events)
        s.end_time_unix_nano = max(t for _, t, _ in events)
        s.attributes.extend(attrs)
        for ename, t, a in events:
            e = s.events.add()
            e.name, e.time_unix_nano = ename, t
            e.attributes.extend(kv(k, v) for k, v in a.items() if v is not None)

    core = rs.scope_spans.add()
    core.scope.name = "vllm.scheduler"
    for i, (rid, events) in enumerate(journey.items()):
        span(core, "llm_core", 1 + i, events, [kv("request.id", rid)])
    step_scope = rs.scope_spans.add()
    step_scope.scope.name = "vllm.scheduler.step"
    for step, events in steps:
        span(step_scope, "scheduler_step", 10**9 + step, events)
    return req


def otlp_json(req: ExportTraceServiceRequest) -> str:
    """OTLP/JSON: protobuf's JSON mapping, ids turned from base64 into hex as OTLP requires."""
    doc = json_format.MessageToDict(req)

    def hexify(o):
        if isinstance(o, dict):
            return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hexify(v)) for k, v in o.items()}
        if isinstance(o, list):
            return [hexify(v) for v in o]
        return o
    return json.dumps(hexify(doc), separators=(",", ":"))


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(otlp_json(build(load_trace(Path(sys.argv[1])))) + "\n")
