/**
 * Small dense least squares for vsched fit: n rows × p columns with p ≤ ~15, so a
 * Householder QR of the column-scaled design is exact enough and cheap. No npm
 * dependency; statsmodels and numpy check these numbers (test/python/test_fit_reference.py).
 *
 * Matrices are row-major Float64Arrays of n*p values.
 */

export interface Design {
  n: number;
  p: number;
  /** row-major n*p */
  x: Float64Array;
}

export interface OlsResult {
  coef: number[];
  /** columns kept (false: exactly collinear with earlier columns, coefficient fixed at 0) */
  kept: boolean[];
  /** HC3 standard errors (0 for dropped columns) */
  se: number[];
  residuals: Float64Array;
  dfResid: number;
}

/** Column scale (max |x|, 1 when the column is all zero), so QR works on comparable columns. */
function columnScales(d: Design): number[] {
  const s = new Array<number>(d.p).fill(0);
  for (let i = 0; i < d.n; i++) for (let j = 0; j < d.p; j++) s[j] = Math.max(s[j], Math.abs(d.x[i * d.p + j]));
  return s.map((v) => (v > 0 ? v : 1));
}

/**
 * Thin QR of the scaled columns by modified Gram–Schmidt with re-orthogonalisation, dropping a
 * column whose remaining norm is below `tol` of its own norm (exact collinearity, e.g.
 * decode_tokens = decode_reqs without speculative decoding).
 */
function thinQr(d: Design, scale: number[], tol = 1e-9): { q: Float64Array[]; r: number[][]; kept: boolean[] } {
  const q: Float64Array[] = [];
  const r: number[][] = [];
  const kept: boolean[] = [];
  for (let j = 0; j < d.p; j++) {
    const v = new Float64Array(d.n);
    for (let i = 0; i < d.n; i++) v[i] = d.x[i * d.p + j] / scale[j];
    const norm0 = Math.sqrt(dotArr(v, v));
    const rcol = new Array<number>(q.length).fill(0);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < q.length; k++) {
        const dot = dotArr(q[k], v);
        rcol[k] += dot;
        for (let i = 0; i < d.n; i++) v[i] -= dot * q[k][i];
      }
    }
    const norm = Math.sqrt(dotArr(v, v));
    if (norm0 === 0 || norm <= tol * norm0) {
      kept.push(false);
      continue;
    }
    for (let i = 0; i < d.n; i++) v[i] /= norm;
    q.push(v);
    r.push([...rcol, norm]);
    kept.push(true);
  }
  return { q, r, kept };
}

function dotArr(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Solves R c = b for upper-triangular R given column by column (r[k] holds column k's entries). */
function backSolve(r: number[][], b: number[]): number[] {
  const m = r.length;
  const c = new Array<number>(m).fill(0);
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < m; k++) s -= r[k][i] * c[k];
    c[i] = s / r[i][i];
  }
  return c;
}

/** R⁻¹ as columns (upper triangular). */
function invUpper(r: number[][]): number[][] {
  const m = r.length;
  const inv: number[][] = [];
  for (let j = 0; j < m; j++) {
    const e = new Array<number>(m).fill(0);
    e[j] = 1;
    inv.push(backSolve(r, e));
  }
  return inv; // inv[j] = R⁻¹ e_j = column j of R⁻¹
}

/** The QR solve shared by ols() and the IRLS rounds of huber(): coefficients in the scaled basis. */
function solveScaled(d: Design, y: Float64Array) {
  const scale = columnScales(d);
  const { q, r, kept } = thinQr(d, scale);
  const qty = q.map((col) => dotArr(col, y));
  const cScaled = q.length ? backSolve(r, qty) : [];
  return { q, r, kept, scale, qty, cScaled };
}

/**
 * ols()'s coefficients alone, by the same arithmetic (so bit-identical), without its fitted
 * values and HC3 errors: an IRLS round (huber(), fit/gpu-work.ts's imputation) needs only the
 * coefficients, and the HC3 pass was a third of a pooled fit's time.
 */
export function olsCoef(d: Design, y: Float64Array): number[] {
  const { kept, scale, cScaled } = solveScaled(d, y);
  const coef = new Array<number>(d.p).fill(0);
  let k = 0;
  for (let j = 0; j < d.p; j++) if (kept[j]) coef[j] = cScaled[k++] / scale[j];
  return coef;
}

/**
 * Ordinary least squares with HC3 (MacKinnon–White) standard errors, as statsmodels'
 * `OLS(y, X).fit(cov_type="HC3")`: cov = (X'X)⁻¹ X' diag(e²/(1-h)²) X (X'X)⁻¹.
 */
export function ols(d: Design, y: Float64Array): OlsResult {
  const { q, r, kept, scale, qty, cScaled } = solveScaled(d, y);
  const m = q.length;
  const fitted = new Float64Array(d.n);
  for (let k = 0; k < m; k++) for (let i = 0; i < d.n; i++) fitted[i] += q[k][i] * qty[k];
  const residuals = new Float64Array(d.n);
  for (let i = 0; i < d.n; i++) residuals[i] = y[i] - fitted[i];
  // HC3 in the scaled basis: X_s = Q R, (X_s'X_s)⁻¹ X_s' = R⁻¹ Q'; meat = Σ w_i q_i q_i' with w = e²/(1-h)².
  const rinv = invUpper(r);
  const meat = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < d.n; i++) {
    let h = 0;
    for (let k = 0; k < m; k++) h += q[k][i] * q[k][i];
    const w = (residuals[i] * residuals[i]) / Math.max(1 - h, 1e-12) ** 2;
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) meat[a][b] += w * q[a][i] * q[b][i];
  }
  // cov = R⁻¹ meat R⁻ᵀ; only the diagonal is needed
  const varScaled = new Array<number>(m).fill(0);
  for (let j = 0; j < m; j++) {
    // row j of R⁻¹: rinv[c][j] for columns c
    let s = 0;
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) s += rinv[a][j] * meat[a][b] * rinv[b][j];
    varScaled[j] = s;
  }
  const coef = new Array<number>(d.p).fill(0);
  const se = new Array<number>(d.p).fill(0);
  let k = 0;
  for (let j = 0; j < d.p; j++) {
    if (!kept[j]) continue;
    coef[j] = cScaled[k] / scale[j];
    se[j] = Math.sqrt(Math.max(varScaled[k], 0)) / scale[j];
    k++;
  }
  return { coef, kept, se, residuals, dfResid: d.n - m };
}

/**
 * Ridge regression in closed form on standardised columns, intercept (column `interceptCol`)
 * unpenalised: minimises ‖y - Xβ‖² + λ‖β_{-0}‖² over centred, unit-variance features, then maps
 * back to the raw scale. Same as numpy's solve((Zc'Zc + λI), Zc'yc).
 */
export function ridge(d: Design, y: Float64Array, lambda: number, interceptCol: number | null, w?: Float64Array): number[] {
  const cols = [...Array(d.p).keys()].filter((j) => j !== interceptCol);
  const n = d.n;
  // weighted (w: one per row, mean 1) or not: with every weight 1 each sum below is the plain one,
  // term for term, so the unweighted coefficients are unchanged to the bit
  const wv = w ?? new Float64Array(n).fill(1);
  let sw = 0;
  for (let i = 0; i < n; i++) sw += wv[i];
  const mean = cols.map((j) => wavg(d, j, wv, sw));
  const sd = cols.map((j, a) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += wv[i] * (d.x[i * d.p + j] - mean[a]) ** 2;
    const v = Math.sqrt(s / sw);
    return v > 0 ? v : 1;
  });
  let ym = 0;
  for (let i = 0; i < n; i++) ym += wv[i] * y[i];
  ym = interceptCol === null ? 0 : ym / sw;
  const m = cols.length;
  const a = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  const b = new Array<number>(m).fill(0);
  const z = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const wi = wv[i];
    for (let c = 0; c < m; c++) z[c] = interceptCol === null ? d.x[i * d.p + cols[c]] / sd[c] : (d.x[i * d.p + cols[c]] - mean[c]) / sd[c];
    for (let r = 0; r < m; r++) {
      b[r] += wi * z[r] * (y[i] - ym);
      for (let c = 0; c < m; c++) a[r][c] += wi * z[r] * z[c];
    }
  }
  for (let r = 0; r < m; r++) a[r][r] += lambda;
  const sol = solveSpd(a, b);
  const coef = new Array<number>(d.p).fill(0);
  let icpt = ym;
  cols.forEach((j, c) => {
    coef[j] = sol[c] / sd[c];
    if (interceptCol !== null) icpt -= coef[j] * mean[c];
  });
  if (interceptCol !== null) coef[interceptCol] = icpt;
  return coef;
}

function wavg(d: Design, j: number, w: Float64Array, sw: number): number {
  let s = 0;
  for (let i = 0; i < d.n; i++) s += w[i] * d.x[i * d.p + j];
  return d.n ? s / sw : 0;
}

/**
 * Rows scaled by √w: ordinary least squares on the result minimises Σ wᵢ eᵢ² (weighted least
 * squares), and its HC3 errors are the sandwich of the weighted fit.
 */
export function weightRows(d: Design, y: Float64Array, w: Float64Array): { d: Design; y: Float64Array } {
  const x = new Float64Array(d.x.length), ys = new Float64Array(d.n);
  for (let i = 0; i < d.n; i++) {
    const s = Math.sqrt(w[i]);
    ys[i] = y[i] * s;
    for (let j = 0; j < d.p; j++) x[i * d.p + j] = d.x[i * d.p + j] * s;
  }
  return { d: { n: d.n, p: d.p, x }, y: ys };
}

/** Gaussian elimination with partial pivoting (the ridge system is small and well posed for λ > 0). */
export function solveSpd(a: number[][], b: number[]): number[] {
  const m = b.length;
  const A = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    const d = A[c][c] || 1e-300;
    for (let r = 0; r < m; r++) {
      if (r === c) continue;
      const f = A[r][c] / d;
      if (f !== 0) for (let k = c; k <= m; k++) A[r][k] -= f * A[c][k];
    }
  }
  return A.map((row, i) => row[m] / (row[i] || 1e-300));
}

/** X β for every row. */
export function predict(d: Design, coef: readonly number[]): Float64Array {
  const out = new Float64Array(d.n);
  for (let i = 0; i < d.n; i++) {
    let s = 0;
    for (let j = 0; j < d.p; j++) s += d.x[i * d.p + j] * coef[j];
    out[i] = s;
  }
  return out;
}

// ---------------------------------------------------------------- Student t quantile

/** ln Γ(x), Lanczos (g=7, n=9). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised incomplete beta I_x(a, b) by Lentz's continued fraction (Numerical Recipes betacf). */
function incBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incBeta(1 - x, b, a);
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    f *= c * d;
    if (Math.abs(1 - c * d) < 1e-14) break;
  }
  return (front * (f - 1)) / a;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function tCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * incBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The t quantile (bisection on tCdf; |t| < 1e3 covers df ≥ 1 at 97.5%). */
export function tQuantile(p: number, df: number): number {
  let lo = -1e3, hi = 1e3;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ---------------------------------------------------------------- robust (Huber) regression

/**
 * Huber M-estimate by iteratively reweighted least squares, as statsmodels'
 * `RLM(y, X, M=HuberT(t=1.345)).fit()`: start from OLS; each round the scale is
 * median(|r|)/0.6745 and a row's weight is min(1, t·scale/|r|). Heavy-tailed step times (a
 * shared host's stalls) pull OLS towards the stalls; Huber follows the typical step.
 */
export function huber(d: Design, y: Float64Array, t = 1.345, maxIter = 100, prior?: Float64Array): number[] {
  // prior: a weight per row (a pooled fit weighing its runs equally) that multiplies Huber's own
  const start = prior ? weightRows(d, y, prior) : { d, y };
  let coef = olsCoef(start.d, start.y);
  // buffers reused across rounds (plain loops: Float64Array.from with a callback was most of a
  // pooled fit's time outside the QR)
  const r = new Float64Array(d.n), abs = new Float64Array(d.n);
  const xs = new Float64Array(d.x.length), ys = new Float64Array(d.n);
  for (let it = 0; it < maxIter; it++) {
    const fitted = predict(d, coef);
    for (let i = 0; i < d.n; i++) {
      r[i] = y[i] - fitted[i];
      abs[i] = Math.abs(r[i]);
    }
    abs.sort();
    const scale = (abs.length % 2 ? abs[(abs.length - 1) / 2] : (abs[abs.length / 2 - 1] + abs[abs.length / 2]) / 2) / 0.6744897501960817;
    if (!(scale > 0)) break;
    for (let i = 0; i < d.n; i++) {
      const z = Math.abs(r[i]) / scale;
      const own = z <= t ? 1 : t / z;
      const sw = Math.sqrt(prior ? prior[i] * own : own);
      ys[i] = y[i] * sw;
      for (let j = 0; j < d.p; j++) xs[i * d.p + j] = d.x[i * d.p + j] * sw;
    }
    const next = olsCoef({ n: d.n, p: d.p, x: xs }, ys);
    const change = next.reduce((m, c, j) => Math.max(m, Math.abs(c - coef[j]) / Math.max(Math.abs(c), 1e-12)), 0);
    coef = next;
    if (change < 1e-10) break;
  }
  return coef;
}
