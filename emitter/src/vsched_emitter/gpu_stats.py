"""GPU samples from NVML, taken off the scheduler's hot path (issue 18 §4).

A daemon thread in the engine-core process reads, every ``VLLM_SCHEDULER_LOG_GPU_STATS_MS``
milliseconds, each sampled device's utilisation, memory used, SM clock and power draw, and
hands one ``gpu`` record per sample to the writer (``Writer.put`` is lock-free: a deque
append). The scheduler thread never calls NVML. The CLI joins samples to steps by time
(``per_iteration.gpu_*`` columns, src/engine/gpu-join.ts).

NVML comes from ``pynvml`` (the ``nvidia-ml-py`` package, on vLLM's CUDA images) or, failing
that, the copy vLLM vendors as ``vllm.third_party.pynvml``; both are imported lazily, when a
Scheduler is built. Where neither imports, NVML does not initialise (no driver: a CPU
machine) or no device can be opened, nothing is sampled and the header's ``not_captured``
says why. Each NVML call is a ctypes call, which releases the GIL while the driver answers.

Which devices: ``VLLM_SCHEDULER_LOG_GPU_DEVICES`` (NVML indices, comma-separated) if set,
else the devices ``CUDA_VISIBLE_DEVICES`` names (indices or ``GPU-…`` UUIDs), else all.
A field the device does not support (e.g. power on some boards) is ``null``.
"""
from __future__ import annotations

import logging
import os
import threading

from .machine import MACHINE_SCHEMA_VERSION

logger = logging.getLogger("vsched_emitter")

#: trace schema minor that declares ``gpu`` records and ``header.gpu_stats``
GPU_SCHEMA_VERSION = "1.4"
NOT_CAPTURED_WHAT = "GPU stats (gpu records; per_iteration gpu_* columns)"


def _import_nvml():
    """The NVML binding module, or raise ImportError naming both places looked at."""
    try:
        import pynvml  # nvidia-ml-py
        return pynvml
    except ImportError:
        pass
    try:
        from vllm.third_party import pynvml  # vendored by vLLM
        return pynvml
    except ImportError:
        raise ImportError("neither pynvml (nvidia-ml-py) nor vllm.third_party.pynvml is importable") from None


def _device_handles(nvml, environ):
    """[(NVML index, handle)] of the devices to sample."""
    explicit = (environ.get("VLLM_SCHEDULER_LOG_GPU_DEVICES") or "").strip()
    visible = (environ.get("CUDA_VISIBLE_DEVICES") or "").strip()
    spec = explicit or visible
    count = int(nvml.nvmlDeviceGetCount())
    if not spec:
        return [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        if item.isdigit():
            i = int(item)
            if i < count:
                out.append((i, nvml.nvmlDeviceGetHandleByIndex(i)))
        elif item.startswith("GPU-") and not explicit:
            h = nvml.nvmlDeviceGetHandleByUUID(item)
            out.append((int(nvml.nvmlDeviceGetIndex(h)), h))
        # MIG-… and anything else: not a whole device NVML can sample this way
    return out


def _text(x) -> str:
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


class Sampler:
    """Reads NVML every ``interval_s`` on a daemon thread; ``start(put, now)`` after the
    header is queued, ``stop()`` before the writer closes."""

    def __init__(self, nvml, devices, interval_s: float):
        self.nvml = nvml
        self.devices = devices  # [(index, handle)]
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = None
        self.samples = 0
        self.failed = None  # the exception that stopped sampling, if any

    def info(self) -> dict:
        """header.gpu_stats: the interval and, per device, its NVML index, name, memory and UUID
        (machine.py: which GPU it was)."""
        nvml = self.nvml
        devs = []
        for i, h in self.devices:
            name = total = uuid = None
            try:
                name = _text(nvml.nvmlDeviceGetName(h))
            except Exception:
                pass
            try:
                total = int(nvml.nvmlDeviceGetMemoryInfo(h).total)
            except Exception:
                pass
            try:
                uuid = _text(nvml.nvmlDeviceGetUUID(h))
            except Exception:
                pass
            devs.append({"index": i, "name": name, "memory_total_bytes": total, "uuid": uuid})
        return {"interval_ns": round(self.interval_s * 1e9), "devices": devs}

    def read(self):
        """[[index, gpu util %, memory used bytes, SM clock MHz, power mW], ...]; a field the
        device cannot report is None."""
        nvml = self.nvml
        out = []
        for i, h in self.devices:
            try:
                util = int(nvml.nvmlDeviceGetUtilizationRates(h).gpu)
            except Exception:
                util = None
            try:
                mem = int(nvml.nvmlDeviceGetMemoryInfo(h).used)
            except Exception:
                mem = None
            try:
                clock = int(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))
            except Exception:
                clock = None
            try:
                power = int(nvml.nvmlDeviceGetPowerUsage(h))
            except Exception:
                power = None
            out.append((i, util, mem, clock, power))
        return out

    def start(self, put, now) -> None:
        def run():
            wait = self._stop.wait
            try:
                while not wait(self.interval_s):
                    devices = self.read()
                    # stamped after the reads: the values describe the time up to now
                    put("gpu", (now(), devices))
                    self.samples += 1
            except Exception as e:  # never take the engine down; the trace just stops sampling
                self.failed = e
                logger.warning("vsched: GPU sampling stopped: %r", e)

        self._thread = threading.Thread(target=run, name="vsched-gpu-stats", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        try:
            self.nvml.nvmlShutdown()
        except Exception:
            pass


def prepare(interval_ms: int, header: dict, environ=None, nvml=None):
    """A Sampler ready to start, with ``header`` updated to say so (``gpu_stats``, schema
    1.7 and capability ``gpu_stats``), or None with a ``not_captured`` entry saying why.
    Never raises."""
    environ = os.environ if environ is None else environ
    why = None
    sampler = None
    if interval_ms <= 0:
        why = "VLLM_SCHEDULER_LOG_GPU_STATS_MS=0 turned sampling off"
    else:
        try:
            if nvml is None:
                nvml = _import_nvml()
            nvml.nvmlInit()
            try:
                devices = _device_handles(nvml, environ)
            except Exception:
                nvml.nvmlShutdown()
                raise
            if not devices:
                nvml.nvmlShutdown()
                why = "NVML found no device to sample (CUDA_VISIBLE_DEVICES / VLLM_SCHEDULER_LOG_GPU_DEVICES)"
            else:
                sampler = Sampler(nvml, devices, interval_ms / 1e3)
        except ImportError as e:
            why = f"no NVML binding: {e}"
        except Exception as e:  # NVMLError_LibraryNotFound / DriverNotLoaded on a CPU machine
            why = f"NVML unavailable: {type(e).__name__}: {e}"[:300]
    try:
        if sampler is None:
            header["not_captured"].append({"what": NOT_CAPTURED_WHAT, "why": why})
        else:
            header["gpu_stats"] = sampler.info()
            header["capabilities"]["gpu_stats"] = True
            declare_minor(header, MACHINE_SCHEMA_VERSION)  # gpu records (1.4) and the devices' uuid (1.7)
    except Exception as e:  # a header we cannot annotate: do not sample either
        logger.warning("vsched: GPU stats off: %r", e)
        return None
    return sampler


def declare_minor(header: dict, version: str) -> None:
    """Raise the header's schema version to ``version`` (never lower it)."""
    if _minor(header.get("schema_version", "1.0")) < _minor(version):
        header["schema_version"] = version


def _minor(version: str) -> int:
    try:
        return int(str(version).split(".")[1])
    except (IndexError, ValueError):
        return 0
