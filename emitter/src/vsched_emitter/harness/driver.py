"""Drive vLLM's real v1 Scheduler on the CPU with a fake model runner.

The loop is vLLM's EngineCore: add the requests whose arrival time has come, schedule(),
"execute" (a request samples one token iff its scheduled chunk completes everything known
about it; EOS at ``eos_at``), update_from_output(). With async scheduling it is
EngineCore.step_with_batch_queue with a batch queue of 2: schedule() for step N+1 runs
before update_from_output() for step N (the fake "GPU" is always busy when the next batch
is scheduled, and executes batches back to back).

The emitter is enabled through the real plugin path: VLLM_SCHEDULER_* in os.environ, then
``vllm.plugins.load_general_plugins()`` loads the ``vsched`` entry point as vLLM does.
vLLM is imported lazily, so importing this module is cheap.
"""
from __future__ import annotations

import contextlib
import heapq
import inspect
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .clock import make_clock
from .replay_gpu import ReplayGpuTimer

TINY_MODEL_DIR = Path(__file__).with_name("tiny_llama")
EOS_TOKEN_ID = 2
FILLER_TOKEN_ID = 7
# Tiny model KV layout (tiny_llama/config.json): 2 layers, 2 KV heads, head size 16, fp16.
_KV_LAYERS = ["model.layers.0.self_attn.attn", "model.layers.1.self_attn.attn"]
_KV_HEADS, _HEAD_SIZE = 2, 16


@dataclass
class SchedulerKnobs:
    max_num_seqs: int = 16
    max_num_batched_tokens: int = 512
    max_model_len: int = 8192
    num_blocks: int = 1024
    block_size: int = 16
    enable_chunked_prefill: bool = True
    enable_prefix_caching: bool = True
    policy: str = "fcfs"  # or "priority", or "isrtf" (harness/isrtf.py; vLLM itself runs fcfs)
    async_scheduling: bool = False
    long_prefill_token_threshold: int = 0
    max_loras: int | None = None
    # vLLM >= 0.33: check that the whole prompt fits in KV before admitting (None = vLLM's default)
    scheduler_reserve_full_isl: bool | None = None
    # vLLM >= 0.34 (feature-detected; None/0 = vLLM's default, left out of recipes)
    max_num_inflight_kv_loads: int | None = None  # cap on async KV loads (remote-prefill requests)
    cache_aware_admission_window: int = 0  # FCFS + prefix caching: cached prefixes first in this window
    cache_aware_admission_threshold: float | None = None  # KV usage from which the window applies
    # harness: seconds a remote-prefill request's KV load takes (harness/remote_kv.py)
    remote_kv_load_s: float = 0.05
    # vLLM >= 0.34's EngineCoreProc._wait_for_output: arrivals and aborts are handled while a
    # step executes, between schedule() and update_from_output() (older engines: after it)
    mid_step_inputs: bool = False
    # a researcher's scheduler class, as --scheduler-cls takes it (harness/research_schedulers.py)
    scheduler_cls: str | None = None
    # a researcher's own waiting queue ("pkg.module:Class"), built where vLLM calls create_request_queue
    request_queue_cls: str | None = None


@dataclass
class TurnSpec:
    """A streaming-input session's next input chunk, sent ``after_s`` after the session's
    previous chunk (its first request for the first TurnSpec), whether or not the turn before
    it has ended: vLLM queues a chunk that arrives while the session runs."""
    after_s: float
    prompt_token_ids: list[int]
    max_tokens: int


@dataclass
class RequestSpec:
    req_id: str
    arrival_s: float  # seconds from workload start
    prompt_token_ids: list[int]
    max_tokens: int
    priority: int = 0
    lora_id: int | None = None
    abort_after_s: float | None = None  # abort this long after arrival
    remote_prefill: bool = False  # its prompt's KV comes from a prefill instance (harness/remote_kv.py)
    eos_at: int | None = None  # output index at which the fake model samples EOS (finish reason stop)
    # A streaming-input session (vLLM >= 0.33, Request.resumable): these chunks follow, then the
    # client closes the session ``end_after_s`` after its last chunk (vLLM finishes it at the end
    # of the turn running then, or aborts it if it is waiting for input).
    turns: list[TurnSpec] | None = None
    end_after_s: float = 0.0
    # arrival_s is when the engine core can see it; vLLM's frontend stamped Request.arrival_time
    # this much earlier (a fitted visibility delay, vsched simulate; docs/fit.md)
    frontend_delay_s: float = 0.0


@dataclass
class BatchShape:
    num_reqs: int
    num_prefill_reqs: int
    num_decode_reqs: int
    prefill_tokens: int
    decode_tokens: int
    # Features a fitted step model may use (vsched fit, docs/fit.md), with the same
    # definitions as vsched's tables: num_computed_tokens after schedule() summed over the
    # scheduled requests (all / decode only), sum of scheduled x computed tokens, and the
    # running list and KV usage right after schedule().
    context_tokens: int = 0
    decode_context_tokens: int = 0
    attention_work: int = 0
    running_depth: int = 0
    kv_ratio: float = 0.0
    # GPU features: attention pairs of the prefill chunks, and (async scheduling) the batch
    # launched while this one's output was awaited, which a fitted model may charge to it
    prefill_attention_work: int = 0
    next: "BatchShape | None" = None


StepCost = Callable[[BatchShape], float]  # seconds of model time for one step


@dataclass
class RunResult:
    steps: int
    trace_files: list[Path]
    oracle_path: Path | None
    finished: int


_accepted: dict = {}  # (fn, signature_of) -> keyword names fn takes, None for **kwargs (once each: per step it is slow)


def _gpu_span(shape: object, now: float, gpu_free_at: float, launched: float, step_s: float) -> tuple[float, float]:
    """Where a step's work starts and ends on the GPU under a host loop (docs/fit.md, "Step
    clock"): a CUDA graph runs once the host has launched it; kernels without a graph run as the
    host launches them, so such a step ends no earlier than its launch (fit --gpu-work censored
    reads its work so)."""
    if getattr(shape, "no_cudagraph", 0):
        start = max(now, gpu_free_at)
        return start, max(start + step_s, launched)
    start = max(gpu_free_at, launched)
    return start, start + step_s


def _host_loop(cost: object) -> dict | None:
    """A GPU-clock model's host loop (docs/fit.md, "Step clock"), or None: the device alone (a
    model that charges the next batch is costed at the update, without one)."""
    return getattr(cost, "host", None) if not getattr(cost, "uses_next", False) else None


def _synced(cost: object, shape: object, launched: float, done: float) -> float:
    """The end of a launch that may wait for its own step on the GPU (docs/fit.md, "Step clock"):
    a share of a real engine's prefill launches synchronize with the device and return when the
    step's work ends (the model's host.sync_share); the replay ends each such launch that share of
    the way from its own end to the step's, the expected end over launches."""
    share = cost.sync_share(shape)  # a host loop is a fitted model's, which always has it
    return launched + share * max(0.0, done - launched) if share else launched


def _kw(fn, signature_of=None, **kwargs):
    """Call fn with only the keyword arguments this vLLM version accepts."""
    key = (fn, signature_of)
    if key not in _accepted:
        params = inspect.signature(signature_of or fn).parameters
        takes_any = signature_of is None and any(p.kind is p.VAR_KEYWORD for p in params.values())
        _accepted[key] = None if takes_any else frozenset(params)
    names = _accepted[key]
    if names is None:
        return fn(**kwargs)
    return fn(**{k: v for k, v in kwargs.items() if k in names})


_model_configs: dict[int, object] = {}

# Test seams (not API): fn(scheduler, scheduler_output) after each schedule(), and
# fn(scheduler, step, engine_core_outputs) after each update_from_output().
_schedule_observers: list = []
_update_observers: list = []


def _model_config(max_model_len: int):
    # The first ModelConfig of a process inspects the model class (slow); later ones are cheap.
    mc = _model_configs.get(max_model_len)
    if mc is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from vllm.config import ModelConfig

        mc = _kw(ModelConfig, model=str(TINY_MODEL_DIR), skip_tokenizer_init=True, dtype="float16", seed=0,
                 max_model_len=max_model_len)
        _model_configs[max_model_len] = mc
    return mc


def has_reserve_full_isl() -> bool:
    """vLLM 0.33 added SchedulerConfig.scheduler_reserve_full_isl (feature-detected, not version-parsed)."""
    from vllm.config import SchedulerConfig

    fields = getattr(SchedulerConfig, "__dataclass_fields__", None) or getattr(SchedulerConfig, "model_fields", {})
    return "scheduler_reserve_full_isl" in fields


def _vllm_version() -> str:
    try:
        import vllm

        return str(vllm.__version__)
    except Exception:  # pragma: no cover
        return "unknown"


def build_vllm_config(knobs: SchedulerKnobs):
    from vllm.config import CacheConfig, DeviceConfig, SchedulerConfig, VllmConfig

    if knobs.policy not in ("fcfs", "priority", "isrtf"):
        raise ValueError(f"policy must be 'fcfs', 'priority' or 'isrtf', not {knobs.policy!r}")
    # isrtf is not a vLLM policy: vLLM runs fcfs and the harness swaps in the ISRTF queue
    policy = "fcfs" if knobs.policy == "isrtf" else knobs.policy
    if knobs.scheduler_reserve_full_isl is not None and not has_reserve_full_isl():
        raise ValueError(f"this vLLM ({_vllm_version()}) has no scheduler_reserve_full_isl: "
                         "it always checks only the first chunk; drop --[no-]scheduler-reserve-full-isl")
    sc = _kw(SchedulerConfig, max_num_seqs=knobs.max_num_seqs, max_num_batched_tokens=knobs.max_num_batched_tokens,
             max_model_len=knobs.max_model_len, is_encoder_decoder=False,
             enable_chunked_prefill=knobs.enable_chunked_prefill, policy=policy,
             async_scheduling=bool(knobs.async_scheduling),
             long_prefill_token_threshold=knobs.long_prefill_token_threshold,
             **({} if knobs.scheduler_reserve_full_isl is None
                else {"scheduler_reserve_full_isl": knobs.scheduler_reserve_full_isl}))
    if knobs.scheduler_reserve_full_isl is not None and \
            bool(sc.scheduler_reserve_full_isl) != knobs.scheduler_reserve_full_isl:
        raise RuntimeError(f"vLLM changed scheduler_reserve_full_isl to {sc.scheduler_reserve_full_isl}")
    _cache_aware_admission(sc, knobs)
    cc = _kw(CacheConfig, block_size=knobs.block_size, gpu_memory_utilization=0.9, cache_dtype="auto",
             enable_prefix_caching=knobs.enable_prefix_caching)
    lora = None
    if knobs.max_loras is not None:
        from vllm.config import LoRAConfig

        lora = _kw(LoRAConfig, max_loras=knobs.max_loras, max_lora_rank=8,
                   max_cpu_loras=max(knobs.max_loras, 4))
    vc = VllmConfig(model_config=_model_config(knobs.max_model_len), scheduler_config=sc, cache_config=cc,
                    device_config=DeviceConfig(device="cpu"), lora_config=lora)
    if bool(vc.scheduler_config.async_scheduling) != bool(knobs.async_scheduling):
        raise RuntimeError(f"vLLM changed async_scheduling to {vc.scheduler_config.async_scheduling}")
    vc.cache_config.num_gpu_blocks = knobs.num_blocks
    if knobs.scheduler_cls is not None:
        from vllm.v1.core.sched.scheduler import Scheduler

        cls = load_class(knobs.scheduler_cls)
        if not issubclass(cls, Scheduler):
            raise ValueError(f"{knobs.scheduler_cls!r} is not a subclass of vLLM's Scheduler")
        if knobs.async_scheduling and not any(c.__name__ == "AsyncScheduler" for c in cls.__mro__):
            # vLLM #43724: with async scheduling a plugin must extend AsyncScheduler
            raise ValueError(f"{knobs.scheduler_cls!r} does not extend AsyncScheduler, which async "
                             "scheduling needs (vLLM #43724): extend it, or simulate with async_scheduling off")
        vc.scheduler_config.scheduler_cls = cls
    return vc


def load_class(qualname: str):
    """``pkg.module:Class`` or ``pkg.module.Class``, imported from sys.path (the caller's
    directory first, where a researcher keeps their policy module)."""
    import importlib

    module, sep, name = qualname.partition(":")
    if not sep:
        module, _, name = qualname.rpartition(".")
    if not module or not name:
        raise ValueError(f"expected MODULE:CLASS, got {qualname!r}")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"cannot import {module!r} for {qualname!r}: {e}") from None
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"{module!r} has no {name!r}")
    if not isinstance(obj, type):
        raise ValueError(f"{qualname!r} is not a class")
    return obj


@contextlib.contextmanager
def custom_request_queue(qualname: str | None):
    """While a Scheduler is constructed, vLLM's create_request_queue returns the given class's
    instances (a fork that swaps the queue, as seed 003's ISRTF does)."""
    if qualname is None:
        yield
        return
    import vllm.v1.core.sched.scheduler as module

    cls = load_class(qualname)
    original = getattr(module, "create_request_queue", None)
    if original is None:
        raise ValueError("this vLLM's Scheduler does not build its waiting queue with create_request_queue: "
                         "a request-queue class cannot be installed")
    module.create_request_queue = lambda policy: cls()
    try:
        yield
    finally:
        module.create_request_queue = original


def _cache_aware_admission(sc, knobs: SchedulerKnobs) -> None:
    """vLLM 0.34's cache-aware admission knobs, set only where this vLLM has them."""
    wanted = {k: v for k, v in (("cache_aware_admission_window", knobs.cache_aware_admission_window or None),
                                ("cache_aware_admission_threshold", knobs.cache_aware_admission_threshold))
              if v is not None}
    for name, value in wanted.items():
        if not hasattr(sc, name):
            raise ValueError(f"this vLLM ({_vllm_version()}) has no {name} (vLLM >= 0.34)")
        setattr(sc, name, value)


def engine_handles_inputs_mid_step() -> bool:
    """vLLM 0.34's EngineCoreProc handles ADD/ABORT while waiting for a step's output
    (vllm.v1.engine.core._INPUTS_HANDLED_DURING_STEP; feature-detected)."""
    try:
        import vllm.v1.engine.core as core
    except Exception:
        return False
    return hasattr(core, "_INPUTS_HANDLED_DURING_STEP")


def uses_remote_kv(specs, knobs: SchedulerKnobs) -> bool:
    return knobs.max_num_inflight_kv_loads is not None or any(s.remote_prefill for s in specs)


def scheduler_class(vllm_config):
    """The class EngineCore would instantiate for this config."""
    sc = vllm_config.scheduler_config
    if hasattr(sc, "get_scheduler_cls"):
        return sc.get_scheduler_cls()
    cls = getattr(sc, "scheduler_cls", None)
    if cls == "vllm.core.scheduler.Scheduler":  # v0.11 default: the V0 name, mapped to V1 by EngineArgs
        cls = None
    if isinstance(cls, str):
        import importlib

        module, _, name = cls.rpartition(".")
        return getattr(importlib.import_module(module), name)
    if cls is not None:
        return cls
    from vllm.v1.core.sched.scheduler import Scheduler

    return Scheduler


def build_scheduler(knobs: SchedulerKnobs, vllm_config=None, *, log_stats: bool = True):
    import torch
    from vllm.v1.core.sched.scheduler import Scheduler
    from vllm.v1.kv_cache_interface import FullAttentionSpec, KVCacheConfig, KVCacheGroupSpec
    from vllm.v1.structured_output import StructuredOutputManager

    vc = vllm_config or build_vllm_config(knobs)
    spec = _kw(FullAttentionSpec, block_size=knobs.block_size, num_kv_heads=_KV_HEADS, head_size=_HEAD_SIZE,
               dtype=torch.float16, use_mla=False)
    kvc = KVCacheConfig(num_blocks=knobs.num_blocks, kv_cache_tensors=[],
                        kv_cache_groups=[KVCacheGroupSpec(list(_KV_LAYERS), spec)])
    cls = scheduler_class(vc)
    return _kw(cls, signature_of=Scheduler.__init__, vllm_config=vc, kv_cache_config=kvc,
               structured_output_manager=StructuredOutputManager(vc), block_size=knobs.block_size,
               hash_block_size=knobs.block_size, include_finished_set=False, log_stats=log_stats)


def _block_hasher(vllm_config, block_size: int):
    if not vllm_config.cache_config.enable_prefix_caching:
        return None
    from vllm.v1.core.kv_cache_utils import get_request_block_hasher, init_none_hash

    try:
        from vllm.utils.hashing import get_hash_fn_by_name
    except ImportError:
        from vllm.utils import get_hash_fn_by_name
    fn = get_hash_fn_by_name(vllm_config.cache_config.prefix_caching_hash_algo)
    init_none_hash(fn)
    params = inspect.signature(get_request_block_hasher).parameters
    if "num_hash_lookahead_tokens" in params:
        return get_request_block_hasher(block_size, fn, getattr(vllm_config, "num_hash_lookahead_tokens", 0))
    return get_request_block_hasher(block_size, fn)


def _ensure_plugin() -> None:
    """Load the emitter the way vLLM does (entry point group vllm.general_plugins)."""
    import importlib

    from vsched_emitter import hooks

    importlib.import_module(hooks.SCHEDULER_MODULE)  # loaded first, so the plugin patches at once

    if not hooks.is_installed():
        import vllm.plugins as vp

        vp.load_general_plugins()
        if not hooks.is_installed():
            # vLLM loads general plugins once per process; a fresh engine process would
            # load them again, so do what that process would do.
            vp.plugins_loaded = False
            vp.load_general_plugins()
    if not hooks.is_installed():
        raise RuntimeError("the vsched plugin did not load: is vsched-emitter installed "
                           "(pip install -e emitter) and allowed by VLLM_PLUGINS?")
    hooks.install(None)  # settings from the environment at Scheduler construction


def make_request(spec: RequestSpec, arrival_time: float, block_hasher=None, *, resumable: bool | None = None,
                 block_size: int = 16):
    """vLLM's Request for a spec, as the frontend would hand it to the engine core.
    ``resumable``: a streaming-input session's request (default: the spec has turns)."""
    from vllm.sampling_params import SamplingParams
    from vllm.v1.request import Request

    lora = None
    if spec.lora_id is not None:
        from vllm.lora.request import LoRARequest

        lora = _kw(LoRARequest, lora_name=f"lora{spec.lora_id}", lora_int_id=spec.lora_id,
                   lora_path=f"/nonexistent/lora{spec.lora_id}")
    params = SamplingParams(max_tokens=spec.max_tokens, stop_token_ids=[EOS_TOKEN_ID])
    request = _kw(Request, request_id=spec.req_id, prompt_token_ids=list(spec.prompt_token_ids),
                  sampling_params=params, pooling_params=None, eos_token_id=None, arrival_time=arrival_time,
                  priority=spec.priority, lora_request=lora, block_hasher=block_hasher, mm_features=None,
                  resumable=spec.turns is not None if resumable is None else resumable)
    if spec.remote_prefill:  # as the frontend sets it from the prefill instance's response
        from .remote_kv import transfer_params

        request.kv_transfer_params = transfer_params(spec.req_id, len(spec.prompt_token_ids), block_size)
    return request


class _Runner:
    """The fake model runner: decides each scheduled request's sampled tokens."""

    def __init__(self, sched, specs: dict[str, RequestSpec], is_async: bool):
        from vllm.v1.outputs import ModelRunnerOutput

        self.sched = sched
        self.specs = specs
        self.is_async = is_async
        self.mro_cls = ModelRunnerOutput
        self.placeholders: dict[str, int] = {}

    def before_schedule(self) -> None:
        if self.is_async:
            self.placeholders = {rid: r.num_output_placeholders for rid, r in self.sched.requests.items()}

    def after_schedule(self, out):
        reqs = self.sched.requests
        ids, sampled = [], []
        shape = BatchShape(0, 0, 0, 0, 0)
        for rid, n in out.num_scheduled_tokens.items():
            r = reqs[rid]
            if self.is_async:
                in_flight = self.placeholders.get(rid, 0)
                produces = r.num_output_placeholders > in_flight
            else:
                in_flight = 0
                produces = r.num_computed_tokens >= r.num_tokens
            before = r.num_computed_tokens - n
            shape.num_reqs += 1
            shape.context_tokens += r.num_computed_tokens
            shape.attention_work += n * r.num_computed_tokens
            if before >= r.num_prompt_tokens and n == 1:
                shape.num_decode_reqs += 1
                shape.decode_tokens += n
                shape.decode_context_tokens += r.num_computed_tokens
            else:
                shape.num_prefill_reqs += 1
                shape.prefill_tokens += n
                c = r.num_computed_tokens
                shape.prefill_attention_work += n * (c - n) + n * (n + 1) // 2
            ids.append(rid)
            if produces:
                eos_at = self.specs[rid].eos_at
                index = r.num_output_tokens + in_flight
                sampled.append([EOS_TOKEN_ID if eos_at is not None and index == eos_at else FILLER_TOKEN_ID])
            else:
                sampled.append([])
        shape.running_depth = len(self.sched.running)
        pool = self.sched.kv_cache_manager.block_pool
        usable = pool.num_gpu_blocks - 1
        shape.kv_ratio = (usable - pool.get_num_free_blocks()) / usable if usable > 0 else 0.0
        mro = _kw(self.mro_cls, req_ids=ids, req_id_to_index={rid: i for i, rid in enumerate(ids)},
                  sampled_token_ids=sampled, logprobs=None, prompt_logprobs_dict={}, pooler_output=[])
        return shape, mro


def _validate(specs: list[RequestSpec], knobs: SchedulerKnobs) -> None:
    # A request id may repeat: vLLM lets a finished id be used again (its own tests do, and so
    # does a client sending X-Request-Id). The loop hands a repeat to the scheduler only once the
    # earlier request with that id has finished.
    for s in specs:
        if not s.prompt_token_ids:
            raise ValueError(f"request {s.req_id!r} has an empty prompt")
        if len(s.prompt_token_ids) >= knobs.max_model_len:
            raise ValueError(f"request {s.req_id!r}: prompt of {len(s.prompt_token_ids)} tokens does not fit "
                             f"max_model_len={knobs.max_model_len}")
        if s.max_tokens < 1:
            raise ValueError(f"request {s.req_id!r}: max_tokens must be >= 1")
        if s.lora_id is not None and (knobs.max_loras is None or s.lora_id < 1):
            raise ValueError(f"request {s.req_id!r}: lora_id needs knobs.max_loras and an id >= 1")
        if s.arrival_s < 0 or (s.abort_after_s is not None and s.abort_after_s < 0):
            raise ValueError(f"request {s.req_id!r}: negative time")
        if s.turns is not None:
            _validate_session(s)


def _validate_session(s: RequestSpec) -> None:
    from vsched_emitter.capabilities import has_sessions

    if not has_sessions():
        raise ValueError(f"request {s.req_id!r} is a streaming-input session: this vLLM ({_vllm_version()}) "
                         "has no resumable requests (vLLM >= 0.33)")
    if s.eos_at is not None or s.abort_after_s is not None:
        raise ValueError(f"session {s.req_id!r}: eos_at and abort_after_s are not supported (turns end at max_tokens)")
    if s.end_after_s < 0 or any(t.after_s < 0 or not t.prompt_token_ids or t.max_tokens < 1 for t in s.turns):
        raise ValueError(f"session {s.req_id!r}: a turn needs after_s >= 0, a prompt and max_tokens >= 1")


def run(specs: Iterable[RequestSpec], knobs: SchedulerKnobs, cost: StepCost, *, trace_dir: Path | None,
        level: str = "full", clock: str = "virtual", oracle_path: Path | None = None,
        max_steps: int | None = None, gzip: bool = False, pid: int | None = None,
        dp_rank: int = 0, isrtf=None, counterfactual: tuple[int, int] | None = None, waiting_probe: int = 0) -> RunResult:
    """``isrtf``: an ``isrtf.ISRTF`` (required with knobs.policy == "isrtf").
    counterfactual=(every, max_requests) writes counterfactual.jsonl beside the trace
    (harness/counterfactual.py); the trace itself is the same with and without it."""
    from vsched_emitter import env, gpu_time, hooks

    specs = sorted(specs, key=lambda s: s.arrival_s)  # stable: ties keep the given order
    _validate(specs, knobs)
    if (knobs.policy == "isrtf") != (isrtf is not None):
        raise ValueError("policy 'isrtf' needs an ISRTF predictor, and only it takes one")
    if level not in ("full", "summary"):
        raise ValueError(f"level must be 'full' or 'summary', not {level!r}")
    vc = build_vllm_config(knobs)  # before the virtual clock: the first build is slow and untimed
    if knobs.mid_step_inputs and not engine_handles_inputs_mid_step():
        raise ValueError(f"this vLLM's engine ({_vllm_version()}) handles arrivals and aborts only between steps: "
                         "drop --mid-step-inputs (vLLM >= 0.34)")
    if uses_remote_kv(specs, knobs):
        from . import remote_kv

        if knobs.max_num_inflight_kv_loads is not None and not remote_kv.has_inflight_kv_cap():
            raise ValueError(f"this vLLM ({_vllm_version()}) has no max_num_inflight_kv_loads (vLLM >= 0.34)")
        remote_kv.configure(vc, knobs.max_num_inflight_kv_loads)
    if dp_rank:  # the rank a data-parallel engine core would have; the emitter records it
        vc.parallel_config.data_parallel_rank = dp_rank
        if hasattr(vc.parallel_config, "data_parallel_index"):
            vc.parallel_config.data_parallel_index = dp_rank
    saved_env = {k: os.environ.get(k) for k in env.ALL_VARS}
    the_clock = make_clock(clock)
    sched = None
    cf = None
    try:
        if trace_dir is not None:
            Path(trace_dir).mkdir(parents=True, exist_ok=True)
            os.environ.update({env.ENABLE: "1", env.LOG_DIR: str(trace_dir), env.LEVEL: level,
                               env.GZIP: "1" if gzip else "0"})
            if waiting_probe > 0:
                os.environ[env.WAITING_PROBE] = str(waiting_probe)
            else:
                os.environ.pop(env.WAITING_PROBE, None)
            # CPU time and run-queue waits are the machine's, not the virtual clock's: off where
            # traces must be byte-reproducible
            os.environ[env.CPU_STATS] = "0" if the_clock.virtual else "1"
            if pid is not None:  # recorded instead of the real pid (byte-reproducible traces)
                os.environ[env.PID] = str(pid)
            else:
                os.environ.pop(env.PID, None)
            _ensure_plugin()
        else:
            os.environ[env.ENABLE] = "0"
            if hooks.is_installed():
                hooks.install(None)  # explicit settings from an earlier install() must not record this run
        the_clock.install()
        # a replay on a GPU clock with a host loop has a device timeline: the trace records it as
        # a real run's CUDA events are recorded (replay_gpu.py)
        gpu_timer = ReplayGpuTimer() if _host_loop(cost) is not None and trace_dir is not None else None
        gpu_time.provide(gpu_timer)
        if isrtf is not None:
            with isrtf.building():
                sched = build_scheduler(knobs, vc)
            isrtf.check(sched)
        else:
            with custom_request_queue(knobs.request_queue_cls):
                sched = build_scheduler(knobs, vc)
        session = hooks.session_of(sched)
        if trace_dir is not None and session is None:
            raise RuntimeError("the emitter did not attach to the scheduler (see the vsched_emitter log)")
        from .oracle import NoOracle, Oracle

        oracle = Oracle(Path(oracle_path)) if oracle_path is not None else NoOracle(sched)
        if counterfactual is not None:
            from .counterfactual import Counterfactual

            cf_dir = Path(trace_dir) if trace_dir is not None else Path(oracle_path).parent
            cf = Counterfactual(cf_dir / "counterfactual.jsonl", *counterfactual, clock=the_clock)
        try:
            steps, finished = _loop(sched, vc, specs, knobs, cost, the_clock, oracle, max_steps, isrtf, cf, gpu_timer)
        finally:
            if cf is not None:
                cf.close()
        sched.shutdown()
        sched = None
    finally:
        if sched is not None:
            try:
                sched.shutdown()
            except Exception:
                pass
        the_clock.uninstall()
        gpu_time.provide(None)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if cf is not None and cf.unsupported:  # after the clock is restored: logging reads it
        import logging

        logging.getLogger("vsched_emitter").warning("counterfactual oracle not run: %s", cf.unsupported)
    trace_files = [session.path] if session is not None else []
    if oracle_path is not None:
        import vllm

        oracle.write({
            "type": "meta",
            "vllm_version": str(vllm.__version__),
            "anchor_monotonic_ns": session.header["clock"]["monotonic_ns"] if session is not None else None,
            "trace_file": str(session.path) if session is not None else None,
        })
    return RunResult(steps=steps, trace_files=trace_files, oracle_path=Path(oracle_path) if oracle_path is not None else None,
                     finished=finished)


def _loop(sched, vc, specs, knobs, cost, clock, oracle, max_steps, isrtf=None, cf=None, gpu_timer=None):
    from vllm.v1.request import RequestStatus

    hasher = _block_hasher(vc, knobs.block_size)
    by_id = {s.req_id: s for s in specs}
    runner = _Runner(sched, by_id, knobs.async_scheduling)
    remote = None
    if getattr(sched, "connector", None) is not None and uses_remote_kv(specs, knobs):
        from .remote_kv import RemoteLoads

        remote = RemoteLoads(sched, knobs.remote_kv_load_s)
    queue_size = 2 if knobs.async_scheduling else 1

    pending = deque(specs)
    # a spec whose id is still live waits here until that request finishes (ids reused after finishing)
    id_reuse: dict[str, deque] = {}
    aborts: list[tuple[float, int, str, object]] = []
    finished: set[tuple[str, int]] = set()  # (request id, its lifetime): ids may be reused
    lifetimes: dict[str, int] = {}
    last_arrival = None
    nudge = 0

    # streaming-input sessions: (time, seq, request id, its request object, turn index or None = close)
    chunks: list[tuple[float, int, str, object, int | None]] = []

    def add(s: RequestSpec, arrival_s: float, arrival_time: float) -> None:
        by_id[s.req_id] = s
        lifetimes[s.req_id] = lifetimes.get(s.req_id, -1) + 1
        if oracle is not None:
            oracle.add_request(s.req_id, arrival_time, len(s.prompt_token_ids), s.max_tokens,
                               session=s.turns is not None)
        request = make_request(s, arrival_time, hasher, block_size=knobs.block_size)
        if isrtf is not None:
            isrtf.on_new_request(request)
        sched.add_request(request)
        if s.abort_after_s is not None:
            heapq.heappush(aborts, (arrival_s + s.abort_after_s, len(aborts), s.req_id, request))
        if s.turns is not None:
            at = arrival_s
            for k, turn in enumerate([*s.turns, None]):
                at += s.end_after_s if turn is None else turn.after_s
                heapq.heappush(chunks, (at, len(chunks), s.req_id, request, None if turn is None else k))

    def send_chunks(now: float) -> None:
        """The session's client sends its next input chunk (or closes the session), as the
        frontend hands it to the engine core: a request with the same id."""
        while chunks and chunks[0][0] <= now:
            _, _, rid, first, k = heapq.heappop(chunks)
            if sched.requests.get(rid) is not first:
                continue  # the session already ended
            s = by_id[rid]
            if k is None:
                spec = RequestSpec(rid, now, [FILLER_TOKEN_ID], 1)
                request = make_request(spec, clock.wall_at(now), hasher, resumable=False)
            else:
                turn = s.turns[k]
                spec = RequestSpec(rid, now, list(turn.prompt_token_ids), turn.max_tokens, priority=s.priority)
                request = make_request(spec, clock.wall_at(now), hasher, resumable=True)
            if oracle is not None:
                oracle.on_chunk(rid, None if k is None else request.arrival_time, list(first.events))
            sched.add_request(request)
            if k is None and sched.requests.get(rid) is None:
                finished.add((rid, lifetimes[rid]))  # closed while waiting for input: vLLM aborts it

    def add_due(now: float) -> None:
        nonlocal last_arrival, nudge
        while pending and pending[0].arrival_s <= now:
            s = pending.popleft()
            if live(s.req_id) or s.req_id in id_reuse:
                id_reuse.setdefault(s.req_id, deque()).append(s)
                continue
            # vLLM stamps arrival_time with time.time() in the frontend, so two requests never
            # share one; equal arrival_s get 1 us apart (also avoids v0.11's priority heap
            # comparing Request objects on ties).
            nudge = nudge + 1 if s.arrival_s == last_arrival else 0
            last_arrival = s.arrival_s
            add(s, s.arrival_s, clock.wall_at(s.arrival_s - s.frontend_delay_s) + nudge * 1e-6)

    def add_reused(now: float) -> None:
        """Specs that waited for their id: the earlier request with it has finished by now."""
        for rid in [rid for rid in id_reuse if not live(rid)]:
            s = id_reuse[rid].popleft()
            if not id_reuse[rid]:
                del id_reuse[rid]
            add(s, now, clock.wall_at(now))

    def live(rid: str) -> bool:
        r = sched.requests.get(rid)
        return r is not None and not r.is_finished()

    def abort_due(now: float) -> None:
        while aborts and aborts[0][0] <= now:
            _, _, rid, request = heapq.heappop(aborts)
            r = sched.requests.get(rid)
            if r is None or r is not request or r.is_finished():
                continue
            if oracle is not None:
                oracle.on_abort(rid, list(r.events))
            sched.finish_requests(rid, RequestStatus.FINISHED_ABORTED)
            finished.add((rid, lifetimes[rid]))

    def next_event():
        while aborts and (not live(aborts[0][2]) or sched.requests.get(aborts[0][2]) is not aborts[0][3]):
            heapq.heappop(aborts)
        times = []
        if pending:
            times.append(pending[0].arrival_s)
        if aborts:
            times.append(aborts[0][0])
        if chunks:
            times.append(chunks[0][0])
        if remote is not None and remote.done_at:
            times.append(remote.next_t())
        return min(times) if times else None

    def inputs_during_step(until: float) -> None:
        """vLLM >= 0.34 (EngineCoreProc._wait_for_output): new requests and aborts that come
        while a step executes are handled before its update_from_output()."""
        while True:
            times = [t for t in (pending[0].arrival_s if pending else None, aborts[0][0] if aborts else None,
                                 chunks[0][0] if chunks else None) if t is not None]
            t = min(times) if times else None
            if t is None or t > until:
                return
            clock.advance_to(max(t, clock.engine_s()))
            add_due(t)
            if chunks:
                send_chunks(t)
            abort_due(t)

    batch_queue: deque = deque()
    wakeup_s = float(getattr(cost, "idle_wakeup_s", 0.0))

    def wake(at: float) -> None:
        """An idle engine core blocks on its input queue: the request that wakes it is added at
        once, schedule() comes wakeup_s later (a fitted model's idle_wakeup_s, 0 otherwise), and
        every request arriving meanwhile is added as it comes and shares the first batch."""
        clock.advance_to(at)
        inputs_during_step(at + wakeup_s)
        clock.advance_to(at + wakeup_s)
    steps = 0
    if oracle is not None:
        oracle.watch_preemptions(sched, lambda: steps)
    gpu_free_at = 0.0
    # a GPU-clock model's host loop (docs/fit.md, "Step clock"): each update waits for the end of
    # the launch after it, and the next schedule() comes post_update later; None: the device alone
    host = _host_loop(cost)
    stalled = 0
    at_time = getattr(cost, "at_time", None)  # a host whose speed changed over the recorded run
    while True:
        now = clock.engine_s()
        if at_time is not None:
            at_time(now)
        add_due(now)
        if chunks:
            send_chunks(now)
        abort_due(now)
        if id_reuse:
            add_reused(now)
        can_schedule = max_steps is None or steps < max_steps
        if can_schedule and sched.has_requests():
            runner.before_schedule()
            cf_snap = cf.before_schedule(sched, steps) if cf is not None else None
            out = sched.schedule()
            step = steps
            steps += 1
            if cf_snap is not None:
                cf.after_schedule(sched, out, step, cf_snap)
            for observe in _schedule_observers:
                observe(sched, out)
            shape, mro = runner.after_schedule(out)
            executed = out.total_num_scheduled_tokens > 0
            # A fitted model that charges the batch launched while this one's output is awaited
            # (next_* terms) is costed when the output is collected; every other cost at once.
            done = None
            launched = None  # when the host has launched the batch (host loop only)
            if not getattr(cost, "uses_next", False):
                step_s = float(cost(shape)) if executed else 0.0
                if host is not None and executed:
                    launched = now + float(cost.host_pre(shape))
                    start, done = _gpu_span(shape, now, gpu_free_at, launched, step_s)
                    launched = _synced(cost, shape, launched, done)
                    if gpu_timer is not None:  # a launch that waited for its step includes the wait, as a runner's does
                        gpu_timer.record(out, start, done, launched - now)
                else:
                    done = max(now, gpu_free_at) + step_s
                gpu_free_at = done
            if remote is not None:
                remote.after_schedule(now)
                if done is not None:
                    mro.kv_connector_output = remote.output(done)
            snap = oracle.snapshot(sched) if oracle is not None else None
            batch_queue.appendleft((out, mro, done, (now, shape), snap, step, launched))
            if executed and len(batch_queue) < queue_size:
                continue  # async: keep the batch queue full before blocking on the oldest
        if not batch_queue:
            nxt = next_event() if can_schedule else None
            if nxt is None:
                break
            wake(max(nxt, now))
            continue
        out, mro, done, (scheduled_at, shape), snap, step, launched = batch_queue.pop()
        if done is None:
            # the device runs batches back to back; the batch left in the queue was launched
            # while this one ran (docs/fit.md, "GPU features")
            shape.next = batch_queue[-1][3][1] if batch_queue else None
            executed = out.total_num_scheduled_tokens > 0
            done = max(scheduled_at, gpu_free_at) + (float(cost(shape)) if executed else 0.0)
            gpu_free_at = done
            if remote is not None:
                mro.kv_connector_output = remote.output(done)
        if host is not None:
            # the engine loop collects this step's output only after launching the next one (async;
            # a synchronous engine after launching this one), whichever of the two ends later
            later = batch_queue[-1][6] if batch_queue else None
            done = max([done] + [t for t in (launched, later) if t is not None])
        if knobs.mid_step_inputs:
            inputs_during_step(done)
        clock.advance_to(done)
        engine_core_outputs = sched.update_from_output(out, mro)
        if host is not None:
            clock.advance_to(clock.engine_s() + float(cost.host_post(shape)))
        for eco in engine_core_outputs.values():
            for o in eco.outputs:
                if o.finish_reason is not None:
                    finished.add((o.request_id, lifetimes[o.request_id]))
        if isrtf is not None:
            isrtf.after_update(sched)
        if oracle is not None:
            oracle.on_update(step, snap, engine_core_outputs)
        for observe in _update_observers:
            observe(sched, step, engine_core_outputs)
        if out.total_num_scheduled_tokens == 0 and not batch_queue:
            # Nothing could run. Wait for the next arrival/abort instead of spinning.
            nxt = next_event()
            if nxt is not None and nxt > clock.engine_s():
                wake(nxt)
                stalled = 0
            else:
                stalled += 1
                if stalled > 50 and sched.get_num_unfinished_requests() > 0:
                    raise RuntimeError(
                        f"the scheduler made no progress for {stalled} steps with nothing left to arrive "
                        f"({sched.get_num_unfinished_requests()} unfinished requests; e.g. a prompt "
                        f"needing more KV blocks than num_blocks={knobs.num_blocks})")
        else:
            stalled = 0
    return steps, len(finished)
