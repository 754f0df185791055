"""Drift of a score distribution (e.g. router confidence) against its reference.

Three measures, per day and per tier in practice (the effect sizes users read):

- **PSI**, the population stability index, over the reference's deciles:
  ``PSI = Σ_b (p_b − q_b) · ln(p_b / q_b)`` with q_b the reference share and p_b the production
  share of bin b (Yurdakul 2018, "Statistical properties of population stability index").
  Bin edges are the reference's interior deciles (ties collapse duplicate edges, so a
  discrete reference can have fewer than 10 bins); the outer bins are open-ended so every
  production value lands in a bin. An empty bin would make the log infinite: shares are
  floored at ``eps`` (default 1e-4, i.e. 0.01 %) before the sum — this caps a single empty
  bin's contribution at about 0.1 × ln(0.1/1e-4) ≈ 0.69. Conventional materiality bands:
  < 0.10 stable, 0.10–0.25 warn, ≥ 0.25 alert.
- **KS**: two-sample Kolmogorov–Smirnov statistic and p-value (``scipy.stats.ks_2samp``).
- **Wasserstein-1** distance divided by the reference's standard deviation
  (``scipy.stats.wasserstein_distance``): "how many reference SDs the mass moved". Material
  from 0.1 (Evidently's default alert for large references).

**Why thresholds alone are not enough.** The PSI and W/σ of two samples of one distribution
are not 0: they shrink with the sample sizes. Under no drift, with B bins, n production and
m reference values, ``PSI / (1/n + 1/m)`` is approximately χ² with B − 1 degrees of freedom
(Yurdakul 2018, §3: PSI is a symmetrised Kullback–Leibler divergence, whose scaled value has
the χ² limit of Pearson's statistic), so its null mean is ``(B − 1)(1/n + 1/m)`` — 0.099 at
n = 100 and m = 1,000, exactly the "warn" band. A fixed 0.10 therefore warns on about half of
stable days at 100 answers. W/σ's null is of order ``sqrt(1/n + 1/m)`` likewise.

**The alarm rule** (`drift_decision`): a tier-day alarms only when its drift is both
*significant* and *material*:

- PSI alarm, level `psi_level(PSI)` (warn ≥ 0.10, alert ≥ 0.25), only if the p-value of the
  PSI's bins (`psi_pvalue`: Pearson's χ² test of the same 2 × B counts, the statistic the
  PSI approximates) is below ``α'``;
- Wasserstein alarm (alert) when W/σ ≥ 0.1, only if the KS p-value is below ``α'`` (KS tests
  the same "same distribution" null and has a known null distribution; Massey 1951).

``α' = α / (2k)`` (Bonferroni, Dunn 1961) with ``α = DRIFT_ALPHA = 0.01`` and k the number of
tiers of the source tested that day: two tests per tier, so the chance that a stable
source-day raises any drift alarm is at most 1 %, whatever the number of tiers.

Assumptions: both samples are i.i.d. draws of a continuous-ish score (with heavy ties the bins
collapse, B counts the bins actually used, and KS is conservative); days are independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "PSI_ALERT",
    "PSI_WARN",
    "WASSERSTEIN_ALERT",
    "DRIFT_ALPHA",
    "DriftDecision",
    "DriftResult",
    "PsiBins",
    "drift",
    "drift_decision",
    "psi",
    "psi_bins",
    "psi_from_counts",
    "psi_level",
    "psi_pvalue",
]

Level = Literal["ok", "warn", "alert"]

PSI_WARN = 0.10
PSI_ALERT = 0.25
WASSERSTEIN_ALERT = 0.1
PSI_EPS = 1e-4
# Family-wise false-alarm probability of one source-day (all its tiers, both tests).
DRIFT_ALPHA = 0.01
_ORDER: dict[Level, int] = {"ok": 0, "warn": 1, "alert": 2}


def _clean(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


@dataclass(frozen=True)
class PsiBins:
    """The PSI's bins: ``edges`` the reference's interior quantiles (duplicates collapsed),
    ``reference`` and ``production`` the counts per bin (``len(edges) + 1`` bins, the outer
    ones open-ended). Counts, not shares, so bins of several samples can be added up."""

    edges: tuple[float, ...]
    reference: tuple[int, ...]
    production: tuple[int, ...]


def psi_bins(reference: npt.ArrayLike, production: npt.ArrayLike, bins: int = 10) -> PsiBins:
    """Counts of ``reference`` and ``production`` in ``bins`` quantile bins of the reference.

    A value equal to an edge goes to the bin above it (``side="right"``), for both samples.
    NaNs are dropped.
    """
    ref, prod = _clean(reference), _clean(production)
    if len(ref) == 0 or len(prod) == 0:
        raise ValueError("psi needs non-empty reference and production samples")
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    q = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    p = np.bincount(np.searchsorted(edges, prod, side="right"), minlength=len(edges) + 1)
    return PsiBins(
        edges=tuple(float(e) for e in edges),
        reference=tuple(int(c) for c in q),
        production=tuple(int(c) for c in p),
    )


def psi_from_counts(
    reference_counts: npt.ArrayLike, production_counts: npt.ArrayLike, eps: float = PSI_EPS
) -> float:
    """``Σ_b (p_b − q_b) · ln(p_b / q_b)`` from counts per bin, shares floored at ``eps``."""
    q = np.asarray(reference_counts, dtype=np.float64)
    p = np.asarray(production_counts, dtype=np.float64)
    if q.shape != p.shape or q.ndim != 1:
        raise ValueError("reference and production counts must be two vectors of one length")
    if q.sum() <= 0 or p.sum() <= 0:
        raise ValueError("psi needs non-empty reference and production samples")
    q_share = np.maximum(q / q.sum(), eps)
    p_share = np.maximum(p / p.sum(), eps)
    return float(np.sum((p_share - q_share) * np.log(p_share / q_share)))


def psi(
    reference: npt.ArrayLike, production: npt.ArrayLike, bins: int = 10, eps: float = PSI_EPS
) -> float:
    """Population stability index of ``production`` against ``reference``'s quantile bins.

    ``bins`` quantile bins of the reference (deciles by default); shares floored at ``eps``.
    Zero for identical samples. NaNs are dropped. See the module docstring.
    """
    counts = psi_bins(reference, production, bins=bins)
    return psi_from_counts(counts.reference, counts.production, eps=eps)


def psi_level(value: float) -> Level:
    """The PSI's materiality band: "ok" below 0.10, "warn" from 0.10, "alert" from 0.25 (an
    alarm also needs significance: `drift_decision`)."""
    if value >= PSI_ALERT:
        return "alert"
    if value >= PSI_WARN:
        return "warn"
    return "ok"


def psi_pvalue(reference_counts: npt.ArrayLike, production_counts: npt.ArrayLike) -> float:
    """P-value of "no drift" from the PSI's bin counts: Pearson's χ² test of homogeneity of
    the 2 × B table (reference and production counts per bin), ``X² = Σ (O − E)² / E`` with
    ``E`` = row total × column total / grand total, referred to χ² with B − 1 degrees of
    freedom, B the bins holding at least one value (Pearson 1900; e.g. Agresti 2013, §3.2).

    Yurdakul (2018) shows ``PSI ≈ (1/n + 1/m) · X²`` under no drift, hence the χ²_{B−1} null
    of the PSI; the χ² tail of the PSI itself (a symmetrised Kullback–Leibler divergence) is
    too light at 100 answers a day (measured: 0.8–1.8 % below a nominal 0.5 %), while X² on
    the same bins holds its level (benchmarks/drift.py), so the test uses X². 1.0 with fewer
    than two occupied bins (nothing to test)."""
    q = np.asarray(reference_counts, dtype=np.float64)
    p = np.asarray(production_counts, dtype=np.float64)
    if q.shape != p.shape or q.ndim != 1:
        raise ValueError("reference and production counts must be two vectors of one length")
    if q.sum() <= 0 or p.sum() <= 0:
        raise ValueError("psi_pvalue needs non-empty reference and production samples")
    used = (q + p) > 0
    if int(used.sum()) < 2:
        return 1.0
    table = np.vstack([q[used], p[used]])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return float(stats.chi2.sf(statistic, int(used.sum()) - 1))


@dataclass(frozen=True)
class DriftDecision:
    """What one tier-day raises under the rule of the module docstring.

    ``alpha_per_test`` is ``alpha / (2 · tiers)``; ``psi_significant`` / ``ks_significant``
    say whether each p-value is below it; ``psi_level`` and ``wasserstein_level`` are the
    levels of the two alarms ("ok" = none)."""

    psi_level: Level
    wasserstein_level: Level
    level: Level
    psi_pvalue: float
    ks_pvalue: float
    psi_significant: bool
    ks_significant: bool
    alpha_per_test: float


def drift_decision(
    *,
    psi: float,
    psi_pvalue: float,
    wasserstein_norm: float,
    ks_pvalue: float,
    tiers: int = 1,
    alpha: float = DRIFT_ALPHA,
    wasserstein_alert: float = WASSERSTEIN_ALERT,
) -> DriftDecision:
    """Alarm levels of one tier-day: significant (p < α / (2·tiers)) AND material (PSI band,
    W/σ ≥ ``wasserstein_alert``). ``tiers`` is the number of the source's tiers tested that
    day (the Bonferroni family); see the module docstring."""
    if tiers < 1:
        raise ValueError(f"tiers must be at least 1, got {tiers}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    per_test = alpha / (2 * tiers)
    p_psi = psi_pvalue
    psi_sig = p_psi < per_test
    ks_sig = ks_pvalue < per_test
    p_level: Level = psi_level(psi) if psi_sig else "ok"
    w_level: Level = "alert" if ks_sig and wasserstein_norm >= wasserstein_alert else "ok"
    return DriftDecision(
        psi_level=p_level,
        wasserstein_level=w_level,
        level=max(p_level, w_level, key=_ORDER.__getitem__),
        psi_pvalue=p_psi,
        ks_pvalue=ks_pvalue,
        psi_significant=psi_sig,
        ks_significant=ks_sig,
        alpha_per_test=per_test,
    )


@dataclass(frozen=True)
class DriftResult:
    """Drift measures of one production sample against its reference.

    ``psi_level``, ``wasserstein_level`` and ``level`` are `drift_decision`'s (significant
    AND material, with ``tiers`` tiers in the day's family); ``psi_pvalue`` the PSI's χ²
    p-value. ``bins`` are the PSI's bin counts.
    """

    psi: float
    psi_pvalue: float
    psi_level: Level
    ks_statistic: float
    ks_pvalue: float
    wasserstein: float
    wasserstein_norm: float
    wasserstein_level: Level
    level: Level
    n_reference: int
    n_production: int
    bins: PsiBins


def drift(
    reference: npt.ArrayLike,
    production: npt.ArrayLike,
    *,
    bins: int = 10,
    eps: float = PSI_EPS,
    wasserstein_alert: float = WASSERSTEIN_ALERT,
    tiers: int = 1,
    alpha: float = DRIFT_ALPHA,
) -> DriftResult:
    """PSI, KS and normalised Wasserstein of ``production`` against ``reference``, and the
    alarm levels `drift_decision` gives them (``tiers``: the day's Bonferroni family).

    If the reference has zero standard deviation, the normalised Wasserstein distance is 0
    when the distance is 0 and infinite otherwise.
    """
    ref, prod = _clean(reference), _clean(production)
    counts = psi_bins(ref, prod, bins=bins)
    value = psi_from_counts(counts.reference, counts.production, eps=eps)
    ks = stats.ks_2samp(ref, prod)
    w = float(stats.wasserstein_distance(ref, prod))
    sd = float(np.std(ref))
    w_norm = w / sd if sd > 0 else (0.0 if w == 0 else float("inf"))
    decision = drift_decision(
        psi=value,
        psi_pvalue=psi_pvalue(counts.reference, counts.production),
        wasserstein_norm=w_norm,
        ks_pvalue=float(ks.pvalue),
        tiers=tiers,
        alpha=alpha,
        wasserstein_alert=wasserstein_alert,
    )
    return DriftResult(
        psi=value,
        psi_pvalue=decision.psi_pvalue,
        psi_level=decision.psi_level,
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        wasserstein=w,
        wasserstein_norm=w_norm,
        wasserstein_level=decision.wasserstein_level,
        level=decision.level,
        n_reference=len(ref),
        n_production=len(prod),
        bins=counts,
    )
