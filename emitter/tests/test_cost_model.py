"""Unit tests of the harness step-time models (vsched_emitter.harness.cost_model)."""
import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from vsched_emitter.harness import cost_model as cm

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "fixtures" / "data" / cm.SPLITWISE_CSV


@dataclass
class Shape:  # duck-typed BatchShape
    num_reqs: int = 0
    num_prefill_reqs: int = 0
    num_decode_reqs: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0


def decode(n):
    return Shape(n, 0, n, 0, n)


def prefill(tokens, reqs=1):
    return Shape(reqs, reqs, 0, tokens, 0)


def table_rows(model, hw, tp):
    with open(TABLE, newline="") as f:
        return [r for r in csv.DictReader(f)
                if r["model"] == model and r["hardware"] == hw and int(r["tensor_parallel"]) == tp]


@pytest.mark.parametrize("model,hw,tp", [("llama2-70b", "a100-80gb", 8), ("llama2-70b", "h100-80gb", 4),
                                         ("bloom-176b", "a100-80gb", 8)])
def test_splitwise_reproduces_table_points(model, hw, tp):
    c = cm.splitwise(model, hw, tp, path=TABLE)
    rows = table_rows(model, hw, tp)
    # decode-only step at a measured batch size = median token_time of the batch sweep (ms → s)
    for b in (1, 2, 4, 8, 16, 32, 64):
        want = statistics.median(float(r["token_time"]) for r in rows
                                 if int(r["prompt_size"]) == 512 and int(r["batch_size"]) == b)
        assert c(decode(b)) == pytest.approx(want / 1000, rel=1e-12)
    # prefill-only step of a single measured prompt: the median over all rows with that many
    # batch tokens (prompt_size * batch_size), as splitwise-sim reads the table
    for p in (128, 256, 1024, 2048, 8192):
        want = statistics.median(float(r["prompt_time"]) for r in rows
                                 if int(r["prompt_size"]) * int(r["batch_size"]) == p)
        assert c(prefill(p)) == pytest.approx(want / 1000, rel=1e-12)
        assert c.prompt_time_ms(p) == pytest.approx(want, rel=1e-12)


def test_splitwise_interpolates_linearly_between_points_and_extrapolates():
    c = cm.splitwise("llama2-70b", "a100-80gb", 8, path=TABLE)
    lo, hi = c.prompt_time_ms(2048), c.prompt_time_ms(4096)
    assert c.prompt_time_ms(3072) == pytest.approx((lo + hi) / 2)
    assert c.token_time_ms(24) == pytest.approx((c.token_time_ms(16) + c.token_time_ms(32)) / 2)
    # below the smallest measurement: flat; above the largest: last slope, growing
    assert c.prompt_time_ms(1) == c.prompt_time_ms(128)
    x = c.prompt_points
    slope = (x[-1][1] - x[-2][1]) / (x[-1][0] - x[-2][0])
    assert c.prompt_time_ms(x[-1][0] + 1000) == pytest.approx(x[-1][1] + 1000 * slope)
    assert c.token_time_ms(128) > c.token_time_ms(64)


def test_splitwise_mixed_and_empty_steps():
    c = cm.splitwise("llama2-70b", "a100-80gb", 8, path=TABLE, mixed_factor=1.1)
    mixed = Shape(17, 1, 16, 496, 16)
    assert c(mixed) == pytest.approx(max(c.prompt_time_ms(512) * 1.1, c.token_time_ms(16)) / 1000)
    assert c(mixed) >= c(decode(16)) and c(mixed) >= c(prefill(496))
    assert c(Shape()) == 0.0
    # realistic magnitudes: a 70B decode step is tens of ms, seconds-scale only for huge prefills
    assert 0.02 < c(decode(1)) < 0.1


def test_splitwise_default_tp_and_errors():
    assert cm.splitwise("bloom-176b", "h100-80gb", path=TABLE).tensor_parallel == 8
    with pytest.raises(ValueError, match="no rows"):
        cm.splitwise("gpt-5", "a100-80gb", path=TABLE)
    with pytest.raises(ValueError, match="tensor_parallel"):
        cm.splitwise("bloom-176b", "a100-80gb", 2, path=TABLE)


def test_splitwise_monotone_option_removes_outlier():
    raw = cm.splitwise("llama2-70b", "a100-80gb", 2, path=TABLE)
    # the tp=2 batch-64 prefill row is an outlier (faster than batch 32)
    assert raw.prompt_time_ms(32768) < raw.prompt_time_ms(16384)
    mono = cm.splitwise("llama2-70b", "a100-80gb", 2, path=TABLE, monotone=True)
    ys = [y for _, y in mono.prompt_points]
    assert ys == sorted(ys)


def test_linear_formula_and_units():
    c = cm.linear(alpha=0.01, beta_prefill=1e-4, beta_decode=2e-4, per_req=1e-3)
    s = Shape(5, 1, 4, 300, 4)
    assert c(s) == pytest.approx(0.01 + 300e-4 + 4 * 2e-4 + 5e-3)
    assert c(Shape()) == 0.0
    with pytest.raises(ValueError):
        cm.linear(alpha=-1)


def test_linear_defaults_track_the_splitwise_table():
    lin, sw = cm.linear(), cm.splitwise("llama2-70b", "a100-80gb", 8, path=TABLE)
    for b in (1, 16, 64):
        assert lin(decode(b)) == pytest.approx(sw(decode(b)), rel=0.15)
    for p in (1024, 2048, 4096):
        assert lin(prefill(p)) == pytest.approx(sw(prefill(p)), rel=0.3)


def test_from_spec():
    c = cm.from_spec("linear:alpha=0.002,beta_decode=1e-5")
    assert isinstance(c, cm.LinearCost) and c.alpha == 0.002 and c.beta_decode == 1e-5
    s = cm.from_spec("splitwise:bloom-176b:h100-80gb:8,mixed_factor=1.2", data_dir=TABLE.parent)
    assert (s.model, s.hardware, s.tensor_parallel, s.mixed_factor) == ("bloom-176b", "h100-80gb", 8, 1.2)
    assert cm.from_spec("splitwise", data_dir=TABLE.parent).describe()["kind"] == "splitwise"
    with pytest.raises(ValueError):
        cm.from_spec("quadratic")
    with pytest.raises(ValueError):
        cm.from_spec("linear:gamma=1")
