"""KV-connector loads and stores (kv_connector.py) on vLLM's real OffloadingConnector.

The connector's scheduler side (CPU offload manager, job table, lookups, WAITING_FOR_REMOTE_KVS)
is vLLM's own and runs on the CPU; its worker side copies GPU memory and cannot. The test
stands in for the worker the way vLLM's worker reports: every job the scheduler side created
in a step is reported complete in that step's model output (``kv_connector_worker_meta``), and
an asynchronous load's request in ``finished_recving``. A prompt whose blocks were stored to
CPU and then evicted from the small GPU pool comes back as a CPU hit: an async load, a wait in
WAITING_FOR_REMOTE_KVS, and the load's end, all in the trace."""
import time

import pytest

import vsched_testlib as lib
from vsched_emitter import hooks
from vsched_emitter.env import Settings

pytest.importorskip("vllm.distributed.kv_transfer.kv_connector.v1.offloading_connector")


def _needs_worker_metadata():
    """The stand-in worker speaks vLLM >= 0.33's job protocol (OffloadingWorkerMetadata). vLLM
    0.11's OffloadingConnector is another design (num_cpu_blocks, per-request finished sets, no
    scheduler-side job table): there the capture's connector-API part applies unchanged and the
    job part is off (header kv_connector_jobs false), but this test cannot drive it."""
    common = pytest.importorskip("vllm.distributed.kv_transfer.kv_connector.v1.offloading.common",
                                 reason="vLLM 0.11's OffloadingConnector predates the job protocol this test's worker speaks")
    if not hasattr(common, "OffloadingWorkerMetadata"):
        pytest.skip("this vLLM's OffloadingConnector predates the job protocol this test's worker speaks")


def _worker_output(sched, out, reported):
    """What the offloading worker would report for this step: its jobs done, async loads received."""
    from vllm.distributed.kv_transfer.kv_connector.v1.offloading.common import OffloadingWorkerMetadata
    from vllm.v1.outputs import KVConnectorOutput
    from vllm.v1.request import RequestStatus

    jobs = sched.connector.connector_scheduler._jobs
    done = {jid: st.pending_count for jid, st in jobs.items() if jid not in reported}
    reported.update(done)
    recv = {st.req_id for jid, st in jobs.items() if jid in done and not st.is_store
            and sched.requests[st.req_id].status == RequestStatus.WAITING_FOR_REMOTE_KVS}
    return KVConnectorOutput(finished_recving=recv or None,
                             kv_connector_worker_meta=OffloadingWorkerMetadata(completed_jobs=done))


def _run(tmp_path):
    from vllm.config import KVTransferConfig
    from vsched_emitter.harness import driver

    knobs = driver.SchedulerKnobs(max_num_seqs=4, max_num_batched_tokens=512, max_model_len=1024, num_blocks=48,
                                  block_size=16, enable_chunked_prefill=True, enable_prefix_caching=True)
    vc = driver.build_vllm_config(knobs)
    vc.kv_transfer_config = KVTransferConfig(kv_connector="OffloadingConnector", kv_role="kv_both",
                                             kv_connector_extra_config={"cpu_bytes_to_use": 1 << 26, "block_size": 16})
    hasher = driver._block_hasher(vc, knobs.block_size)
    hooks.install(Settings(enabled=True, level="full", log_dir=tmp_path, gpu_stats_ms=0, cpu_stats=False))
    try:
        sched = driver.build_scheduler(knobs, vc)
    finally:
        hooks.install(Settings(enabled=False))
    # a: 256 tokens, stored to CPU as it runs; filler: 600 other tokens, which evicts a's blocks
    # from the 47-block GPU pool; b: a's prompt again, found in CPU memory only
    specs = [driver.RequestSpec("a", 0, lib.prompt(256, 1), 2), driver.RequestSpec("filler", 0, lib.prompt(600, 2), 2),
             driver.RequestSpec("b", 0, lib.prompt(256, 1) + lib.prompt(16, 3), 2)]
    runner = driver._Runner(sched, {s.req_id: s for s in specs}, False)
    reported = {}
    statuses = []
    pending = list(specs)
    for _ in range(60):
        if pending and not sched.requests:
            sched.add_request(driver.make_request(pending.pop(0), time.time(), hasher))
        out = sched.schedule()
        _, mro = runner.after_schedule(out)
        mro.kv_connector_output = _worker_output(sched, out, reported)
        sched.update_from_output(out, mro)
        if "b" in sched.requests:
            statuses.append(sched.requests["b"].status.name)
        if not pending and not sched.requests:
            break
    sched.shutdown()
    hooks.uninstall()
    files = sorted(tmp_path.glob("vsched-*.jsonl"))
    return lib.load_jsonl(files[0]), statuses


def test_an_offloaded_prefix_comes_back_as_an_async_load_and_every_job_is_recorded(tmp_path):
    _needs_worker_metadata()
    trace, statuses = _run(tmp_path)
    assert lib.schema_errors(trace) == []
    header = trace[0]
    assert header["schema_version"] == "1.4"
    assert header["capabilities"]["kv_connector_transfers"] is True and header["capabilities"]["kv_connector_jobs"] is True
    kv = [r for r in trace if r["type"] == "kv"]
    b = [(r["event"], r["tokens"], r["async"]) for r in kv if r["req"] == "b" and r["event"].startswith("load")]
    # b waited for the CPU copy of what the GPU pool had evicted of a's 256 tokens, then got it
    assert "WAITING_FOR_REMOTE_KVS" in statuses
    assert [(e, a) for e, _, a in b] == [("load_start", True), ("load_end", None)]
    loaded = b[0][1]
    assert 0 < loaded <= 256 and loaded % 16 == 0
    # admitted with all of a's prompt computed: the GPU prefix-cache hit plus what was loaded
    admitted = [n for s in trace if s["type"] == "step" for rid, n in s["new"] if rid == "b"]
    assert admitted == [256]
    # stores of a's full blocks and b's load, each opened and closed once
    starts = {r["job"]: r for r in kv if r["event"] == "transfer_start"}
    ends = {r["job"]: r for r in kv if r["event"] == "transfer_end"}
    assert starts and set(starts) == set(ends)
    assert {(r["req"], r["direction"]) for r in starts.values()} >= {("a", "store"), ("b", "load")}
    # the job table agrees with the connector API: the load jobs move the loaded tokens' blocks
    assert sum(r["blocks"] for r in starts.values() if r["req"] == "b" and r["direction"] == "load") * 16 == loaded
    # a kv record is written after the step/update record of the call that saw it
    last = -1
    for r in trace[1:]:
        t = r.get("t", r.get("t_start"))
        if r["type"] in ("step", "update"):
            last = r["t_start"]
        elif r["type"] == "kv":
            assert t >= last


def test_without_a_connector_nothing_is_attached(tmp_path):
    case = lib.run_case(tmp_path, [lib.Spec("x", 0.0, lib.prompt(16, 1), 2)], lib.Knobs(num_blocks=64, max_model_len=512))
    assert "kv_connector_transfers" not in case.header["capabilities"]
    assert not case.of("kv")
