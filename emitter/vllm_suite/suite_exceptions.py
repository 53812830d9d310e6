"""Traces from vLLM's own tests that are allowed to fail ``vsched convert`` / ``validate``.

Every other trace must convert with exit 0 and validate with exit 0. An entry excuses a
trace when the test id matches ``test`` (fnmatch, ``[`` escaped for you; ``name[*]`` matches
every parametrisation of ``name`` and ``name`` itself, which is how vLLM 0.11 spells some of
them), the trace file matches ``trace``, and the error finding codes of that
``stage`` are a non-empty subset of ``codes``. ``kind``:

* ``never-produced``: the test drives the scheduler through a sequence a real engine never
  does (EngineCore always pairs ``schedule()`` with ``update_from_output()`` of that very
  output); the trace faithfully records it, and vsched rightly rejects it.
* ``pending-engine-fix``: a real engine can produce this; vsched's reconstruction is wrong
  today and is being fixed (issue 7 items 1-4). Delete the entry when the fix lands:
  ``run_vllm_suite.sh`` prints entries that matched no trace of a test it ran as stale, and
  ``--strict-exceptions`` fails on them (entries for tests a version does not have are ignored).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exception_:
    test: str
    stage: str          # "convert" or "validate"
    codes: tuple
    kind: str           # "never-produced" | "pending-engine-fix"
    reason: str
    trace: str = "*"
    versions: tuple = ("*",)


_S = "tests/v1/core/test_scheduler.py::"
_A = "tests/v1/core/test_async_scheduler.py::"

NO_SCHEDULE = ("update_from_output() with a hand-built SchedulerOutput and no schedule() call at all "
               "(the trace has 0 step records and 1 update); EngineCore only passes outputs of schedule()")

EXCEPTIONS: list[Exception_] = [
    # -- sequences a real engine never produces ------------------------------------------
    Exception_(_S + "test_delayed_kv_connector_free_keeps_scheduler_active", "convert",
               ("ENGINE_UPDATE_UNKNOWN_STEP", "ENGINE_UNKNOWN_REQUEST"), "never-produced",
               NO_SCHEDULE + "; its KV-connector output (finished_sending, a kv record since trace schema 1.4) "
               "names a request put into scheduler.requests by hand, never through add_request()"),
    *[Exception_(_S + name, "convert", ("ENGINE_UPDATE_UNKNOWN_STEP",), "never-produced", NO_SCHEDULE)
      for name in ("test_scheduler_ec_connector_stats",
                   "test_scheduler_kv_connector_stats",
                   "test_stop_via_update_from_output",
                   "test_update_from_output_routes_multi_position_sampling_masks",
                   "test_update_from_output_routes_sampling_masks_by_request")],
    # -- pending engine-fix: none since engine-fix was merged (issue 7 items 2-4: streaming
    # sessions, ids reused after finishing, non-epoch arrival_time; 17 traces of 0.33.0 and
    # 6 of 0.11.0 were listed here until then). Add such entries as
    #   Exception_(test, "validate", (CODE, ...), "pending-engine-fix", reason)
]
