"""The ``vllm.general_plugins`` entry point.

vLLM calls ``register()`` in every process it starts (API server, engine core, workers),
possibly several times. It must be cheap, idempotent and must never raise. It patches
the Scheduler class only when VLLM_SCHEDULER_LOGGING=1; patching alone writes nothing:
a trace file appears only in a process that constructs a Scheduler.
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

        if hooks.is_installed():
            return
        hooks.install(None)  # settings are re-read from the environment per Scheduler
    except Exception as e:  # never break vLLM's startup
        if not _failed_logged:
            _failed_logged = True
            logger.warning("vsched: plugin registration failed, scheduler not recorded: %r", e)
