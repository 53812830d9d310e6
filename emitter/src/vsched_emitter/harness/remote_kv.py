"""Remote-prefill KV loads on the CPU (disaggregated prefill, the decode side).

The scheduler side is vLLM's own: its NixlConnector in the ``kv_consumer`` role, which vLLM's
unit tests also run on the CPU (tests/v1/kv_connector/unit). A request marked remote-prefill
carries the ``kv_transfer_params`` a prefill instance hands over; the connector reports its
prompt as matched and loads it asynchronously (status WAITING_FOR_REMOTE_KVS). The harness
plays the worker: a load started in a step is reported finished (``finished_recving`` in a
ModelRunnerOutput's KVConnectorOutput) in the first step whose execution ends at least
``load_s`` later. With ``max_num_inflight_kv_loads`` (vLLM >= 0.34) such requests wait in
``async_kv_waiting`` and at most that many loads are in flight.
"""
from __future__ import annotations

import math

CONNECTOR = "NixlConnector"


def has_inflight_kv_cap() -> bool:
    """vLLM 0.34 added SchedulerConfig.max_num_inflight_kv_loads (feature-detected)."""
    from vllm.config import SchedulerConfig

    fields = getattr(SchedulerConfig, "__dataclass_fields__", None) or getattr(SchedulerConfig, "model_fields", {})
    return "max_num_inflight_kv_loads" in fields


def configure(vllm_config, max_num_inflight_kv_loads: int | None) -> None:
    """Give the config vLLM's NixlConnector (decode side) and the in-flight load cap."""
    from vllm.config import KVTransferConfig

    vllm_config.kv_transfer_config = KVTransferConfig(kv_connector=CONNECTOR, kv_role="kv_consumer")
    if max_num_inflight_kv_loads is not None:
        vllm_config.scheduler_config.max_num_inflight_kv_loads = max_num_inflight_kv_loads


def transfer_params(req_id: str, prompt_tokens: int, block_size: int) -> dict:
    """What a prefill instance returns for the decode instance (as vLLM's tests build it)."""
    return {
        "do_remote_prefill": True, "do_remote_decode": False, "remote_engine_id": "prefill-0",
        "remote_request_id": f"prefill-{req_id}", "remote_block_ids": list(range(math.ceil(prompt_tokens / block_size))),
        "remote_host": "prefill.invalid", "remote_port": 1, "tp_size": 1,
    }


class RemoteLoads:
    """The worker side of the loads: when each started and when it is reported done."""

    def __init__(self, sched, load_s: float):
        from vllm.v1.outputs import KVConnectorOutput
        from vllm.v1.request import RequestStatus

        self.sched = sched
        self.load_s = load_s
        self.loading = RequestStatus.WAITING_FOR_REMOTE_KVS
        self.output_cls = KVConnectorOutput
        self.done_at: dict[str, float] = {}  # request id -> when its load completes
        self.reported: set[str] = set()  # reported finished, not yet promoted by schedule()

    def after_schedule(self, now: float) -> None:
        """Loads vLLM started in this schedule(): requests now waiting for their remote KV."""
        requests = self.sched.requests
        if self.reported:
            self.reported = {rid for rid in self.reported
                             if (r := requests.get(rid)) is not None and r.status == self.loading}
        for rid, r in requests.items():
            if r.status == self.loading and rid not in self.done_at and rid not in self.reported:
                self.done_at[rid] = now + self.load_s

    def output(self, step_end: float):
        """The KVConnectorOutput of a step that ends at ``step_end`` (None: nothing finished)."""
        done = sorted(rid for rid, t in self.done_at.items() if t <= step_end)
        if not done:
            return None
        for rid in done:
            del self.done_at[rid]
        self.reported.update(done)
        return self.output_cls(finished_recving=set(done))

    def next_t(self) -> float | None:
        return min(self.done_at.values()) if self.done_at else None
