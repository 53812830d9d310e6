"""vsched emitter: records what the vLLM v1 scheduler did into a raw JSONL trace.

Enable with ``VLLM_SCHEDULER_LOGGING=1`` (vLLM loads ``vsched_emitter.plugin:register``
through its ``vllm.general_plugins`` entry point in every process); see env.py for the
other variables and src/schema/raw.ts for the record contract.
"""
__version__ = "0.1.0"


def install(settings=None) -> bool:
    """Patch vLLM's Scheduler (see hooks.install)."""
    from .hooks import install as _install

    return _install(settings)


def uninstall() -> None:
    """Restore vLLM's Scheduler exactly and close open traces (see hooks.uninstall)."""
    from .hooks import uninstall as _uninstall

    _uninstall()
