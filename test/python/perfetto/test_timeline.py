"""`vsched timeline` on real traces, checked against the tables `vsched convert` wrote
from the same trace (the oracle: computed by the engine, independently of the timeline
code), after decoding the protobuf with Perfetto's own protos and the JSON with json.load.

Run: "$(bash scripts/analysis_env.sh)/bin/python" -m pytest -q -p no:cacheprovider test/python/perfetto
"""
import csv
import json
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from timeline_decode import decode_json, decode_proto, slices

ROOT = Path(__file__).resolve().parents[3]
VSCHED = ["node", str(ROOT / "bin" / "vsched.js")]
TRACES = {
    "e2e-vllm-cpu": ROOT / "fixtures" / "e2e-vllm-cpu" / "trace",
    "kv-pressure-preempt": ROOT / "fixtures" / "kv-pressure-preempt" / "vsched-1-dp0.jsonl",
    # steps overlap under async scheduling: iterations need a second track
    "async-scheduling": ROOT / "fixtures" / "async-scheduling" / "vsched-1-dp0.jsonl",
}
CAUSES_DOC = ROOT / "src" / "schema" / "waiting.ts"
COUNTER_COLUMNS = {
    "KV blocks used": "kv_cache_used",
    "KV blocks total": "kv_cache_total",
    "running": "running_count",
    "waiting": "waiting_count",
    "preempted": "preempted_count",
    "scheduled prefill tokens": "prefill_tokens",
    "scheduled decode tokens": "decode_tokens",
    "token budget left": "token_budget_left",
}


def run(*args):
    r = subprocess.run([*VSCHED, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def table(logs: Path, name: str):
    with open(logs / f"{name}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def hostile_trace(src: Path, dst: Path):
    """The preemption fixture with every request id replaced by one a hostile client could send."""
    records = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    ids = {r["req"] for r in records if r["type"] == "arrival"}
    evil = {i: f'q"uo\\te,comma\nnew</script>{{"x":1}} 名前 ✓ #{i}' for i in ids}

    def swap(v):
        if isinstance(v, str):
            return evil.get(v, v)
        if isinstance(v, list):
            return [swap(x) for x in v]
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        return v

    dst.write_text("".join(json.dumps(r if r["type"] == "header" else swap(r), ensure_ascii=False) + "\n" for r in records))
    return set(evil.values())


def two_ranks(src: Path, tmp: Path):
    """The preemption fixture as DP rank 0 and, with the same request ids, as DP rank 1."""
    d = tmp / "ranks"
    d.mkdir()
    lines = src.read_text().splitlines(keepends=True)
    (d / "vsched-1-dp0.jsonl").write_text("".join(lines))
    head = json.loads(lines[0])
    head["dp_rank"], head["pid"] = 1, 2
    (d / "vsched-2-dp1.jsonl").write_text(json.dumps(head) + "\n" + "".join(lines[1:]))
    return d


@pytest.fixture(scope="module", params=[*TRACES, "hostile-ids", "two-ranks"])
def case(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    trace = TRACES.get(request.param)
    ids = None
    if request.param == "hostile-ids":
        trace = tmp / "hostile.jsonl"
        ids = hostile_trace(TRACES["kv-pressure-preempt"], trace)
    elif request.param == "two-ranks":
        trace = two_ranks(TRACES["kv-pressure-preempt"], tmp)
    logs = tmp / "logs"
    run("convert", trace, "-o", logs, "-q")
    run("timeline", trace, "-o", tmp / "t.perfetto-trace", "-q")
    run("timeline", trace, "-o", tmp / "t.json", "--format", "json", "-q")
    run("timeline", logs, "-o", tmp / "from-logs.perfetto-trace", "-q")
    oracle = {n: table(logs, n) for n in ("per_request", "per_iteration", "events")}
    if ids is not None:
        assert {r["request_id"] for r in oracle["per_request"]} == ids
    return {
        "name": request.param,
        "proto": decode_proto((tmp / "t.perfetto-trace").read_bytes()),
        "json": decode_json((tmp / "t.json").read_text(encoding="utf-8")),
        "from_logs": decode_proto((tmp / "from-logs.perfetto-trace").read_bytes()),
        **oracle,
    }


def request_tracks(m):
    return [u for u, t in m.tracks.items() if not t["counter"] and (t["name"] or "").startswith("requests ")]


def iteration_tracks(m):
    return [u for u, t in m.tracks.items() if not t["counter"] and (t["name"] or "").startswith("iterations")]


def all_slices(m, tracks):
    return {u: slices(m, u) for u in tracks}


def rank(m, track):
    """the DP rank of the process a track belongs to (pid = rank + 1)"""
    t = m.tracks[track]
    while t["pid"] is None:
        t = m.tracks[t["parent"]]
    return t["pid"] - 1


def roots(m):
    """request slices: depth 0 on a request lane, each with its rank and descendants"""
    out = []
    for u, ss in all_slices(m, request_tracks(m)).items():
        for i, s in enumerate(ss):
            if s[2] == 0:
                desc = [x for x in ss if _descends(ss, x, i)]
                out.append((rank(m, u), s, desc))
    return out


def _descends(ss, x, i):
    p = x[7]
    while p is not None:
        if p == i:
            return True
        p = ss[p][7]
    return False


@pytest.mark.parametrize("form", ["proto", "json"])
def test_every_track_nests_and_nothing_overlaps(case, form):
    m = case[form]
    tracks = request_tracks(m) + iteration_tracks(m)
    assert tracks
    for u in tracks:
        ss = slices(m, u)  # asserts begin/end pairing and time order on the track
        for s in ss:
            assert s[1] >= s[0]
            if s[7] is not None:
                p = ss[s[7]]
                assert p[0] <= s[0] and s[1] <= p[1], f"{s[3]} sticks out of {p[3]}"
        # siblings of one parent never overlap
        by_parent = defaultdict(list)
        for s in ss:
            if s[0] != s[1] or s[3] != "first token":
                by_parent[s[7]].append(s)
        for sib in by_parent.values():
            sib = sorted((s for s in sib if s[3] != "first token"), key=lambda s: s[0])
            for a, b in zip(sib, sib[1:]):
                assert a[1] <= b[0], f"{a[3]} and {b[3]} overlap on {u}"


@pytest.mark.parametrize("form", ["proto", "json"])
def test_one_request_slice_per_request_with_its_waits_by_cause(case, form):
    m = case[form]
    rows = {(int(r["dp_rank"]), r["request_id"]): r for r in case["per_request"]}
    rs = roots(m)
    assert Counter((k, s[3]) for k, s, _ in rs) == Counter((int(r["dp_rank"]), r["request_id"]) for r in case["per_request"]), "request slices named by id, one per per_request row"
    causes = [c[len("wait_"):-len("_ns")] for c in case["per_request"][0] if c.startswith("wait_") and c.endswith("_ns")]
    checked = 0
    for k, s, desc in rs:
        row = rows[(k, s[3])]
        assert s[0] == int(row["arrival_time"])
        if row["completion_time"]:
            assert s[1] == int(row["completion_time"])
        waited = Counter()
        for d in desc:
            if d[3].startswith("waiting:"):
                waited[d[3][len("waiting:"):]] += d[1] - d[0]
        assert set(waited) <= set(causes)
        for c in causes:
            assert waited[c] == int(row[f"wait_{c}_ns"]), f"{s[3]}: waiting:{c}"
            checked += waited[c]
        assert sum(waited.values()) == int(row["waiting_time"])
        assert s[4]["ttft_ns"] == int(row["ttft"]) and s[4]["preemptions"] == int(row["preemption_count"])
        if row["first_token_time"]:
            ft = [d for d in desc if d[3] == "first token"]
            assert [d[0] for d in ft] == [int(row["first_token_time"])]
    assert checked > 0


@pytest.mark.parametrize("form", ["proto", "json"])
def test_counters_and_iterations_equal_per_iteration(case, form):
    m = case[form]
    ranks = sorted({int(r["dp_rank"]) for r in case["per_iteration"]})
    assert sorted({rank(m, u) for u in iteration_tracks(m)}) == ranks
    for k in ranks:
        its = [r for r in case["per_iteration"] if int(r["dp_rank"]) == k]
        steps = sorted((s for u in iteration_tracks(m) if rank(m, u) == k for s in slices(m, u)), key=lambda s: s[4]["step"])
        assert [s[4]["step"] for s in steps] == [int(r["iteration_id"]) for r in its]
        for s, r in zip(steps, its):
            assert s[0] == int(r["start_time"])
            assert s[3] == r["scheduler_action"] == s[4]["scheduler_action"]
            for c in ("batch_size", "prefill_tokens", "decode_tokens"):
                assert s[4][c] == int(r[c])
            assert s[4]["scheduling_overhead_ns"] == int(r["scheduling_overhead"])
        counters = {m.tracks[u]["name"]: v for u, v in m.counters.items() if rank(m, u) == k}
        assert set(counters) == set(COUNTER_COLUMNS)
        for name, col in COUNTER_COLUMNS.items():
            samples = counters[name]
            assert [t for t, _ in samples] == sorted(t for t, _ in samples)
            i = -1
            for r in its:  # the value in force at each step's start is that step's
                t = int(r["start_time"])
                while i + 1 < len(samples) and samples[i + 1][0] <= t:
                    i += 1
                assert i >= 0 and samples[i][1] == int(r[col]), f"{name} at step {r['iteration_id']}"


@pytest.mark.parametrize("form", ["proto", "json"])
def test_flows_pair_each_preemption_with_its_resume(case, form):
    m = case[form]
    ends = {}
    for u in request_tracks(m):
        ss = slices(m, u)
        for s in ss:
            root = s
            while root[7] is not None:
                root = ss[root[7]]
            for f in s[5]:
                assert s[3] == "preempted" and f not in ends
                ends[f] = [(rank(m, u), root[3]), s[0], None]
        for s in ss:
            root = s
            while root[7] is not None:
                root = ss[root[7]]
            for f in s[6]:
                assert ends[f][0] == (rank(m, u), root[3]) and ends[f][2] is None
                ends[f][2] = s[0]
    got = Counter((rid, a, b) for rid, a, b in ends.values())
    # the oracle: each request_preempted event paired with the request's next request_resumed
    pending = {}
    want = Counter()
    for e in sorted(case["events"], key=lambda e: int(e["timestamp"])):
        if e["event_type"] == "request_preempted":
            pending[(int(e["dp_rank"]), e["request_id"])] = int(e["timestamp"])
        elif e["event_type"] == "request_resumed":
            key = (int(e["dp_rank"]), e["request_id"])
            want[(key, pending.pop(key), int(e["timestamp"]))] += 1
    # every fixture but the async one preempts: the comparison is never of two empty sets there
    assert (sum(want.values()) > 0) == (case["name"] != "async-scheduling")
    assert got == want


def test_from_a_logs_directory_the_same_timeline(case):
    def norm(m):
        out = []
        for u in request_tracks(m) + iteration_tracks(m):
            for s in slices(m, u):
                out.append((rank(m, u), s[0], s[1], s[2], s[3], json.dumps(s[4], sort_keys=True), len(s[5]), len(s[6])))
        return sorted(out)

    assert norm(case["from_logs"]) == norm(case["proto"])
    def counters(m):
        return {(rank(m, u), m.tracks[u]["name"]): v for u, v in m.counters.items()}

    assert counters(case["from_logs"]) == counters(case["proto"])


def test_json_and_proto_agree(case):
    def norm(m):
        return sorted((rank(m, u), s[0], s[1], s[2], s[3]) for u in request_tracks(m) + iteration_tracks(m) for s in slices(m, u))

    assert norm(case["json"]) == norm(case["proto"])


def test_async_steps_overlap_onto_a_second_iterations_track(case):
    m = case["proto"]
    names = {m.tracks[u]["name"] for u in iteration_tracks(m)}
    its = case["per_iteration"]
    overlap = any(int(b["start_time"]) <= int(a["end_time"] or 0) for a, b in zip(its, its[1:]) if a["dp_rank"] == b["dp_rank"])
    assert ("iterations (overlapping 1)" in names) == overlap


def test_a_window_and_a_subset(tmp_path):
    trace = TRACES["kv-pressure-preempt"]
    logs = tmp_path / "logs"
    run("convert", trace, "-o", logs, "-q")
    rows = table(logs, "per_request")
    its = table(logs, "per_iteration")
    lo, hi = 5 * 10**9, 9 * 10**9
    run("timeline", trace, "-o", tmp_path / "w.perfetto-trace", "--from", "5s", "--to", "9000ms", "-q")
    m = decode_proto((tmp_path / "w.perfetto-trace").read_bytes())

    def end(r):
        return int(r["completion_time"]) if r["completion_time"] else int(r["arrival_time"]) + int(r["waiting_time"]) + int(r["execution_time"])

    want = Counter(r["request_id"] for r in rows if int(r["arrival_time"]) <= hi and end(r) >= lo)
    assert 0 < sum(want.values()) < len(rows)
    assert Counter(s[3] for _, s, _ in roots(m)) == want
    steps = sorted(s[4]["step"] for u in iteration_tracks(m) for s in slices(m, u))
    assert steps == [int(r["iteration_id"]) for r in its if int(r["start_time"]) <= hi and int(r["end_time"]) >= lo]

    ids = sorted({r["request_id"] for r in rows})[:3]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    run("timeline", trace, "-o", tmp_path / "s.json", "--format", "json", "--requests", "@" + str(tmp_path / "ids.txt"), "-q")
    m = decode_json((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert sorted(s[3] for _, s, _ in roots(m)) == ids
    assert len([s for u in iteration_tracks(m) for s in slices(m, u)]) == len(its)


def test_without_per_step_rows_waits_are_plain_and_still_add_up(tmp_path):
    # a logs directory converted with --iteration-requests none: no causes, no phases from rows
    trace = TRACES["e2e-vllm-cpu"]
    logs = tmp_path / "logs"
    run("convert", trace, "-o", logs, "-q", "--iteration-requests", "none")
    r = subprocess.run([*VSCHED, "timeline", str(logs), "-o", str(tmp_path / "t.perfetto-trace"), "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "TIMELINE_NO_CAUSES" in r.stderr
    m = decode_proto((tmp_path / "t.perfetto-trace").read_bytes())
    rows = {r["request_id"]: r for r in table(logs, "per_request")}
    rs = roots(m)
    assert sorted(s[3] for _, s, _ in rs) == sorted(rows)
    split = 0
    for _, s, desc in rs:
        row = rows[s[3]]
        assert not any(d[3].startswith("waiting:") for d in desc)
        assert sum(d[1] - d[0] for d in desc if d[3] == "waiting") == int(row["waiting_time"])
        # the first running stretch splits at the first token
        first = next(d for d in desc if d[3] in ("prefill", "running"))
        if first[3] == "prefill":
            assert first[1] == int(row["first_token_time"])
            split += 1
    assert split > 0
