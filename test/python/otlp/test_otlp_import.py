"""`vsched convert` of OTLP/JSON (seed 004 §5's journey and step tracing), checked through
OpenTelemetry's protos: recorded traces re-told as OTLP by make_otlp.py (built with the
protos, written as OTLP/JSON) must convert to the tables the traces themselves give,
column for column wherever OTLP carries the figure; what it cannot carry stays empty as
docs/otlp.md says; request spans without step tracing (upstream llm_request) and sampled
steps are refused with one clear line.

Run with the analysis venv: "$(bash scripts/analysis_env.sh)/bin/python" -m pytest test/python/otlp
"""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).parent))
import make_otlp  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = {
    "e2e-vllm-cpu": ROOT / "fixtures" / "e2e-vllm-cpu" / "trace" / "vsched-31852-dp0.jsonl",  # real vllm serve
    "kv-pressure-preempt": ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl",  # preemptions
    "aborts": ROOT / "fixtures" / "aborts" / "vsched-1-dp0.jsonl",  # aborted while waiting and running
}
# figures OTLP journey + step tracing carries: equal to the original's
PER_REQUEST_SAME = ["request_id", "request_instance", "input_tokens", "output_tokens", "preemption_count", "finish_reason", "finished_from",
                    "waiting_time", "execution_time", "e2e_latency", "ttft", "tpot", "throughput", "arrival_time_epoch_ns",
                    "first_scheduled_time_epoch_ns", "completion_time_epoch_ns", "iterations_scheduled", "recomputed_tokens",
                    "vllm_queued_time", "vllm_prefill_time", "vllm_decode_time", "longest_wait", "max_tokens", "total_tokens"]
PER_ITERATION_SAME = ["iteration_id", "start_time_epoch_ns", "batch_size", "total_tokens", "prefill_tokens", "decode_tokens", "kv_cache_used",
                      "kv_cache_total", "preempted_count", "admitted_count", "resumed_count", "completed_count", "num_prefill_reqs",
                      "num_decode_reqs", "recompute_tokens", "output_tokens", "running_count_after_update", "waiting_count_after_update"]
# documented as empty from OTLP (docs/otlp.md)
PER_REQUEST_EMPTY = ["kv_cache_blocks", "vllm_arrival_time_epoch_ns", "ttft_from_vllm_arrival"]


def vsched(*args, check=True):
    return subprocess.run(["node", str(ROOT / "bin" / "vsched.js"), *map(str, args)], capture_output=True, text=True, timeout=300, check=check)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module", params=list(FIXTURES))
def pair(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    otlp = d / "traces.json"
    otlp.write_text(make_otlp.otlp_json(make_otlp.build(make_otlp.load_trace(FIXTURES[request.param]))) + "\n")
    vsched("convert", otlp, "-o", d / "from-otlp", "-q")
    vsched("convert", FIXTURES[request.param], "-o", d / "direct", "-q")
    return d, otlp


def test_the_file_is_otlp_json_the_protos_read(pair):
    _, otlp = pair
    from google.protobuf import json_format

    for line in otlp.read_text().split("\n"):
        if line:
            req = json_format.Parse(json.dumps(_b64(json.loads(line))), ExportTraceServiceRequest())
            names = {e.name for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans for e in s.events}
            assert {"QUEUED", "SCHEDULED", "FIRST_TOKEN", "FINISHED", "step.BATCH_SUMMARY", "step.REQUEST_SNAPSHOT"} <= names


def _b64(obj):
    """OTLP/JSON ids are hex; protobuf's JSON mapping of bytes is base64."""
    import base64

    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId") else _b64(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_b64(v) for v in obj]
    return obj


def test_tables_equal_the_original_where_otlp_carries_the_figure(pair):
    d, _ = pair
    got = {(r["request_id"], r["request_instance"]): r for r in rows(d / "from-otlp" / "per_request.csv")}
    want = {(r["request_id"], r["request_instance"]): r for r in rows(d / "direct" / "per_request.csv")}
    assert got.keys() == want.keys()
    for key, w in want.items():
        assert {c: got[key][c] for c in PER_REQUEST_SAME} == {c: w[c] for c in PER_REQUEST_SAME}, key
        assert all(got[key][c] == "" for c in PER_REQUEST_EMPTY), key
    got_it, want_it = rows(d / "from-otlp" / "per_iteration.csv"), rows(d / "direct" / "per_iteration.csv")
    assert [{c: r[c] for c in PER_ITERATION_SAME} for r in got_it] == [{c: r[c] for c in PER_ITERATION_SAME} for r in want_it]
    if "kv-pressure" in d.name or "e2e" in d.name:
        assert sum(int(r["preempted_count"]) for r in got_it) > 0, "the case must carry preemptions"


def test_validate_accepts_the_output_and_the_manifest_says_what_is_missing(pair):
    d, otlp = pair
    assert vsched("validate", d / "from-otlp").returncode == 0
    manifest = json.loads((d / "from-otlp" / "manifest.json").read_text())
    (source,) = manifest["sources"]
    assert source["header"]["level"] == "summary" and source["header"]["emitter_version"] == "otlp-json"
    assert {n["what"] for n in source["header"]["not_captured"]} >= {"waiting causes", "schedule() duration"}


def _request_spans_only(tmp_path):
    """What upstream vLLM exports (--otlp-traces-endpoint): llm_request spans, no step tracing."""
    req = ExportTraceServiceRequest()
    s = req.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id, s.span_id, s.name = bytes(range(16)), bytes(range(8)), "llm_request"
    s.start_time_unix_nano, s.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_001_000_000_000
    s.attributes.extend([make_otlp.kv("gen_ai.request.id", "cmpl-1"), make_otlp.kv("gen_ai.usage.prompt_tokens", 12)])
    path = tmp_path / "upstream.json"
    path.write_text(make_otlp.otlp_json(req) + "\n")
    return path


def test_request_spans_without_step_tracing_are_refused_clearly(tmp_path):
    r = vsched("convert", _request_spans_only(tmp_path), "-o", tmp_path / "out", check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "no step tracing" in r.stderr and "[OTLP_NO_STEPS]" in r.stderr
    assert not (tmp_path / "out").exists()


def test_sampled_steps_are_refused_clearly(tmp_path):
    req = make_otlp.build(make_otlp.load_trace(FIXTURES["kv-pressure-preempt"]))
    steps = req.resource_spans[0].scope_spans[1].spans
    del steps[5]  # step 5's span: what --step-tracing-sample-rate < 1 leaves out
    path = tmp_path / "sampled.json"
    path.write_text(make_otlp.otlp_json(req) + "\n")
    r = vsched("convert", path, "-o", tmp_path / "out", check=False)
    assert r.returncode == 2 and "[OTLP_SAMPLED]" in r.stderr and "step 5" in r.stderr, r.stderr


@pytest.mark.parametrize("name", list(FIXTURES))
def test_export_then_convert_round_trips(name, tmp_path):
    """vsched export --otlp writes seed 004's events beside its phase spans (one rank), so
    its file converts back to the tables of the original trace; t=0 is kept, so the
    relative times agree too. Every line parses with the protos first."""
    from google.protobuf import json_format

    otlp = tmp_path / "run.otlp.json"
    vsched("export", FIXTURES[name], "--otlp", otlp, "-q")
    events = 0
    for line in otlp.read_text().split("\n"):
        if line:
            req = json_format.Parse(json.dumps(_b64(json.loads(line))), ExportTraceServiceRequest())
            events += sum(len(s.events) for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans)
    assert events > 0
    vsched("convert", otlp, "-o", tmp_path / "back", "-q")
    vsched("convert", FIXTURES[name], "-o", tmp_path / "direct", "-q")
    same = PER_REQUEST_SAME + ["arrival_time", "first_scheduled_time", "completion_time", "first_token_time", "last_token_time"]
    # the tables keep a step's token time (out_t) only through the first-token and finish
    # events: a request aborted while running got its last token in a step neither names
    last_token = {"last_token_time", "tpot", "vllm_decode_time", "vllm_mean_tpot"}

    def picked(r):
        aborted_running = r["finish_reason"] == "abort" and r["finished_from"] == "running"
        return {c: r[c] for c in same if not (aborted_running and c in last_token)}
    got = {(r["request_id"], r["request_instance"]): picked(r) for r in rows(tmp_path / "back" / "per_request.csv")}
    want = {(r["request_id"], r["request_instance"]): picked(r) for r in rows(tmp_path / "direct" / "per_request.csv")}
    assert got == want
    same_it = PER_ITERATION_SAME + ["start_time"]
    assert [{c: r[c] for c in same_it} for r in rows(tmp_path / "back" / "per_iteration.csv")] == \
        [{c: r[c] for c in same_it} for r in rows(tmp_path / "direct" / "per_iteration.csv")]
