"""The vLLM-suite gate's own logic (emitter/vllm_suite): which files are extracted from the
sdist, when the verdict fails, how the CLI is called. The suite itself runs vLLM's tests:
run_vllm_suite.sh."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vllm_suite"))

import fetch  # noqa: E402
import suite_report  # noqa: E402
import vsched_cli  # noqa: E402
from pytest_vsched_suite import trace_dir_name  # noqa: E402
from suite_exceptions import Exception_  # noqa: E402


def test_select_follows_imports_and_leaves_the_root_conftest_out():
    members = {
        "tests/__init__.py": b"",
        "tests/conftest.py": b"import tblib\n",
        "tests/v1/__init__.py": b"",
        "tests/v1/core/__init__.py": b"",
        "tests/v1/core/conftest.py": b"",
        "tests/v1/core/test_a.py": b"from .utils import f\ndef test_x():\n    from tests.v1.core.test_b import g\n",
        "tests/v1/core/utils.py": b"from tests.v1.kv.unit.utils import K\n",
        "tests/v1/core/test_b.py": b"",
        "tests/v1/core/test_unrelated.py": b"",
        "tests/v1/kv/__init__.py": b"",
        "tests/v1/kv/unit/__init__.py": b"",
        "tests/v1/kv/unit/utils.py": b"import numpy\n",
    }
    assert fetch.select(members, ["tests/v1/core/test_a.py"]) == sorted([
        "tests/__init__.py", "tests/v1/__init__.py", "tests/v1/core/__init__.py", "tests/v1/core/conftest.py",
        "tests/v1/core/test_a.py", "tests/v1/core/test_b.py", "tests/v1/core/utils.py",
        "tests/v1/kv/__init__.py", "tests/v1/kv/unit/__init__.py", "tests/v1/kv/unit/utils.py",
    ])


def _runs(off: dict, on: dict) -> dict:
    def tests(d):
        return {t: {"outcome": o, "trace_dir": trace_dir_name(t)} for t, o in d.items()}
    return {"off": {"tests": tests(off)}, "on": {"tests": tests(on)}}


T1, T2 = "tests/v1/core/test_s.py::test_one", "tests/v1/core/test_s.py::test_two[a-b]"


def _trace(test, convert=0, validate=0, codes=None):
    return {f"{trace_dir_name(test)}/vsched-1-dp0.jsonl": {
        "convert": convert, "validate": validate, "codes": codes or {"convert": [], "validate": []}}}


def test_a_test_that_only_passes_without_the_emitter_fails_the_gate():
    r = suite_report.evaluate(_runs({T1: "passed", T2: "passed"}, {T1: "passed", T2: "failed"}), _trace(T1), [],
                              version="0.33.0")
    assert [d["test"] for d in r["parity"]["diffs"]] == [T2]
    assert r["checks"]["failed"] == 1
    assert r["checks"]["passed"] == 2


def test_a_test_missing_from_one_run_fails_the_gate():
    r = suite_report.evaluate(_runs({T1: "passed", T2: "passed"}, {T1: "passed"}), _trace(T1), [], version="0.33.0")
    assert r["checks"]["failed"] == 1


def test_no_trace_at_all_fails_the_gate():
    r = suite_report.evaluate(_runs({T1: "passed"}, {T1: "passed"}), {}, [], version="0.33.0")
    assert r["checks"]["failed"] == 1 and r["no_traces"]


def test_failing_in_both_runs_is_parity():
    r = suite_report.evaluate(_runs({T1: "failed", T2: "passed"}, {T1: "error", T2: "passed"}), _trace(T2), [],
                              version="0.33.0")
    assert r["checks"] == {"passed": 3, "failed": 0, "excepted": 0, "total": 3}


def test_trace_failures_are_excused_only_by_a_matching_entry():
    runs = _runs({T1: "passed", T2: "passed"}, {T1: "passed", T2: "passed"})
    bad = {"convert": [], "validate": ["DUPLICATE_REQUEST"]}
    traces = {**_trace(T1), **_trace(T2, validate=1, codes=bad)}
    entry = Exception_("tests/v1/core/test_s.py::test_two[*]", "validate", ("DUPLICATE_REQUEST", "X"),
                       "pending-engine-fix", "why")
    assert suite_report.evaluate(runs, traces, [], version="0.33.0")["checks"]["failed"] == 1
    ok = suite_report.evaluate(runs, traces, [entry], version="0.33.0")
    assert ok["checks"] == {"passed": 3, "failed": 0, "excepted": 1, "total": 4}
    wrong_stage = Exception_(entry.test, "convert", entry.codes, entry.kind, entry.reason)
    assert suite_report.evaluate(runs, traces, [wrong_stage], version="0.33.0")["checks"]["failed"] == 1
    more = {**_trace(T1), **_trace(T2, validate=1, codes={"convert": [], "validate": ["DUPLICATE_REQUEST", "NEW"]})}
    assert suite_report.evaluate(runs, more, [entry], version="0.33.0")["checks"]["failed"] == 1


def test_an_entry_that_matched_nothing_is_stale_only_for_a_test_that_ran():
    runs = _runs({T1: "passed"}, {T1: "passed"})
    ran = Exception_(T1, "validate", ("DUPLICATE_REQUEST",), "pending-engine-fix", "fixed since")
    absent = Exception_("tests/v1/core/test_s.py::test_other", "validate", ("X",), "never-produced", "other version")
    r = suite_report.evaluate(runs, _trace(T1), [ran, absent], version="0.33.0")
    assert r["stale"] == [0]
    assert "1 failed" in suite_report.render(r, strict_exceptions=True).splitlines()[-1]
    assert "0 failed" in suite_report.render(r).splitlines()[-1]


def test_trace_dir_names_have_no_glob_characters_and_do_not_collide():
    a = trace_dir_name("tests/v1/core/test_s.py::test_x[True-None]")
    b = trace_dir_name("tests/v1/core/test_s.py::test_x[True/None]")
    assert a == "test_s__test_x.True-None"
    assert not set("[]*?/ ") & set(a + b)
    assert a != b


# Stand-ins for bin/vsched.js and dist/batch.js (the real batch.js is compared with the CLI in
# test/batch.test.ts): exit code = number of arguments, stdout = the arguments; "die" crashes.
FAKE_CLI = "const a = process.argv.slice(2); process.stdout.write('cli ' + a.join(' ')); process.exitCode = a.length;\n"
FAKE_BATCH = """import { createInterface } from "node:readline";
for await (const line of createInterface({ input: process.stdin })) {
  const { argv } = JSON.parse(line);
  if (argv[0] === "die") { process.stderr.write("boom\\n"); process.exit(7); }
  process.stdout.write(JSON.stringify({ exit: argv.length, stdout: "batch " + argv.join(" "), stderr: "" }) + "\\n");
}
"""


def _fake_checkout(root: Path, batch: bool) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "vsched.js").write_text(FAKE_CLI)
    if batch:
        (root / "dist").mkdir()
        (root / "dist" / "batch.js").write_text(FAKE_BATCH)
        (root / "package.json").write_text('{"type": "module"}')
    return root / "bin" / "vsched.js"


def test_cli_runs_commands_in_batch_and_a_crash_is_that_command_s_result(tmp_path):
    cli = vsched_cli.Cli(_fake_checkout(tmp_path, batch=True), jobs=1)
    try:
        r = cli.run(["convert", "x"])
        assert (r.returncode, r.stdout) == (2, "batch convert x")
        dead = cli.run(["die"])
        assert dead.returncode == 7 and dead.stderr == "boom\n"
        # a fresh process takes the next command
        assert cli.run(["validate"]).stdout == "batch validate"
    finally:
        cli.close()


def test_a_cli_without_batch_js_runs_one_process_per_command(tmp_path):
    cli = vsched_cli.Cli(_fake_checkout(tmp_path, batch=False), jobs=2)
    r = cli.run(["convert", "x", "y"])
    assert (r.returncode, r.stdout) == (3, "cli convert x y")
    cli.close()
