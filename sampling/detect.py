"""Quality alarms: risk-adjusted Bernoulli CUSUM and the "below target" rule.

**Risk-adjusted CUSUM** (Steiner, Cook, Farewell & Treasure 2000, "Monitoring surgical
performance using risk-adjusted cumulative sum charts", Biostatistics 1(4):441–452). Reviewed
items arrive in order; X_t = 1 when the reviewer judged the answer wrong; p0_t is the item's
baseline error rate (its stratum's, so items drawn with unequal inclusion probabilities need no
weights: each is compared with its own stratum's expectation). The chart tests H0: odds of an
error = p0/(1−p0) against H1: odds multiplied by ``odds_ratio`` R (default 2). The
log-likelihood-ratio weight is

    W_t = X_t · ln R − ln(1 − p0_t + R · p0_t),

S_0 = 0, S_t = max(0, S_{t−1} + W_t), and the chart alarms when S_t ≥ h.

Assumptions: reviews are independent Bernoulli given p0; p0 is known (estimated from a
baseline period large enough that its error is negligible); reviewer error is part of the
baseline rate. The threshold h is set by simulation (``calibrate_h``) for a chosen in-control
average run length (ARL0, default 500 reviews), so the false-alarm rate is measured, not
assumed.

**Below target**: a tier is below its accuracy target when its interval's *upper* bound is
below the target (the whole interval is under it), so a wide interval never raises an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CusumCalibration",
    "CusumResult",
    "below_target",
    "calibrate_h",
    "cusum",
    "cusum_weights",
    "run_lengths",
]

F64 = npt.NDArray[np.float64]


def cusum_weights(wrong: npt.ArrayLike, p0: npt.ArrayLike, odds_ratio: float = 2.0) -> F64:
    """Steiner et al. (2000) log-likelihood-ratio weights ``X·ln R − ln(1 − p0 + R·p0)``."""
    x = np.asarray(wrong, dtype=np.float64)
    p = np.asarray(p0, dtype=np.float64)
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("baseline error rates p0 must lie strictly between 0 and 1")
    if odds_ratio <= 0:
        raise ValueError("odds_ratio must be positive")
    weights: F64 = x * np.log(odds_ratio) - np.log1p((odds_ratio - 1.0) * p)
    return weights


@dataclass(frozen=True)
class CusumResult:
    """The chart path S_1..S_n, the weights, and the index of the first alarm (or None)."""

    statistic: F64
    weights: F64
    h: float | None
    first_alarm: int | None


def cusum(
    wrong: npt.ArrayLike,
    p0: npt.ArrayLike,
    *,
    odds_ratio: float = 2.0,
    h: float | None = None,
) -> CusumResult:
    """Run the risk-adjusted Bernoulli CUSUM over reviewed items in review order.

    ``wrong`` (bool/0-1) and ``p0`` (baseline error rate per item) have one entry per review.
    The path is not reset after an alarm; ``first_alarm`` is the 0-based index of the first
    review with S_t ≥ h.
    """
    w = cusum_weights(wrong, p0, odds_ratio)
    s = np.empty_like(w)
    acc = 0.0
    for i, wi in enumerate(w.tolist()):
        acc = max(0.0, acc + wi)
        s[i] = acc
    first: int | None = None
    if h is not None:
        hits = np.flatnonzero(s >= h)
        first = int(hits[0]) if len(hits) else None
    return CusumResult(statistic=s, weights=w, h=h, first_alarm=first)


def _running_max_paths(
    p0_pool: F64, odds_ratio: float, n_runs: int, length: int, rng: np.random.Generator
) -> F64:
    """(n_runs × length) running maxima of in-control CUSUM paths (p0 resampled from pool)."""
    s = np.zeros(n_runs)
    best = np.zeros(n_runs)
    out = np.empty((n_runs, length))
    log_r = np.log(odds_ratio)
    for t in range(length):
        p = p0_pool[rng.integers(0, len(p0_pool), n_runs)]
        x = rng.random(n_runs) < p
        s = np.maximum(0.0, s + x * log_r - np.log1p((odds_ratio - 1.0) * p))
        np.maximum(best, s, out=best)
        out[:, t] = best
    return out


def run_lengths(running_max: F64, h: float) -> npt.NDArray[np.int64]:
    """Run length (1-based review count at the first S_t ≥ h) per path; censored paths get
    the path length."""
    length = running_max.shape[1]
    crossed = running_max >= h
    first = np.argmax(crossed, axis=1) + 1
    first[~crossed[:, -1]] = length
    out: npt.NDArray[np.int64] = first.astype(np.int64)
    return out


@dataclass(frozen=True)
class CusumCalibration:
    """Threshold h and the in-control ARL measured for it on the calibration runs."""

    h: float
    arl: float
    target_arl: float
    odds_ratio: float
    n_runs: int
    censored_share: float


def calibrate_h(
    p0: npt.ArrayLike,
    target_arl: float = 500.0,
    *,
    odds_ratio: float = 2.0,
    n_runs: int = 2000,
    horizon: int | None = None,
    seed: int = 0,
) -> CusumCalibration:
    """Find h whose simulated in-control average run length is ``target_arl`` reviews.

    In-control paths draw each review's p0 with replacement from ``p0`` (the baseline rates of
    the items the tier will review, e.g. the past queue's strata) and X ~ Bernoulli(p0). The
    same paths serve every candidate h (common random numbers), so the simulated ARL is
    non-decreasing in h and bisection is exact on it. Paths are cut at ``horizon`` reviews
    (default 8 × target, censoring probability ≈ e^-8 for a geometric-like run length);
    censored runs count as ``horizon``, biasing the ARL slightly downwards (h slightly up:
    conservative). Monte Carlo standard error of the ARL ≈ ARL/√n_runs.
    """
    pool = np.asarray(p0, dtype=np.float64).ravel()
    if len(pool) == 0 or np.any((pool <= 0) | (pool >= 1)):
        raise ValueError("p0 must be non-empty with values strictly between 0 and 1")
    length = int(horizon if horizon is not None else 8 * target_arl)
    rng = np.random.default_rng(seed)
    paths = _running_max_paths(pool, odds_ratio, n_runs, length, rng)

    def arl(h: float) -> float:
        return float(run_lengths(paths, h).mean())

    lo, hi = 0.0, 1.0
    while arl(hi) < target_arl and hi < 1e3:
        lo, hi = hi, hi * 2
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if arl(mid) < target_arl:
            lo = mid
        else:
            hi = mid
    h = hi
    rl = run_lengths(paths, h)
    return CusumCalibration(
        h=h,
        arl=float(rl.mean()),
        target_arl=target_arl,
        odds_ratio=odds_ratio,
        n_runs=n_runs,
        censored_share=float(np.mean(paths[:, -1] < h)),
    )


def below_target(interval: tuple[float, float], target: float) -> bool:
    """True when the whole interval lies below ``target``: ``upper < target``.

    ``interval`` is (lower, upper) of an accuracy interval; a NaN upper bound (no data) is
    never below target.
    """
    _low, high = interval
    return bool(high < target)
