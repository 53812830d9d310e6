"""A counterfactual oracle for why requests waited: re-run vLLM's own schedule() with limits relaxed.

At sampled steps the driver hands us the scheduler just before ``schedule()``. We deep-copy
it (the emitter's session left out, so copies record nothing), let the real ``schedule()``
run, and then re-run ``schedule()`` on fresh copies of the snapshot with limits relaxed:

* ``max_num_seqs``: no cap on running requests;
* ``token_budget``: an unlimited budget for the waiting loop, while the running loop gets
  exactly the tokens it really got (each running request is capped at its real count through
  ``_reserve_prefill_lookahead``, which vLLM 0.33 calls once per request in both loops);
* ``kv_blocks``: enough extra free KV blocks for every live request's full length;
* ``max_loras``: no cap on LoRA adapters per batch (only when LoRA is configured);
* ``head_only``: the requests still waiting ahead of this one (not admitted in the real
  step) removed from the waiting queue, with the real limits.

For each of the first ``max_requests`` waiting requests after the real step it records the
*minimal* relaxation sets that admit it (admitted = scheduled from the waiting queue):
a set is minimal when it admits the request and no proper subset does. Sets are evaluated
smallest first and supersets of an admitting set are not run, which is exact for minimality.

The run itself is untouched: copies share nothing mutable with the real scheduler, the
virtual clock's read counter is restored afterwards, and the emitter's session is not in the
copy. ``counterfactual.jsonl`` (beside the trace) has one line per (step, waiting request):
``{"step", "req", "pos", "admitted_by": [[limit, ...], ...]}``, plus a ``check`` field
``false`` when the copy with nothing relaxed did not reproduce the real admissions.
"""
from __future__ import annotations

import copy
import itertools
import json
import sys
from pathlib import Path

LIMITS = ("max_num_seqs", "token_budget", "kv_blocks", "max_loras", "head_only")
BIG = 1 << 30


def unsupported_reason(sched) -> str | None:
    """Why this vLLM cannot run the oracle, or None."""
    if not hasattr(type(sched), "_reserve_prefill_lookahead"):
        return ("this vLLM's schedule() has no per-request hook in its running loop "
                "(Scheduler._reserve_prefill_lookahead, vLLM 0.33), so the token budget cannot be "
                "relaxed for the waiting loop alone while keeping the running loop as it ran")
    return None


def _queues(sched):
    kvh = getattr(sched, "kv_holding_waiting", None)
    return (kvh, sched.waiting) if kvh is not None else (sched.waiting,)


def _waiting_order(sched) -> list:
    return [r for q in _queues(sched) for r in q]


class Counterfactual:
    def __init__(self, path: Path, every: int, max_requests: int, clock=None):
        if every < 1 or max_requests < 1:
            raise ValueError("--counterfactual-every and --counterfactual-max-requests must be >= 1")
        self.path = Path(path)
        self.every = every
        self.max_requests = max_requests
        self.clock = clock
        self.f = open(self.path, "w")
        self.unsupported: str | None = None
        self.rows = 0
        self.runs = 0

    def close(self) -> None:
        self.f.close()

    # ---- driver hooks ------------------------------------------------------------------
    def before_schedule(self, sched, step: int):
        if step % self.every != 0 or not _waiting_order(sched):
            return None
        if self.unsupported is None:
            self.unsupported = unsupported_reason(sched) or ""
        if self.unsupported:
            return None
        saved = getattr(self.clock, "_last", None)
        try:
            return self._copy(sched)
        finally:
            if saved is not None:
                self.clock._last = saved

    def after_schedule(self, sched, out, step: int, snap) -> None:
        if snap is None:
            return
        saved = getattr(self.clock, "_last", None)
        try:
            self._evaluate(sched, out, step, snap)
        finally:
            if saved is not None:
                self.clock._last = saved  # copies read the virtual clock; the trace must not notice

    # ---- copies ------------------------------------------------------------------------
    def _copy(self, sched):
        from vsched_emitter import hooks

        memo = {}
        session = sched.__dict__.get(hooks.SESSION_ATTR)
        if session is not None:
            memo[id(session)] = None
        return _deepcopy(sched, memo)

    def _run(self, snap, relax: frozenset, real_tokens: dict, remove_ids=()) -> dict:
        """schedule() on a fresh copy of the snapshot with `relax` applied: the tokens it gave
        each request. A waiting request is admitted when it gets any (a request preempted in
        the real step counts as admitted when the copy keeps it running)."""
        c = _deepcopy(snap, {})
        self.runs += 1
        if "max_num_seqs" in relax:
            c.max_num_running_reqs = BIG
            if hasattr(c, "max_num_active_reqs"):
                c.max_num_active_reqs = BIG
        if "token_budget" in relax:
            c.max_num_scheduled_tokens += BIG
            c.scheduler_config.max_num_batched_tokens += BIG
            from vllm.v1.request import RequestStatus

            orig = c._reserve_prefill_lookahead
            status_running = RequestStatus.RUNNING

            def capped(request, num_computed_tokens, num_new_tokens):
                n = orig(request, num_computed_tokens, num_new_tokens)
                if request.status == status_running:  # the running loop: what it really got
                    n = min(n, real_tokens.get(request.request_id, 0))
                return n

            c._reserve_prefill_lookahead = capped
        if "kv_blocks" in relax:
            _add_free_blocks(c)
        if "max_loras" in relax:
            c.lora_config.max_loras = BIG
        if remove_ids:
            gone = [r for r in _waiting_order(c) if r.request_id in remove_ids]
            for q in _queues(c):
                q.remove_requests([r for r in gone if r in q])
        out = c.schedule()
        return dict(out.num_scheduled_tokens)

    def _evaluate(self, sched, out, step: int, snap) -> None:
        real_tokens = dict(out.num_scheduled_tokens)
        after = [r.request_id for r in _waiting_order(sched)]
        if not after:
            return
        candidates = after[: self.max_requests]
        # admits[S] = ids admitted with the global relaxations S (no head removal)
        limits = LIMITS if getattr(snap, "lora_config", None) is not None else tuple(x for x in LIMITS if x != "max_loras")
        admits: dict[frozenset, dict] = {}  # global relaxations (no head removal) -> tokens per request

        def admitted_with(relax: frozenset) -> dict:
            if relax not in admits:
                admits[relax] = self._run(snap, relax, real_tokens)
            return admits[relax]

        check = admitted_with(frozenset()) == real_tokens
        for pos, rid in enumerate(candidates):
            ahead = set(after[:pos])
            minimal: list[frozenset] = []
            for k in range(len(limits) + 1):
                for combo in itertools.combinations(limits, k):
                    s = frozenset(combo)
                    if any(m <= s for m in minimal):
                        continue  # a subset admits it already: s is not minimal
                    if "head_only" in s:
                        if not ahead:
                            continue  # nothing ahead: head_only changes nothing
                        ok = rid in self._run(snap, s - {"head_only"}, real_tokens, ahead)
                    else:
                        ok = rid in admitted_with(s)
                    if ok:
                        minimal.append(s)
            row = {"step": step, "req": rid, "pos": pos,
                   "admitted_by": [sorted(m, key=LIMITS.index) for m in minimal]}
            if not check:
                row["check"] = False
            self.f.write(json.dumps(row, separators=(",", ":")) + "\n")
            self.rows += 1


def _deepcopy(sched, memo: dict):
    """copy.deepcopy of a scheduler, with the KV blocks copied flat first: the block pool's
    free list is a doubly linked list, which plain deepcopy walks recursively (one level per
    block, slow and deep). Nothing else is shared: schedule() can change a request's token
    lists (a preemption drops stale async output). The recursion limit is still raised for anything else linked."""
    bp = sched.kv_cache_manager.block_pool
    q = bp.free_block_queue
    blocks = [*bp.blocks, q.fake_free_list_head, q.fake_free_list_tail]
    names = _slot_names(type(blocks[0]))
    copies = []
    for blk in blocks:
        nb = object.__new__(type(blk))
        for k in names:
            if hasattr(blk, k):
                object.__setattr__(nb, k, getattr(blk, k))
        memo[id(blk)] = nb
        copies.append(nb)
    for nb in copies:
        for k in ("prev_free_block", "next_free_block"):
            v = getattr(nb, k, None)
            if v is not None:
                object.__setattr__(nb, k, memo[id(v)])
    need = 64 * (len(bp.blocks) + 1000)
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
    c = copy.deepcopy(sched, memo)
    # deepcopy keeps functions as they are: an instance-level wrapper of a method (the harness
    # oracle's _preempt_request watcher) would still call the REAL scheduler's method. Copies
    # use the class's methods.
    cls = type(c)
    for k in [k for k, v in c.__dict__.items() if callable(v) and callable(getattr(cls, k, None))]:
        del c.__dict__[k]
    new_pool = memo.get(id(bp))
    for nb in copies:
        if getattr(nb, "pool", None) is bp:
            object.__setattr__(nb, "pool", new_pool)
    return c


def _slot_names(cls) -> list[str]:
    """Every attribute a KV block can hold: its slots (through the MRO), or its dataclass fields."""
    import dataclasses

    names = []
    for k in cls.__mro__:
        slots = k.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    if dataclasses.is_dataclass(cls):
        names.extend(f.name for f in dataclasses.fields(cls))
    return [n for i, n in enumerate(names) if n not in names[:i] and n not in ("__dict__", "__weakref__")]


def _add_free_blocks(c) -> None:
    """Give the copy's block pool enough free blocks for every live request's full length."""
    from vllm.v1.core.kv_cache_utils import KVCacheBlock

    bp = c.kv_cache_manager.block_pool
    bs = max(1, int(getattr(c, "block_size", 16)))
    extra = 16 + sum((r.num_tokens + r.max_tokens) // bs + 2 for r in c.requests.values())
    start = len(bp.blocks)
    try:
        new = [KVCacheBlock(i, pool=bp) for i in range(start, start + extra)]
    except TypeError:  # older vLLM: no pool argument
        new = [KVCacheBlock(i) for i in range(start, start + extra)]
    bp.blocks.extend(new)
    bp.free_block_queue.append_n(new)
    bp.num_gpu_blocks += extra
