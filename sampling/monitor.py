"""Quality monitoring of a plan: which CUSUM charts it runs, and one calibration for all of them.

**Charts on the long-tail bands.** One risk-adjusted CUSUM per tier dilutes a failing band
(e.g. the cheap tier's uncertain answers, where hidden intents land) with the tier's in-control
bulk: the excess errors are spread over many more reviews. :func:`chart_groups` gives a plan
one chart per tier × uncertainty band when the plan stratifies by uncertainty (else one per
tier); every other dimension (OOD band, segment, day) stays inside the chart, where the
risk adjustment (each review against its own stratum's p0, ``sampling.detect.cusum``) handles
it.

**Calibrated for the plan, not the chart** (:func:`calibrate_plan`). The promise a QA lead
reads is about the PLAN: "at most ``max_alarms`` false quality alarm per quarter (``days`` = 91
days) in ``share`` (95 %) of stable quarters". Calibrating each chart to that target separately
lets the plan's charts add up (k charts → ~k times the alarms). Here every chart's in-control
quarter is simulated, and the thresholds are set together:

* In-control quarter of chart c: ``days × reviews_per_day_c`` reviews, each from stratum s with
  probability ``share_s`` (the chart's baseline mix), X ~ Bernoulli(p_s), weights computed with
  the chart's estimate p̂0_s (``sampling.detect.cusum_weights``), the chart restarting after
  each alarm (``cusum(restart=True)``).
* **The uncertainty of p0 is built in**: p̂0_s is estimated from the baseline's few hundred
  reviews, so the true in-control rate differs from it. In each simulated quarter p_s is drawn
  from its posterior given the baseline counts, Beta(x_s + m·p_t, n_s − x_s + m·(1 − p_t)) —
  the same Beta(m·p_t, m·(1 − p_t)) prior whose posterior mean is p̂0
  (``sampling.baseline``) — i.e. the posterior predictive false-alarm distribution (Gelman et
  al. 2013, *Bayesian Data Analysis*, §6.3). Treating p̂0 as known roughly doubles the false
  alarms (issue 9).
* Per simulated quarter k and chart c, ``sampling.detect.alarm_free_thresholds`` gives
  h*_{c,k,j}, the smallest h with at most j alarms (j = 0..max_alarms). The chart's count at h
  exceeds j iff h < h*_{c,k,j}, so the plan's count (truncated at max_alarms + 1) for any
  thresholds is exact without re-running the charts.
* Thresholds: every chart gets the same probability α of a first false alarm in a quarter,
  h_c(α) = the (1 − α) quantile of h*_{c,·,0} (an equal split of the plan's budget, as a
  Bonferroni split would, but measured jointly rather than bounded), and α is the largest value
  (found by bisection; the share is monotone in α) with the plan's count ≤ max_alarms in at
  least ``share`` of the simulated quarters.

Charts are simulated independently (given the baseline, different strata's reviews are
independent); the quarter length uses the baseline's reviews per day of each chart.
Monte Carlo error of the achieved share ≈ √(share·(1 − share)/n_runs) (0.7 points at 1,000).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .baseline import BaselineRates, baseline_rates
from .detect import CusumResult, alarm_free_thresholds, cusum, cusum_weights

__all__ = [
    "QUARTER_DAYS",
    "ChartBaseline",
    "ChartGroups",
    "ChartRun",
    "PlanAlarms",
    "PlanCalibration",
    "calibrate_plan",
    "chart_baselines",
    "chart_groups",
    "plan_alarms",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

QUARTER_DAYS = 91


@dataclass(frozen=True)
class ChartGroups:
    """``stratum_chart[s]``: the chart of stratum s; ``names[c]``: "tier" or "tier|band";
    ``chart_tier[c]``: the tier of chart c."""

    stratum_chart: I64
    names: list[str]
    chart_tier: list[str]


def chart_groups(tiers: Sequence[str], bands: Sequence[str] | None = None) -> ChartGroups:
    """One chart per tier × uncertainty band (``bands`` given), else one per tier.

    ``tiers[s]`` and ``bands[s]`` label stratum s; charts are sorted by name."""
    if bands is not None and len(bands) != len(tiers):
        raise ValueError("tiers and bands must have one entry per stratum")
    keys = [(str(t), str(bands[i]) if bands is not None else "") for i, t in enumerate(tiers)]
    names = sorted(set(keys))
    index = {k: i for i, k in enumerate(names)}
    return ChartGroups(
        stratum_chart=np.array([index[k] for k in keys], dtype=np.int64),
        names=[f"{t}|{b}" if b else t for t, b in names],
        chart_tier=[t for t, _ in names],
    )


@dataclass(frozen=True)
class ChartBaseline:
    """What the calibration needs of one chart, per stratum of the chart with baseline
    reviews: the chart's p̂0, the posterior Beta(a, b) of the true rate, the share of the
    chart's reviews; and the chart's baseline reviews per day."""

    name: str
    p0: F64
    posterior_a: F64
    posterior_b: F64
    mix: F64
    reviews_per_day: float


def chart_baselines(
    *,
    stratum_p0: npt.ArrayLike,
    stratum_n: npt.ArrayLike,
    stratum_wrong: npt.ArrayLike,
    stratum_prior_rate: npt.ArrayLike,
    groups: ChartGroups,
    baseline_days: int,
    strength: float = 2.0,
) -> list[ChartBaseline]:
    """Per chart of ``groups``: the strata with baseline reviews, their p̂0
    (``sampling.baseline.baseline_rates(...).stratum_rate``), posterior (prior
    Beta(m·p_t, m·(1 − p_t)) with m = ``strength`` and p_t = ``stratum_prior_rate``, the
    stratum's tier rate) and share of the chart's baseline reviews. A chart without baseline
    reviews is left out (its p0 would be a guess)."""
    if baseline_days <= 0:
        raise ValueError("baseline_days must be positive")
    p0 = np.asarray(stratum_p0, dtype=np.float64)
    n = np.asarray(stratum_n, dtype=np.float64)
    x = np.asarray(stratum_wrong, dtype=np.float64)
    prior = np.asarray(stratum_prior_rate, dtype=np.float64)
    if not len(p0) == len(n) == len(x) == len(prior) == len(groups.stratum_chart):
        raise ValueError("one entry per stratum in every array")
    if np.any(x > n) or np.any(x < 0):
        raise ValueError("stratum_wrong must lie in [0, stratum_n]")
    out = []
    for c, name in enumerate(groups.names):
        members = (groups.stratum_chart == c) & (n > 0)
        total = float(n[members].sum())
        if total == 0:
            continue
        out.append(
            ChartBaseline(
                name=name,
                p0=p0[members],
                posterior_a=x[members] + strength * prior[members],
                posterior_b=n[members] - x[members] + strength * (1.0 - prior[members]),
                mix=n[members] / total,
                reviews_per_day=total / baseline_days,
            )
        )
    return out


@dataclass(frozen=True)
class PlanCalibration:
    """Thresholds per chart (same order as the charts given) and what the calibration runs
    measured with them: the share of quarters with ≤ max_alarms plan alarms, the mean plan
    alarms per quarter (truncated at max_alarms + 1), the per-chart first-alarm probability α."""

    h: F64
    names: list[str]
    alpha: float
    share: float
    target_share: float
    max_alarms: int
    days: int
    mean_alarms: float
    n_runs: int
    p0_uncertainty: bool

    def promise(self) -> str:
        """The promise in days and quarters, as users read it."""
        n = self.max_alarms
        return (
            f"at most {n} false quality alarm{'s' if n != 1 else ''} per plan per quarter "
            f"({self.days} days) in {self.target_share:.0%} of stable quarters"
        )


def _in_control_quarter(
    chart: ChartBaseline,
    length: int,
    runs: int,
    odds_ratio: float,
    p0_uncertainty: bool,
    rng: np.random.Generator,
) -> F64:
    """(runs × length) CUSUM weights of in-control quarters of one chart."""
    cumulative = np.cumsum(chart.mix)
    stratum = np.minimum(
        np.searchsorted(cumulative / cumulative[-1], rng.random((runs, length)), side="right"),
        len(chart.mix) - 1,
    )
    if p0_uncertainty:
        true_rate = rng.beta(chart.posterior_a, chart.posterior_b, size=(runs, len(chart.mix)))
        p = np.take_along_axis(true_rate, stratum, axis=1)
    else:
        p = chart.p0[stratum]
    wrong = rng.random((runs, length)) < p
    return cusum_weights(wrong, chart.p0[stratum], odds_ratio)


def calibrate_plan(
    charts: Sequence[ChartBaseline],
    *,
    days: int = QUARTER_DAYS,
    max_alarms: int = 1,
    share: float = 0.95,
    odds_ratio: float = 2.0,
    n_runs: int = 1000,
    p0_uncertainty: bool = True,
    seed: int = 0,
    tol: float = 0.01,
    max_bytes: int = 512 * 2**20,
) -> PlanCalibration:
    """Thresholds for all ``charts`` of a plan together (see the module docstring).

    Memory: quarters are simulated in chunks of runs of at most ``max_bytes`` / 3 of weights
    (a plan of four charts at 200 reviews a day and 500 runs is one chunk of ~150 MB); fewer
    chunks mean fewer passes of the per-review loop, the cost of the calibration."""
    if not charts:
        raise ValueError("a plan needs at least one chart to calibrate")
    if not 0.0 < share < 1.0:
        raise ValueError("share must lie in (0, 1)")
    if max_alarms < 0 or days <= 0 or n_runs <= 0:
        raise ValueError("max_alarms must be ≥ 0, days and n_runs positive")
    rng = np.random.default_rng(seed)
    # h_star[c][j, k]: smallest h with ≤ j alarms of chart c in quarter k.
    # h_star[c][j, k]: smallest h with ≤ j alarms of chart c in quarter k. All charts run in
    # one array, each padded with zero weights to the longest quarter: a zero weight leaves S
    # where it is (below h, or it would have restarted), so padding changes no count.
    lengths = [max(1, int(round(days * chart.reviews_per_day))) for chart in charts]
    longest = max(lengths)
    chunk = max(1, int(max_bytes // (8 * longest * len(charts) * 3)))
    h_star = [np.empty((max_alarms + 1, n_runs)) for _ in charts]
    for start in range(0, n_runs, chunk):
        k = min(chunk, n_runs - start)
        w = np.zeros((len(charts) * k, longest))
        for c, (chart, length) in enumerate(zip(charts, lengths, strict=True)):
            w[c * k : (c + 1) * k, :length] = _in_control_quarter(
                chart, length, k, odds_ratio, p0_uncertainty, rng
            )
        for j in range(max_alarms + 1):
            found = alarm_free_thresholds(w, j, tol=tol)
            for c in range(len(charts)):
                h_star[c][j, start : start + k] = found[c * k : (c + 1) * k]
        del w

    def thresholds(alpha: float) -> F64:
        return np.array([np.quantile(hs[0], 1.0 - alpha, method="higher") for hs in h_star])

    def plan_counts(h: F64) -> I64:
        # count_c ≥ j + 1 iff h_c < h*_{c,j}; summed over j ≤ max_alarms: the truncated count.
        counts = np.zeros(n_runs, dtype=np.int64)
        for hc, hs in zip(h, h_star, strict=True):
            counts += (hc < hs).sum(axis=0)
        return counts

    def ok_share(alpha: float) -> float:
        return float(np.mean(plan_counts(thresholds(alpha)) <= max_alarms))

    lo, hi = 0.0, 1.0  # ok_share(lo) = 1 (h above every run's maximum); find the largest α
    if ok_share(hi) >= share:
        lo = hi
    else:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if ok_share(mid) >= share:
                lo = mid
            else:
                hi = mid
    h = thresholds(lo)
    counts = plan_counts(h)
    return PlanCalibration(
        h=h,
        names=[c.name for c in charts],
        alpha=lo,
        share=float(np.mean(counts <= max_alarms)),
        target_share=share,
        max_alarms=max_alarms,
        days=days,
        mean_alarms=float(counts.mean()),
        n_runs=n_runs,
        p0_uncertainty=p0_uncertainty,
    )


@dataclass(frozen=True)
class ChartRun:
    """One chart over the monitored reviews: ``reviews`` (positions in the monitored arrays,
    in review order), their p0, threshold h and the restarting CUSUM's result."""

    name: str
    tier: str
    reviews: I64
    p0: F64
    h: float
    result: CusumResult


@dataclass(frozen=True)
class PlanAlarms:
    """The plan's baseline rates, its charts' calibration and every chart's run."""

    rates: BaselineRates
    groups: ChartGroups
    calibration: PlanCalibration | None
    charts: list[ChartRun]


@lru_cache(maxsize=64)
def _calibrate_cached(
    key: tuple[
        tuple[
            str, tuple[float, ...], tuple[float, ...], tuple[float, ...], tuple[float, ...], float
        ],
        ...,
    ],
    options: tuple[int, int, float, float, int, int],
) -> PlanCalibration:
    days, max_alarms, share, odds_ratio, n_runs, seed = options
    charts = [
        ChartBaseline(name, np.array(p0), np.array(a), np.array(b), np.array(mix), per_day)
        for name, p0, a, b, mix, per_day in key
    ]
    return calibrate_plan(
        charts,
        days=days,
        max_alarms=max_alarms,
        share=share,
        odds_ratio=odds_ratio,
        n_runs=n_runs,
        seed=seed,
    )


def plan_alarms(
    *,
    baseline_wrong: npt.ArrayLike,
    baseline_cell: npt.ArrayLike,
    monitored_wrong: npt.ArrayLike,
    monitored_cell: npt.ArrayLike,
    cell_tier: Sequence[str],
    cell_band: Sequence[str] | None,
    baseline_days: int,
    days: int = QUARTER_DAYS,
    max_alarms: int = 1,
    share: float = 0.95,
    odds_ratio: float = 2.0,
    n_runs: int = 1000,
    seed: int = 0,
) -> PlanAlarms:
    """A plan's quality charts from its baseline and monitored reviews (0/1 "wrong" per review,
    the review's cell = stratum identity across days, e.g. tier × band × OOD × segment).

    Steps (what the alarm service and ``benchmarks/alarms.py`` both run): shrunken baseline
    rates per cell (``sampling.baseline.baseline_rates``); charts per tier × uncertainty band
    (``cell_band`` given) or per tier (:func:`chart_groups`); thresholds of all charts together
    (:func:`calibrate_plan`, cached on the baseline counts: the same baseline gives the same
    thresholds); each chart's restarting CUSUM over its monitored reviews in the order given.
    """
    tiers = sorted(set(cell_tier))
    tier_index = {t: i for i, t in enumerate(tiers)}
    cell_tier_idx = np.array([tier_index[t] for t in cell_tier], dtype=np.int64)
    rates = baseline_rates(baseline_wrong, baseline_cell, cell_tier_idx, n_tiers=len(tiers))
    groups = chart_groups(cell_tier, cell_band)
    charts = chart_baselines(
        stratum_p0=rates.stratum_rate,
        stratum_n=rates.stratum_n,
        stratum_wrong=rates.stratum_wrong,
        stratum_prior_rate=rates.tier_rate[cell_tier_idx] if len(cell_tier) else [],
        groups=groups,
        baseline_days=baseline_days,
    )
    if not charts:
        return PlanAlarms(rates, groups, None, [])
    key = tuple(
        (
            c.name,
            tuple(c.p0.tolist()),
            tuple(c.posterior_a.tolist()),
            tuple(c.posterior_b.tolist()),
            tuple(c.mix.tolist()),
            c.reviews_per_day,
        )
        for c in charts
    )
    calibration = _calibrate_cached(key, (days, max_alarms, share, odds_ratio, n_runs, seed))
    wrong = np.asarray(monitored_wrong, dtype=np.int64)
    cell = np.asarray(monitored_cell, dtype=np.int64)
    review_chart = groups.stratum_chart[cell] if len(cell) else np.zeros(0, np.int64)
    runs = []
    for c, h in zip(calibration.names, calibration.h.tolist(), strict=True):
        chart = groups.names.index(c)
        reviews = np.flatnonzero(review_chart == chart).astype(np.int64)
        p0 = rates.stratum_rate[cell[reviews]]
        result = cusum(wrong[reviews], p0, odds_ratio=odds_ratio, h=h, restart=True)
        runs.append(ChartRun(c, groups.chart_tier[chart], reviews, p0, h, result))
    return PlanAlarms(rates, groups, calibration, runs)
