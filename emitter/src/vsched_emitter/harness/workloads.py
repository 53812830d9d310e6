"""Request streams (``list[RequestSpec]``) for the scheduler harness.

Three sources, all deterministic for a given ``seed`` (every random draw comes from a
``random.Random`` seeded with a string, which Python hashes with SHA-512, so results do not
depend on ``PYTHONHASHSEED``, the platform or the run):

* :func:`synthetic` — Poisson arrivals at ``rate`` req/s (``rate=inf``: all at t=0);
  prompt/output lengths from a distribution spec (``fixed:N``, ``uniform:A:B``,
  ``lognormal:MEDIAN:SIGMA``) or sampled jointly from the ShareGPT length CSV.
* :func:`azure` — Azure LLM inference trace 2023 (conv or code): TIMESTAMP → arrival
  offset from the first selected row, ContextTokens → prompt length, GeneratedTokens →
  max_tokens.
* :func:`mooncake` — Mooncake traces: ``timestamp`` (ms) → arrival, ``input_length`` →
  prompt length, ``output_length`` → max_tokens, and ``hash_ids`` → the prompt's token ids:
  hash block ``h`` always expands to the same ``tokens_per_hash_block`` tokens, so requests
  with equal leading hash ids have identical leading token blocks and vLLM's prefix cache
  really hits. Mooncake uses 512 tokens per hash id; a smaller ``tokens_per_hash_block``
  (a multiple of the KV ``block_size``) scales every prompt by ``tokens_per_hash_block/512``
  so small fixtures stay small while keeping the sharing structure.

Prompt token ids elsewhere are random per request (ids in ``[TOKEN_LO, TOKEN_HI)``, clear of
the usual special/EOS ids), so unrelated requests never share a prefix-cache block.

Common decorations (:class:`Extras`): priority classes, aborts after a delay, EOS at a
random output index, LoRA ids. Each decoration draws from its own random stream, so
turning one on does not change arrivals, lengths or the others.

Lengths are fitted to the model (:func:`fit_lengths`): optional caps first, then
``prompt <= max_model_len - 1`` and ``prompt + max_tokens <= max_model_len``.
"""
from __future__ import annotations

import calendar
import sys
from array import array
import csv
import json
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .driver import RequestSpec

__all__ = [
    "Extras",
    "synthetic",
    "azure",
    "mooncake",
    "fit_lengths",
    "parse_length_dist",
    "default_data_dir",
    "parse_azure_timestamp",
    "AZURE_FILES",
    "MOONCAKE_FILES",
    "SHAREGPT_FILE",
    "MOONCAKE_HASH_BLOCK_TOKENS",
    "mooncake_prompt_len",
    "shared_prefix_blocks",
    "TOKEN_LO",
    "TOKEN_HI",
]

AZURE_FILES = {"conv": "AzureLLMInferenceTrace_conv.csv", "code": "AzureLLMInferenceTrace_code.csv"}
MOONCAKE_FILES = {"conversation": "mooncake_conversation_trace.jsonl",
                  "synthetic": "mooncake_synthetic_trace.jsonl"}
SHAREGPT_FILE = "sharegpt_8k_filtered_stats_llama2_tokenizer.csv"
MOONCAKE_HASH_BLOCK_TOKENS = 512

# Prompt token ids are drawn from [TOKEN_LO, TOKEN_HI): inside the driver's tiny model
# vocabulary (1024 ids) and above its special ids (BOS 1, EOS 2, the fake model's filler 7).
# Random 16-token blocks over ~1000 ids never collide by chance (1000**16 possibilities).
TOKEN_LO, TOKEN_HI = 10, 1000


def default_data_dir() -> Path:
    """``$VSCHED_DATA_DIR``, else ``../shared/data`` relative to the repo root."""
    env = os.environ.get("VSCHED_DATA_DIR")
    if env:
        return Path(env)
    # harness -> vsched_emitter -> src -> emitter -> <repo root>
    return Path(__file__).resolve().parents[4].parent / "shared" / "data"


def _data_file(path: str | Path | None, data_dir: str | Path | None, name: str) -> Path:
    if path is not None:
        return Path(path)
    return Path(data_dir if data_dir is not None else default_data_dir()) / name


def _rng(seed: int | str, stream: str) -> random.Random:
    return random.Random(f"vsched:{seed}:{stream}")


_SPAN = TOKEN_HI - TOKEN_LO


def _token_ids(rng: random.Random, n: int) -> list[int]:
    """``n`` token ids in ``[TOKEN_LO, TOKEN_HI)`` from ``rng`` (little-endian 16-bit draws,
    so the result is the same on every platform)."""
    a = array("H", rng.randbytes(2 * n))
    if sys.byteorder == "big":
        a.byteswap()
    return [TOKEN_LO + v % _SPAN for v in a]


# --------------------------------------------------------------------------- decorations


@dataclass(frozen=True)
class Extras:
    """Per-request decorations applied after arrivals and lengths are fixed.

    priority_classes / priority_weights: each request's ``priority`` is drawn from the
        classes (weights default to uniform); empty → every request has priority 0.
        In vLLM's priority policy a *lower* value is served first.
    abort_fraction, abort_after_s=(lo, hi): that fraction of requests (chosen at random)
        is aborted ``uniform(lo, hi)`` seconds after its arrival.
    eos_fraction: that fraction samples EOS at an output index uniform in
        ``[0, max_tokens - 1]`` (finish reason ``stop``); the rest run to ``max_tokens``.
    lora_ids, lora_fraction: that fraction gets a LoRA id drawn uniformly from ``lora_ids``.
    """

    priority_classes: tuple[int, ...] = ()
    priority_weights: tuple[float, ...] | None = None
    abort_fraction: float = 0.0
    abort_after_s: tuple[float, float] = (0.5, 2.0)
    eos_fraction: float = 0.0
    lora_ids: tuple[int, ...] = ()
    lora_fraction: float = 1.0

    def __post_init__(self):
        for name in ("abort_fraction", "eos_fraction", "lora_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        lo, hi = self.abort_after_s
        if not 0 <= lo <= hi:
            raise ValueError(f"abort_after_s must be (lo, hi) with 0 <= lo <= hi, got {self.abort_after_s}")
        if self.priority_weights is not None and len(self.priority_weights) != len(self.priority_classes):
            raise ValueError("priority_weights needs one weight per priority class")


@dataclass
class _Item:
    req_id: str
    arrival_s: float
    prompt_len: int
    max_tokens: int
    token_ids: list[int] | None = None


def _decorate(items: list[_Item], seed: int | str, extras: Extras | None,
              token_stream: str = "prompt") -> list[RequestSpec]:
    ex = extras or Extras()
    n = len(items)
    pr = _rng(seed, "priority")
    ab = _rng(seed, "abort")
    eo = _rng(seed, "eos")
    lo = _rng(seed, "lora")
    toks = _rng(seed, token_stream)
    # choose exactly round(fraction * n) requests, so small fixtures get what they ask for
    abort_set = set(ab.sample(range(n), round(ex.abort_fraction * n))) if n else set()
    eos_set = set(eo.sample(range(n), round(ex.eos_fraction * n))) if n else set()
    lora_set = set(lo.sample(range(n), round(ex.lora_fraction * n))) if n and ex.lora_ids else set()
    specs: list[RequestSpec] = []
    for i, it in enumerate(items):
        ids = it.token_ids if it.token_ids is not None else _token_ids(toks, it.prompt_len)
        priority = 0
        if ex.priority_classes:
            priority = pr.choices(ex.priority_classes, weights=ex.priority_weights)[0]
        abort_after = None
        if i in abort_set:
            abort_after = round(ab.uniform(*ex.abort_after_s), 6)
        eos_at = None
        if i in eos_set:
            eos_at = eo.randrange(it.max_tokens)
        lora = lo.choice(ex.lora_ids) if i in lora_set else None
        specs.append(RequestSpec(req_id=it.req_id, arrival_s=it.arrival_s, prompt_token_ids=list(ids),
                                 max_tokens=it.max_tokens, priority=priority, lora_id=lora,
                                 abort_after_s=abort_after, eos_at=eos_at))
    specs.sort(key=lambda s: s.arrival_s)  # stable: equal arrivals keep trace order
    return specs


# --------------------------------------------------------------------------- lengths


def fit_lengths(prompt_len: int, max_tokens: int, *, max_model_len: int | None = None,
                max_prompt_tokens: int | None = None, max_output_tokens: int | None = None) -> tuple[int, int]:
    """Apply the caps, then make the request fit the model: ``1 <= prompt <= max_model_len-1``,
    ``1 <= max_tokens`` and ``prompt + max_tokens <= max_model_len``."""
    p, o = max(1, int(prompt_len)), max(1, int(max_tokens))
    if max_prompt_tokens is not None:
        p = min(p, max_prompt_tokens)
    if max_output_tokens is not None:
        o = min(o, max_output_tokens)
    if max_model_len is not None:
        if max_model_len < 2:
            raise ValueError("max_model_len must be >= 2")
        p = min(p, max_model_len - 1)
        o = min(o, max_model_len - p)
    return p, o


def parse_length_dist(spec: str):
    """``fixed:N`` | ``uniform:A:B`` (inclusive) | ``lognormal:MEDIAN:SIGMA`` → ``f(rng) -> int >= 1``."""
    kind, *args = spec.split(":")
    try:
        nums = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"bad length distribution {spec!r}") from None
    if kind == "fixed" and len(nums) == 1:
        n = int(nums[0])
        return lambda rng: max(1, n)
    if kind == "uniform" and len(nums) == 2:
        a, b = int(nums[0]), int(nums[1])
        if a > b:
            raise ValueError(f"uniform:{a}:{b}: A must be <= B")
        return lambda rng: max(1, rng.randint(a, b))
    if kind == "lognormal" and len(nums) == 2:
        mu, sigma = math.log(nums[0]), nums[1]
        return lambda rng: max(1, round(rng.lognormvariate(mu, sigma)))
    raise ValueError(f"bad length distribution {spec!r} (fixed:N, uniform:A:B, lognormal:MEDIAN:SIGMA)")


def _read_sharegpt(path: Path) -> list[tuple[int, int]]:
    with open(path, newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return [(int(r["num_prefill_tokens"]), int(r["num_decode_tokens"])) for r in rows]


# --------------------------------------------------------------------------- synthetic


def synthetic(n: int, rate: float = math.inf, *, prompt_len: str = "uniform:128:1024",
              output_len: str = "uniform:16:256", lengths: str = "dist", seed: int = 0,
              max_model_len: int | None = None, max_prompt_tokens: int | None = None,
              max_output_tokens: int | None = None, data_dir: str | Path | None = None,
              path: str | Path | None = None, extras: Extras | None = None) -> list[RequestSpec]:
    """``n`` requests with Poisson arrivals at ``rate`` req/s (exponential gaps; ``inf`` → all
    at t=0). ``lengths="dist"`` draws prompt and output lengths from ``prompt_len`` /
    ``output_len``; ``lengths="sharegpt"`` samples (prompt, output) pairs jointly, with
    replacement, from the ShareGPT length CSV (``path`` or ``data_dir``)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if not rate > 0:
        raise ValueError("rate must be > 0 (req/s) or inf")
    arr = _rng(seed, "arrivals")
    lens = _rng(seed, "lengths")
    t = 0.0
    items: list[_Item] = []
    if lengths == "sharegpt":
        table = _read_sharegpt(_data_file(path, data_dir, SHAREGPT_FILE))
        draw = lambda: table[lens.randrange(len(table))]
    elif lengths == "dist":
        pd, od = parse_length_dist(prompt_len), parse_length_dist(output_len)
        draw = lambda: (pd(lens), od(lens))
    else:
        raise ValueError(f"lengths must be 'dist' or 'sharegpt', got {lengths!r}")
    for i in range(n):
        if i and math.isfinite(rate):
            t += arr.expovariate(rate)
        p, o = draw()
        p, o = fit_lengths(p, o, max_model_len=max_model_len, max_prompt_tokens=max_prompt_tokens,
                           max_output_tokens=max_output_tokens)
        items.append(_Item(str(i), round(t, 9), p, o))
    return _decorate(items, seed, extras)


# --------------------------------------------------------------------------- azure


def parse_azure_timestamp(ts: str) -> int:
    """``2023-11-16 18:15:46.6805900`` (no timezone; read as UTC) → integer 100 ns ticks
    since the Unix epoch. Exact: no float rounding of the 7 fractional digits."""
    date, _, clock = ts.strip().partition(" ")
    hms, _, frac = clock.partition(".")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi, s = (int(x) for x in hms.split(":"))
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    frac = (frac + "0000000")[:7]
    return secs * 10_000_000 + int(frac)


def azure(kind: str = "conv", *, n: int | None = None, start: int = 0, time_scale: float = 1.0,
          seed: int = 0, max_model_len: int | None = None, max_prompt_tokens: int | None = None,
          max_output_tokens: int | None = None, data_dir: str | Path | None = None,
          path: str | Path | None = None, extras: Extras | None = None) -> list[RequestSpec]:
    """Rows ``start .. start+n-1`` of the Azure ``kind`` (conv|code) trace. Arrival = (row
    TIMESTAMP − first selected row's TIMESTAMP) / ``time_scale`` (``time_scale=4`` replays
    four times faster). req_id = the row's 0-based index in the file."""
    if kind not in AZURE_FILES:
        raise ValueError(f"azure kind must be one of {sorted(AZURE_FILES)}, got {kind!r}")
    if not time_scale > 0:
        raise ValueError("time_scale must be > 0")
    f = _data_file(path, data_dir, AZURE_FILES[kind])
    items: list[_Item] = []
    t0 = None
    with open(f, newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for idx, row in enumerate(rows):
            if idx < start:
                continue
            if n is not None and len(items) >= n:
                break
            ticks = parse_azure_timestamp(row["TIMESTAMP"])
            if t0 is None:
                t0 = ticks
            p, o = fit_lengths(int(row["ContextTokens"]), int(row["GeneratedTokens"]),
                               max_model_len=max_model_len, max_prompt_tokens=max_prompt_tokens,
                               max_output_tokens=max_output_tokens)
            items.append(_Item(str(idx), round((ticks - t0) / 1e7 / time_scale, 9), p, o))
    if n is not None and len(items) < n:
        raise ValueError(f"{f} has only {len(items)} rows from row {start}, asked for {n}")
    return _decorate(items, seed, extras)


# --------------------------------------------------------------------------- mooncake


class _HashBlocks:
    """Hash id → its ``tokens_per_block`` token ids; the same id always gives the same tokens."""

    def __init__(self, tokens_per_block: int, namespace: str = "mooncake"):
        self.k = tokens_per_block
        self.ns = namespace
        self._cache: dict[int, list[int]] = {}

    def __getitem__(self, h: int) -> list[int]:
        b = self._cache.get(h)
        if b is None:
            b = _token_ids(random.Random(f"vsched:{self.ns}:{self.k}:{h}"), self.k)
            self._cache[h] = b
        return b


def mooncake_prompt_len(input_length: int, num_hash_ids: int, tokens_per_hash_block: int) -> int:
    """Scaled prompt length: full hash blocks scale to ``tokens_per_hash_block`` tokens each,
    the last (partial) block proportionally, rounded up. Identity at 512."""
    if num_hash_ids <= 0:
        return max(1, round(input_length * tokens_per_hash_block / MOONCAKE_HASH_BLOCK_TOKENS))
    last = input_length - MOONCAKE_HASH_BLOCK_TOKENS * (num_hash_ids - 1)
    last = min(max(last, 1), MOONCAKE_HASH_BLOCK_TOKENS)
    return (num_hash_ids - 1) * tokens_per_hash_block + max(
        1, -(-last * tokens_per_hash_block // MOONCAKE_HASH_BLOCK_TOKENS))


def mooncake(kind: str = "conversation", *, n: int | None = None, start: int = 0,
             time_scale: float = 1.0, tokens_per_hash_block: int = MOONCAKE_HASH_BLOCK_TOKENS,
             block_size: int = 16, output_scale: float = 1.0, seed: int = 0,
             max_model_len: int | None = None, max_prompt_tokens: int | None = None,
             max_output_tokens: int | None = None, data_dir: str | Path | None = None,
             path: str | Path | None = None, extras: Extras | None = None) -> list[RequestSpec]:
    """Lines ``start .. start+n-1`` of the Mooncake ``kind`` (conversation|synthetic) trace.

    arrival = (timestamp_ms − first selected line's timestamp) / 1000 / ``time_scale``;
    prompt = concatenation of each hash id's token block, cut to the scaled input length
    (:func:`mooncake_prompt_len`); max_tokens = round(output_length × ``output_scale``).
    ``tokens_per_hash_block`` must be a positive multiple of the KV ``block_size`` so that a
    shared hash-id prefix covers whole KV blocks. Token blocks depend only on the hash id and
    ``tokens_per_hash_block`` (not on ``seed``). req_id = the line's 0-based index.
    """
    if kind not in MOONCAKE_FILES:
        raise ValueError(f"mooncake kind must be one of {sorted(MOONCAKE_FILES)}, got {kind!r}")
    if tokens_per_hash_block <= 0 or block_size <= 0 or tokens_per_hash_block % block_size:
        raise ValueError(f"tokens_per_hash_block ({tokens_per_hash_block}) must be a positive multiple "
                         f"of block_size ({block_size})")
    if not time_scale > 0 or not output_scale > 0:
        raise ValueError("time_scale and output_scale must be > 0")
    f = _data_file(path, data_dir, MOONCAKE_FILES[kind])
    blocks = _HashBlocks(tokens_per_hash_block)
    items: list[_Item] = []
    t0 = None
    with open(f) as fh:
        idx = -1
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            idx += 1
            if idx < start:
                continue
            if n is not None and len(items) >= n:
                break
            rec = json.loads(line)
            if t0 is None:
                t0 = rec["timestamp"]
            hids = rec.get("hash_ids") or []
            plen = mooncake_prompt_len(int(rec["input_length"]), len(hids), tokens_per_hash_block)
            out = max(1, round(int(rec["output_length"]) * output_scale))
            p, o = fit_lengths(plen, out, max_model_len=max_model_len, max_prompt_tokens=max_prompt_tokens,
                               max_output_tokens=max_output_tokens)
            toks: list[int] = []
            for h in hids:
                if len(toks) >= p:
                    break
                toks.extend(blocks[int(h)])
            if len(toks) < p:  # no/too few hash ids: pad with tokens unique to this line
                toks.extend(_token_ids(random.Random(f"vsched:mooncake-pad:{kind}:{idx}"), p - len(toks)))
            items.append(_Item(str(idx), round((rec["timestamp"] - t0) / 1000.0 / time_scale, 9), p, o,
                               token_ids=toks[:p]))
    if n is not None and len(items) < n:
        raise ValueError(f"{f} has only {len(items)} lines from line {start}, asked for {n}")
    return _decorate(items, seed, extras)


# --------------------------------------------------------------------------- helpers


def shared_prefix_blocks(specs: Iterable[RequestSpec], block_size: int) -> int:
    """Full KV blocks whose token prefix already appeared in an earlier request (by list
    order): an upper bound on the prefix-cache hits an unbounded cache would see."""
    index: dict[tuple[int, tuple[int, ...]], int] = {}
    hits = 0
    for s in specs:
        ids = s.prompt_token_ids
        parent = -1
        for end in range(block_size, len(ids) + 1, block_size):
            key = (parent, tuple(ids[end - block_size:end]))
            got = index.get(key)
            if got is None:
                got = index[key] = len(index)
            else:
                hits += 1
            parent = got
    return hits


# --------------------------------------------------------------------------- file

WORKLOAD_FORMAT = "vsched-workload"


def from_file(path: str | Path, *, max_model_len: int | None = None) -> list[RequestSpec]:
    """Requests from a workload file that ``vsched simulate`` extracts from a trace.

    JSON lines: an optional first ``{"type": "header", "format": "vsched-workload",
    "format_version": "1.x", ...}`` then one ``{"type": "request", ...}`` per request with
    ``req``, ``arrival_ns`` (from the trace's t=0), ``prompt_tokens``, ``max_tokens`` and
    optionally ``eos_at`` (output index at which the fake model samples EOS), ``priority``,
    ``lora_id``, ``abort_after_ns``, ``frontend_delay_ns`` (arrival_ns includes it: vLLM's
    arrival stamp is that much earlier). Prompt token ids are drawn per request id, so unrelated
    requests never share a prefix-cache block (the trace does not say which prompts shared
    a prefix).
    """
    import json

    p = Path(path)
    specs: list[RequestSpec] = []
    with open(p) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}:{lineno}: not JSON ({e.msg})") from None
            kind = rec.get("type")
            if kind == "header":
                if rec.get("format") != WORKLOAD_FORMAT or str(rec.get("format_version", "")).split(".")[0] != "1":
                    raise ValueError(f"{p}:{lineno}: not a {WORKLOAD_FORMAT} 1.x file")
                continue
            if kind != "request":
                continue
            try:
                req = str(rec["req"])
                n = int(rec["prompt_tokens"])
                max_tokens = int(rec["max_tokens"])
                arrival = int(rec["arrival_ns"]) / 1e9
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{p}:{lineno}: field {e} missing or not a number") from None
            if max_model_len is not None and n + max_tokens > max_model_len:
                max_tokens = max(1, max_model_len - n)
            abort = rec.get("abort_after_ns")
            rng = _rng("file", f"prompt:{req}")
            specs.append(RequestSpec(req_id=req, arrival_s=max(arrival, 0.0), prompt_token_ids=_token_ids(rng, n),
                                     max_tokens=max_tokens, priority=int(rec.get("priority") or 0),
                                     lora_id=rec.get("lora_id"), eos_at=rec.get("eos_at"),
                                     abort_after_s=None if abort is None else int(abort) / 1e9,
                                     frontend_delay_s=int(rec.get("frontend_delay_ns") or 0) / 1e9))
    return specs
