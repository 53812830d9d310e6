"""Unit tests of the harness workload generators (vsched_emitter.harness.workloads).

They read only the repo's data slices (fixtures/data): a clone has nothing beside it.
"""
import csv
import json
import math
import statistics
from pathlib import Path

import pytest

from vsched_emitter.harness import workloads as wl

REPO = Path(__file__).resolve().parents[2]
SLICES = REPO / "fixtures" / "data"


def as_tuples(specs):
    return [(s.req_id, s.arrival_s, tuple(s.prompt_token_ids), s.max_tokens, s.priority, s.lora_id,
             s.abort_after_s, s.eos_at) for s in specs]


# --------------------------------------------------------------------------- azure

def test_azure_timestamp_parsing_is_exact():
    a = wl.parse_azure_timestamp("2023-11-16 18:15:46.6805900")
    b = wl.parse_azure_timestamp("2023-11-16 18:15:50.9951690")
    assert b - a == 43_145_790  # 4.3145790 s in 100 ns ticks
    assert wl.parse_azure_timestamp("1970-01-01 00:00:01.0000001") == 10_000_001


def test_azure_conv_maps_columns():
    with open(SLICES / wl.AZURE_FILES["conv"], newline="") as f:
        rows = list(csv.DictReader(f))[:50]
    specs = wl.azure("conv", n=50, data_dir=SLICES)
    assert [s.req_id for s in specs] == [str(i) for i in range(50)]
    t0 = wl.parse_azure_timestamp(rows[0]["TIMESTAMP"])
    for s, r in zip(specs, rows):
        assert s.arrival_s == pytest.approx((wl.parse_azure_timestamp(r["TIMESTAMP"]) - t0) / 1e7, abs=1e-9)
        assert len(s.prompt_token_ids) == int(r["ContextTokens"])
        assert s.max_tokens == int(r["GeneratedTokens"])
        assert (s.priority, s.abort_after_s, s.eos_at, s.lora_id) == (0, None, None, None)
    assert specs[1].arrival_s == pytest.approx(4.314579)
    # unrelated requests never share a KV block
    assert wl.shared_prefix_blocks(specs, 16) == 0


def test_azure_start_time_scale_and_caps():
    base = wl.azure("code", n=40, start=10, data_dir=SLICES)
    assert base[0].req_id == "10" and base[0].arrival_s == 0.0
    fast = wl.azure("code", n=40, start=10, time_scale=4, data_dir=SLICES)
    for a, b in zip(base, fast):
        assert b.arrival_s == pytest.approx(a.arrival_s / 4, abs=1e-8)
    capped = wl.azure("code", n=40, start=10, data_dir=SLICES, max_model_len=1024, max_output_tokens=8)
    assert any(len(s.prompt_token_ids) > 1023 for s in base)
    for s in capped:
        assert len(s.prompt_token_ids) <= 1023 and s.max_tokens <= 8
        assert len(s.prompt_token_ids) + s.max_tokens <= 1024 and s.max_tokens >= 1
    with pytest.raises(ValueError, match="only"):
        wl.azure("code", n=10_000, data_dir=SLICES)


def test_fit_lengths():
    assert wl.fit_lengths(5000, 300, max_model_len=4096) == (4095, 1)
    assert wl.fit_lengths(3000, 2000, max_model_len=4096) == (3000, 1096)
    assert wl.fit_lengths(3000, 2000, max_prompt_tokens=100, max_output_tokens=10) == (100, 10)
    assert wl.fit_lengths(0, 0) == (1, 1)


def test_azure_whole_slice_shape():
    """Without n the whole file is read; its span and lengths match the CSV read by datetime."""
    from datetime import datetime
    for kind, rows_expected in (("conv", 400), ("code", 300)):
        with open(SLICES / wl.AZURE_FILES[kind], newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == rows_expected
        specs = wl.azure(kind, data_dir=SLICES, max_prompt_tokens=8)  # short prompts: fast
        assert len(specs) == len(rows)
        stamp = [datetime.strptime(r["TIMESTAMP"][:26], "%Y-%m-%d %H:%M:%S.%f") for r in rows]
        assert specs[-1].arrival_s == pytest.approx((stamp[-1] - stamp[0]).total_seconds(), abs=2e-6)
        assert statistics.median(s.max_tokens for s in specs) == statistics.median(int(r["GeneratedTokens"]) for r in rows)
        fast = wl.azure(kind, data_dir=SLICES, time_scale=10, max_prompt_tokens=8)
        assert fast[-1].arrival_s == pytest.approx(specs[-1].arrival_s / 10, abs=1e-8)

# --------------------------------------------------------------------------- mooncake

def mooncake_lines(path, n):
    with open(path) as f:
        return [json.loads(line) for line in f][:n]


@pytest.mark.parametrize("tph", [16, 32, 512])
def test_mooncake_equal_leading_hash_ids_give_identical_prefixes(tph):
    lines = mooncake_lines(SLICES / wl.MOONCAKE_FILES["conversation"], 120)
    specs = {s.req_id: s for s in wl.mooncake("conversation", n=120, tokens_per_hash_block=tph, data_dir=SLICES)}
    pairs_shared = pairs_distinct = 0
    for i in range(0, 120, 3):
        for j in range(i + 1, 120, 5):
            hi, hj = lines[i]["hash_ids"], lines[j]["hash_ids"]
            common = 0
            while common < min(len(hi), len(hj)) and hi[common] == hj[common]:
                common += 1
            a, b = specs[str(i)].prompt_token_ids, specs[str(j)].prompt_token_ids
            full = min(common * tph, len(a), len(b))
            assert a[:full] == b[:full]
            if common < min(len(hi), len(hj)):  # the first differing hash block differs in tokens
                k = common * tph
                if k + tph <= min(len(a), len(b)):
                    assert a[k:k + tph] != b[k:k + tph]
                    pairs_distinct += 1
            if common:
                pairs_shared += 1
    assert pairs_shared > 50 and pairs_distinct > 50


def test_mooncake_lengths_and_scaling():
    lines = mooncake_lines(SLICES / wl.MOONCAKE_FILES["conversation"], 60)
    full = wl.mooncake("conversation", n=60, data_dir=SLICES)
    by_id = {s.req_id: s for s in full}
    for i, rec in enumerate(lines):
        s = by_id[str(i)]
        assert len(s.prompt_token_ids) == rec["input_length"]  # identity at 512 tokens per hash id
        assert s.max_tokens == rec["output_length"]
        assert s.arrival_s == pytest.approx((rec["timestamp"] - lines[0]["timestamp"]) / 1000)
    small = {s.req_id: s for s in wl.mooncake("conversation", n=60, tokens_per_hash_block=32, output_scale=0.25,
                                              time_scale=2, data_dir=SLICES)}
    for i, rec in enumerate(lines):
        s, n = small[str(i)], len(rec["hash_ids"])
        last = rec["input_length"] - 512 * (n - 1)
        assert len(s.prompt_token_ids) == (n - 1) * 32 + math.ceil(last * 32 / 512)
        assert s.max_tokens == max(1, round(rec["output_length"] * 0.25))
        assert s.arrival_s == pytest.approx((rec["timestamp"] - lines[0]["timestamp"]) / 2000)
    # sharing is preserved by the scaling: same number of shared 16-token KV blocks per hash block
    assert wl.shared_prefix_blocks(small.values(), 16) > 100


def test_mooncake_block_multiple_is_enforced():
    with pytest.raises(ValueError, match="multiple"):
        wl.mooncake("conversation", n=2, tokens_per_hash_block=24, block_size=16, data_dir=SLICES)
    wl.mooncake("conversation", n=2, tokens_per_hash_block=24, block_size=8, data_dir=SLICES)


def test_mooncake_prompt_truncation_keeps_prefix():
    a = wl.mooncake("conversation", n=30, tokens_per_hash_block=64, data_dir=SLICES)
    b = wl.mooncake("conversation", n=30, tokens_per_hash_block=64, data_dir=SLICES, max_model_len=300)
    for x, y in zip(a, b):
        assert len(y.prompt_token_ids) <= 299
        assert x.prompt_token_ids[:len(y.prompt_token_ids)] == y.prompt_token_ids


@pytest.mark.parametrize("kind,n", [("conversation", 300), ("synthetic", 200)])
def test_mooncake_slices_have_real_sharing(kind, n):
    """At 16 tokens per hash id and 16-token KV blocks, a shared block is a full hash block
    whose leading hash ids appeared before: counted here from the hash ids alone."""
    lines = mooncake_lines(SLICES / wl.MOONCAKE_FILES[kind], n)
    seen, expected = set(), 0
    for rec in lines:
        ids = rec["hash_ids"]
        last_tokens = math.ceil((rec["input_length"] - 512 * (len(ids) - 1)) * 16 / 512)
        full = len(ids) - 1 + (last_tokens == 16)
        for k in range(len(ids)):
            expected += k < full and tuple(ids[:k + 1]) in seen
            seen.add(tuple(ids[:k + 1]))
    specs = wl.mooncake(kind, n=n, tokens_per_hash_block=16, data_dir=SLICES)
    assert wl.shared_prefix_blocks(specs, 16) == expected > 300

# --------------------------------------------------------------------------- synthetic

def test_synthetic_deterministic_and_seeded():
    a = wl.synthetic(100, rate=4.0, seed=7)
    assert as_tuples(a) == as_tuples(wl.synthetic(100, rate=4.0, seed=7))
    assert as_tuples(a) != as_tuples(wl.synthetic(100, rate=4.0, seed=8))


def test_synthetic_poisson_rate_and_lengths():
    s = wl.synthetic(4000, rate=5.0, prompt_len="uniform:10:20", output_len="fixed:7", seed=1)
    gaps = [b.arrival_s - a.arrival_s for a, b in zip(s, s[1:])]
    assert statistics.mean(gaps) == pytest.approx(0.2, rel=0.06)
    assert statistics.pstdev(gaps) == pytest.approx(0.2, rel=0.1)  # exponential: sd == mean
    assert {len(x.prompt_token_ids) for x in s} == set(range(10, 21))
    assert {x.max_tokens for x in s} == {7}
    assert all(wl.TOKEN_LO <= t < wl.TOKEN_HI for x in s[:50] for t in x.prompt_token_ids)
    burst = wl.synthetic(20, prompt_len="lognormal:300:0.5", seed=1)
    assert {x.arrival_s for x in burst} == {0.0}


def test_synthetic_sharegpt_lengths_come_from_the_table():
    with open(SLICES / wl.SHAREGPT_FILE, newline="") as f:
        table = {(int(r["num_prefill_tokens"]), int(r["num_decode_tokens"])) for r in csv.DictReader(f)}
    s = wl.synthetic(300, rate=10, lengths="sharegpt", data_dir=SLICES, seed=3)
    assert all((len(x.prompt_token_ids), x.max_tokens) in table for x in s)
    assert len({(len(x.prompt_token_ids), x.max_tokens) for x in s}) > 150
    capped = wl.synthetic(300, rate=10, lengths="sharegpt", data_dir=SLICES, seed=3, max_model_len=1024)
    assert all(len(x.prompt_token_ids) + x.max_tokens <= 1024 for x in capped)


def test_bad_specs():
    for bad in ("uniform:5", "gauss:1:2", "uniform:9:3", "fixed:x"):
        with pytest.raises(ValueError):
            wl.parse_length_dist(bad)
    with pytest.raises(ValueError):
        wl.synthetic(3, rate=0)
    with pytest.raises(ValueError):
        wl.Extras(abort_fraction=1.5)


# --------------------------------------------------------------------------- decorations

def test_extras_priorities_aborts_eos_lora():
    ex = wl.Extras(priority_classes=(0, 1, 2), priority_weights=(1, 1, 2), abort_fraction=0.25,
                   abort_after_s=(0.1, 0.5), eos_fraction=0.5, lora_ids=(1, 2), lora_fraction=0.5)
    s = wl.azure("conv", n=200, data_dir=SLICES, extras=ex, seed=5)
    aborted = [x for x in s if x.abort_after_s is not None]
    assert len(aborted) == 50 and all(0.1 <= x.abort_after_s <= 0.5 for x in aborted)
    eos = [x for x in s if x.eos_at is not None]
    assert len(eos) == 100 and all(0 <= x.eos_at < x.max_tokens for x in eos)
    pr = [x.priority for x in s]
    assert set(pr) == {0, 1, 2} and pr.count(2) > pr.count(0)
    assert sum(x.lora_id is not None for x in s) == 100 and {x.lora_id for x in s} == {None, 1, 2}


def test_extras_do_not_perturb_the_base_workload():
    plain = wl.synthetic(80, rate=3.0, seed=11)
    dec = wl.synthetic(80, rate=3.0, seed=11, extras=wl.Extras(priority_classes=(0, 5), abort_fraction=0.3,
                                                                 eos_fraction=0.3))
    assert [(x.req_id, x.arrival_s, x.prompt_token_ids, x.max_tokens) for x in plain] == \
           [(x.req_id, x.arrival_s, x.prompt_token_ids, x.max_tokens) for x in dec]
    # and one decoration does not move another
    only_abort = wl.synthetic(80, rate=3.0, seed=11, extras=wl.Extras(abort_fraction=0.3))
    assert [x.abort_after_s for x in only_abort] == [x.abort_after_s for x in dec]


def test_arrivals_sorted_for_every_source():
    for specs in (wl.synthetic(50, rate=2.0), wl.azure("code", n=50, data_dir=SLICES),
                  wl.mooncake("conversation", n=50, tokens_per_hash_block=16, data_dir=SLICES)):
        arr = [s.arrival_s for s in specs]
        assert arr == sorted(arr)


# --------------------------------------------------------------------------- fixtures

def test_fixture_recipes_point_at_the_repo_slices():
    """Every recorded fixture was made from fixtures/data as it is now (so
    scripts/record-fixtures.sh regenerates it from the repo alone)."""
    import hashlib

    recipes = sorted(REPO.glob("fixtures/*/recipe.json"))
    harness = [r for r in recipes if json.loads(r.read_text()).get("command", "").startswith(
        "python -m vsched_emitter.harness")]
    assert harness, "fixtures/ holds no harness-recorded fixture (scripts/record-fixtures.sh)"
    for r in harness:
        recipe = json.loads(r.read_text())
        assert "--clock virtual" in recipe["command"] and "--data-dir fixtures/data" in recipe["command"], r
        for rel, sha in recipe["data"].items():
            assert rel.startswith("fixtures/data/"), (r, rel)
            assert hashlib.sha256((REPO / rel).read_bytes()).hexdigest() == sha, (r, rel)
        for out in recipe["outputs"]:
            assert (REPO / out).exists(), (r, out)


def test_request_ids_file_replaces_ids_in_arrival_order(tmp_path):
    from vsched_emitter.harness.__main__ import with_request_ids
    specs = wl.synthetic(n=3, rate=math.inf, prompt_len="fixed:8", output_len="fixed:2", seed=0)
    hostile = ["</script><script>x()</script>", '"><img src=x onerror=y()>', "a\u2028b\nc"]
    f = tmp_path / "ids.jsonl"
    f.write_text("".join(json.dumps(i) + "\n" for i in hostile))
    out = with_request_ids(specs, f)
    assert [s.req_id for s in out] == hostile
    assert [s.prompt_token_ids for s in out] == [s.prompt_token_ids for s in specs]
    f.write_text(json.dumps("only-one") + "\n")
    with pytest.raises(ValueError, match="1 ids for 3 requests"):
        with_request_ids(specs, f)
    f.write_text("3\n")
    with pytest.raises(ValueError, match="non-empty JSON string"):
        with_request_ids(specs, f)
