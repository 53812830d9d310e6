"""Run vLLM's own scheduler tests twice (emitter off, emitter on) and check every trace.

    python emitter/vllm_suite/run.py --venv VENV VERSION [--out DIR] [--tests FILE ...]
        [--sequential] [--strict-exceptions] [--json FILE]

(``emitter/scripts/run_vllm_suite.sh VERSION`` picks the venv and calls this.) Steps:

1. vLLM's tests for VERSION from its sdist (fetch.py), an offline hub cache (hf_cache.py);
2. pytest in the venv, once with ``--vsched-mode off`` and once ``on`` (concurrently unless
   ``--sequential``; pytest_vsched_suite.py), each writing a results file;
3. every trace the on-run wrote: ``vsched convert TRACE -o DIR``, then ``vsched validate DIR``
   (in ``--jobs`` long-lived ``node dist/batch.js`` processes: vsched_cli.py);
4. the gate (exit 1 when any fails):
   * parity: the same tests collected in both runs, and every test that passed without the
     emitter passed with it (skips are vLLM's own ``skipif``s; they must agree too);
   * every trace converts with exit 0 and validates with exit 0, or fails with exactly the
     finding codes an entry of exceptions.py lists for that test and stage.
   Exceptions that matched nothing are printed as stale (``--strict-exceptions``: a failure).

Exit 0 all checks passed, 1 a check failed, 2 the tests could not be run here (the reason is
printed; e.g. the venv is missing or this vLLM's sdist cannot be fetched), 3 a bug in this
script.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EMITTER_SRC = HERE.parent / "src"
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import suite_exceptions as exc_list  # noqa: E402
import fetch  # noqa: E402
import hf_cache  # noqa: E402
import suite_report as report  # noqa: E402
import vsched_cli  # noqa: E402


class Unrunnable(Exception):
    """The suite cannot run in this environment (exit 2)."""


PLATFORM_DIST = "vsched_suite_cpu_platform-0.1.dist-info"

#: Packages put ahead of the venv's (``pip install --no-deps --target``, cached per version) for
#: a vLLM whose venv resolved a dependency newer than it works with. vLLM 0.11 requires only
#: ``transformers>=4.55.2``, so its venv has transformers 5, where the tokenizer attribute
#: 0.11's ``get_cached_tokenizer`` reads (``all_special_tokens_extended``) no longer exists:
#: every test that initialises a tokenizer fails. These are the releases of 0.11's time.
EXTRAS = {
    "0.11.": ("transformers==4.57.1", "tokenizers==0.22.1", "huggingface_hub==0.35.3"),
}


def extras_dir(version: str, python: str) -> Path | None:
    pins = next((v for k, v in EXTRAS.items() if version.startswith(k)), None)
    if pins is None:
        return None
    d = fetch.cache_root() / f"vllm-suite-extras-{version}"
    stamp = d / ".ready"
    if not (stamp.exists() and stamp.read_text().split() == list(pins)):
        shutil.rmtree(d, ignore_errors=True)
        fetch._pip(python, "install", "--no-deps", "--no-warn-conflicts", "--target", str(d), *pins)
        stamp.write_text("\n".join(pins) + "\n")
    return d


def platform_plugin_dir() -> Path:
    """A directory holding vsched_suite_cpu_platform.py and the dist-info that registers it as
    a ``vllm.platform_plugins`` entry point (see that module for why)."""
    d = fetch.cache_root() / "vllm-suite-platform"
    dist = d / PLATFORM_DIST
    dist.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "vsched_suite_cpu_platform.py", d / "vsched_suite_cpu_platform.py")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vsched-suite-cpu-platform\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[vllm.platform_plugins]\nvsched_suite_cpu = vsched_suite_cpu_platform:cpu_platform\n")
    return d


def suite_env(version: str, tree: Path, hf_home: Path, extras: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLLM_SCHEDULER_")}
    path = [str(EMITTER_SRC), str(HERE), str(tree), str(platform_plugin_dir())]
    env.update(
        PYTHONPATH=os.pathsep.join(([str(extras)] if extras else []) + path),
        VSCHED_SUITE_EMITTER=str(EMITTER_SRC / "vsched_emitter"),
        HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        VLLM_TARGET_DEVICE="cpu",
        # model inspection is cached per vLLM version (shared with the emitter's own tests)
        VLLM_CACHE_ROOT=str(fetch.cache_root() / f"vllm-cache-{version}"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def pytest_cmd(python: str, tests: list[str], mode: str, results: Path, traces: Path | None) -> list[str]:
    cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "pytest_vsched_suite", "-q",
           "--no-header", "-rN", "--rootdir", ".", "-c", os.devnull,
           "--vsched-mode", mode, "--vsched-results", str(results)]
    if traces is not None:
        cmd += ["--vsched-traces", str(traces)]
    return cmd + tests


def run_pytest(args, tree: Path, env: dict, work: Path) -> dict:
    runs = {"off": (work / "results-off.json", None), "on": (work / "results-on.json", work / "traces")}
    procs = {}
    for mode, (results, traces) in runs.items():
        log = open(work / f"pytest-{mode}.log", "w")
        cmd = pytest_cmd(args.python, args.tests, mode, results, traces)
        procs[mode] = (subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT), log)
        if args.sequential:
            procs[mode][0].wait()
    out = {}
    for mode, (p, log) in procs.items():
        rc = p.wait()
        log.close()
        results = runs[mode][0]
        if not results.exists():
            tail = (work / f"pytest-{mode}.log").read_text().strip().splitlines()[-3:]
            raise Unrunnable(f"pytest ({mode}) wrote no results (exit {rc}): " + " | ".join(tail))
        out[mode] = json.loads(results.read_text())
        out[mode]["exit"] = rc
    return out


CLI = [REPO / "bin" / "vsched.js"]  # --cli replaces it (e.g. another branch's build)


def check_trace(cli: vsched_cli.Cli, trace: Path, out: Path) -> dict:
    """convert, then validate; exit codes and the finding codes of each stage."""
    res = {"convert": None, "validate": None, "codes": {}}
    c = cli.run(["convert", "-q", str(trace), "-o", str(out)])
    res["convert"] = c.returncode
    codes = set()
    manifest = out / "manifest.json"
    if c.returncode in (0, 1) and manifest.exists():
        for f in json.loads(manifest.read_text()).get("findings", []):
            if f.get("severity") == "error":
                codes.add(f["code"])
    for line in c.stderr.splitlines():
        if line.rstrip().endswith("]") and "[" in line:
            codes.add(line.rstrip()[line.rindex("[") + 1:-1])
    res["codes"]["convert"] = sorted(codes) if c.returncode != 0 else []
    if c.returncode != 0:
        res["stderr"] = c.stderr.strip().splitlines()[-1:] if c.stderr.strip() else []
    if c.returncode in (0, 1) and manifest.exists():
        v = cli.run(["validate", "--format", "json", str(out)])
        res["validate"] = v.returncode
        try:
            findings = json.loads(v.stdout).get("findings", [])
        except json.JSONDecodeError:
            findings = [{"code": "VALIDATE_OUTPUT_UNREADABLE", "severity": "error"}]
        res["codes"]["validate"] = sorted({f["code"] for f in findings if f.get("severity") == "error"})
    return res


def check_traces(traces_root: Path, conv_root: Path, jobs: int) -> dict:
    files = sorted(p for p in traces_root.glob("*/vsched-*.jsonl*"))
    tasks = {}
    cli = vsched_cli.Cli(CLI[0], jobs)
    try:
        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            for f in files:
                rel = f"{f.parent.name}/{f.name}"
                # parents made here: concurrent converts creating one new parent race on its mkdir
                (conv_root / f.parent.name).mkdir(parents=True, exist_ok=True)
                tasks[rel] = pool.submit(check_trace, cli, f, conv_root / f.parent.name / f.name.split(".jsonl")[0])
            return {rel: fut.result() for rel, fut in tasks.items()}
    finally:
        cli.close()


def cpu_seconds() -> float:
    """CPU time (user + system) of the finished child processes so far: unlike wall time,
    it does not depend on what else the machine is running."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version")
    ap.add_argument("--venv", required=True)
    ap.add_argument("--out", help="work directory (kept); default: a temporary one, removed on success")
    ap.add_argument("--tests", nargs="+", default=list(fetch.DEFAULT_TESTS))
    ap.add_argument("--sequential", action="store_true", help="run the two pytest passes one after the other")
    ap.add_argument("--jobs", type=int, default=4, help="concurrent convert/validate processes (node dist/batch.js, each running commands one at a time)")
    ap.add_argument("--strict-exceptions", action="store_true", help="an exception that matched nothing fails")
    ap.add_argument("--json", help="write the whole result as JSON here")
    ap.add_argument("--recheck", action="store_true",
                    help="with --out of an earlier run: convert and validate its traces again (no pytest)")
    ap.add_argument("--cli", help="the vsched CLI to check traces with (default: this checkout's bin/vsched.js)")
    args = ap.parse_args(argv)
    args.python = str(Path(args.venv) / "bin" / "python")
    if args.cli:
        CLI[0] = Path(args.cli).resolve()
    if args.recheck and not args.out:
        ap.error("--recheck needs --out DIR of an earlier run")
    t_start = time.monotonic()
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"vsched-vllm-suite-{args.version}-"))
    try:
        if not Path(args.python).exists() or not (Path(args.venv) / ".ready").exists():
            raise Unrunnable(f"no ready venv at {args.venv}")
        if not (CLI[0].parent.parent / "dist" / "cli.js").exists():
            raise Unrunnable(f"{CLI[0].parent.parent / 'dist' / 'cli.js'} is missing: run `npm run build` first")
        work.mkdir(parents=True, exist_ok=True)
        for sub in ("converted",) if args.recheck else ("traces", "converted"):
            shutil.rmtree(work / sub, ignore_errors=True)
        tree = fetch.tests_tree(args.version, args.python, args.tests)
        extras = extras_dir(args.version, args.python)
        hf_home = fetch.cache_root() / f"vllm-suite-hf-{args.version}"
        env = suite_env(args.version, tree, hf_home, extras)
        # made by the transformers the tests will use (its tokenizer files differ across majors)
        subprocess.run([args.python, str(HERE / "hf_cache.py"), str(hf_home)], check=True,
                       env=env, capture_output=True)
        t_tests, c_tests = time.monotonic(), cpu_seconds()
        if args.recheck:
            runs = {m: json.loads((work / f"results-{m}.json").read_text()) for m in ("off", "on")}
        else:
            runs = run_pytest(args, tree, env, work)
        t_traces, c_traces = time.monotonic(), cpu_seconds()
        traces = check_traces(work / "traces", work / "converted", args.jobs)
        t_end, c_end = time.monotonic(), cpu_seconds()
    except (Unrunnable, fetch.FetchError) as e:
        print(f"vllm-suite {args.version}: cannot run here: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"vllm-suite {args.version}: cannot run here: {' '.join(map(str, e.cmd[:3]))} failed "
              f"(exit {e.returncode}): {(e.stderr or b'').decode(errors='replace').strip()[-300:]}", file=sys.stderr)
        return 2
    result = report.evaluate(runs, traces, exc_list.EXCEPTIONS, version=args.version)
    result["seconds"] = {"setup": round(t_tests - t_start, 1), "pytest": round(t_traces - t_tests, 1),
                         "traces": round(t_end - t_traces, 1), "total": round(t_end - t_start, 1),
                         "cpu_pytest": round(c_traces - c_tests, 1), "cpu_traces": round(c_end - c_traces, 1),
                         "cpu_total": round(c_end, 1)}
    result["work"] = str(work)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(report.render(result, strict_exceptions=args.strict_exceptions))
    failed = result["checks"]["failed"] + (len(result["stale"]) if args.strict_exceptions else 0)
    if not args.out and not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
