"""Step-time models for the fake model runner: ``StepCost = Callable[[BatchShape], float]``.

Every model here returns **seconds** of model time for one engine step, given the
shape of the batch the scheduler produced (``BatchShape``: num_reqs, num_prefill_reqs,
num_decode_reqs, prefill_tokens, decode_tokens). The driver's virtual clock advances by
that amount per step, so the cost model decides when arrivals interleave with steps.

* ``linear`` — ``alpha + beta_prefill*prefill_tokens + beta_decode*decode_tokens
  + per_req*num_reqs`` (all coefficients in seconds, per step / per token / per request).
  This is the "beta" step-time model of the alpha/beta modelling notes: step time is linear
  in the batch's token counts.
* ``fitted`` — a step model written by ``vsched fit --out coeffs.json``: a sum of
  coefficient × product-of-features terms over the batch's features (see
  :class:`FittedCost` and docs/fit.md), plus a fixed per-step overhead.
* ``splitwise`` — interpolates the measured A100/H100 table ``splitwise_sim_perf_model.csv``
  (splitwise-sim, MIT). The table's ``prompt_time`` and ``token_time`` columns are
  **milliseconds**; this module converts to seconds. See :class:`SplitwiseCost`.

A cost model is a plain callable, so anything with the same signature works too. Every
callable here also has ``describe() -> dict`` so the harness can record it in recipe.json.
"""
from __future__ import annotations

import bisect
import csv
import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = [
    "LinearCost",
    "SplitwiseCost",
    "linear",
    "splitwise",
    "from_spec",
    "FittedCost",
    "fitted",
    "FITTED_FEATURES",
    "Interp1D",
    "SPLITWISE_CSV",
]

SPLITWISE_CSV = "splitwise_sim_perf_model.csv"


def _shape(shape: Any) -> tuple[int, int, int, int, int]:
    return (
        int(shape.num_reqs),
        int(shape.num_prefill_reqs),
        int(shape.num_decode_reqs),
        int(shape.prefill_tokens),
        int(shape.decode_tokens),
    )


# --------------------------------------------------------------------------- linear


@dataclass(frozen=True)
class LinearCost:
    """Seconds per step = alpha + beta_prefill*P + beta_decode*D + per_req*R.

    Units: ``alpha`` s/step, ``beta_prefill`` s per prefill token, ``beta_decode`` s per
    decode token, ``per_req`` s per scheduled request. An empty batch costs 0.

    The defaults are a least-squares reading of the splitwise table for Llama-2-70B on
    8×A100 (decode ≈ 44 ms + 0.41 ms/sequence, prefill ≈ 0.15 ms/token over 512–4096-token batches), rounded.
    """

    alpha: float = 0.045
    beta_prefill: float = 0.00015
    beta_decode: float = 0.0004
    per_req: float = 0.0

    def __call__(self, shape: Any) -> float:
        r, _, _, p, d = _shape(shape)
        if r == 0 and p == 0 and d == 0:
            return 0.0
        return self.alpha + self.beta_prefill * p + self.beta_decode * d + self.per_req * r

    def describe(self) -> dict:
        return {"kind": "linear", "units": "seconds", **asdict(self)}


def linear(alpha: float = 0.045, beta_prefill: float = 0.00015, beta_decode: float = 0.0004,
           per_req: float = 0.0) -> LinearCost:
    """A :class:`LinearCost`; all coefficients in seconds."""
    for name, v in (("alpha", alpha), ("beta_prefill", beta_prefill), ("beta_decode", beta_decode),
                    ("per_req", per_req)):
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"linear cost: {name} must be a finite non-negative number of seconds, got {v!r}")
    return LinearCost(alpha, beta_prefill, beta_decode, per_req)


# --------------------------------------------------------------------------- splitwise


class Interp1D:
    """Piecewise-linear interpolation through sorted (x, y) points.

    Below the first point the value is held flat (a kernel launch does not get cheaper
    than the smallest measured batch); above the last point the last segment's slope is
    extrapolated (never below the last measured value).
    """

    def __init__(self, xs: Sequence[float], ys: Sequence[float]):
        if len(xs) != len(ys) or not xs:
            raise ValueError("Interp1D needs equally long, non-empty xs and ys")
        pts = sorted(zip(xs, ys))
        self.xs = [float(x) for x, _ in pts]
        self.ys = [float(y) for _, y in pts]
        if len(set(self.xs)) != len(self.xs):
            raise ValueError("Interp1D: duplicate x values")

    def __call__(self, x: float) -> float:
        xs, ys = self.xs, self.ys
        if x <= xs[0] or len(xs) == 1:
            return ys[0] if x <= xs[0] else ys[-1] + 0.0
        if x >= xs[-1]:
            x0, x1, y0, y1 = xs[-2], xs[-1], ys[-2], ys[-1]
            return max(y1, y1 + (y1 - y0) / (x1 - x0) * (x - x1))
        i = bisect.bisect_right(xs, x)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def points(self) -> list[tuple[float, float]]:
        return list(zip(self.xs, self.ys))


def default_data_dir() -> Path:
    """``../shared/data`` relative to the repo root (the directory holding ``emitter/``)."""
    import os

    env = os.environ.get("VSCHED_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4].parent / "shared" / "data"


class SplitwiseCost:
    """Step time interpolated from splitwise-sim's measured performance table.

    The table (one row per measurement, ~5 repeats per point) has, per model / hardware /
    tensor_parallel: a *prompt sweep* (batch 1, prompt_size 128…8192), a *batch sweep*
    (prompt_size 512, batch_size 1…64) and a token_size sweep. ``prompt_time`` (ms) is the
    time to prefill the whole batch; ``token_time`` (ms) the time of one decode iteration of
    the batch.

    * prefill curve: x = prompt_size × batch_size (tokens in the prefill batch), y = median
      prompt_time over all rows with that x — the same reading splitwise-sim itself uses.
    * decode curve: x = batch_size (sequences decoding), y = median token_time over the rows
      with prompt_size = 512 (the batch sweep; batch 1 also pools the token_size sweep).

    Step cost (seconds):
      - decode only: ``token_time(num_decode_reqs)``
      - prefill only: ``prompt_time(prefill_tokens)``
      - mixed (chunked prefill piggy-backing decodes): ``max(prompt_time(prefill_tokens +
        decode_tokens) * mixed_factor, token_time(num_decode_reqs))``; splitwise-sim charges
        mixed iterations ``prompt_time(batch_tokens) * 1.1``, the max keeps the cost monotone.
    Interpolation is piecewise linear (see :class:`Interp1D`). ``monotone=True`` replaces each
    curve by its running maximum (the tp=2 Llama rows have an outlier at 64×512 tokens).
    """

    def __init__(self, model: str = "llama2-70b", hardware: str = "a100-80gb",
                 tensor_parallel: int | None = None, *, path: str | Path | None = None,
                 mixed_factor: float = 1.1, monotone: bool = False):
        self.path = Path(path) if path is not None else default_data_dir() / SPLITWISE_CSV
        self.model, self.hardware = model, hardware
        self.mixed_factor = float(mixed_factor)
        self.monotone = bool(monotone)
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        combos = sorted({(r["model"], r["hardware"], int(r["tensor_parallel"])) for r in rows})
        mine = [r for r in rows if r["model"] == model and r["hardware"] == hardware]
        if not mine:
            raise ValueError(f"splitwise cost: no rows for model={model!r} hardware={hardware!r}; "
                             f"available: {sorted({(m, h) for m, h, _ in combos})}")
        tps = sorted({int(r["tensor_parallel"]) for r in mine})
        if tensor_parallel is None:
            tensor_parallel = max(tps)
        if tensor_parallel not in tps:
            raise ValueError(f"splitwise cost: {model}/{hardware} has tensor_parallel {tps}, not {tensor_parallel}")
        self.tensor_parallel = int(tensor_parallel)
        mine = [r for r in mine if int(r["tensor_parallel"]) == self.tensor_parallel]

        prompt: dict[int, list[float]] = {}
        token: dict[int, list[float]] = {}
        for r in mine:
            ps, bs = int(r["prompt_size"]), int(r["batch_size"])
            prompt.setdefault(ps * bs, []).append(float(r["prompt_time"]))
            if ps == 512:
                token.setdefault(bs, []).append(float(r["token_time"]))
        self.prompt_points = sorted((x, statistics.median(v)) for x, v in prompt.items())
        self.token_points = sorted((x, statistics.median(v)) for x, v in token.items())
        if monotone:
            self.prompt_points = _running_max(self.prompt_points)
            self.token_points = _running_max(self.token_points)
        self._prompt_ms = Interp1D(*zip(*self.prompt_points))
        self._token_ms = Interp1D(*zip(*self.token_points))

    # milliseconds, as in the table
    def prompt_time_ms(self, tokens: float) -> float:
        return self._prompt_ms(tokens)

    def token_time_ms(self, batch_size: float) -> float:
        return self._token_ms(batch_size)

    def __call__(self, shape: Any) -> float:
        _, _, nd, p, d = _shape(shape)
        if p == 0 and d == 0:
            return 0.0
        if p == 0:
            ms = self._token_ms(max(nd, 1))
        elif d == 0:
            ms = self._prompt_ms(p)
        else:
            ms = max(self._prompt_ms(p + d) * self.mixed_factor, self._token_ms(max(nd, 1)))
        return ms / 1000.0

    def describe(self) -> dict:
        return {"kind": "splitwise", "units": "seconds (table in ms)", "model": self.model,
                "hardware": self.hardware, "tensor_parallel": self.tensor_parallel,
                "mixed_factor": self.mixed_factor, "monotone": self.monotone,
                "table": self.path.name}


def _running_max(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    out, m = [], -math.inf
    for x, y in points:
        m = max(m, y)
        out.append((x, m))
    return out


def splitwise(model: str = "llama2-70b", hardware: str = "a100-80gb", tensor_parallel: int | None = None,
              *, path: str | Path | None = None, data_dir: str | Path | None = None,
              mixed_factor: float = 1.1, monotone: bool = False) -> SplitwiseCost:
    """A :class:`SplitwiseCost`; ``path`` is the CSV itself, ``data_dir`` a folder holding it."""
    if path is None and data_dir is not None:
        path = Path(data_dir) / SPLITWISE_CSV
    return SplitwiseCost(model, hardware, tensor_parallel, path=path, mixed_factor=mixed_factor,
                         monotone=monotone)


# --------------------------------------------------------------------------- fitted

# The batch features a fitted model may multiply, by the names vsched fit uses (its
# src/analysis/fit/features.ts declares the same list; tests check they agree).
FITTED_FEATURES: dict[str, Callable[[Any], float]] = {
    "batch_size": lambda s: s.num_reqs,
    "prefill_reqs": lambda s: s.num_prefill_reqs,
    "decode_reqs": lambda s: s.num_decode_reqs,
    "prefill_tokens": lambda s: s.prefill_tokens,
    "decode_tokens": lambda s: s.decode_tokens,
    "scheduled_tokens": lambda s: s.prefill_tokens + s.decode_tokens,
    "running_depth": lambda s: getattr(s, "running_depth", 0),
    "kv_ratio": lambda s: getattr(s, "kv_ratio", 0.0),
    "context_tokens": lambda s: getattr(s, "context_tokens", 0),
    "decode_context_tokens": lambda s: getattr(s, "decode_context_tokens", 0),
    "attention_work": lambda s: getattr(s, "attention_work", 0),
    # GPU features (docs/fit.md): padded_tokens is set by FittedCost from its CUDA-graph sizes
    "padded_tokens": lambda s: getattr(s, "padded_tokens", s.prefill_tokens + s.decode_tokens),
    "has_prefill": lambda s: 1 if s.num_prefill_reqs > 0 else 0,
    "prefill_attention_work": lambda s: getattr(s, "prefill_attention_work", 0),
    # the step launched while this one's output was awaited (async scheduling), or none
    "next_has_prefill": lambda s: 1 if s.next is not None and s.next.num_prefill_reqs > 0 else 0,
    "next_padded_tokens": lambda s: getattr(s.next, "padded_tokens", 0) if s.next is not None else 0,
    "next_decode_context_tokens": lambda s: s.next.decode_context_tokens if s.next is not None else 0,
    "next_prefill_attention_work": lambda s: s.next.prefill_attention_work if s.next is not None else 0,
    # a launch without a CUDA graph is CPU-bound; cpu_index is the host's speed (docs/fit.md, "Host CPU"),
    # both set by FittedCost
    "no_cudagraph": lambda s: getattr(s, "no_cudagraph", 0),
    "next_no_cudagraph": lambda s: getattr(s.next, "no_cudagraph", 0) if s.next is not None else 0,
    "cpu_index": lambda s: getattr(s, "cpu_index", 1.0),
    # the engine thread's measured wait for a CPU (trace schema 1.5): a simulated step has none;
    # a run's contention enters as the model file's cpu_wait.scale instead (docs/fit.md)
    "cpu_wait_ns": lambda s: 0.0,
}


def default_capture_sizes(max_num_seqs: int) -> list[int]:
    """vLLM's default CUDA-graph capture sizes (0.11 and later): up to min(2 x max_num_seqs, 512);
    1, 2, 4, then every 8 below 256, every 16 from 256 (src/analysis/fit-gpu.ts says the same)."""
    top = min(2 * max_num_seqs, 512)
    sizes = [s for s in (1, 2, 4) if s <= top]
    sizes += list(range(8, min(top + 1, 256), 8))
    sizes += list(range(256, top + 1, 16))
    return sizes


def padded(tokens: int, sizes: Sequence[int]) -> int:
    """tokens padded up to the next capture size when at most the largest (sizes ascending)."""
    if not sizes or tokens <= 0 or tokens > sizes[-1]:
        return tokens
    return sizes[bisect.bisect_left(sizes, tokens)]


def without_graph(tokens: int, sizes: Sequence[int]) -> int:
    """1 when vLLM runs the batch without a CUDA graph: more tokens than the largest capture
    size, or no graphs (src/analysis/fit/gpu.ts runsWithoutGraph says the same)."""
    return 1 if tokens > 0 and (not sizes or tokens > sizes[-1]) else 0

FITTED_FORMAT = "vsched-step-model"


class FittedCost:
    """Seconds per step = overhead_s + sum_k coef_k * prod(features of term k), floored at
    ``min_step_s``; an empty batch costs 0.

    Loaded from the JSON ``vsched fit --out`` writes::

        {"format": "vsched-step-model", "format_version": "1.0", "unit": "seconds",
         "terms": [{"name": "intercept", "factors": [], "coef": 0.045},
                   {"name": "prefill_tokens", "factors": ["prefill_tokens"], "coef": 0.00015}, ...],
         "per_step_overhead_s": 0.0, "min_step_s": 0.0}

    ``per_step_overhead_s`` is the CPU time a synchronous engine spends per step outside
    the model (schedule + update + loop), which the harness's virtual clock does not charge.
    """

    def __init__(self, doc: dict, path: str | Path | None = None):
        if doc.get("format") != FITTED_FORMAT:
            raise ValueError(f"fitted cost: {path}: not a {FITTED_FORMAT} file (field 'format')")
        if str(doc.get("format_version", "")).split(".")[0] != "1":
            raise ValueError(f"fitted cost: {path}: unsupported format_version {doc.get('format_version')!r}")
        self.path = Path(path) if path is not None else None
        self.terms = _terms(doc.get("terms"), path, "terms")
        if not self.terms:
            raise ValueError(f"fitted cost: {path}: no terms")
        self.overhead_s = float(doc.get("per_step_overhead_s", 0.0))
        self.min_step_s = float(doc.get("min_step_s", 0.0))
        self.model = doc.get("model")
        # what the terms predict: the GPU's time per step or the update-to-update interval; the
        # device timeline runs either back to back, so this is said, not branched on
        self.clock = str(doc.get("clock", "interval"))
        self.idle_wakeup_s = float(doc.get("idle_wakeup_s", 0.0))
        cg = doc.get("cudagraph") or {}
        self.capture_sizes = sorted(int(x) for x in cg.get("capture_sizes") or [])
        self.capture_rule = cg.get("rule", "recorded")
        host = doc.get("host_cpu") or {}
        self.cpu_index = float(host.get("index", 1.0))
        if not math.isfinite(self.cpu_index) or self.cpu_index <= 0:
            raise ValueError(f"fitted cost: {path}: host_cpu.index must be a positive number")
        # the replayed run's host by window of its time (docs/fit.md, "Host CPU"): the driver
        # says the time of each step (at_time), and the index of that window applies
        self.index_profile = _index_profile(host.get("index_profile"), path)
        self._profile_starts = [t for t, _ in self.index_profile]
        # simulate --step-scale: a uniformly slower/faster engine (what-if, sensitivity to a bias)
        self.time_scale = float(doc.get("time_scale", 1.0))
        if not math.isfinite(self.time_scale) or self.time_scale <= 0:
            raise ValueError(f"fitted cost: {path}: time_scale must be a positive number")
        # CPU contention (simulate --cpu-wait): every step slowed by the run's wait share
        self.wait_scale = float((doc.get("cpu_wait") or {}).get("scale", 1.0))
        if not math.isfinite(self.wait_scale) or self.wait_scale <= 0:
            raise ValueError(f"fitted cost: {path}: cpu_wait.scale must be a positive number")
        self.uses_next = any(n.startswith("next_") for t in doc.get("terms") or [] for n in t.get("factors") or [])
        # the host's loop of a GPU-clock model (docs/fit.md, "Step clock"): None, the device alone
        self.host = _host_part(doc.get("host"), path)

    def at_time(self, now_s: float) -> None:
        """The engine's clock at the step about to be costed: its window's host index applies."""
        if self.index_profile:
            i = bisect.bisect_right(self._profile_starts, now_s) - 1
            self.cpu_index = self.index_profile[max(i, 0)][1]

    def configure(self, max_num_seqs: int) -> None:
        """The simulated engine's CUDA graphs: a run that used vLLM's default sizes gets the
        default for the simulated max_num_seqs, as a real engine of that config would."""
        if self.capture_rule == "vllm-default" and self.capture_sizes:
            self.capture_sizes = default_capture_sizes(max_num_seqs)

    def _pad(self, shape: Any) -> None:
        if shape is not None:
            tokens = shape.prefill_tokens + shape.decode_tokens
            shape.padded_tokens = padded(tokens, self.capture_sizes)
            shape.no_cudagraph = without_graph(tokens, self.capture_sizes)
            shape.cpu_index = self.cpu_index

    def __call__(self, shape: Any) -> float:
        if shape.prefill_tokens == 0 and shape.decode_tokens == 0:
            return 0.0
        self._pad(shape)
        self._pad(getattr(shape, "next", None))
        total = _sum(self.terms, shape)
        return (max(total, self.min_step_s) + self.overhead_s) * self.time_scale * self.wait_scale

    def host_pre(self, shape: Any) -> float:
        """Seconds from a step's schedule() entry to the end of its launch (the shape padded by __call__)."""
        return self._on_host(_sum(self.host["terms"], shape))

    def sync_share(self, shape: Any) -> float:
        """The share of launches like this one that wait for their own step on the GPU (host.sync_share): steps with a prefill; 0 otherwise."""
        return self.host["sync_share"] if self.host and getattr(shape, "prefill_tokens", 0) > 0 else 0.0

    def host_post(self, shape: Any = None) -> float:
        """Seconds from an update_from_output() entry to the next schedule() entry: a line in the
        batch the update collected where the model has one (the update walks its requests), else
        the training median."""
        post = self.host["post_update_s"]
        if self.host["post_terms"] and shape is not None:
            post = _sum(self.host["post_terms"], shape)
        return self._on_host(post)

    def _on_host(self, seconds: float) -> float:
        """A host-loop time fitted at index 1, at this replay's host index and scales."""
        return max(seconds, 0.0) * self.cpu_index * self.time_scale * self.wait_scale

    def describe(self) -> dict:
        return {"kind": "fitted", "units": "seconds", "file": self.path.name if self.path else None,
                "model": self.model, "clock": self.clock, "terms": {n: c for n, _, c in self.terms},
                "per_step_overhead_s": self.overhead_s, "min_step_s": self.min_step_s,
                "capture_sizes": len(self.capture_sizes), "capture_rule": self.capture_rule,
                "idle_wakeup_s": self.idle_wakeup_s, "cpu_index": self.cpu_index,
                "time_scale": self.time_scale, "cpu_wait_scale": self.wait_scale,
                "host": None if self.host is None else {
                    "terms": {n: c for n, _, c in self.host["terms"]}, "post_update_s": self.host["post_update_s"],
                    "post_terms": {n: c for n, _, c in self.host["post_terms"]}}}


Terms = list[tuple[str, tuple[Callable[[Any], float], ...], float]]


def _index_profile(raw: Any, path: str | Path | None) -> list[tuple[float, float]]:
    """host_cpu.index_profile as (from_s, index), ascending; [] when absent."""
    out: list[tuple[float, float]] = []
    for i, w in enumerate(raw or []):
        try:
            at, index = float(w["from_s"]), float(w["index"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"fitted cost: {path}: host_cpu.index_profile[{i}]: expected {{from_s, index}} numbers") from None
        if not (math.isfinite(at) and math.isfinite(index) and index > 0) or (out and at < out[-1][0]):
            raise ValueError(f"fitted cost: {path}: host_cpu.index_profile[{i}]: index must be positive and from_s ascending")
        out.append((at, index))
    return out


def _terms(raw: Any, path: str | Path | None, where: str) -> Terms:
    """A model file's terms, each as (name, feature functions, coefficient), checked."""
    terms: Terms = []
    for i, t in enumerate(raw or []):
        factors = tuple(t.get("factors") or ())
        bad = [f for f in factors if f not in FITTED_FEATURES]
        if bad:
            raise ValueError(f"fitted cost: {path}: {where}[{i}]: unknown feature(s) {bad}; "
                             f"known: {sorted(FITTED_FEATURES)}")
        coef = float(t["coef"])
        if not math.isfinite(coef):
            raise ValueError(f"fitted cost: {path}: {where}[{i}].coef is not finite")
        terms.append((str(t.get("name", "*".join(factors) or "intercept")), tuple(FITTED_FEATURES[f] for f in factors), coef))
    return terms


def _sum(terms: Terms, shape: Any) -> float:
    total = 0.0
    for _, fs, coef in terms:
        v = coef
        for f in fs:
            v *= f(shape)
        total += v
    return total


def _host_part(doc: Any, path: str | Path | None) -> dict | None:
    if doc is None:
        return None
    terms = _terms(doc.get("terms"), path, "host.terms")
    post = float(doc.get("post_update_s", 0.0))
    if not terms or not math.isfinite(post):
        raise ValueError(f"fitted cost: {path}: host needs terms and a finite post_update_s")
    # a line in the update's batch (fit ≥ this field); older model files have the median alone
    post_terms = _terms(doc.get("post_terms"), path, "host.post_terms")
    # the share of prefill launches that wait for their own step on the GPU (fit ≥ this field); 0 before
    sync = float(doc.get("sync_share", 0.0))
    if not (math.isfinite(sync) and 0.0 <= sync <= 1.0):
        raise ValueError(f"fitted cost: {path}: host.sync_share must be within [0, 1]")
    return {"terms": terms, "post_update_s": post, "post_terms": post_terms, "sync_share": sync}


def fitted(path: str | Path) -> FittedCost:
    """A :class:`FittedCost` from a ``vsched fit --out`` JSON file."""
    import json

    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise ValueError(f"fitted cost: {p}: no such file") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"fitted cost: {p}: not JSON ({e.msg} at line {e.lineno})") from None
    return FittedCost(doc, p)


def from_spec(spec: str, *, data_dir: str | Path | None = None) -> Callable[[Any], float]:
    """Parse a CLI cost spec.

    ``linear`` | ``linear:alpha=0.01,beta_prefill=1e-4,beta_decode=2e-4,per_req=0`` (seconds)
    ``fitted:PATH`` a coefficients file from ``vsched fit --out``
    ``splitwise`` | ``splitwise:MODEL:HARDWARE[:TP]`` with optional ``,mixed_factor=1.1,monotone=1``
    e.g. ``splitwise:llama2-70b:h100-80gb:8``.
    """
    kind, _, rest = spec.partition(":")
    if kind == "fitted":
        if not rest:
            raise ValueError("fitted cost: give the file, fitted:coeffs.json")
        return fitted(rest)
    if kind == "linear":
        kv = _kv(rest)
        unknown = set(kv) - {"alpha", "beta_prefill", "beta_decode", "per_req"}
        if unknown:
            raise ValueError(f"linear cost: unknown coefficient(s) {sorted(unknown)}")
        return linear(**{k: float(v) for k, v in kv.items()})
    if kind == "splitwise":
        pos, _, opts = rest.partition(",")
        parts = [p for p in pos.split(":") if p] if pos else []
        kv = _kv(opts)
        if parts and "=" in parts[0]:  # "splitwise:mixed_factor=1.2"
            kv.update(_kv(pos)); parts = []
        args: dict[str, Any] = {}
        if len(parts) > 0: args["model"] = parts[0]
        if len(parts) > 1: args["hardware"] = parts[1]
        if len(parts) > 2: args["tensor_parallel"] = int(parts[2])
        if "mixed_factor" in kv: args["mixed_factor"] = float(kv.pop("mixed_factor"))
        if "monotone" in kv: args["monotone"] = kv.pop("monotone") not in ("0", "false", "no")
        if kv:
            raise ValueError(f"splitwise cost: unknown option(s) {sorted(kv)}")
        return splitwise(data_dir=data_dir, **args)
    raise ValueError(f"unknown cost model {spec!r} (use linear[:k=v,...], splitwise[:model:hw[:tp]] or fitted:FILE)")


def _kv(s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in s.split(","))):
        k, eq, v = item.partition("=")
        if not eq:
            raise ValueError(f"expected key=value, got {item!r}")
        out[k.strip()] = v.strip()
    return out
