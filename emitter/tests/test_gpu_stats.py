"""GPU sampling (gpu_stats.py) against a fake NVML module: what the header says, what one
sample holds, device selection, and a real-clock run of vLLM's scheduler whose trace carries
``gpu`` records that validate against the schema."""
import sys
import time
import types

import pytest

import vsched_testlib as lib
from vsched_emitter import env, gpu_stats
from vsched_testlib import Knobs, Spec

MiB = 1 << 20


class NVMLError(Exception):
    pass


def fake_nvml(n_devices=2, *, init_error=None, no_power=(), no_uuid=()):
    """A module with the pynvml functions the sampler calls. Device i reports utilisation
    10*(i+1) %, 1000*(i+1) MiB used of 80 GiB, SM clock 1500+i MHz, 300000+i mW and the UUID
    GPU-fake-i."""
    m = types.ModuleType("pynvml")
    m.NVML_CLOCK_SM = 1
    m.calls = []

    def nvmlInit():
        if init_error is not None:
            raise init_error
        m.calls.append("init")

    m.nvmlInit = nvmlInit
    m.nvmlShutdown = lambda: m.calls.append("shutdown")
    m.nvmlDeviceGetCount = lambda: n_devices
    m.nvmlDeviceGetHandleByIndex = lambda i: ("h", i)
    m.nvmlDeviceGetHandleByUUID = lambda u: ("h", int(u.rsplit("-", 1)[1]))
    m.nvmlDeviceGetIndex = lambda h: h[1]
    m.nvmlDeviceGetName = lambda h: f"Fake GPU {h[1]}".encode()

    def uuid(h):
        if h[1] in no_uuid:
            raise NVMLError("Not Supported")
        return f"GPU-fake-{h[1]}".encode()

    m.nvmlDeviceGetUUID = uuid
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=10 * (h[1] + 1), memory=5)
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=1000 * (h[1] + 1) * MiB, total=80 << 30)

    def clock(h, kind):
        assert kind == m.NVML_CLOCK_SM
        return 1500 + h[1]

    def power(h):
        if h[1] in no_power:
            raise NVMLError("Not Supported")
        return 300000 + h[1]

    m.nvmlDeviceGetClockInfo = clock
    m.nvmlDeviceGetPowerUsage = power
    return m


def header():
    return {"schema_version": "1.3", "capabilities": {}, "not_captured": []}


def test_a_sample_holds_each_devices_util_memory_clock_and_power():
    nvml = fake_nvml(2, no_power=(1,), no_uuid=(1,))
    h = header()
    s = gpu_stats.prepare(100, h, environ={}, nvml=nvml)
    assert s is not None
    assert s.read() == [(0, 10, 1000 * MiB, 1500, 300000), (1, 20, 2000 * MiB, 1501, None)]
    # 1.7: the devices carry their UUID (machine.py); one NVML cannot name is null
    assert h["schema_version"] == "1.7" and h["capabilities"] == {"gpu_stats": True} and h["not_captured"] == []
    assert h["gpu_stats"] == {"interval_ns": 100_000_000, "devices": [
        {"index": 0, "name": "Fake GPU 0", "memory_total_bytes": 80 << 30, "uuid": "GPU-fake-0"},
        {"index": 1, "name": "Fake GPU 1", "memory_total_bytes": 80 << 30, "uuid": None}]}


@pytest.mark.parametrize("environ, want", [
    ({"CUDA_VISIBLE_DEVICES": "2"}, [2]),
    ({"CUDA_VISIBLE_DEVICES": "GPU-fake-3,GPU-fake-1"}, [3, 1]),
    ({"CUDA_VISIBLE_DEVICES": "0,1", "VLLM_SCHEDULER_LOG_GPU_DEVICES": "3"}, [3]),
    ({"CUDA_VISIBLE_DEVICES": "7"}, None),  # no such device
])
def test_devices_follow_cuda_visible_devices_unless_named(environ, want):
    h = header()
    s = gpu_stats.prepare(50, h, environ=environ, nvml=fake_nvml(4))
    if want is None:
        assert s is None and "no device" in h["not_captured"][0]["why"]
    else:
        assert [i for i, _ in s.devices] == want


def test_without_nvml_the_header_says_why_and_nothing_is_sampled():
    h = header()
    assert gpu_stats.prepare(100, h, environ={}, nvml=fake_nvml(init_error=NVMLError("NVML Shared Library Not Found"))) is None
    assert h["not_captured"] == [{"what": gpu_stats.NOT_CAPTURED_WHAT,
                                  "why": "NVML unavailable: NVMLError: NVML Shared Library Not Found"}]
    assert h["schema_version"] == "1.3" and "gpu_stats" not in h
    h = header()
    assert gpu_stats.prepare(0, h, environ={}, nvml=fake_nvml()) is None
    assert "VLLM_SCHEDULER_LOG_GPU_STATS_MS=0" in h["not_captured"][0]["why"]


def test_the_interval_comes_from_the_environment():
    assert env.from_env({}).gpu_stats_ms == 100
    assert env.from_env({env.GPU_STATS_MS: "0"}).gpu_stats_ms == 0
    assert env.from_env({env.GPU_STATS_MS: "25"}).gpu_stats_ms == 25
    assert env.from_env({env.GPU_STATS_MS: "-3"}).gpu_stats_ms == 100  # warned, default


def test_the_thread_samples_at_its_interval_and_stops():
    got = []
    s = gpu_stats.prepare(10, header(), environ={}, nvml=fake_nvml(1))
    t0 = time.monotonic_ns()
    s.start(lambda kind, values: got.append((kind, values)), lambda: time.monotonic_ns() - t0)
    time.sleep(0.25)
    s.stop()
    n = len(got)
    time.sleep(0.05)
    assert len(got) == n  # stopped
    assert 5 <= n <= 30, n
    assert all(k == "gpu" and v[1] == [(0, 10, 1000 * MiB, 1500, 300000)] for k, v in got)
    ts = [v[0] for _, v in got]
    assert ts == sorted(ts) and ts[0] >= 10_000_000  # after the first interval


def test_a_failing_device_read_stops_sampling_not_the_engine():
    nvml = fake_nvml(1)
    s = gpu_stats.prepare(5, header(), environ={}, nvml=nvml)

    def put(kind, values):
        raise RuntimeError("writer gone")

    s.start(put, lambda: 0)
    time.sleep(0.05)
    assert isinstance(s.failed, RuntimeError)
    s.stop()


def test_a_real_clock_run_records_gpu_samples_that_validate(tmp_path, monkeypatch):
    nvml = fake_nvml(1)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setenv(env.GPU_STATS_MS, "5")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    specs = [Spec(f"r{i}", 0.01 * i, lib.prompt(64, i), 24) for i in range(6)]
    case = lib.run_case(tmp_path, specs, Knobs(max_num_seqs=2, num_blocks=64, max_model_len=512), clock="real",
                        step_cost=lambda shape: 0.004)
    assert lib.schema_errors(case.trace) == []
    h = case.header
    # 1.4 declares the gpu records, 1.7 the devices' UUIDs (and a real-clock run's host CPU model)
    assert h["schema_version"] == "1.7" and h["capabilities"]["gpu_stats"] is True
    assert h["gpu_stats"]["devices"][0]["uuid"] == "GPU-fake-0"
    assert h["gpu_stats"]["interval_ns"] == 5_000_000
    gpu = case.of("gpu")
    assert len(gpu) >= 3
    assert all(g["devices"] == [[0, 10, 1000 * MiB, 1500, 300000]] for g in gpu)
    steps = case.of("step")
    assert gpu[0]["t"] >= 0 and any(steps[0]["t_start"] <= g["t"] <= steps[-1]["t_end"] for g in gpu)
    assert nvml.calls[0] == "init" and nvml.calls[-1] == "shutdown"
