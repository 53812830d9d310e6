"""`vsched export --otlp` read back by OpenTelemetry's own OTLP protos (opentelemetry-proto).

Each line must parse, strictly (no unknown field), as an ExportTraceServiceRequest; OTLP/JSON
writes trace and span ids as hex, which the test turns into the bytes the proto holds. The
spans are then checked against the tables `vsched convert` writes from the same trace:
one trace per request whose llm_request span starts at arrival and ends at completion,
queue spans that add up to the request's waiting_time and carry its causes, one preempted
span per preemption, prefill from the first admission, and one step span per iteration.

Run with the analysis venv: "$(bash scripts/analysis_env.sh)/bin/python" -m pytest test/python/otlp
"""
import base64
import csv
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ROOT = Path(__file__).resolve().parents[3]
CASES = {
    "e2e-vllm-cpu": [ROOT / "fixtures" / "e2e-vllm-cpu" / "trace"],
    "kv-pressure-preempt": [ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl"],
    "two-ranks": [ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl", ROOT / "fixtures" / "dp-rank-1" / "vsched-1-dp1.jsonl"],
}


def vsched(*args):
    subprocess.run(["node", str(ROOT / "bin" / "vsched.js"), *map(str, args)], check=True, timeout=300)


def hex_ids_to_base64(obj):
    """OTLP/JSON ids are hex; protobuf's JSON mapping of bytes is base64."""
    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId") else hex_ids_to_base64(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [hex_ids_to_base64(v) for v in obj]
    return obj


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind)


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    vsched("export", *CASES[request.param], "--otlp", d / "run.otlp.jsonl", "-q")
    vsched("convert", *CASES[request.param], "-o", d / "logs", "-q")
    spans = []
    for line in (d / "run.otlp.jsonl").read_text().split("\n"):
        if not line:
            continue
        req = json_format.Parse(json.dumps(hex_ids_to_base64(json.loads(line))), ExportTraceServiceRequest())
        for rs in req.resource_spans:
            resource = {a.key: value(a.value) for a in rs.resource.attributes}
            assert resource["service.name"] == "vllm"
            for ss in rs.scope_spans:
                assert ss.scope.name == "vsched"
                for s in ss.spans:
                    spans.append((resource, s))
    tables = {t: list(csv.DictReader((d / "logs" / f"{t}.csv").open(newline="")))
              for t in ("per_request", "per_iteration", "state_transitions")}
    return spans, tables


def test_every_span_has_a_parent_in_its_trace_and_fits_inside_it(exported):
    spans, _ = exported
    by_trace = defaultdict(dict)
    for _, s in spans:
        assert s.span_id not in by_trace[s.trace_id], "span ids are unique in a trace"
        assert len(s.trace_id) == 16 and len(s.span_id) == 8
        by_trace[s.trace_id][s.span_id] = s
    for trace in by_trace.values():
        roots = [s for s in trace.values() if not s.parent_span_id]
        # llm_core / scheduler_steps: spans carrying seed 004's journey and step events (one rank)
        assert len(roots) == 1 and roots[0].name in ("llm_request", "scheduler", "llm_core", "scheduler_steps")
        for e in roots[0].events:
            assert roots[0].start_time_unix_nano <= e.time_unix_nano <= roots[0].end_time_unix_nano
        for s in trace.values():
            assert s.end_time_unix_nano >= s.start_time_unix_nano
            if s.parent_span_id:
                parent = trace[s.parent_span_id]
                assert parent.start_time_unix_nano <= s.start_time_unix_nano and s.end_time_unix_nano <= parent.end_time_unix_nano, s.name


def test_request_spans_agree_with_per_request(exported):
    spans, tables = exported
    requests = {(r["request_id"], int(r["dp_rank"]), int(r["request_instance"])): r for r in tables["per_request"]}
    children = defaultdict(list)
    roots = {}
    for _, s in spans:
        if s.name == "llm_request":
            roots[s.span_id] = s
    root_of = {}
    for _, s in spans:
        if s.parent_span_id:
            root_of[s.span_id] = s.parent_span_id
    for _, s in spans:
        if s.name in ("queue", "prefill", "decode", "preempted"):
            top = s.parent_span_id
            while top in root_of:
                top = root_of[top]
            children[top].append(s)
    assert len(roots) == len(requests)
    matched = 0
    preempted_total = 0
    for span_id, root in roots.items():
        a = {x.key: value(x.value) for x in root.attributes}
        row = next(r for k, r in requests.items() if k[0] == a["gen_ai.request.id"] and k[1] == a["vsched.dp_rank"]
                   and int(r["arrival_time_epoch_ns"]) == root.start_time_unix_nano)
        matched += 1
        assert root.start_time_unix_nano == int(row["arrival_time_epoch_ns"])
        if row["completion_time_epoch_ns"]:
            assert root.end_time_unix_nano == int(row["completion_time_epoch_ns"])
        kids = children[span_id]
        queue = [k for k in kids if k.name == "queue"]
        assert sum(k.end_time_unix_nano - k.start_time_unix_nano for k in queue) == int(row["waiting_time"])
        causes = {value(x.value) for k in queue for x in k.attributes if x.key == "vsched.waiting_reason"}
        waited = {c[len("wait_"):-len("_ns")] for c, v in row.items() if c.startswith("wait_") and c.endswith("_ns") and v and int(v) > 0}
        assert causes == waited, (row["request_id"], causes, waited)
        preempted = [k for k in kids if k.name == "preempted"]
        assert len(preempted) == int(row["preemption_count"])
        preempted_total += len(preempted)
        prefill = sorted((k for k in kids if k.name == "prefill"), key=lambda k: k.start_time_unix_nano)
        if row["first_scheduled_time_epoch_ns"]:
            assert prefill[0].start_time_unix_nano == int(row["first_scheduled_time_epoch_ns"])
    assert matched == len(requests) and preempted_total > 0


def test_one_step_span_per_iteration(exported):
    spans, tables = exported
    steps = sorted((resource["vsched.dp_rank"], next(value(a.value) for a in s.attributes if a.key == "vsched.step"), s.start_time_unix_nano)
                   for resource, s in spans if s.name == "step")
    rows = sorted((int(r["dp_rank"]), int(r["iteration_id"]), int(r["start_time_epoch_ns"])) for r in tables["per_iteration"])
    assert steps == rows
