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
                                   record it (step ``probe``), for binding_limits (default 0: off)
VLLM_SCHEDULER_LOG_FORMAT          ``interned`` (default: schema 1.3, request ids as small
                                   integers, step lists as deltas; at 256 running about a
                                   tenth of the bytes, bench/README.md) | ``plain`` (schema
                                   1.0/1.1/1.2: every id spelled out)
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
CONSOLE = "VLLM_SCHEDULER_LOG_CONSOLE"

ALL_VARS = (ENABLE, LOG_DIR, LEVEL, FLUSH_STEPS, FLUSH_SECONDS, GZIP, MAX_BUFFERED, PID, WAITING_PROBE, FORMAT, CONSOLE)
LEVELS = ("full", "summary", "off")
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
    waiting_probe: int = 0  # level full, prefix caching on: probe the first N waiting requests
    format: str = "interned"  # "plain": schema 1.0/1.1/1.2 records, ids spelled out
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
        waiting_probe=_positive(env, WAITING_PROBE, d.waiting_probe, int),
        console_seconds=_positive(env, CONSOLE, d.console_seconds, float),
    )
