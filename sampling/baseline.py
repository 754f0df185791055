"""Baseline error rates for the risk-adjusted CUSUM (``sampling.detect.cusum``).

The chart compares each reviewed item with its own stratum's expected error rate p0, so items
drawn with unequal inclusion probabilities need no weights. p0 comes from a baseline period
(e.g. a plan's first 14 days of reviews). A stratum seen rarely in the baseline has a noisy
rate, and an unseen one has none; both are shrunk towards their tier's rate:

    tier rate      p_t = (x_t + 1) / (n_t + 2)                    (Beta(1, 1) prior: 0.5 if empty)
    stratum rate   p_h = (x_h + m · p_t) / (n_h + m)              (m pseudo-reviews at p_t)

i.e. the posterior mean of a Beta(m·p_t, m·(1 − p_t)) prior centred on the tier's rate (an
empirical-Bayes partial pooling, Gelman et al. 2013, *Bayesian Data Analysis*, §5.3), with
``strength`` m = 2 by default: a stratum with 20 baseline reviews is ~90 % its own rate.

Rates are clipped to [floor, 1 − floor] (default 0.005) because the CUSUM's log-likelihood
weights need 0 < p0 < 1: a stratum with no baseline error would otherwise make any later
error infinitely surprising.

Assumptions: the baseline period is in control (no drift yet); an item's outcome is wrong (1)
or not (0) — callers decide how partial credit maps to that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BaselineRates", "baseline_rates"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BaselineRates:
    """Per stratum: p0, baseline reviews and errors; per tier: pooled rate, reviews, errors."""

    stratum_rate: F64
    stratum_n: I64
    stratum_wrong: I64
    tier_rate: F64
    tier_n: I64
    tier_wrong: I64


def baseline_rates(
    wrong: npt.ArrayLike,
    item_stratum: npt.ArrayLike,
    stratum_tier: npt.ArrayLike,
    *,
    n_tiers: int | None = None,
    strength: float = 2.0,
    floor: float = 0.005,
) -> BaselineRates:
    """Shrunken baseline error rate of every stratum (see the module docstring).

    ``wrong``: 0/1 per baseline item; ``item_stratum``: each item's stratum index;
    ``stratum_tier``: each stratum's tier index (its length is the number of strata, which may
    include strata with no baseline item: they get their tier's rate).
    """
    x = np.asarray(wrong, dtype=np.float64).ravel()
    s = np.asarray(item_stratum, dtype=np.int64).ravel()
    tiers = np.asarray(stratum_tier, dtype=np.int64).ravel()
    if len(x) != len(s):
        raise ValueError("wrong and item_stratum must have one entry per item")
    if np.any((x != 0) & (x != 1)):
        raise ValueError("wrong must be 0 or 1")
    if strength < 0 or not 0 < floor < 0.5:
        raise ValueError("strength must be >= 0 and floor in (0, 0.5)")
    n_strata = len(tiers)
    n_t = int(n_tiers if n_tiers is not None else (tiers.max() + 1 if n_strata else 0))
    s_n = np.bincount(s, minlength=n_strata).astype(np.int64)
    s_x = np.bincount(s, weights=x, minlength=n_strata)
    t_n = np.bincount(tiers, weights=s_n, minlength=n_t)
    t_x = np.bincount(tiers, weights=s_x, minlength=n_t)
    t_rate = (t_x + 1.0) / (t_n + 2.0)
    prior = t_rate[tiers] if n_strata else np.zeros(0)
    denominator = s_n + strength
    rate = np.where(
        denominator > 0, (s_x + strength * prior) / np.maximum(denominator, 1e-300), prior
    )
    return BaselineRates(
        stratum_rate=np.clip(rate, floor, 1.0 - floor),
        stratum_n=s_n,
        stratum_wrong=s_x.astype(np.int64),
        tier_rate=np.clip(t_rate, floor, 1.0 - floor),
        tier_n=t_n.astype(np.int64),
        tier_wrong=t_x.astype(np.int64),
    )
