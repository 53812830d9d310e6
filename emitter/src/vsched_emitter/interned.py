"""Schema 1.3's interned form, written on the writer thread (see "Interned form" in
src/schema/raw.ts, the contract; this module follows it).

* Handles: an arrival binds a small integer to its request id (``h``); later records
  write the integer instead of the 30-40 character id. The record that finishes the
  request frees it; freed handles are reused first in, first out, so they stay below the
  number of live requests. An id with no live handle is written as itself.
* Deltas: a step's ``sched`` and an update's ``tokens`` are written against the previous
  record's list (drop / add / fix, see ``_delta``) whenever that is shorter, and in full
  every ``KEYFRAME`` records, so a reader that skipped a line (``--lenient``) recovers.

Everything here runs on the writer thread, so the scheduler thread does no per-request
work for it; records the buffer cap dropped never reach it, so the trace stays
consistent. The work is C-speed passes (``map``/``compress`` over the lists) with Python
loops only over what changed.
"""
from __future__ import annotations

from collections import deque
from itertools import chain as _chain
from itertools import compress, filterfalse
from operator import attrgetter, ne, or_, sub

from . import records
from .records import OMIT, Deferred

SCHEMA_VERSION = "1.3"
#: every this many step (update) records, the list is written in full
KEYFRAME = 100

_ARRIVAL_KEYS = ("t", "req", "h") + records.KEYS["arrival"][2:]
_REQUEST_ID = attrgetter("request_id")
_NEW_TOKENS = attrgetter("new_token_ids")
_dumps = records._dumps


class _Chain:
    """The previous list of one delta chain, by request id: the ids in order, their counts
    and what the next record is predicted to carry (sched: computed after the step)."""

    __slots__ = ("rids", "keys", "n", "after", "since_full", "released")

    def __init__(self):
        self.rids = None
        self.keys = None  # a set-like of rids (the step's num_scheduled_tokens keys)
        self.n = None
        self.after = None
        self.since_full = KEYFRAME
        self.released = set()  # ids freed since: their handle changed, never carried over

    def reset(self):
        self.rids = None
        self.since_full = KEYFRAME


def _positions(lst: list, items) -> list:
    return sorted(map(lst.index, items))


def _without(lst: list, positions: list) -> list:
    out = lst[:]
    for p in reversed(positions):
        del out[p]
    return out


def _delta(chain: _Chain, rids: list, keys, ns: list, before: list | None):
    """(drop, add positions, fix positions) of the new list against ``chain``, or None when
    it must be written in full (no previous list, a keyframe, a reordering, an id freed and
    bound again since, or a delta no smaller).

    Entries are compared by request id, not handle: ids and live handles are one to one,
    and an id freed since the previous list (whose handle may now be another request's)
    forces a full list. The common case is C-speed: set differences of the two id sets,
    list comparisons, and ``list.index`` for the few ids that came and went."""
    prev = chain.rids
    if prev is None or chain.since_full >= KEYFRAME:
        return None
    if chain.released and not chain.released.isdisjoint(rids):
        return None
    n = len(rids)
    if rids == prev:
        drop = adds = ()
        kn, kb, pn, pa = ns, before, chain.n, chain.after
    else:
        dropped = chain.keys - keys
        added = keys - chain.keys
        if 2 * (len(dropped) + len(added)) > n:
            return None
        kept_prev = list(filterfalse(dropped.__contains__, prev)) if dropped else prev
        kept_cur = list(filterfalse(added.__contains__, rids)) if added else rids
        if kept_prev != kept_cur:
            return None  # carried-over entries reordered
        drop = _positions(prev, dropped)
        adds = _positions(rids, added)
        kn, pn = _without(ns, adds), _without(chain.n, drop)
        if before is not None:
            kb, pa = _without(before, adds), _without(chain.after, drop)
    fix = []
    if kn != pn or (before is not None and kb != pa):
        bad = map(ne, kn, pn) if before is None else map(or_, map(ne, kn, pn), map(ne, kb, pa))
        fix = list(compress(range(len(kn)), bad))
        if adds:  # kept index -> position in the new list
            fix = [_kept_to_pos(i, adds) for i in fix]
        if len(drop) + 2 * (len(adds) + len(fix)) > n:
            return None
    return drop, adds, fix


def _kept_to_pos(i: int, adds) -> int:
    p = i
    for a in adds:
        if a <= p:
            p += 1
        else:
            break
    return p


class Encoder:
    """``encode(kind, values) -> bytes`` for the writer; ``values`` as the session queues
    them (a tuple in ``records.KEYS`` order, or a ``Deferred`` whose args end with a
    ``records.StepValues``/``UpdateValues``)."""

    def __init__(self):
        self.handles: dict[str, int] = {}
        self.free: deque[int] = deque()
        self.next_handle = 0
        self.sched = _Chain()
        self.tokens = _Chain()
        self._last_kind = None

    # ---- handles -------------------------------------------------------------------
    def _bind(self, rid: str) -> int:
        h = self.free.popleft() if self.free else self._new_handle()
        self.handles[rid] = h
        return h

    def _new_handle(self) -> int:
        h = self.next_handle
        self.next_handle = h + 1
        return h

    def _release(self, rid) -> None:
        h = self.handles.pop(rid, None)
        if h is not None:
            self.free.append(h)
            # its id may come back bound to another handle: never carried over by id
            self.sched.released.add(rid)
            self.tokens.released.add(rid)

    def lost(self) -> None:
        """The last encoded record was not written: start the delta chains again. (A lost
        arrival leaves its handle bound here; records naming it then fail in the reader,
        which is what a lost arrival means anyway.)"""
        self.sched.reset()
        self.tokens.reset()

    # ---- records -------------------------------------------------------------------
    def encode(self, kind: str, values) -> bytes:
        fn = _BY_KIND.get(kind)
        if fn is None:
            if type(values) is Deferred:
                values = values.build()
            return records.encode(kind, values)
        return (_dumps(fn(self, values)) + "\n").encode("utf-8")

    def _arrival(self, v) -> dict:
        rid = v[1]
        obj = {"type": "arrival", "t": v[0], "req": rid, "h": self._bind(rid)}
        for key, value in zip(_ARRIVAL_KEYS[3:], v[2:]):
            if value is not OMIT:
                obj[key] = value
        return obj

    def _refs(self, pairs):
        """[[ref, ...rest], ...] for lists whose entries start with a request id."""
        get = self.handles.get
        return [[get(p[0], p[0]), *p[1:]] for p in pairs]

    def _step(self, d) -> dict:
        nst, computed, v = d.args
        computed = records.computed_list(nst, computed)
        get = self.handles.get
        rids = list(nst)
        ns = list(nst.values())
        try:
            before = list(map(sub, computed, ns))
        except TypeError:  # a request vLLM no longer knew: computed None
            before = [(c - n) if c is not None else 0 for n, c in zip(ns, computed)]
            computed = list(map(sum, zip(before, ns)))
        obj = {"type": "step", "step": v.step, "t_start": v.t_start, "t_end": v.t_end, "sched_t": v.sched_t,
               "sched": self._list(self.sched, rids, nst.keys(), ns, before, computed)}
        obj["new"] = self._refs(v.new)
        obj["resumed"] = self._refs(v.resumed)
        obj["preempted"] = list(map(get, v.preempted, v.preempted))
        obj["kv_fail"] = self._refs(v.kv_fail)
        obj["free_blocks"] = v.free_blocks
        obj["running"] = v.running
        obj["waiting"] = v.waiting
        obj["budget_left"] = v.budget_left
        if v.paused is not OMIT:
            obj["paused"] = v.paused
        stop = v.stop
        if stop is not OMIT:
            if stop is not None and stop["req"] is not None:
                stop = {"cause": stop["cause"], "req": get(stop["req"], stop["req"])}
            obj["stop"] = stop
        if v.skipped is not OMIT:
            obj["skipped"] = self._refs(v.skipped)
        if v.blocks is not OMIT:
            obj["blocks"] = self._refs(v.blocks)
        order = v.order
        if order is not OMIT:
            obj["order"] = None if order is None else list(map(get, order, order))
        if v.probe is not OMIT:
            obj["probe"] = self._refs(v.probe)
        reorder = v.reorder
        if reorder is not OMIT:
            obj["reorder"] = {"cause": reorder["cause"], "before": list(map(get, reorder["before"], reorder["before"])),
                              "after": list(map(get, reorder["after"], reorder["after"]))}
        if v.cpu is not OMIT:
            obj["cpu"] = v.cpu
        return obj

    def _update(self, d) -> dict:
        outputs, v = d.args
        outs = list(_chain.from_iterable(outputs))
        rids = list(map(_REQUEST_ID, outs))
        ns = list(map(len, map(_NEW_TOKENS, outs)))
        if 0 in ns:  # only requests that received tokens are listed
            keep = list(map(bool, ns))
            rids = list(compress(rids, keep))
            ns = list(compress(ns, keep))
        finished = v.finished
        obj = {"type": "update", "step": v.step, "t_start": v.t_start, "t_end": v.t_end, "out_t": v.out_t,
               "tokens": self._list(self.tokens, rids, None, ns, None, None),
               "finished": self._refs(finished)}
        obj["free_blocks"] = v.free_blocks
        obj["running"] = v.running
        obj["waiting"] = v.waiting
        if v.blocks is not OMIT:
            obj["blocks"] = self._refs(v.blocks)
        if v.turn_ends is not OMIT:  # schema 1.2: sessions kept for their next chunk
            obj["turn_ends"] = self._refs(v.turn_ends)
        if v.gpu is not OMIT:  # schema 1.6
            obj["gpu"] = v.gpu
        for f in finished:  # after the whole record: its blocks name them too
            self._release(f[0])
        return obj

    def _list(self, chain: _Chain, rids: list, keys, ns: list, before, after):
        """The full list or its delta. ``keys``: the ids as a set-like (None: built here);
        ``before``/``after``: sched's computed tokens before and after the step (None for
        tokens, whose prediction is the same count)."""
        if keys is None:
            keys = dict.fromkeys(rids).keys()
        unique = len(keys) == len(rids)  # a list naming a request twice is written in full
        d = _delta(chain, rids, keys, ns, before) if unique else None
        chain.released = set()
        get = self.handles.get
        if d is None:
            chain.since_full = 0
            refs = list(map(get, rids, rids))
            out = list(map(list, zip(refs, ns, before))) if before is not None else list(map(list, zip(refs, ns)))
        else:
            chain.since_full += 1
            drop, adds, fix = d
            out = {"n": len(rids)}
            if drop:
                out["drop"] = drop
            if before is None:
                if adds:
                    out["add"] = [[j, get(rids[j], rids[j]), ns[j]] for j in adds]
                if fix:
                    out["fix"] = [[j, ns[j]] for j in fix]
            else:
                if adds:
                    out["add"] = [[j, get(rids[j], rids[j]), ns[j], before[j]] for j in adds]
                if fix:
                    out["fix"] = [[j, ns[j], before[j]] for j in fix]
        chain.rids = rids if unique else None
        chain.keys = keys
        chain.n = ns
        chain.after = after
        return out

    def _finish(self, v) -> dict:
        rid = v[1]
        obj = {"type": "finish", "t": v[0], "req": self.handles.get(rid, rid), "reason": v[2],
               "output_tokens": v[3], "from": v[4]}
        self._release(rid)
        return obj

    def _req_record(kind):
        keys = records.KEYS[kind]

        def encode(self, v) -> dict:
            obj = {"type": kind}
            for key, value in zip(keys, v):
                if value is not OMIT:
                    obj[key] = value
            rid = obj["req"]
            obj["req"] = self.handles.get(rid, rid)
            return obj
        return encode

    _score = _req_record("score")
    _prediction = _req_record("prediction")
    _chunk = _req_record("chunk")
    del _req_record


_BY_KIND = {
    "arrival": Encoder._arrival,
    "step": Encoder._step,
    "update": Encoder._update,
    "finish": Encoder._finish,
    "score": Encoder._score,
    "prediction": Encoder._prediction,
    "chunk": Encoder._chunk,
}


# ---- reading back (tests and tools; the CLI's reader is src/parse/interned.ts) ---------------
class Decoder:
    """Resolves interned records back to the resolved (1.1-shaped) ones, in place."""

    def __init__(self):
        self.ids: dict[int, str] = {}
        self.sched = None  # [(ref, n, c)]
        self.tokens = None  # [(ref, n)]

    def _id(self, ref):
        return self.ids[ref] if type(ref) is int else ref

    def _ids0(self, lst):
        for e in lst:
            e[0] = self._id(e[0])

    def _apply(self, prev, d, advance):
        drop = set(d.get("drop", ()))
        kept = [advance(e) for i, e in enumerate(prev) if i not in drop]
        out = []
        adds = {a[0]: tuple(a[1:]) for a in d.get("add", ())}
        it = iter(kept)
        for j in range(d["n"]):
            out.append(adds[j] if j in adds else next(it))
        for f in d.get("fix", ()):
            out[f[0]] = (out[f[0]][0], *f[1:])
        return out

    def decode(self, rec: dict) -> dict:
        kind = rec["type"]
        if kind == "arrival":
            if "h" in rec:
                self.ids[rec.pop("h")] = rec["req"]
        elif kind == "step":
            s = rec["sched"]
            lst = [tuple(e) for e in s] if isinstance(s, list) else self._apply(self.sched, s, lambda e: (e[0], e[1], e[2] + e[1]))
            self.sched = lst
            rec["sched"] = [[self._id(r), n, c] for r, n, c in lst]
            for f in ("new", "resumed", "kv_fail", "skipped", "blocks", "probe"):
                if f in rec:
                    self._ids0(rec[f])
            rec["preempted"] = [self._id(r) for r in rec["preempted"]]
            if rec.get("stop") and rec["stop"]["req"] is not None:
                rec["stop"]["req"] = self._id(rec["stop"]["req"])
            if rec.get("order") is not None:
                rec["order"] = [self._id(r) for r in rec["order"]]
            if "reorder" in rec:
                for f in ("before", "after"):
                    rec["reorder"][f] = [self._id(r) for r in rec["reorder"][f]]
        elif kind == "update":
            t = rec["tokens"]
            lst = [tuple(e) for e in t] if isinstance(t, list) else self._apply(self.tokens, t, lambda e: e)
            self.tokens = lst
            rec["tokens"] = [[self._id(r), n] for r, n in lst]
            freed = [e[0] for e in rec["finished"]]
            self._ids0(rec["finished"])
            for f in ("blocks", "turn_ends"):
                if f in rec:
                    self._ids0(rec[f])
            for ref in freed:
                if type(ref) is int:
                    del self.ids[ref]
        elif kind in ("finish", "score", "prediction", "chunk"):
            ref = rec["req"]
            rec["req"] = self._id(ref)
            if kind == "finish" and type(ref) is int:
                del self.ids[ref]
        return rec


def decode_all(recs: list[dict]) -> list[dict]:
    """Resolved copies of a trace's records (any schema: older ones pass through)."""
    import copy

    recs = copy.deepcopy(recs)
    if not recs or recs[0].get("type") != "header":
        return recs
    if int(recs[0]["schema_version"].split(".")[1]) < 3:
        return recs
    dec = Decoder()
    return [dec.decode(r) for r in recs]
