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
REUSED_IDS = ("pending engine-fix (issue 7 item 3): a request id reused after its request finished "
              "(create_requests() called twice, or a new turn with the same id); vLLM allows it")
STREAMING = ("pending engine-fix (issue 7 item 2): a resumable / streaming-input session is QUEUED "
             "again for the same request id")
ARRIVAL = ("pending engine-fix (issue 7 item 4): the test passes arrival_time=1.0, 2.0, ... (not epoch "
           "seconds), so ttft_from_vllm_arrival exceeds 2^53")

EXCEPTIONS: list[Exception_] = [
    # -- sequences a real engine never produces ------------------------------------------
    *[Exception_(_S + name, "convert", ("ENGINE_UPDATE_UNKNOWN_STEP",), "never-produced", NO_SCHEDULE)
      for name in ("test_delayed_kv_connector_free_keeps_scheduler_active",
                   "test_scheduler_ec_connector_stats",
                   "test_scheduler_kv_connector_stats",
                   "test_stop_via_update_from_output",
                   "test_update_from_output_routes_multi_position_sampling_masks",
                   "test_update_from_output_routes_sampling_masks_by_request")],
    # -- pending engine-fix: delete an entry when its fix lands ---------------------------
    *[Exception_(test, "validate", ("DUPLICATE_REQUEST",), "pending-engine-fix", REUSED_IDS)
      for test in (_A + "test_prefix_caching_for_multi_turn",
                   _S + "test_external_prefix_cache_metrics[*]",
                   _S + "test_kv_connector_basic[*]",
                   _S + "test_spec_decode_padding_skipped_with_prefill_in_batch")],
    *[Exception_(test, "validate", ("BATCH_SIZE_MISMATCH", "NEGATIVE_DURATION", "WAIT_SUM_MISMATCH"),
                 "pending-engine-fix", STREAMING)
      for test in (_A + "test_resumable_request_handoff",
                   _S + "test_streaming_lookahead_hashes_follow_recomputed_kv[*]")],
    *[Exception_(_S + name, "validate", ("CSV_ROW_INVALID",), "pending-engine-fix", ARRIVAL)
      for name in ("test_priority_scheduling_heap_property",
                   "test_priority_scheduling_no_preemption_when_space_available",
                   "test_priority_scheduling_preemption",
                   "test_priority_scheduling_preemption_when_out_of_kv",
                   "test_priority_scheduling_preemption_and_resumption_when_out_of_kv[*]")],
]
