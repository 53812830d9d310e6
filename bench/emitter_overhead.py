#!/usr/bin/env python3
"""CPU overhead of the vsched emitter on vLLM's real v1 scheduler.

Three schedulers with identical knobs and identical request streams run in lockstep in one
process: ``off`` (vLLM's own methods, no emitter code at all), ``summary`` and ``full``.
Every step, each scheduler is topped up to the same waiting backlog and then runs
schedule() → fake model output → update_from_output(); the three go in a rotating order so
that noise on a shared machine (other processes, frequency changes) hits all of them alike.
The emitter never changes scheduling decisions, so step ``i`` does the same work in all
three (checked at the end) and per-step costs can be compared pairwise.

Measured, per step, over schedule() + update_from_output():

* scheduler-thread CPU (``time.thread_time_ns``): the emitter's hooks themselves;
* wall time (``time.perf_counter_ns``) with the writer thread running: what the engine
  feels. The writer is Python and needs the GIL, so while it encodes, the scheduler thread
  waits for it (the interpreter hands the GIL over every 5 ms). Before each scheduler's step
  the bench waits until the *other* schedulers' writers are idle, so a window overlaps only
  its own writer; ``--forward-ms`` sleeps between schedule() and update_from_output() (GIL
  released, as while vLLM waits for the GPU), which is when a real writer mostly runs.

The writer thread's own CPU is reported too, so the total added CPU is known.
add_request() CPU (arrivals) is reported separately.

Request ids have vLLM's shape (``--id-style vllm``: ``cmpl-<16 hex>-0-<8 hex>``, 32
characters, as the e2e fixture's real ``vllm serve`` wrote them); ``--id-style index``
gives the old ``0``, ``1``, … ids, which make records a third of their real size.

Default workload (the brief): max_num_seqs=256 running, a steady backlog of ~1000 waiting,
enough KV blocks, chunked prefill and prefix caching on (vLLM defaults), prompts 64–512 and
outputs 16–128 tokens (uniform), log_stats on.

Targets: added scheduler-thread CPU ≤ 2 % of ``off`` at full, ≤ 0.5 % at summary.

Run (from the repo root, in a venv with vLLM and the emitter installed)::

    "$(emitter/scripts/vllm_env.sh 0.33.0)/bin/python" bench/emitter_overhead.py
    ... --steps 1500 --warmup 150          # longer
    ... --profile full                     # cProfile the full-level hooks instead
"""
from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
try:  # per-version vLLM cache, as emitter/tests/conftest.py: the model inspection is reused
    from importlib.metadata import version as _version

    os.environ.setdefault("VLLM_CACHE_ROOT", str(Path.home() / ".cache" / "vsched" / f"vllm-cache-{_version('vllm')}"))
except Exception:
    pass

REPO = Path(__file__).resolve().parents[1]
# prefer this checkout's emitter; VSCHED_EMITTER_SRC=<dir> measures another one (a before/after run)
sys.path.insert(0, os.environ.get("VSCHED_EMITTER_SRC") or str(REPO / "emitter" / "src"))

CONFIGS = ("off", "summary", "full")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=900, help="measured steps per configuration")
    p.add_argument("--warmup", type=int, default=100, help="unmeasured steps first (fill the running batch)")
    p.add_argument("--running", type=int, default=256, help="max_num_seqs")
    p.add_argument("--waiting", type=int, default=1000, help="waiting backlog kept before every step")
    p.add_argument("--budget", type=int, default=2048, help="max_num_batched_tokens")
    p.add_argument("--num-blocks", type=int, default=16384)
    p.add_argument("--prompt-len", default="uniform:64:512")
    p.add_argument("--output-len", default="uniform:16:128")
    p.add_argument("--no-prefix-caching", action="store_true")
    p.add_argument("--keep-gc", action="store_true",
                   help="leave the cyclic GC on inside measured windows (default: collect between steps, "
                        "so one scheduler's garbage is not collected in another's window)")
    p.add_argument("--waiting-probe", type=int, default=0, metavar="N",
                   help="add a fourth config 'probe': level full plus the prefix-cache probe of the first N "
                        "waiting requests (VLLM_SCHEDULER_LOG_WAITING_PROBE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--id-style", choices=["vllm", "index"], default="vllm",
                   help="request ids as vLLM's OpenAI server makes them, or 0, 1, ...")
    p.add_argument("--forward-ms", type=float, default=0.0,
                   help="sleep between schedule() and update_from_output() (the GPU forward; the writer can run)")
    p.add_argument("--out", default=None, help="keep the traces here (default: a temp dir, deleted)")
    p.add_argument("--breakdown", action="store_true",
                   help="also time the emitter's Session methods (inclusive thread CPU per step, per level); "
                        "each timed call adds two thread-clock reads (~2 us each on a VM) to summary/full")
    p.add_argument("--profile", choices=["summary", "full"], default=None,
                   help="instead of timing, run this level alone under cProfile and print where the time goes")
    return p.parse_args(argv)


def thread_cpu_ns(thread) -> int:
    try:
        return time.clock_gettime_ns(time.pthread_getcpuclockid(thread.ident))
    except (OSError, AttributeError, TypeError):
        return 0


def main(argv=None) -> int:
    a = parse_args(argv)
    import vllm
    from vllm.sampling_params import SamplingParams
    from vllm.v1.core.sched.scheduler import Scheduler
    from vllm.v1.request import Request

    from vsched_emitter import hooks
    from vsched_emitter.env import Settings
    from vsched_emitter.harness import driver, workloads

    # vLLM's own methods, captured before the emitter patches the class: the "off"
    # scheduler is re-classed to a subclass that binds these directly.
    originals = {name: getattr(Scheduler, name) for name in hooks.HOOKED if hasattr(Scheduler, name)}
    if hooks.is_installed():
        print("emitter hooks already installed before the bench started; 'off' would include wrappers",
              file=sys.stderr)
        return 2
    Plain = type("PlainScheduler", (Scheduler,), dict(originals))

    knobs = driver.SchedulerKnobs(max_num_seqs=a.running, max_num_batched_tokens=a.budget, max_model_len=4096,
                                  num_blocks=a.num_blocks, block_size=16, enable_chunked_prefill=True,
                                  enable_prefix_caching=not a.no_prefix_caching)
    vc = driver.build_vllm_config(knobs)
    hasher = driver._block_hasher(vc, knobs.block_size)

    # enough requests for the whole run: the backlog plus what finishes meanwhile
    mean_out = statistics.mean(int(x) for x in a.output_len.split(":")[1:]) if a.output_len.startswith("uniform") else 64
    n_req = a.running + a.waiting + int((a.steps + a.warmup) * a.running / max(mean_out, 1) * 1.3) + 500
    specs = workloads.synthetic(n_req, prompt_len=a.prompt_len, output_len=a.output_len, seed=a.seed,
                                max_model_len=knobs.max_model_len)
    if a.id_style == "vllm":
        specs = vllm_ids(specs, a.seed)
    by_id = {s.req_id: s for s in specs}

    # full as users get it: the emitter's default waiting probe (8 from issue 18 §6; none before)
    from vsched_emitter import env as emitter_env
    default_probe = getattr(emitter_env, "WAITING_PROBE_DEFAULT", 0)
    out_dir = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="vsched-bench-"))
    configs = (a.profile,) if a.profile else CONFIGS + (("probe",) if a.waiting_probe else ())
    scheds = {}
    for cfg in configs:
        if cfg == "off":  # built before the hooks are installed
            s = driver.build_scheduler(knobs, vc)
            s.__class__ = Plain
        else:
            hooks.install(Settings(enabled=True, level="full" if cfg == "probe" else cfg, log_dir=out_dir / cfg,
                                   flush_steps=100, flush_seconds=60.0, max_buffered=1 << 20,
                                   waiting_probe=a.waiting_probe if cfg == "probe" else default_probe))
            s = driver.build_scheduler(knobs, vc)
            if hooks.session_of(s) is None:
                print(f"the emitter did not attach at level {cfg}", file=sys.stderr)
                return 2
        scheds[cfg] = s
    hooks.install(Settings(enabled=False))
    spent = instrument(a.breakdown, scheds)
    runners = {cfg: driver._Runner(s, by_id, False) for cfg, s in scheds.items()}
    next_spec = {cfg: 0 for cfg in configs}

    def top_up(cfg) -> int:
        s = scheds[cfg]
        added = 0
        i = next_spec[cfg]
        while len(s.waiting) < a.waiting and i < len(specs):
            sp = specs[i]
            i += 1
            if hasattr(driver, "make_request"):
                s.add_request(driver.make_request(sp, time.time(), hasher))
            else:
                s.add_request(driver._kw(Request, request_id=sp.req_id, prompt_token_ids=list(sp.prompt_token_ids),
                                         sampling_params=SamplingParams(max_tokens=sp.max_tokens,
                                                                        stop_token_ids=[driver.EOS_TOKEN_ID]),
                                         pooling_params=None, eos_token_id=None, block_hasher=hasher,
                                         mm_features=None))
            added += 1
        next_spec[cfg] = i
        if len(s.waiting) < a.waiting:
            raise RuntimeError("ran out of requests; raise n_req")
        return added

    writers = {cfg: hooks.session_of(s).writer for cfg, s in scheds.items() if hooks.session_of(s) is not None}
    forward_s = a.forward_ms / 1e3
    clock, wall_clock = time.thread_time_ns, time.perf_counter_ns

    def others_idle(cfg):
        # idle = nothing queued and the thread used < 50 us of CPU in the last 2 ms (the same
        # test for any writer version, so before/after runs isolate alike)
        deadline = time.perf_counter() + 1.0
        for c, w in writers.items():
            if c == cfg:
                continue
            while time.perf_counter() < deadline:
                if not w.queue:
                    c0 = thread_cpu_ns(w._thread)
                    time.sleep(0.002)
                    if not w.queue and thread_cpu_ns(w._thread) - c0 < 50_000:
                        break
                else:
                    time.sleep(0.0005)

    def step(cfg):
        s, runner = scheds[cfg], runners[cfg]
        others_idle(cfg)
        t0 = clock()
        top_up(cfg)
        t1 = clock()
        w1 = wall_clock()
        out = s.schedule()
        w2 = wall_clock()
        t2 = clock()
        _, mro = runner.after_schedule(out)
        if forward_s:
            time.sleep(forward_s)
        t3 = clock()
        w3 = wall_clock()
        s.update_from_output(out, mro)
        w4 = wall_clock()
        t4 = clock()
        return (t2 - t1) + (t4 - t3), t1 - t0, out, (w2 - w1) + (w4 - w3)

    if a.profile:
        return profile(a, scheds[a.profile], step, a.profile)

    if not a.keep_gc:
        gc.collect()
        gc.freeze()
        gc.disable()
    cpu = {c: [] for c in configs}
    wall_steps = {c: [] for c in configs}
    arr = {c: [] for c in configs}
    shapes = {c: [] for c in configs}
    writer_cpu0 = {}
    t_wall = time.perf_counter()
    total = a.warmup + a.steps
    for i in range(total):
        if i == a.warmup:
            writer_cpu0 = {c: thread_cpu_ns(hooks.session_of(scheds[c]).writer._thread) for c in configs if c != "off"}
        k = len(configs)
        order = configs[i % k:] + configs[:i % k]
        if (i // 3) % 2:
            order = order[::-1]
        for c in order:
            dt, da, out, dw = step(c)
            if i >= a.warmup:
                cpu[c].append(dt)
                wall_steps[c].append(dw)
                arr[c].append(da)
                shapes[c].append((len(out.num_scheduled_tokens), out.total_num_scheduled_tokens))
            if not a.keep_gc:
                gc.collect(0)
        if not a.keep_gc and i % 50 == 49:
            gc.collect()
    wall = time.perf_counter() - t_wall
    writer_cpu = {c: thread_cpu_ns(hooks.session_of(scheds[c]).writer._thread) - writer_cpu0[c]
                  for c in configs if c != "off"}
    if not a.keep_gc:
        gc.enable()
        gc.unfreeze()

    same = all(shapes[c] == shapes["off"] for c in configs)
    s_off = scheds["off"]
    state = f"running={len(s_off.running)} waiting={len(s_off.waiting)}"
    for c in configs:
        scheds[c].shutdown()
    hooks.uninstall()

    # ---- report ---------------------------------------------------------------------
    off = cpu["off"]
    mean_off, med_off = statistics.fmean(off), statistics.median(off)
    steps = len(off)
    print(f"vLLM {vllm.__version__}  {steps} measured steps x {len(configs)} configs (after {a.warmup} warm-up), "
          f"lockstep, rotating order; {wall:.1f}s wall")
    print(f"workload: max_num_seqs={a.running} backlog={a.waiting} budget={a.budget} blocks={a.num_blocks} "
          f"prompt={a.prompt_len} output={a.output_len} prefix_caching={not a.no_prefix_caching}; "
          f"at the end {state}; mean scheduled reqs/step {statistics.fmean(n for n, _ in shapes['off']):.0f}, "
          f"tokens/step {statistics.fmean(t for _, t in shapes['off']):.0f}")
    print(f"identical scheduling across configs: {same}")
    print(f"off: schedule()+update_from_output() CPU/step mean {mean_off/1e3:.1f} us, median {med_off/1e3:.1f} us")
    print(f"{'level':8} {'added mean':>11} {'ratio':>8} {'added median(paired)':>21} {'ratio':>8} "
          f"{'trimmed':>8} {'writer thr':>11} {'ratio':>8} {'add_request':>12}")
    results = {}
    for c in configs:
        if c == "off":
            continue
        diffs = [x - y for x, y in zip(cpu[c], off)]
        added_mean = statistics.fmean(cpu[c]) - mean_off
        added_med = statistics.median(diffs)
        k = max(1, len(diffs) // 10)  # 10 % trimmed mean of the paired differences
        trimmed = statistics.fmean(sorted(diffs)[k:-k])
        w = writer_cpu[c] / steps
        add_req = statistics.fmean(arr[c]) - statistics.fmean(arr["off"])
        results[c] = (added_mean / mean_off, added_med / med_off, trimmed / mean_off, w / mean_off)
        print(f"{c:8} {added_mean/1e3:9.1f}us {100*added_mean/mean_off:7.2f}% {added_med/1e3:19.1f}us "
              f"{100*added_med/med_off:7.2f}% {100*trimmed/mean_off:7.2f}% {w/1e3:9.1f}us {100*w/mean_off:7.2f}% "
              f"{add_req/1e3:9.1f}us")
    print("ratios are of the off baseline's schedule()+update_from_output() CPU per step; "
          "'writer thr' = the emitter's writer thread (off the critical path) per step")
    target = {"summary": 0.005, "full": 0.02, "probe": 0.02}
    verdict = []
    for c, (r_mean, r_med, r_trim, _) in results.items():
        verdict.append(f"{c}: {'OK' if r_trim <= target[c] else 'OVER'} "
                       f"(trimmed {100*r_trim:.2f}% vs target {100*target[c]:.1f}%)")
    print("targets: " + "; ".join(verdict))
    w_off = wall_steps["off"]
    wmean_off = statistics.fmean(w_off)
    print(f"wall time per step of schedule()+update_from_output() with the writer thread running "
          f"(forward sleep {a.forward_ms:g} ms, id style {a.id_style}): off mean {wmean_off/1e3:.1f} us, "
          f"median {statistics.median(w_off)/1e3:.1f} us")
    for c in configs:
        if c == "off":
            continue
        diffs = sorted(x - y for x, y in zip(wall_steps[c], w_off))
        k = max(1, len(diffs) // 10)
        added = statistics.fmean(wall_steps[c]) - wmean_off
        trimmed = statistics.fmean(diffs[k:-k])
        print(f"  {c:8} wall added mean {added/1e3:8.1f}us {100*added/wmean_off:7.2f}%  "
              f"trimmed(paired) {trimmed/1e3:8.1f}us {100*trimmed/wmean_off:7.2f}%")
        results[c] = results[c] + (trimmed / wmean_off,)
    sizes = {c: trace_bytes(out_dir / c) for c in configs if c != "off"}
    print("trace bytes per step: " + ", ".join(f"{c} {b / (a.warmup + a.steps):,.0f}" for c, b in sizes.items())
          + "; gzip ratio (level 9, uncompressed / compressed): "
          + ", ".join(f"{c} {gzip_ratio(out_dir / c):.1f}x" for c in sizes))
    print("SUMMARY " + " ".join(f"{c}:cpu_trimmed={100*r[2]:.2f}%,wall_trimmed={100*r[4]:.2f}%,writer={100*r[3]:.2f}%"
                                for c, r in results.items()))
    if spent:
        print("breakdown: emitter Session methods, inclusive scheduler-thread CPU per step (_order_check, "
              "_skipped, _stop are inside after_schedule; emit = writer.put, inside the others; on_arrival is "
              "inside add_request, outside the window); rest = added - the in-window methods = the "
              "allocate_slots/pop_request closures, hook wrappers and indirect costs")
        for c in configs:
            if c == "off":
                continue
            per = {k: v / steps for k, v in spent[c].items() if v}
            top = sum(per.get(k, 0) for k in TOP_LEVEL)
            added = statistics.fmean(cpu[c]) - mean_off
            items = sorted(per.items(), key=lambda kv: -kv[1])
            print(f"  {c:8} " + "  ".join(f"{k} {v/1e3:.1f}us" for k, v in items)
                  + f"  | rest {(added - top)/1e3:.1f}us")
    if not a.out:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0 if same else 1


def vllm_ids(specs, seed):
    """The same requests under ids shaped like vLLM's OpenAI server's (deterministic per seed)."""
    import dataclasses
    import random

    rng = random.Random(f"ids-{seed}")
    return [dataclasses.replace(sp, req_id=f"cmpl-{rng.getrandbits(64):016x}-0-{rng.getrandbits(32):08x}")
            for sp in specs]


def trace_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.glob("vsched-*.jsonl*")) if d.exists() else 0


def gzip_ratio(d: Path) -> float:
    """How much VLLM_SCHEDULER_LOG_GZIP=1 would save (GzipFile's default level 9, as the writer)."""
    import gzip as gz

    raw = b"".join(f.read_bytes() for f in sorted(d.glob("vsched-*.jsonl"))) if d.exists() else b""
    return len(raw) / max(1, len(gz.compress(raw, 9)))


# Session methods that run inside schedule()/update_from_output() (the measured window),
# ones nested in them, and on_arrival (inside add_request, reported with it).
TOP_LEVEL = ("before_schedule", "after_schedule", "restore", "before_update", "after_update", "on_free",
             "on_preempt", "before_finish", "after_finish")
NESTED = ("_order_check", "_skipped", "_stop", "emit", "on_arrival")


def instrument(enabled, scheds):
    """Wrap Session methods with per-scheduler thread-CPU accumulators (run time only)."""
    if not enabled:
        return None
    from vsched_emitter import hooks
    from vsched_emitter.session import Session

    spent = {}
    by_session = {}
    for cfg, s in scheds.items():
        sess = hooks.session_of(s)
        if sess is not None:
            spent[cfg] = dict.fromkeys(TOP_LEVEL + NESTED, 0)
            by_session[id(sess)] = spent[cfg]
    clock = time.thread_time_ns

    def wrap(name):
        fn = getattr(Session, name)

        def timed(self, *args, **kwargs):
            t0 = clock()
            try:
                return fn(self, *args, **kwargs)
            finally:
                acc = by_session.get(id(self))
                if acc is not None:
                    acc[name] += clock() - t0
        setattr(Session, name, timed)

    for name in TOP_LEVEL + NESTED:
        if hasattr(Session, name):
            wrap(name)
    return spent


def profile(a, sched, step, level) -> int:
    import cProfile
    import pstats

    for _ in range(a.warmup):
        step(level)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(a.steps):
        step(level)
    pr.disable()
    sched.shutdown()
    st = pstats.Stats(pr)
    st.sort_stats("tottime")
    print(f"cProfile of {a.steps} steps at level {level} (after {a.warmup} warm-up); emitter functions by tottime:")
    st.print_stats("vsched_emitter", 25)
    print("all functions by cumulative time:")
    st.sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
