"""Drift of a score distribution (e.g. router confidence) against its reference.

Three measures, per day and per tier in practice:

- **PSI**, the population stability index, over the reference's deciles:
  ``PSI = Σ_b (p_b − q_b) · ln(p_b / q_b)`` with q_b the reference share and p_b the production
  share of bin b (Yurdakul 2018, "Statistical properties of population stability index").
  Bin edges are the reference's interior deciles (ties collapse duplicate edges, so a
  discrete reference can have fewer than 10 bins); the outer bins are open-ended so every
  production value lands in a bin. An empty bin would make the log infinite: shares are
  floored at ``eps`` (default 1e-4, i.e. 0.01 %) before the sum — this caps a single empty
  bin's contribution at about 0.1 × ln(0.1/1e-4) ≈ 0.69. Conventional levels: < 0.10 stable,
  0.10–0.25 warn, ≥ 0.25 alert.
- **KS**: two-sample Kolmogorov–Smirnov statistic and p-value (``scipy.stats.ks_2samp``).
  Shown, never alarmed on: at tens of thousands of answers a day it flags trivial shifts.
- **Wasserstein-1** distance divided by the reference's standard deviation
  (``scipy.stats.wasserstein_distance``): "how many reference SDs the mass moved". Alert at
  ≥ 0.1, Evidently's default for large references.

Assumptions: both samples are i.i.d. draws of a continuous-ish score; the reference is large
enough that its deciles are stable (a few thousand points).
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
    "DriftResult",
    "PsiBins",
    "drift",
    "psi",
    "psi_bins",
    "psi_from_counts",
    "psi_level",
]

Level = Literal["ok", "warn", "alert"]

PSI_WARN = 0.10
PSI_ALERT = 0.25
WASSERSTEIN_ALERT = 0.1
PSI_EPS = 1e-4
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
    """ "ok" below 0.10, "warn" from 0.10, "alert" from 0.25."""
    if value >= PSI_ALERT:
        return "alert"
    if value >= PSI_WARN:
        return "warn"
    return "ok"


@dataclass(frozen=True)
class DriftResult:
    """Drift measures of one production sample against its reference.

    ``level`` is the worse of the PSI level and the Wasserstein level (alert at
    ``wasserstein_norm ≥ 0.1``); KS does not contribute. ``bins`` are the PSI's bin counts.
    """

    psi: float
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
) -> DriftResult:
    """PSI, KS and normalised Wasserstein of ``production`` against ``reference``.

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
    w_level: Level = "alert" if w_norm >= wasserstein_alert else "ok"
    p_level = psi_level(value)
    level = max(p_level, w_level, key=_ORDER.__getitem__)
    return DriftResult(
        psi=value,
        psi_level=p_level,
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        wasserstein=w,
        wasserstein_norm=w_norm,
        wasserstein_level=w_level,
        level=level,
        n_reference=len(ref),
        n_production=len(prod),
        bins=counts,
    )
