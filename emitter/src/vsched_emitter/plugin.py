"""The ``vllm.general_plugins`` entry point.

vLLM calls ``register()`` in every process it starts (API server, engine core, workers),
possibly several times. It must be cheap, idempotent and must never raise. It patches
the Scheduler class only when VLLM_SCHEDULER_LOGGING=1, and only once the process imports
vLLM's scheduler module (processes that never do pay nothing). Patching alone writes
nothing: a trace file appears only in a process that constructs a Scheduler.
"""
from __future__ import annotations

import logging

logger = logging.getLogger("vsched_emitter")
_failed_logged = False


def register() -> None:
    global _failed_logged
    try:
        from . import env

        settings = env.from_env()
        if not settings.active:
            return
        from . import hooks

        if hooks.is_installed() or hooks.is_pending():
            return
        # Patch now if vLLM's scheduler module is loaded, else as soon as it is imported;
        # settings are re-read from the environment for each Scheduler.
        hooks.install_when_imported(None)
    except Exception as e:  # never break vLLM's startup
        if not _failed_logged:
            _failed_logged = True
            logger.warning("vsched: plugin registration failed, scheduler not recorded: %r", e)
