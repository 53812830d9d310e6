"""ISRTF (iterative shortest-remaining-time-first) for the harness, plugged into vLLM's real
Scheduler the way seed 003's fork does it, without editing vLLM.

The fork adds ``ISRTFRequestQueue`` to ``vllm/v1/core/sched/request_queue.py`` (a min-heap
on ``Request.predicted_remaining_tokens``), three fields on ``Request``
(``predicted_remaining_tokens``, ``last_prediction_at_tokens``, ``prediction_history``),
an initial prediction for each new request and a re-prediction every N output tokens
(default 50) that re-orders the queue. Here:

* the queue class subclasses vLLM's own ``RequestQueue`` ABC; while the Scheduler is
  constructed, the scheduler module's ``create_request_queue`` returns it (``waiting``,
  and ``kv_holding_waiting`` where this vLLM has one), found by feature detection (the
  module must build its queues through that name; :meth:`ISRTF.building`);
* the fields are set on vLLM's ``Request`` objects as plain attributes, with the fork's
  names and types, so the emitter records them through the same feature detection it
  applies to a fork (``prediction_history`` present → ``prediction`` records);
* vLLM's ``SchedulerConfig.policy`` stays ``fcfs``.

Running requests: this ISRTF orders the waiting queue only. A running request is never
preempted for a shorter one; under KV pressure vLLM's own FCFS victim choice applies
(the last request of ``running``), and the victim re-enters the heap at its predicted
remaining tokens (``prepend_request`` pushes by key: a heap has no front). Ties (equal
or unknown = inf predictions) are broken by arrival time, then request id, as vLLM's
priority queue does.
"""
from __future__ import annotations

import csv
import hashlib
import heapq
import math
import random
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

REPREDICT_EVERY = 50


# ---------------------------------------------------------------------------- predictors
# A predictor maps (request spec, output tokens so far) to predicted remaining tokens.
Predictor = Callable[[object, int], float]


def true_output_tokens(spec) -> int:
    """What the fake model will generate for this spec: max_tokens, or up to EOS."""
    return spec.max_tokens if spec.eos_at is None else min(spec.max_tokens, spec.eos_at + 1)


def oracle() -> Predictor:
    def predict(spec, done: int) -> float:
        return float(max(true_output_tokens(spec) - done, 0))
    return predict


def noisy(sigma: float, seed: int = 0) -> Predictor:
    """The oracle times exp(N(0, sigma)): multiplicative log-normal noise, median-unbiased.
    Each (request, progress) point draws from its own seeded stream, so a run is
    reproducible whatever order predictions are made in."""
    if not sigma >= 0:
        raise ValueError("noise sigma must be >= 0")
    exact = oracle()

    def predict(spec, done: int) -> float:
        key = hashlib.sha256(f"vsched-noise:{seed}:{spec.req_id}:{done}".encode()).hexdigest()
        z = random.Random(key).gauss(0.0, 1.0)
        return exact(spec, done) * math.exp(sigma * z)
    return predict


@dataclass
class LengthBuckets:
    """A length-bucket regressor: prompt length → the empirical output lengths of training
    rows with a prompt in the same quantile bucket. Predicts E[L - k | L > k] (the mean
    remaining length of the rows still going at k output tokens), capped by max_tokens."""

    edges: list[int]           # upper prompt-length edges of the buckets (last = inf)
    outputs: list[list[int]]   # sorted output lengths per bucket

    @classmethod
    def fit(cls, rows: Iterable[tuple[int, int]], buckets: int = 8) -> "LengthBuckets":
        rows = sorted(rows)
        if len(rows) < buckets:
            raise ValueError("need at least one training row per bucket")
        size = len(rows) / buckets
        edges, outputs = [], []
        for b in range(buckets):
            part = rows[round(b * size):round((b + 1) * size)]
            edges.append(part[-1][0] if b < buckets - 1 else math.inf)
            outputs.append(sorted(o for _, o in part))
        return cls(edges, outputs)

    def remaining(self, prompt_tokens: int, done: int, max_tokens: int) -> float:
        b = min(bisect_right(self.edges[:-1], prompt_tokens - 1), len(self.edges) - 1)
        outs = self.outputs[b]
        cap = max(max_tokens - done, 0)
        i = bisect_right(outs, done)
        alive = outs[i:]
        if not alive:  # longer than every training row of its bucket
            return float(min(cap, max(1, done // 2)))
        mean_left = sum(alive) / len(alive) - done
        return float(min(cap, mean_left))


def read_sharegpt_lengths(path: Path) -> list[tuple[int, int]]:
    with open(path, newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return [(int(r["num_prefill_tokens"]), int(r["num_decode_tokens"])) for r in rows]


def learned(train_csv: Path, buckets: int = 8) -> Predictor:
    model = LengthBuckets.fit(read_sharegpt_lengths(train_csv), buckets)

    def predict(spec, done: int) -> float:
        return model.remaining(len(spec.prompt_token_ids), done, spec.max_tokens)
    return predict


def from_spec(spec: str, *, train_csv: Path | None = None, seed: int = 0) -> Predictor:
    """``oracle`` | ``noisy:SIGMA`` | ``learned``."""
    kind, _, arg = spec.partition(":")
    if kind == "oracle" and not arg:
        return oracle()
    if kind == "noisy":
        try:
            sigma = float(arg)
        except ValueError:
            raise ValueError(f"--predictor noisy:SIGMA needs a number, got {spec!r}") from None
        return noisy(sigma, seed)
    if kind == "learned" and not arg:
        if train_csv is None or not Path(train_csv).exists():
            raise ValueError(f"--predictor learned needs the ShareGPT length CSV ({train_csv})")
        return learned(Path(train_csv))
    raise ValueError(f"--predictor must be oracle, noisy:SIGMA or learned, not {spec!r}")


# ---------------------------------------------------------------------------- the queue
def _key(request) -> tuple:
    pred = getattr(request, "predicted_remaining_tokens", math.inf)
    return (pred if pred == pred else math.inf, request.arrival_time, request.request_id)


def make_queue_class():
    """ISRTFRequestQueue, a subclass of this vLLM's RequestQueue ABC (imported here so the
    harness module stays cheap to import)."""
    from vllm.v1.core.sched.request_queue import RequestQueue

    class ISRTFRequestQueue(RequestQueue):
        """Min-heap on (predicted_remaining_tokens, arrival_time, request_id). Keys are taken
        when a request is pushed; :meth:`reorder` re-keys after re-predictions."""

        policy_name = "isrtf"  # read by the emitter's header (capabilities.policy_name)

        def __init__(self) -> None:
            self._heap: list[tuple[tuple, int, object]] = []
            self._seq = 0

        def _push(self, request) -> None:
            self._seq += 1
            heapq.heappush(self._heap, (_key(request), self._seq, request))

        def add_request(self, request) -> None:
            self._push(request)

        def pop_request(self):
            if not self._heap:
                raise IndexError("pop from empty heap")
            return heapq.heappop(self._heap)[2]

        def peek_request(self):
            if not self._heap:
                raise IndexError("peek from empty heap")
            return self._heap[0][2]

        def prepend_request(self, request) -> None:
            self._push(request)  # a heap has no front: ordered by key like everything else

        def prepend_requests(self, requests) -> None:
            for r in requests:
                self._push(r)

        def remove_request(self, request) -> None:
            self._heap = [e for e in self._heap if e[2] is not request]
            heapq.heapify(self._heap)

        def remove_requests(self, requests) -> None:
            drop = {id(r) for r in requests}
            self._heap = [e for e in self._heap if id(e[2]) not in drop]
            heapq.heapify(self._heap)

        def reorder(self) -> bool:
            """Re-key every entry whose prediction changed; True when the order may differ."""
            changed = False
            for i, (k, seq, r) in enumerate(self._heap):
                nk = _key(r)
                if nk != k:
                    self._heap[i] = (nk, seq, r)
                    changed = True
            if changed:
                heapq.heapify(self._heap)
            return changed

        def __bool__(self) -> bool:
            return bool(self._heap)

        def __len__(self) -> int:
            return len(self._heap)

        def __iter__(self) -> Iterator:
            return (e[2] for e in sorted(self._heap, key=lambda e: (e[0], e[1])))

        def __reversed__(self) -> Iterator:  # abstract in vLLM 0.11's RequestQueue
            return (e[2] for e in sorted(self._heap, key=lambda e: (e[0], e[1]), reverse=True))

    return ISRTFRequestQueue


# ---------------------------------------------------------------------------- the policy
class ISRTF:
    """Installs the queue on a Scheduler and keeps the predictions current."""

    def __init__(self, predictor: Predictor, specs: dict, every: int = REPREDICT_EVERY):
        if every < 1:
            raise ValueError("--repredict-every must be >= 1")
        self.predictor = predictor
        self.specs = specs
        self.every = every
        self.queues: list = []

    @contextmanager
    def building(self):
        """While a Scheduler is constructed, vLLM's scheduler module's create_request_queue
        returns ISRTF queues (what the fork's create_request_queue does for policy isrtf).
        Feature detection: the module must build its queues through that name."""
        import vllm.v1.core.sched.scheduler as module

        original = getattr(module, "create_request_queue", None)
        if original is None:
            raise RuntimeError("cannot install ISRTF: this vLLM's scheduler does not build its waiting "
                               "queue with create_request_queue; use --policy fcfs")
        cls = make_queue_class()

        def create_request_queue(policy):
            q = cls()
            self.queues.append(q)
            return q

        module.create_request_queue = create_request_queue
        try:
            yield
        finally:
            module.create_request_queue = original

    def check(self, sched) -> None:
        if not self.queues or sched.waiting is not self.queues[0]:
            raise RuntimeError("cannot install ISRTF: Scheduler.waiting was not built by create_request_queue")

    def _predict(self, request, done: int) -> None:
        pred = float(self.predictor(self.specs[request.request_id], done))
        request.predicted_remaining_tokens = pred
        request.last_prediction_at_tokens = done
        request.prediction_history.append((done, pred))

    def on_new_request(self, request) -> None:
        """The fork's _make_initial_prediction: before add_request, so the request enters
        the heap at its key and the emitter's arrival record carries the prediction."""
        request.predicted_remaining_tokens = math.inf
        request.last_prediction_at_tokens = 0
        request.prediction_history = []
        self._predict(request, 0)

    def after_update(self, sched) -> None:
        """The fork's _update_elis_prediction: every `every` output tokens; re-keys the heap
        when a request in it was re-predicted."""
        for r in sched.running:
            done = r.num_output_tokens
            if done - r.last_prediction_at_tokens >= self.every and not r.is_finished():
                self._predict(r, done)
        for q in self.queues:
            q.reorder()
