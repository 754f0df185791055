"""Agreement between reviewers: Cohen's kappa for a pair, Krippendorff's alpha for many.

Reviews of overlap items (each scored by two or more reviewers) are reliability data. Verdicts
are categories ("correct" > "partial" > "incorrect" is an order), so alpha is offered at the
nominal level (any disagreement counts the same) and the ordinal level (correct vs incorrect is
a bigger disagreement than correct vs partial).

References:
* Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educ. Psychol. Meas.* 20.
* Fleiss, J. L., Cohen, J., Everitt, B. S. (1969). Large sample standard errors of kappa and
  weighted kappa. *Psychol. Bull.* 72(5), 323–327 (the non-null standard error used here).
* Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
  Communication, University of Pennsylvania (coincidence matrices, metrics, worked example).
* Krippendorff, K. (2019). *Content Analysis*, 4th ed., ch. 12.
* Hayes, A. F., Krippendorff, K. (2007). Answering the call for a standard reliability measure
  for coding data. *Commun. Methods Meas.* 1(1), 77–89 (bootstrapped alpha, q(α < α_min)).
* Zapf, A., Castell, S., Morawietz, L., Karch, A. (2016). Measuring inter-rater reliability
  for nominal data – which coefficients and confidence intervals are appropriate? *BMC Med.
  Res. Methodol.* 16:93 (bootstrap over units for alpha's interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from sampling.estimate import normal_quantile

__all__ = [
    "AlphaResult",
    "KappaResult",
    "Level",
    "cohen_kappa",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
]

Level = Literal["nominal", "ordinal", "interval"]
F64 = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- Cohen's kappa


@dataclass(frozen=True)
class KappaResult:
    """Cohen's kappa of two raters on the same n items, with a large-sample interval."""

    kappa: float
    se: float
    ci_low: float
    ci_high: float
    observed: float  # p_o, the share of items both raters put in the same category
    expected: float  # p_e, the share expected by chance from the raters' marginals
    n: int
    confidence: float


def cohen_kappa(
    a: Sequence[object] | npt.ArrayLike,
    b: Sequence[object] | npt.ArrayLike,
    *,
    categories: Sequence[object] | None = None,
    confidence: float = 0.95,
) -> KappaResult:
    """Cohen's (1960) unweighted kappa κ = (p_o − p_e)/(1 − p_e) for raters a and b.

    ``a[i]`` and ``b[i]`` are the two raters' categories for item i (any hashable labels).
    p_o = Σ_i p_ii, p_e = Σ_i p_i·p_·i from the k×k table of proportions p_ij.

    Standard error: the large-sample (non-null) formula of Fleiss, Cohen & Everitt (1969),
    Var(κ̂) = [A + B − C] / (n (1 − p_e)²) with
    A = Σ_i p_ii [1 − (p_i· + p_·i)(1 − κ)]²,
    B = (1 − κ)² Σ_{i≠j} p_ij (p_·i + p_j·)²,
    C = [κ − p_e (1 − κ)]²;
    the interval is κ̂ ± z·SE clipped to [−1, 1]. Assumes the n items are independent draws
    from one population (a simple random sample; overlap items are drawn at random within
    strata, so the interval describes agreement on overlap-like items, unweighted by traffic).
    Small n (under ~30 items) makes the normal interval unreliable. When p_e = 1 (both raters
    always used one and the same category) kappa is undefined: NaN is returned.
    """
    a_list = list(np.asarray(a, dtype=object).ravel())
    b_list = list(np.asarray(b, dtype=object).ravel())
    if len(a_list) != len(b_list):
        raise ValueError("a and b must rate the same items")
    n = len(a_list)
    if n == 0:
        raise ValueError("no items rated by both raters")
    seen = set(a_list) | set(b_list)
    labels = list(categories) if categories is not None else sorted(seen, key=str)
    index = {label: i for i, label in enumerate(labels)}
    unknown = seen - set(index)
    if unknown:
        raise ValueError(f"ratings outside the categories: {sorted(map(str, unknown))}")
    k = len(labels)
    table = np.zeros((k, k), dtype=float)
    for x, y in zip(a_list, b_list, strict=True):
        table[index[x], index[y]] += 1.0
    p = table / n
    rows = p.sum(axis=1)  # p_i·, rater a's marginals
    cols = p.sum(axis=0)  # p_·j, rater b's marginals
    p_o = float(np.trace(p))
    p_e = float(np.dot(rows, cols))
    z = normal_quantile(confidence)
    if p_e >= 1.0:
        nan = float("nan")
        return KappaResult(nan, nan, nan, nan, p_o, p_e, n, confidence)
    kappa = (p_o - p_e) / (1.0 - p_e)
    diag = np.diag(p)
    a_term = float(np.sum(diag * (1.0 - (rows + cols) * (1.0 - kappa)) ** 2))
    off = p.copy()
    np.fill_diagonal(off, 0.0)
    # (p_·i + p_j·)² for cell (i, j): column marginal of i plus row marginal of j.
    b_term = (1.0 - kappa) ** 2 * float(np.sum(off * (cols[:, None] + rows[None, :]) ** 2))
    c_term = (kappa - p_e * (1.0 - kappa)) ** 2
    variance = max(a_term + b_term - c_term, 0.0) / (n * (1.0 - p_e) ** 2)
    se = float(np.sqrt(variance))
    return KappaResult(
        kappa=float(kappa),
        se=se,
        ci_low=float(max(-1.0, kappa - z * se)),
        ci_high=float(min(1.0, kappa + z * se)),
        observed=p_o,
        expected=p_e,
        n=n,
        confidence=confidence,
    )


# --------------------------------------------------------------------------- Krippendorff's alpha


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha with a bootstrap interval over units."""

    alpha: float
    ci_low: float
    ci_high: float
    level: str
    units: int  # pairable units (two or more values)
    values: int  # pairable values n (the coincidence matrix's total)
    confidence: float
    n_boot: int
    seed: int
    #: P(α < α_min) over the bootstrap replicates, for α_min 0.667 and 0.800 (Hayes &
    #: Krippendorff 2007 report this "probability of failure to reach" a minimum).
    p_below: dict[float, float]


def _unit_counts(data: npt.ArrayLike, categories: Sequence[float] | None) -> tuple[F64, F64]:
    """Per pairable unit, the count of each category: (counts U×K, category values K)."""
    x = np.asarray(data, dtype=float)
    if x.ndim != 2:
        raise ValueError("data must be a units × raters matrix (NaN where a rater gave nothing)")
    present = ~np.isnan(x)
    values = np.unique(x[present]) if categories is None else np.asarray(categories, dtype=float)
    if categories is not None:
        extra = set(np.unique(x[present]).tolist()) - set(values.tolist())
        if extra:
            raise ValueError(f"values outside the categories: {sorted(extra)}")
    counts = np.zeros((x.shape[0], values.size), dtype=float)
    for k, v in enumerate(values.tolist()):
        counts[:, k] = np.sum(present & (x == v), axis=1)
    pairable = counts.sum(axis=1) >= 2
    return counts[pairable], values.astype(np.float64)


def _unit_coincidences(counts: F64) -> F64:
    """Each unit's contribution to the coincidence matrix, flattened: U × K².

    o_ck(u) = (n_uc·n_uk − [c = k]·n_uc) / (m_u − 1) (Krippendorff 2011, §C)."""
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    k = counts.shape[1]
    eye = np.eye(k)[None, :, :]
    o: F64 = (outer - eye * counts[:, :, None]) / (m - 1.0)[:, None, None]
    return o.reshape(counts.shape[0], k * k)


def _alpha_from_coincidences(o: F64, values: F64, level: Level) -> F64:
    """α = 1 − (n − 1)·Σ o_ck δ²_ck / Σ n_c n_k δ²_ck for each row of o (rows: K² matrices)."""
    k = values.size
    o = o.reshape(-1, k, k)
    nc = o.sum(axis=2)  # marginals n_c, per replicate
    n = nc.sum(axis=1)
    if level == "nominal":
        delta2 = np.broadcast_to(1.0 - np.eye(k), o.shape)
    elif level == "interval":
        delta2 = np.broadcast_to((values[:, None] - values[None, :]) ** 2, o.shape)
    elif level == "ordinal":
        # δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)², with categories in their order.
        cum = np.cumsum(nc, axis=1)
        lo = np.minimum.outer(np.arange(k), np.arange(k))
        hi = np.maximum.outer(np.arange(k), np.arange(k))
        before = np.concatenate([np.zeros((nc.shape[0], 1)), cum[:, :-1]], axis=1)
        span = cum[:, hi] - before[:, lo]
        delta2 = (span - (nc[:, :, None] + nc[:, None, :]) / 2.0) ** 2
    else:
        raise ValueError(f"unknown level {level!r}")
    observed = np.sum(o * delta2, axis=(1, 2))
    expected = np.sum(nc[:, :, None] * nc[:, None, :] * delta2, axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    out: F64 = np.where(expected > 0, alpha, np.nan).astype(np.float64)
    return out


def krippendorff_alpha(
    data: npt.ArrayLike,
    *,
    level: Level = "nominal",
    categories: Sequence[float] | None = None,
) -> float:
    """Krippendorff's alpha for reliability data with any number of raters and missing values.

    ``data`` is a units × raters matrix of numeric category codes, NaN where the rater did not
    rate the unit (Krippendorff prints it transposed: raters as rows). Units with fewer than
    two values are not pairable and are dropped. ``categories`` fixes the set and — for the
    ordinal level — the order of the codes (default: the sorted values present).

    α = 1 − D_o/D_e from the coincidence matrix o_ck with marginals n_c and total n:
    D_o = Σ o_ck δ²_ck / n, D_e = Σ n_c n_k δ²_ck / (n(n − 1)). Metrics δ²: nominal 1 for
    c ≠ k; ordinal (Σ_{g=c}^{k} n_g − (n_c + n_k)/2)²; interval (c − k)². Returns NaN when
    there is no variation at all (D_e = 0). Alpha assumes raters are interchangeable for the
    purpose of reliability (it measures agreement of the data, not of particular raters).
    """
    counts, values = _unit_counts(data, categories)
    if counts.shape[0] == 0:
        return float("nan")
    o = _unit_coincidences(counts).sum(axis=0, keepdims=True)
    return float(_alpha_from_coincidences(o, values, level)[0])


def krippendorff_alpha_interval(
    data: npt.ArrayLike,
    *,
    level: Level = "nominal",
    categories: Sequence[float] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> AlphaResult:
    """Krippendorff's alpha with a seeded percentile bootstrap interval.

    Bootstrapping alpha follows Hayes & Krippendorff (2007). Their KALPHA macro resamples the
    pairs of judgments; here whole *units* are resampled with replacement (each replicate
    draws the pairable units multinomially and sums their coincidence matrices), which keeps
    the judgments of one item together — the unit-level (cluster) bootstrap Zapf et al. (2016)
    found to keep nominal coverage for alpha. Assumes units are independent draws from the
    items to which the reliability should generalise. Replicates where alpha is undefined
    (no variation) are dropped. Also returns q = P(α* < α_min) for α_min = 0.667 and 0.8, the
    thresholds Krippendorff (2019 §12.4) gives for tentative and firm conclusions.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie in (0, 1)")
    if n_boot < 1:
        raise ValueError("n_boot must be ≥ 1")
    counts, values = _unit_counts(data, categories)
    units = counts.shape[0]
    nan = float("nan")
    if units == 0:
        return AlphaResult(nan, nan, nan, level, 0, 0, confidence, n_boot, seed, {})
    per_unit = _unit_coincidences(counts)
    total = per_unit.sum(axis=0, keepdims=True)
    alpha = float(_alpha_from_coincidences(total, values, level)[0])
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(units, np.full(units, 1.0 / units), size=n_boot).astype(float)
    boot = _alpha_from_coincidences(draws @ per_unit, values, level)
    boot = boot[~np.isnan(boot)]
    if boot.size == 0:
        lo = hi = nan
        p_below: dict[float, float] = {}
    else:
        tail = (1.0 - confidence) / 2.0
        lo, hi = (float(q) for q in np.quantile(boot, [tail, 1.0 - tail]))
        p_below = {m: float(np.mean(boot < m)) for m in (0.667, 0.8)}
    return AlphaResult(
        alpha=alpha,
        ci_low=lo,
        ci_high=hi,
        level=level,
        units=units,
        values=int(round(float(total.sum()))),
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        p_below=p_below,
    )
