"""Every environment variable the emitter reads, in one place.

=================================  =========================================================
VLLM_SCHEDULER_LOGGING             ``1`` enables the emitter (the plugin patches the
                                   scheduler only when this is ``1`` at plugin load; a
                                   Scheduler built while it is not ``1`` is not recorded)
VLLM_SCHEDULER_LOG_DIR             directory for ``vsched-<pid>-dp<rank>.jsonl[.gz]``
                                   (default ``./scheduler_logs``, created if missing)
VLLM_SCHEDULER_LOG_LEVEL           ``full`` (default) | ``summary`` | ``off``
VLLM_SCHEDULER_LOG_FLUSH_STEPS     flush after this many step records (default 100)
VLLM_SCHEDULER_LOG_FLUSH_SECONDS   ... or after this many seconds, whichever comes first
                                   (default 60)
VLLM_SCHEDULER_LOG_GZIP            ``1`` writes a gzip file
VLLM_SCHEDULER_LOG_MAX_BUFFERED    records buffered between the scheduler thread and the
                                   writer thread (default 65536); beyond it records are
                                   dropped, counted, and a ``dropped`` record is written
VLLM_SCHEDULER_LOG_WAITING_PROBE   at level ``full`` with prefix caching on: look up the prefix-cache
                                   hit of the first N waiting requests after each schedule() and
                                   record it (step ``probe``), for binding_limits (default 8;
                                   ``0`` off; answers are reused while the blocks they found are
                                   unchanged: waiting_probe.py)
VLLM_SCHEDULER_LOG_FORMAT          ``interned`` (default: schema 1.3, request ids as small
                                   integers, step lists as deltas; at 256 running about a
                                   tenth of the bytes, bench/README.md) | ``plain`` (schema
                                   1.0/1.1/1.2: every id spelled out)
VLLM_SCHEDULER_LOG_GPU_STATS_MS    sample NVML (GPU utilisation, memory used, SM clock, power) on a
                                   thread of its own every N ms and record ``gpu`` records, which
                                   the CLI joins to steps (per_iteration ``gpu_*`` columns); default
                                   100, ``0`` off. Needs ``pynvml`` (``nvidia-ml-py``) or vLLM's
                                   vendored copy and an NVIDIA driver; otherwise the header's
                                   ``not_captured`` says why (gpu_stats.py)
VLLM_SCHEDULER_LOG_GPU_DEVICES     NVML device indices to sample, comma-separated (default: those
                                   CUDA_VISIBLE_DEVICES names, else all)
VLLM_SCHEDULER_LOG_CONSOLE         log one summary line every SECONDS (of the trace's clock) into
                                   vLLM's log: steps, prefill/decode requests per batch, tokens/s,
                                   schedule vs model-run ms (mean, p95), running/waiting, KV %,
                                   preemptions, the waiting cause holding the most request-time;
                                   computed on the writer thread (console.py; default 0: off)
VLLM_SCHEDULER_LOG_PID             process id recorded in the trace file name and header
                                   (default: the real pid; the harness sets it with the
                                   virtual clock so traces are byte-reproducible)
=================================  =========================================================

Settings are read when a Scheduler is constructed (not when the plugin is loaded), so a
process that builds several schedulers picks up the environment of each construction.
Invalid values fall back to the default with a warning; reading settings never raises.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

ENABLE = "VLLM_SCHEDULER_LOGGING"
LOG_DIR = "VLLM_SCHEDULER_LOG_DIR"
LEVEL = "VLLM_SCHEDULER_LOG_LEVEL"
FLUSH_STEPS = "VLLM_SCHEDULER_LOG_FLUSH_STEPS"
FLUSH_SECONDS = "VLLM_SCHEDULER_LOG_FLUSH_SECONDS"
GZIP = "VLLM_SCHEDULER_LOG_GZIP"
MAX_BUFFERED = "VLLM_SCHEDULER_LOG_MAX_BUFFERED"
PID = "VLLM_SCHEDULER_LOG_PID"
WAITING_PROBE = "VLLM_SCHEDULER_LOG_WAITING_PROBE"
FORMAT = "VLLM_SCHEDULER_LOG_FORMAT"
GPU_STATS_MS = "VLLM_SCHEDULER_LOG_GPU_STATS_MS"
CPU_STATS = "VLLM_SCHEDULER_LOG_CPU_STATS"  # 0: no step.cpu (host_cpu.py)
GPU_TIME = "VLLM_SCHEDULER_LOG_GPU_TIME"  # 0: no update.gpu (gpu_time.py)
GPU_DEVICES = "VLLM_SCHEDULER_LOG_GPU_DEVICES"  # read by gpu_stats.py at Scheduler construction
CONSOLE = "VLLM_SCHEDULER_LOG_CONSOLE"

ALL_VARS = (ENABLE, LOG_DIR, LEVEL, FLUSH_STEPS, FLUSH_SECONDS, GZIP, MAX_BUFFERED, PID, WAITING_PROBE, FORMAT,
            GPU_STATS_MS, GPU_DEVICES, CONSOLE, CPU_STATS, GPU_TIME)
LEVELS = ("full", "summary", "off")
#: the first N waiting requests probed by default (issue 18 §6: binding_limits needs their
#: prefix-cache hits when prefix caching is on, vLLM's default); a module constant so a test
#: can record the same run without the probe
WAITING_PROBE_DEFAULT = 8
FORMATS = ("interned", "plain")

logger = logging.getLogger("vsched_emitter")


@dataclass(frozen=True)
class Settings:
    enabled: bool = False
    log_dir: Path = Path("scheduler_logs")
    level: str = "full"
    flush_steps: int = 100
    flush_seconds: float = 60.0
    gzip: bool = False
    max_buffered: int = 65536
    pid: int | None = None  # recorded instead of os.getpid() (file name and header)
    waiting_probe: int = WAITING_PROBE_DEFAULT  # level full, prefix caching on: probe the first N waiting requests (0: off)
    format: str = "interned"  # "plain": schema 1.0/1.1/1.2 records, ids spelled out
    gpu_stats_ms: int = 100  # NVML sampling interval (gpu_stats.py); 0: off
    cpu_stats: bool = True  # the scheduler thread's CPU time and run-queue wait per step (host_cpu.py)
    gpu_time: bool = True  # each step's GPU time from CUDA events (gpu_time.py)
    console_seconds: float = 0.0  # > 0: a console line per this many seconds (console.py)

    @property
    def active(self) -> bool:
        """Whether a Scheduler built under these settings is recorded."""
        return self.enabled and self.level != "off"


def _positive(environ: Mapping[str, str], name: str, default, cast):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        value = None
    if value is None or value <= 0:
        logger.warning("vsched: ignoring %s=%r (expected a positive number)", name, raw)
        return default
    return value


def _non_negative_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        logger.warning("vsched: ignoring %s=%r (expected a whole number >= 0)", name, raw)
        return default
    return value


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    d = Settings()
    level = env.get(LEVEL, d.level).strip().lower() or d.level
    if level not in LEVELS:
        logger.warning("vsched: ignoring %s=%r (expected one of %s)", LEVEL, level, "|".join(LEVELS))
        level = d.level
    fmt = env.get(FORMAT, d.format).strip().lower() or d.format
    if fmt not in FORMATS:
        logger.warning("vsched: ignoring %s=%r (expected one of %s)", FORMAT, fmt, "|".join(FORMATS))
        fmt = d.format
    return Settings(
        format=fmt,
        enabled=env.get(ENABLE, "").strip() == "1",
        log_dir=Path(env.get(LOG_DIR) or d.log_dir),
        level=level,
        flush_steps=_positive(env, FLUSH_STEPS, d.flush_steps, int),
        flush_seconds=_positive(env, FLUSH_SECONDS, d.flush_seconds, float),
        gzip=env.get(GZIP, "").strip() == "1",
        max_buffered=_positive(env, MAX_BUFFERED, d.max_buffered, int),
        pid=_positive(env, PID, d.pid, int),
        waiting_probe=_non_negative_int(env, WAITING_PROBE, WAITING_PROBE_DEFAULT),
        gpu_stats_ms=_non_negative_int(env, GPU_STATS_MS, d.gpu_stats_ms),
        cpu_stats=env.get(CPU_STATS, "1").strip() != "0",
        gpu_time=env.get(GPU_TIME, "1").strip() != "0",
        console_seconds=_positive(env, CONSOLE, d.console_seconds, float),
    )
