"""`vsched compare` checked against reference implementations (scipy, pandas) on the
recorded A/B fixtures: Wilcoxon signed-rank p-values, Kendall's tau-b over all requests and
over the live waiting queue at each step, and the predictor's MAE / bias / R^2. Everything
here is recomputed from the converted CSVs with pandas; nothing is copied from vsched.

Run with the analysis venv (scripts/analysis_env.sh):
    VA=$(bash scripts/analysis_env.sh) && "$VA/bin/python" -m pytest -q -p no:cacheprovider test/python
"""
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
CLI = [str(ROOT / "bin" / "vsched.js")]
BASE, RUN = "ab-fcfs", "ab-isrtf-noisy0.5"


def vsched(*args, cwd=ROOT):
    r = subprocess.run(["node", *CLI, *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    subprocess.run(["npm", "run", "-s", "build"], cwd=ROOT, check=True, capture_output=True)
    for name in (BASE, RUN):
        vsched("convert", str(ROOT / "fixtures" / name), "-o", str(tmp / name))
    out = json.loads(vsched("compare", str(tmp / BASE), str(tmp / RUN), "--json", "--resamples", "200"))
    return tmp, out


def diff(out, metric, stat="mean"):
    m = next(m for m in out["metrics"] if m["name"] == metric)
    return next(d for d in m["differences"] if d["stat"] == stat)


COLS = {"jct": "e2e_latency", "ttft": "ttft", "queue_time": "waiting_time", "tpot": "tpot"}


@pytest.mark.parametrize("metric", sorted(COLS))
def test_wilcoxon_and_mean_difference_match_scipy(runs, metric):
    tmp, out = runs
    a = pd.read_csv(tmp / BASE / "per_request.csv")
    b = pd.read_csv(tmp / RUN / "per_request.csv")
    m = a.merge(b, on="request_id", suffixes=("_a", "_b"))
    m = m[m.finish_reason_a.isin(["stop", "length"]) & m.finish_reason_b.isin(["stop", "length"])]
    col = COLS[metric]
    m = m.dropna(subset=[f"{col}_a", f"{col}_b"])
    d = (m[f"{col}_b"] - m[f"{col}_a"]).to_numpy(dtype=float)
    got = diff(out, metric)
    assert got["n"] == len(d)
    assert got["value"] == pytest.approx(d.mean(), rel=1e-9)
    ref = stats.wilcoxon(d)  # scipy's defaults: two-sided, zeros dropped, approx for n > 50
    assert got["wilcoxon_p"] == pytest.approx(ref.pvalue, rel=1e-5, abs=1e-12)


def current_predictions(preds, rows, starts):
    """Each waiting row with its request's latest prediction at the step's start."""
    rows = rows.merge(starts, on=["dp_rank", "iteration_id"]).sort_values("start_time")
    preds = preds.sort_values("prediction_time")
    return pd.merge_asof(rows, preds[["request_id", "prediction_time", "predicted_remaining_tokens"]],
                         left_on="start_time", right_on="prediction_time", by="request_id",
                         direction="backward").dropna(subset=["predicted_remaining_tokens"])


def test_kendall_tau_b_matches_scipy(runs):
    tmp, out = runs
    q = out["runs"][1]["predictor"]
    preds = pd.read_csv(tmp / RUN / "predictions.csv")
    first = preds[preds.prediction_index == 0].dropna(subset=["actual_remaining_tokens"])
    ref_all = stats.kendalltau(first.predicted_remaining_tokens, first.actual_remaining_tokens)  # variant b
    assert q["kendall_tau_b_all_requests"]["n"] == len(first)
    assert q["kendall_tau_b_all_requests"]["tau_b"] == pytest.approx(ref_all.statistic, abs=1e-12)

    pir = pd.read_csv(tmp / RUN / "per_iteration_requests.csv", low_memory=False)
    starts = pd.read_csv(tmp / RUN / "per_iteration.csv")[["dp_rank", "iteration_id", "start_time"]]
    final = pd.read_csv(tmp / RUN / "per_request.csv")[["request_id", "output_tokens", "finish_reason"]]
    final = final[final.finish_reason.isin(["stop", "length"])]
    waiting = pir[pir.state.isin(["waiting", "preempted"])].merge(final, on="request_id")
    w = current_predictions(preds, waiting, starts)
    w["true_remaining"] = w.output_tokens - w.tokens_generated
    taus = []
    for _, g in w.groupby(["dp_rank", "iteration_id"]):
        if len(g) >= 2:
            t = stats.kendalltau(g.predicted_remaining_tokens, g.true_remaining).statistic
            if not np.isnan(t):
                taus.append(t)
    got = q["kendall_tau_b_waiting_queue"]
    assert got["steps"] == len(taus)
    assert got["mean_tau_b"] == pytest.approx(np.mean(taus), abs=1e-9)
    assert 0 < got["mean_tau_b"] < 1  # noisy: neither random nor exact


def test_predictor_error_matches_pandas(runs):
    tmp, out = runs
    p = pd.read_csv(tmp / RUN / "predictions.csv").dropna(subset=["predicted_remaining_tokens", "actual_remaining_tokens"])
    e = p.predicted_remaining_tokens - p.actual_remaining_tokens
    a = p.actual_remaining_tokens
    got = out["runs"][1]["predictor"]["overall"]
    assert got["n"] == len(p)
    assert got["mae"] == pytest.approx(e.abs().mean(), rel=1e-9)
    assert got["bias"] == pytest.approx(e.mean(), rel=1e-9)
    assert got["r2"] == pytest.approx(1 - (e ** 2).sum() / ((a - a.mean()) ** 2).sum(), rel=1e-9)


def test_truth_of_predictions_csv(runs):
    """actual_remaining_tokens is final output tokens minus tokens at the prediction."""
    tmp, _ = runs
    p = pd.read_csv(tmp / RUN / "predictions.csv")
    r = pd.read_csv(tmp / RUN / "per_request.csv")[["request_id", "output_tokens"]]
    m = p.merge(r, on="request_id")
    assert (m.actual_remaining_tokens == m.output_tokens - m.output_tokens_at_prediction).all()
    assert (m.final_output_tokens == m.output_tokens).all()


def test_relative_interval_matches_scipy_bootstrap_on_independent_data():
    """The relative change's interval is the percentile interval of B/A - 1 over resamples;
    on independent requests the moving blocks draw as the i.i.d. bootstrap, so scipy's
    percentile interval of the same ratio (paired and unpaired) must agree up to Monte Carlo
    noise. A bootstrap of the difference scaled by A, or of mean(B/A), would not."""
    rows = json.loads(subprocess.run(["node", str(ROOT / "test" / "python" / "compare_ratio_intervals.mjs")], cwd=ROOT,
                                     capture_output=True, text=True, check=True).stdout)
    off = {}
    for r in rows:
        a, b = np.array(r["a"]), np.array(r["b"])
        f = np.mean if r["stat"] == "mean" else np.median
        ref = stats.bootstrap((a, b), lambda x, y, axis=-1: f(y, axis=axis) / f(x, axis=axis) - 1, paired=r["paired"],
                              vectorized=True, method="percentile", n_resamples=4000, random_state=1).confidence_interval
        width = ref.high - ref.low
        assert r["ratio"]["lo"] >= -1
        off.setdefault((r["stat"], r["paired"]), []).extend(
            [abs(r["ratio"]["lo"] - ref.low) / width, abs(r["ratio"]["hi"] - ref.high) / width])
    for key, v in off.items():
        assert np.median(v) < 0.05 and max(v) < 0.25, (key, np.median(v), max(v))


@pytest.mark.parametrize("metric", ["jct", "ttft", "queue_time"])
def test_relative_point_estimate_and_bounds(runs, metric):
    tmp, out = runs
    a = pd.read_csv(tmp / BASE / "per_request.csv").set_index("request_id")
    b = pd.read_csv(tmp / RUN / "per_request.csv").set_index("request_id")
    col = {"jct": "e2e_latency", "ttft": "ttft", "queue_time": "waiting_time"}[metric]
    both = a.index.intersection(b.index)
    x, y = a.loc[both, col].to_numpy(dtype=float), b.loc[both, col].to_numpy(dtype=float)
    for stat, f in (("mean", np.mean), ("p50", np.median)):
        got = diff(out, metric, stat)
        assert got["relative"] == pytest.approx(f(y) / f(x) - 1, rel=1e-9)
        assert -1 <= got["relative_ci95_lo"] <= got["relative"] <= got["relative_ci95_hi"]
