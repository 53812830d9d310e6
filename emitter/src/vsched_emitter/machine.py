"""Which machine a run ran on (trace schema 1.7): each sampled GPU's NVML UUID in
``header.gpu_stats.devices[].uuid``, and the host CPU's model in ``header.host_cpu.model``.

Why: two recordings of the same requests on the lent H100s differ by up to tens of percent in
their latencies when they ran on other machines, and by a few when they ran on one
(docs/fit.md, "A fourteenth session"). Which machine a run had was known only from the plan's
notes; the header now says it: ``vsched summary`` prints it, and ``vsched calibrate`` tells a
repeat on the same GPU from one on another. Both are read once, at start-up; a field the
platform cannot give is ``null``.
"""
from __future__ import annotations

#: trace schema minor that adds gpu_stats.devices[].uuid and host_cpu.model
MACHINE_SCHEMA_VERSION = "1.7"

CPUINFO = "/proc/cpuinfo"


def cpu_model(path: str = CPUINFO) -> str | None:
    """The first ``model name`` of /proc/cpuinfo (x86; most ARM kernels have none): None where
    there is no such line or no such file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name":
                    return value.strip()[:200] or None
    except OSError:
        pass
    return None
