"""Feature detection and the trace header. Never compares version strings: every switch
is a hasattr/inspect test on the installed vLLM, so forks and future versions degrade to
"not captured" instead of breaking."""
from __future__ import annotations

import inspect
import os

from . import __version__
from .records import PREDICTION_SCHEMA_VERSION, SCHEMA_VERSION, SESSION_SCHEMA_VERSION


def block_map(sched):
    """The dict vLLM keeps per request for KV cache group 0 (len = blocks held), or None.

    Read with ``.get`` only: it is a defaultdict and indexing would insert a key.
    """
    try:
        m = sched.kv_cache_manager.coordinator.single_type_managers[0].req_to_blocks
    except (AttributeError, IndexError, TypeError):
        return None
    return m if hasattr(m, "get") else None


def dp_rank(sched) -> int:
    pc = getattr(getattr(sched, "vllm_config", None), "parallel_config", None)
    for name in ("data_parallel_index", "data_parallel_rank"):
        value = getattr(pc, name, None)
        if isinstance(value, int) and value >= 0:
            return value
    return 0


def policy_name(sched) -> str:
    p = getattr(getattr(sched, "scheduler_config", None), "policy", None)
    if p is None:
        p = getattr(getattr(sched, "policy", None), "value", "unknown")
    # A waiting-queue class that names its own policy (the harness's ISRTF queue, installed
    # under vLLM's fcfs config) is what actually orders the queue.
    queue_cls = type(getattr(sched, "waiting", None))
    own = getattr(queue_cls, "policy_name", None)
    if isinstance(own, str):
        return own
    # a researcher's queue class swapped in (not vLLM's): it, not the config, orders the queue
    return queue_cls.__qualname__ if _outside_vllm(queue_cls) else str(p)


def _outside_vllm(cls) -> bool:
    return not (cls.__module__ or "").startswith("vllm.") and cls.__module__ != "builtins"


# Scheduler methods the emitter hooks; a plugin class may override them
HOOKED_METHODS = ("schedule", "update_from_output", "add_request", "finish_requests")


def plugin_overrides(sched) -> list[tuple[str, str]]:
    """(method, class) for each hooked method a class outside vLLM defines itself: the
    emitter records vLLM's own method inside it, not what the override does around it."""
    out = []
    for name in HOOKED_METHODS:
        for cls in type(sched).__mro__:
            if name in cls.__dict__:
                if _outside_vllm(cls):
                    out.append((name, cls.__qualname__))
                break
    return out


def _plugin_features(sched, full: bool, caps: dict, not_captured: list) -> bool:
    """A researcher's scheduler class (--scheduler-cls): keys only where one is loaded, so
    traces of vLLM's own classes keep their bytes. True when it orders its own queue."""
    overrides = plugin_overrides(sched)
    queue_cls = type(getattr(sched, "waiting", None))
    custom_queue = _outside_vllm(queue_cls) and not isinstance(getattr(queue_cls, "policy_name", None), str)
    for name, cls in overrides:
        not_captured.append({
            "what": f"what {cls}.{name} does around vLLM's own {name}",
            "why": f"{cls} overrides {name}: the emitter records vLLM's Scheduler.{name} inside it (the override's "
                   "own time and work are outside the records; a call that never reaches vLLM's is not recorded)",
        })
    return any(name == "schedule" for name, _ in overrides) or custom_queue


def chunked_prefill(sched) -> bool:
    sc = sched.scheduler_config
    for name in ("enable_chunked_prefill", "chunked_prefill_enabled"):
        value = getattr(sc, name, None)
        if value is not None:
            return bool(value)
    return True


def is_async(sched) -> bool:
    if any(c.__name__ == "AsyncScheduler" for c in type(sched).__mro__):
        return True
    return bool(getattr(sched.scheduler_config, "async_scheduling", False))


def bytes_per_block(sched):
    kvc = getattr(sched, "kv_cache_config", None)
    try:
        tensors = list(kvc.kv_cache_tensors or ())
        if tensors and kvc.num_blocks:
            total = sum(int(t.size) for t in tensors)
            return total // int(kvc.num_blocks)
        groups = list(kvc.kv_cache_groups)
        if len(groups) == 1:
            return int(groups[0].kv_cache_spec.page_size_bytes) * len(groups[0].layer_names)
    except Exception:
        return None
    return None


def request_has_scores() -> bool:
    try:
        from vllm.v1.request import Request

        src = inspect.getsource(Request)
    except Exception:
        return False
    return "priority_score" in src or "predicted_remaining_tokens" in src


def can_predict(sched) -> bool:
    """Requests may carry ``prediction_history`` (seed 003's fork declares it on Request; the
    harness's ISRTF queue names its policy and sets it on every request)."""
    if isinstance(getattr(type(getattr(sched, "waiting", None)), "policy_name", None), str):
        return True
    try:
        from vllm.v1.request import Request

        return "prediction_history" in inspect.getsource(Request)
    except Exception:
        return False


def has_sessions() -> bool:
    """This vLLM has streaming-input sessions (Request(resumable=...), vLLM >= 0.33)."""
    try:
        from vllm.v1.request import Request

        return "resumable" in inspect.signature(Request.__init__).parameters
    except Exception:
        return False


def schema_version(sched, patched: frozenset) -> str:
    """The oldest minor that holds every record this scheduler can produce, so traces of
    schedulers without the newer features stay byte-identical to older ones."""
    if "_update_request_as_session" in patched:
        return SESSION_SCHEMA_VERSION
    return PREDICTION_SCHEMA_VERSION if can_predict(sched) else SCHEMA_VERSION


def _num_gpu_blocks(sched) -> int:
    try:
        return int(sched.kv_cache_manager.block_pool.num_gpu_blocks)
    except AttributeError:
        return int(sched.kv_cache_config.num_blocks)


def _vllm_034_features(sched, full: bool, caps: dict, not_captured: list) -> bool:
    """vLLM 0.34's third waiting queue and cache-aware admission: capability keys only where
    this vLLM has them, so traces of older versions keep their bytes. True when this config
    orders the queue beyond the documented rule (loads moved to the KV-holding queue, reorders)."""
    own_order = False
    sc = sched.scheduler_config
    if hasattr(sched, "async_kv_waiting"):
        caps["async_kv_waiting_queue"] = True
        capped = bool(getattr(sc, "max_num_inflight_kv_loads", None)) and getattr(sched, "connector", None) is not None
        caps["kv_load_cap"] = full and capped and hasattr(sched, "_admits_inflight_kv_load")
        own_order = own_order or capped
        if capped and not caps["kv_load_cap"]:
            not_captured.append({
                "what": "the in-flight KV-load cap as a waiting cause (kv_load_cap)",
                "why": "VLLM_SCHEDULER_LOG_LEVEL=summary" if not full else "Scheduler has no _admits_inflight_kv_load",
            })
    if hasattr(sched, "_reorder_waiting_by_cached_prefix"):
        window = bool(getattr(sched, "cache_aware_window", 0))
        caps["cache_aware_reorder"] = full and window
        own_order = own_order or window
        if window and not full:
            not_captured.append({"what": "cache-aware admission reorders (step.reorder)",
                                 "why": "VLLM_SCHEDULER_LOG_LEVEL=summary"})
    return own_order


def header(sched, *, level: str, anchor_epoch_ns: int, anchor_mono_ns: int, patched: frozenset,
           pid: int | None = None) -> dict:
    import vllm

    sc = sched.scheduler_config
    log_stats = bool(getattr(sched, "log_stats", False))
    full = level == "full"
    policy = policy_name(sched)
    has_blocks = block_map(sched) is not None
    has_pause = hasattr(type(sched), "pause_state")
    lora_config = getattr(sched, "lora_config", None)
    caps = {
        "event_timestamps": log_stats,
        "out_t": True,
        "preempt_hook": "_preempt_request" in patched,
        "pause_state": has_pause,
        "kv_holding_waiting_queue": hasattr(sched, "kv_holding_waiting"),
        "waiting_excludes_deferred": hasattr(sched, "deferred_waiting"),
        "block_counts": full and has_blocks,
        "skip_causes": full,
        "stop_causes": full,
        "queue_order": full and policy != "priority",
        "scores": request_has_scores(),
    }
    sessions = has_sessions()
    if sessions:  # only where vLLM has sessions, so older traces keep their bytes
        caps["session_hook"] = "_update_request_as_session" in patched
    not_captured = []
    own_034 = _vllm_034_features(sched, full, caps, not_captured)
    own_plugin = _plugin_features(sched, full, caps, not_captured)
    if own_034 or own_plugin:
        # the queue is not ordered by the documented FCFS/priority rule: only a full-level
        # trace (whose steps carry the true order where it differs) gives queue positions
        caps["queue_order_rule"] = False
        if not full:
            not_captured.append({
                "what": "waiting-queue positions",
                "why": ("the scheduler class orders its own queue" if own_plugin else
                        "vLLM reorders the queue (cache-aware admission, async KV loads)")
                       + " and level summary records no order",
            })
    if not log_stats:
        not_captured.append({
            "what": "vLLM's QUEUED/SCHEDULED/PREEMPTED event timestamps",
            "why": "log_stats is off (--disable-log-stats): arrival.t is the emitter's clock, sched_t is null",
        })
    if "_preempt_request" not in patched:
        not_captured.append({
            "what": "preemptions outside schedule()",
            "why": "Scheduler has no _preempt_request; preemptions are seen inside schedule() only",
        })
    if sessions and "_update_request_as_session" not in patched:
        not_captured.append({
            "what": "streaming-input session turns (chunk records, update.turn_ends)",
            "why": "Scheduler has no _update_request_as_session; a later turn's admission is seen in step.new only",
        })
    if not has_pause:
        not_captured.append({"what": "pause state", "why": "Scheduler has no pause_state"})
    if full and not has_blocks:
        not_captured.append({
            "what": "per-request KV block counts",
            "why": "kv_cache_manager has no coordinator.single_type_managers[0].req_to_blocks",
        })
    if not full:
        not_captured.append({"what": "order, skipped, stop, blocks", "why": "VLLM_SCHEDULER_LOG_LEVEL=summary"})
    config = {
        "scheduler_class": f"{type(sched).__module__}.{type(sched).__qualname__}",
        "policy": policy,
        "max_num_seqs": int(sc.max_num_seqs),
        "max_num_batched_tokens": int(sc.max_num_batched_tokens),
        "max_model_len": int(getattr(sched, "max_model_len", 0) or 0),
        "max_loras": int(lora_config.max_loras) if lora_config is not None else None,
        "num_gpu_blocks": _num_gpu_blocks(sched),
        "block_size": int(sched.block_size),
        "bytes_per_block": bytes_per_block(sched),
        "enable_chunked_prefill": chunked_prefill(sched),
        "enable_prefix_caching": bool(getattr(sched.cache_config, "enable_prefix_caching", False)),
        "async_scheduling": is_async(sched),
        "long_prefill_token_threshold": int(getattr(sc, "long_prefill_token_threshold", 0) or 0),
        "num_spec_tokens": int(getattr(sched, "num_spec_tokens", 0) or 0),
        "log_stats": log_stats,
    }
    out = {
        "type": "header",
        "schema_version": schema_version(sched, patched),
        "emitter_version": __version__,
        "vllm_version": str(getattr(vllm, "__version__", "unknown")),
        "pid": os.getpid() if pid is None else int(pid),
        "dp_rank": dp_rank(sched),
        "level": level,
        "clock": {"epoch_ns": str(anchor_epoch_ns), "monotonic_ns": str(anchor_mono_ns)},
        "config": config,
        "capabilities": caps,
        "not_captured": not_captured,
    }
    try:
        engine = engine_info(sched)
    except Exception:  # a fork's config objects: say nothing rather than break the header
        engine = None
    if engine is not None:
        out["engine"] = engine
    return out


def _text(value):
    """An enum, dtype or plain value as the short text vLLM prints for it."""
    if value is None:
        return None
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else str(value).replace("torch.", "")


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _model_shape(model_config) -> dict:
    hf = getattr(model_config, "hf_text_config", None) or getattr(model_config, "hf_config", None)
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
            "intermediate_size", "vocab_size", "head_dim")
    shape = {k: _int_or_none(getattr(hf, k, None)) for k in keys}
    archs = getattr(getattr(model_config, "hf_config", None), "architectures", None) or []
    shape["architecture"] = str(archs[0]) if archs else None
    return shape


def _compilation(vllm_config) -> dict:
    cc = getattr(vllm_config, "compilation_config", None)
    mode = getattr(cc, "mode", None)
    if mode is None:
        mode = getattr(cc, "level", None)  # vLLM < 0.11 called it level
    sizes = getattr(cc, "cudagraph_capture_sizes", None) or []
    return {
        "compilation_mode": _int_or_none(getattr(mode, "value", mode)),
        "cudagraph_mode": _text(getattr(cc, "cudagraph_mode", None)),
        "cudagraph_capture_sizes": sorted(int(s) for s in sizes),
    }


def _attention_backend(vllm_config):
    backend = getattr(getattr(vllm_config, "attention_config", None), "backend", None)
    if backend is None:
        backend = os.environ.get("VLLM_ATTENTION_BACKEND")
    return _text(backend) or "auto"


def _device_name():
    """Named only where CUDA is already up in this process: never initialise it here."""
    try:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_initialized():
            return str(torch.cuda.get_device_name(torch.cuda.current_device()))
    except Exception:
        return None
    return None


def engine_info(sched):
    """What decides a step's time on the device (seed 004 §4): model shape, dtype, parallelism,
    compilation and CUDA-graph capture sizes (a decode batch is padded up to the next size),
    attention backend. None where no real model runner executes the steps (the CPU harness
    drives the scheduler with a cost model), so harness traces keep their bytes."""
    import sys

    if "vsched_emitter.harness.driver" in sys.modules:
        return None
    vc = getattr(sched, "vllm_config", None)
    mc = getattr(vc, "model_config", None)
    if vc is None or mc is None:
        return None
    pc = getattr(vc, "parallel_config", None)
    info = {
        "model": _model_shape(mc),
        "dtype": _text(getattr(mc, "dtype", None)),
        "kv_cache_dtype": _text(getattr(getattr(vc, "cache_config", None), "cache_dtype", None)),
        "enforce_eager": bool(getattr(mc, "enforce_eager", False)),
        "tensor_parallel_size": _int_or_none(getattr(pc, "tensor_parallel_size", None)),
        "pipeline_parallel_size": _int_or_none(getattr(pc, "pipeline_parallel_size", None)),
        "data_parallel_size": _int_or_none(getattr(pc, "data_parallel_size", None)),
        "attention_backend": _attention_backend(vc),
        "device": _device_name(),
    }
    info.update(_compilation(vc))
    return info
