"""KV-connector transfers (issue 18 §5): what a scheduler's KV connector loaded and stored.

Attached only where vLLM built a connector (``Scheduler.connector``, ``--kv-transfer-config``).
Wrappers are set on the *instances* (the scheduler's connector object and the scheduler's
``_update_from_kv_xfer_finished``), call the original first and only note what happened,
so they never change a decision. What is recorded, through vLLM's connector API (any
connector, vLLM 0.11 to 0.34):

* ``load_start``: ``update_state_after_alloc`` with external tokens > 0 (the request got its
  blocks and the connector will fill ``tokens`` of them); ``async`` is what
  ``get_num_new_matched_tokens`` said, i.e. whether the request now waits in
  WAITING_FOR_REMOTE_KVS (``true``) or the load runs with the step (``false``);
* ``load_end`` / ``load_failed``: the worker reported the request in ``finished_recving`` /
  ``failed_recving`` (``_update_from_kv_xfer_finished``);
* ``store_start``: ``request_finished`` kept a finished request's blocks (``delay_free``)
  until the connector has sent them; ``store_end``: ``finished_sending``.

And, where the connector keeps a job table (vLLM's OffloadingConnector:
``connector_scheduler._jobs``, ``TransferJobStatus(req_id, is_store, keys)``), every transfer
job: ``transfer_start`` when ``build_connector_meta`` created it (checked after schedule()),
``transfer_end`` when the worker's completion removed it (checked after
update_from_output()), with its direction and its number of offload keys (``blocks``).

Records are stamped when seen but queued after the step or update record of the call that
saw them, so record times never go back in the file (the CLI checks that).
"""
from __future__ import annotations

import logging

from .patches import InstancePatches

logger = logging.getLogger("vsched_emitter")

#: trace schema minor that declares ``kv`` records (with ``gpu`` records: gpu_stats.py)
KV_SCHEMA_VERSION = "1.4"


def job_table(connector):
    """The connector's transfer-job dict (OffloadingConnector), or None."""
    cs = getattr(connector, "connector_scheduler", None)
    jobs = getattr(cs, "_jobs", None)
    return jobs if isinstance(jobs, dict) else None


class KvCapture:
    def __init__(self, session, sched):
        self.session = session
        self.connector = sched.connector
        self.pending: list = []          # (t, req, event, tokens, async, job, direction, blocks)
        self.match_async: dict[str, bool] = {}
        self.jobs = job_table(self.connector)
        self.known_jobs: dict = {}       # job id -> (req id, direction)
        self._patches = InstancePatches()
        self._install(sched)

    # ---- wrappers ------------------------------------------------------------------
    def _patch(self, obj, name, make):
        orig = getattr(obj, name, None)
        if orig is None:
            return
        self._patches.patch(obj, name, make(orig))

    def _install(self, sched) -> None:
        note = self._note
        match = self.match_async

        def wrap_match(orig):
            def get_num_new_matched_tokens(request, *args, **kwargs):
                result = orig(request, *args, **kwargs)
                try:
                    match[request.request_id] = bool(result[1])
                except Exception:
                    pass
                return result
            return get_num_new_matched_tokens

        def wrap_alloc(orig):
            def update_state_after_alloc(request, blocks, num_external_tokens, *args, **kwargs):
                result = orig(request, blocks, num_external_tokens, *args, **kwargs)
                try:
                    if num_external_tokens:
                        rid = request.request_id
                        note(rid, "load_start", tokens=int(num_external_tokens), is_async=match.pop(rid, None))
                except Exception as e:
                    self.session.fail("kv_connector", e)
                return result
            return update_state_after_alloc

        def wrap_finished(orig):
            def request_finished(request, *args, **kwargs):
                result = orig(request, *args, **kwargs)
                try:
                    match.pop(request.request_id, None)
                    if result and result[0]:
                        note(request.request_id, "store_start")
                except Exception as e:
                    self.session.fail("kv_connector", e)
                return result
            return request_finished

        def wrap_xfer(orig):
            def _update_from_kv_xfer_finished(kv_connector_output, *args, **kwargs):
                try:
                    for rid in getattr(kv_connector_output, "finished_recving", None) or ():
                        note(rid, "load_end")
                    for rid in getattr(kv_connector_output, "failed_recving", None) or ():
                        note(rid, "load_failed")
                    for rid in getattr(kv_connector_output, "finished_sending", None) or ():
                        note(rid, "store_end")
                except Exception as e:
                    self.session.fail("kv_connector", e)
                return orig(kv_connector_output, *args, **kwargs)
            return _update_from_kv_xfer_finished

        c = self.connector
        self._patch(c, "get_num_new_matched_tokens", wrap_match)
        self._patch(c, "update_state_after_alloc", wrap_alloc)
        self._patch(c, "request_finished", wrap_finished)
        self._patch(c, "request_finished_all_groups", wrap_finished)
        self._patch(sched, "_update_from_kv_xfer_finished", wrap_xfer)

    def restore(self) -> None:
        self._patches.restore()

    # ---- records -------------------------------------------------------------------
    def _note(self, rid, event, *, tokens=None, is_async=None, job=None, direction=None, blocks=None) -> None:
        s = self.session
        if not s.enabled:
            return
        values = (s.now(), rid, event, tokens, is_async, job, direction, blocks)
        if s.in_schedule or s.in_update:
            self.pending.append(values)  # queued after this call's step / update record
        else:  # e.g. request_finished from an abort between steps, as the finish record
            s.emit("kv", values)

    def _jobs_diff(self) -> None:
        jobs = self.jobs
        known = self.known_jobs
        if jobs is None or (not jobs and not known):
            return
        if jobs.keys() != known.keys():
            for jid in [j for j in known if j not in jobs]:
                rid, direction = known.pop(jid)
                self._note(rid, "transfer_end", job=int(jid), direction=direction)
            for jid, st in jobs.items():
                if jid not in known:
                    direction = "store" if getattr(st, "is_store", False) else "load"
                    rid = getattr(st, "req_id", None)
                    known[jid] = (rid, direction)
                    keys = getattr(st, "keys", None)
                    self._note(rid, "transfer_start", job=int(jid), direction=direction,
                               blocks=len(keys) if keys is not None else None)

    def flush(self) -> None:
        """After a step or update record: jobs created or finished since, then everything
        noted, in the order seen."""
        self._jobs_diff()
        if self.pending:
            pending, self.pending = self.pending, []
            emit = self.session.emit
            for values in pending:
                emit("kv", values)


def attach(session, sched):
    """A KvCapture for this scheduler's connector, or None when it has none."""
    if getattr(sched, "connector", None) is None:
        return None
    return KvCapture(session, sched)
