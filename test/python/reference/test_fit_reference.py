"""vsched fit against reference implementations: statsmodels OLS (coefficients and HC3
standard errors, t-based 95% intervals) and the ridge closed form in numpy, on the training
data vsched fit --export writes. Run in the analysis venv:

    VA=$(ls -d ~/.cache/vsched/venv-analysis-*)
    "$VA/bin/python" -m pytest -q -p no:cacheprovider test/python/reference
"""
import copy
import functools
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

ROOT = Path(__file__).resolve().parents[3]
VSCHED = ["node", str(ROOT / "bin" / "vsched.js")]
TRACES = ["azure-conv-chunked", "known-linear-async", "kv-pressure-preempt"]


def run_fit(tmp_path, name):
    out = tmp_path / name
    r = subprocess.run([*VSCHED, "fit", str(ROOT / "fixtures" / name / "vsched-1-dp0.jsonl"), "--json", "--export", str(out)],
                       check=True, capture_output=True, text=True, timeout=300)
    return json.loads(r.stdout), pd.read_csv(out / "beta_training.csv"), pd.read_csv(out / "alpha_training.csv")


@pytest.fixture(scope="module")
def fit_of(tmp_path_factory):
    """run_fit of a trace, run once for the module (the tests below read the same three fits:
    they ran the same command thirteen times); each test gets its own copies."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = run_fit(tmp_path_factory.mktemp("fit"), name)
        fit, beta, alpha = cache[name]
        return copy.deepcopy(fit), beta.copy(), alpha.copy()
    return get


def design(df, terms):
    cols = []
    for t in terms:
        v = np.ones(len(df))
        for f in t["factors"]:
            v = v * df[f].to_numpy(dtype=float)
        cols.append(v)
    return np.column_stack(cols)


def fitted_rows(fit, beta, which):
    """terms: the training-period fit (its test metrics are reported); exported_terms: every
    kept step (what --out exports)."""
    rows = beta[beta["excluded"].isna()]
    if which == "terms":
        rows = rows[rows["split"] == "train"]
    rows = rows.sort_values("start_time", kind="stable")
    assert len(rows) == (fit["split"]["train_steps"] if which == "terms" else fit["filters"]["kept"]) > 20
    return rows


@pytest.mark.parametrize("which", ["terms", "exported_terms"])
@pytest.mark.parametrize("name", TRACES)
def test_ols_coefficients_and_hc3_match_statsmodels(fit_of, name, which):
    fit, beta, _ = fit_of(name)
    train = fitted_rows(fit, beta, which)
    y = train["step_time_ns"].to_numpy(dtype=float)
    checked = 0
    for m in fit["beta"]["models"]:
        if m["estimator"] != "ols":
            continue
        kept = [t for t in m[which] if not t["dropped"]]
        X = design(train, kept)
        res = sm.OLS(y, X).fit(cov_type="HC3")
        q = stats.t.ppf(0.975, res.df_resid)
        # HC3 divides each residual by (1 - leverage): a row the design fits exactly (leverage 1,
        # e.g. the one step of a CPU fixture where no_cudagraph differs from has_prefill) leaves
        # it undefined, and two implementations then disagree by rounding; the coefficients still must agree
        hc3_defined = sm.OLS(y, X).fit().get_influence().hat_matrix_diag.max() < 1 - 1e-6
        for j, t in enumerate(kept):
            scale = max(abs(res.params[j]), 1e-9 * np.abs(y).mean())
            assert abs(t["coef"] - res.params[j]) / scale < 1e-6, (m["id"], t["term"])
            if not hc3_defined:
                continue
            assert t["se"] == pytest.approx(res.bse[j], rel=1e-5), (m["id"], t["term"])
            # statsmodels' robust intervals use the normal by default; vsched uses t(df_resid),
            # so compare with t intervals built from statsmodels' own standard errors
            assert t["ci95_low"] == pytest.approx(res.params[j] - q * res.bse[j], rel=1e-5, abs=1e-6 * scale)
            assert t["ci95_high"] == pytest.approx(res.params[j] + q * res.bse[j], rel=1e-5, abs=1e-6 * scale)
        checked += 1
    # every feature set, gpu and gpu_next included; gpu_host only when runs on several hosts are pooled
    assert checked == (7 if any(m["feature_set"] == "gpu_host" for m in fit["beta"]["models"]) else 6)


def ridge_closed_form(X, y, lam, icpt):
    """numpy: standardise the non-intercept columns (population sd), centre y, solve
    (Z'Z + lam I) w = Z'y, map back to raw units."""
    cols = [j for j in range(X.shape[1]) if j != icpt]
    Z = X[:, cols]
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd[sd == 0] = 1
    Zs = (Z - mu) / sd
    yc = y - y.mean()
    w = np.linalg.solve(Zs.T @ Zs + lam * np.eye(len(cols)), Zs.T @ yc)
    coef = np.zeros(X.shape[1])
    coef[cols] = w / sd
    coef[icpt] = y.mean() - (coef[cols] * mu).sum()
    return coef


@pytest.mark.parametrize("name", TRACES)
def test_ridge_matches_numpy_closed_form(fit_of, name):
    fit, beta, _ = fit_of(name)
    train = beta[beta["excluded"].isna() & (beta["split"] == "train")].sort_values("start_time", kind="stable")
    y = train["step_time_ns"].to_numpy(dtype=float)
    for m in fit["beta"]["models"]:
        if m["estimator"] != "ridge":
            continue
        X = design(train, m["terms"])
        ref = ridge_closed_form(X, y, m["ridge_lambda"], 0)
        got = np.array([t["coef"] for t in m["terms"]])
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("name", TRACES)
def test_huber_matches_statsmodels_rlm(fit_of, name):
    fit, beta, _ = fit_of(name)
    train = beta[beta["excluded"].isna() & (beta["split"] == "train")].sort_values("start_time", kind="stable")
    y = train["step_time_ns"].to_numpy(dtype=float)
    checked = 0
    for m in fit["beta"]["models"]:
        if m["estimator"] != "huber" or m["feature_set"] not in ("tokens", "context"):
            continue
        X = design(train, m["terms"])
        res = sm.RLM(y, X, M=sm.robust.norms.HuberT(t=1.345)).fit(maxiter=200, tol=1e-12, conv="coefs")
        got = np.array([t["coef"] for t in m["terms"]])
        # on the splitwise costs the split between near-collinear columns (decode_tokens vs
        # batch_size) is ill-determined, so compare the fitted step times; the coefficients
        # too where the cost is exactly linear
        # (when most residuals are ~0, as on the piecewise-linear splitwise costs, the Huber
        # objective is flat near its optimum: fitted values agree to 0.1%)
        np.testing.assert_allclose(X @ got, res.fittedvalues, rtol=1e-3)
        if name == "known-linear-async":  # an exactly linear cost: the optimum is sharp
            np.testing.assert_allclose(got, res.params, rtol=1e-4, atol=1e-4 * np.abs(res.params).max())
        checked += 1
    assert checked == 2


def test_alpha_regression_and_test_mape_match(fit_of):
    fit, beta, alpha = fit_of("azure-conv-chunked")
    a = fit["alpha"]["regression"]
    train = alpha[alpha["split"] == "train"].sort_values("arrival_time", kind="stable")
    test = alpha[alpha["split"] == "test"].sort_values("arrival_time", kind="stable")
    X = design(train, a["terms"])
    res = sm.OLS(train["queue_delay_ns"].to_numpy(dtype=float), X).fit(cov_type="HC3")
    for j, t in enumerate(a["terms"]):
        assert t["coef"] == pytest.approx(res.params[j], rel=1e-6, abs=1e-3)
        assert t["se"] == pytest.approx(res.bse[j], rel=1e-5)
    # the chosen beta model's test MAPE, recomputed with pandas from the exported rows
    m = next(x for x in fit["beta"]["models"] if x["id"] == fit["beta"]["chosen"])
    kept = beta[beta["excluded"].isna()]
    tr, te = kept[kept["split"] == "train"], kept[kept["split"] == "test"]
    pred = design(te, m["terms"]) @ np.array([t["coef"] for t in m["terms"]])
    act = te["step_time_ns"].to_numpy(dtype=float)
    ape = np.abs(pred - act) / act
    assert m["test"]["mape"] == pytest.approx(ape.mean(), rel=1e-9)
    assert m["test"]["p90_ape"] == pytest.approx(np.percentile(ape, 90), rel=1e-9)
    assert len(tr) + len(te) == fit["filters"]["kept"]


def test_frontend_visibility_delay_matches_statsmodels_logit(tmp_path):
    """The visibility-delay model (docs/fit.md, α) is a logistic fit on current-status data:
    each step boundary (schedule() start) after a request's vLLM arrival stamp and before its
    add_request() missed it; its pickup saw it. Rebuilt here from the exported training tables
    and fitted by statsmodels' Logit."""
    out = tmp_path / "h100"
    r = subprocess.run([*VSCHED, "fit", str(ROOT / "fixtures" / "h100-s64-a"), "--json", "--export", str(out)],
                       check=True, capture_output=True, text=True, timeout=300)
    model = json.loads(r.stdout)["alpha"]["frontend"]["model"]
    beta, alpha = pd.read_csv(out / "beta_training.csv"), pd.read_csv(out / "alpha_training.csv")
    alpha = alpha[alpha["frontend_delay_ns"].notna()]
    rows = []
    for rank, reqs in alpha.groupby("dp_rank"):
        starts = np.sort(beta.loc[beta["dp_rank"] == rank, "start_time"].to_numpy(dtype=np.int64))
        for q in reqs.itertuples():
            stamp = q.arrival_time - int(q.frontend_delay_ns)
            for b in starts[(starts > stamp) & (starts < q.arrival_time)]:
                rows.append((1, (b - stamp) / 1e6, q.prompt_tokens / 1e3))
            rows.append((0, q.frontend_delay_ns / 1e6, q.prompt_tokens / 1e3))
    obs = pd.DataFrame(rows, columns=["missed", "x_ms", "prompt_k"])
    assert model["observations"] == len(obs) and model["missed"] == int(obs["missed"].sum())
    b = sm.Logit(obs["missed"], sm.add_constant(obs[["x_ms", "prompt_k"]])).fit(disp=0, tol=1e-12).params
    s_ms = -1 / b["x_ms"]
    assert model["intercept_ns"] == pytest.approx(b["const"] * s_ms * 1e6, abs=2)
    assert model["per_prompt_token_ns"] == pytest.approx(b["prompt_k"] * s_ms * 1e3, rel=1e-5)
    assert model["scale_ns"] == pytest.approx(s_ms * 1e6, abs=2)


@functools.lru_cache(maxsize=None)
def fit_alone(run):
    """`vsched fit RUN --json`'s stdout, run once for the module (both pooled tests read it)"""
    return subprocess.run([*VSCHED, "fit", run, "--json"], check=True, capture_output=True, text=True, timeout=300).stdout


def pooled_fit(tmp_path, first, other, weigh):
    """vsched fit FIRST --with OTHER --weigh WEIGH, with its exported rows and each row's run:
    the export lists the first run's steps, then the other's (its step count from a fit of it alone)."""
    out = tmp_path / f"pool-{weigh}"
    runs = [str(ROOT / "fixtures" / n / "vsched-1-dp0.jsonl") for n in (first, other)]
    r = subprocess.run([*VSCHED, "fit", runs[0], "--with", runs[1], "--weigh", weigh, "--json", "--export", str(out)],
                       check=True, capture_output=True, text=True, timeout=600)
    alone = json.loads(fit_alone(runs[0]))
    beta = pd.read_csv(out / "beta_training.csv")
    beta["run"] = np.where(np.arange(len(beta)) < alone["filters"]["steps"], 0, 1)
    return json.loads(r.stdout), beta


def run_weights(rows):
    """each run's kept steps weigh N / (R n_run): every run counts alike, mean weight 1"""
    n = rows["run"].map(rows["run"].value_counts())
    return (len(rows) / (rows["run"].nunique() * n)).to_numpy(dtype=float)


POOL = ("kv-pressure-preempt", "azure-conv-chunked")


def test_pooled_fit_weighing_runs_matches_statsmodels_wls_and_numpy(tmp_path):
    fit, beta = pooled_fit(tmp_path, *POOL, "runs")
    assert fit["beta"]["weigh"] == "runs"
    kept = beta[beta["excluded"].isna()].sort_values("start_time", kind="stable")
    counts = kept["run"].value_counts()
    assert len(counts) == 2 and counts.max() > 1.5 * counts.min()  # unequal runs: the weights matter
    y, w = kept["step_time_ns"].to_numpy(dtype=float), run_weights(kept)
    checked = {"ols": 0, "ridge": 0, "huber": 0}
    for m in fit["beta"]["models"]:
        terms = [t for t in m["exported_terms"] if not t["dropped"]]
        X = design(kept, terms)
        got = np.array([t["coef"] for t in terms])
        if m["estimator"] == "ols":
            res = sm.WLS(y, X, weights=w).fit(cov_type="HC3")
            np.testing.assert_allclose(got, res.params, rtol=1e-6, atol=1e-6 * np.abs(res.params).max(), err_msg=m["id"])
            # and not the unweighted fit: the check can tell the two apart
            assert not np.allclose(got, sm.OLS(y, X).fit().params, rtol=1e-3), m["id"]
        elif m["estimator"] == "ridge":
            sw = np.sqrt(w)
            cols = [j for j in range(X.shape[1]) if j != 0]
            mu = (w[:, None] * X[:, cols]).sum(0) / w.sum()
            sd = np.sqrt((w[:, None] * (X[:, cols] - mu) ** 2).sum(0) / w.sum())
            sd[sd == 0] = 1
            Zs, ym = (X[:, cols] - mu) / sd, (w * y).sum() / w.sum()
            lam = m["ridge_lambda"] * len(kept) / fit["split"]["train_steps"]
            sol = np.linalg.solve((Zs * sw[:, None]).T @ (Zs * sw[:, None]) + lam * np.eye(len(cols)), (Zs * w[:, None]).T @ (y - ym))
            ref = np.zeros(X.shape[1])
            ref[cols] = sol / sd
            ref[0] = ym - (ref[cols] * mu).sum()
            np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max(), err_msg=m["id"])
        else:
            # Huber with prior weights: at its optimum Σ wᵢ ψ(rᵢ/s) xᵢ = 0, s = MAD(r)/0.6745 of
            # the residuals themselves (the estimating equation, independent of how it was solved)
            r = y - X @ got
            s = np.median(np.abs(r)) / 0.6744897501960817
            psi = np.clip(r / s, -1.345, 1.345)
            score = X.T @ (w * psi)
            scale = np.abs(X).T @ (w * np.abs(psi)) + 1e-12
            assert np.all(np.abs(score) / scale < 1e-6), (m["id"], score / scale)
        checked[m["estimator"]] += 1
    assert min(checked.values()) >= 6, checked


def test_pooled_fit_weighing_steps_is_plain_least_squares(tmp_path):
    fit, beta = pooled_fit(tmp_path, *POOL, "steps")
    assert fit["beta"]["weigh"] == "steps"
    kept = beta[beta["excluded"].isna()].sort_values("start_time", kind="stable")
    y = kept["step_time_ns"].to_numpy(dtype=float)
    for m in fit["beta"]["models"]:
        if m["estimator"] != "ols":
            continue
        terms = [t for t in m["exported_terms"] if not t["dropped"]]
        X = design(kept, terms)
        res = sm.OLS(y, X).fit()
        np.testing.assert_allclose([t["coef"] for t in terms], res.params, rtol=1e-6, atol=1e-6 * np.abs(res.params).max(), err_msg=m["id"])
