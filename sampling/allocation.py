"""Allocation of a review budget over strata, and the budget planner.

Methods (Cochran 1977, *Sampling Techniques*, 3rd ed., §5.5 proportional, §5.9 Neyman;
Lohr 2022, *Sampling: Design and Analysis*, 3rd ed., §3.4):

* proportional: n_h ∝ N_h;
* equal: n_h ∝ 1 for every non-empty stratum;
* Neyman: n_h ∝ N_h·S_h, with S_h² = E[p(1−p)] under the Beta(1 + successes, 1 + failures)
  posterior of the stratum's past reviews (:func:`beta_posterior_variance`);
* manual: n_h ∝ the QA lead's quotas.

Neyman's S_h follows recent reviews (:func:`neyman_history`): the reviews of the last
``window_days`` days count in full, older ones enter as a prior worth at most
``prior_reviews`` pseudo-reviews (a power prior, Ibrahim & Chen 2000, *Statistical Science*
15(1):46–60, with a_0 = min(1, m / n_old)), on top of Beta(1, 1). Over all history, a stratum
reviewed correct a thousand times keeps S_h ≈ 0.03 for weeks after it starts failing; over a
window its S_h follows within days, and a stratum with few recent reviews is not starved:
its older reviews still count (up to the cap), Beta(1, 1) keeps S_h² ≥ ~1/(n + 3), and the
per-stratum floor of :func:`allocate` still applies.

Then: oversampling weights multiply each stratum's share; a per-stratum floor (default 5,
never below 2 unless N_h is smaller: a stratum needs two reviews for a variance) and an
optional per-stratum maximum; a cap at N_h; largest-remainder rounding so Σ n_h = n exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from sampling.estimate import (
    beta_posterior_mean,
    beta_posterior_variance,
    normal_quantile,
    stratified_variance,
)
from sampling.strata import Strata

__all__ = [
    "Allocation",
    "AllocationError",
    "BudgetPlan",
    "Method",
    "Target",
    "allocate",
    "beta_posterior_mean",
    "beta_posterior_variance",
    "design_allocation",
    "expected_half_width",
    "largest_remainder",
    "neyman_history",
    "oversampling_weights",
    "plan_budget",
]

Method = Literal["proportional", "equal", "neyman", "manual"]

# Days of reviews counted in full for Neyman's S_h and the planner (the product's default,
# settings LONGTAIL_NEYMAN_WINDOW_DAYS; 0 = all history), and the cap on what older reviews
# weigh, in pseudo-reviews. Chosen by measurement: see docs/efficiency.md.
NEYMAN_WINDOW_DAYS = 14
NEYMAN_PRIOR_REVIEWS = 20
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class AllocationError(ValueError):
    """The constraints cannot be met (e.g. the floors alone need more than the budget)."""


@dataclass(frozen=True, eq=False)
class Allocation:
    """Sample size n_h per stratum for a budget.

    ``budget`` is what was asked; ``n.sum()`` equals it unless every stratum is taken whole
    (Σ N_h ≤ budget) or the per-stratum maxima stop it (then ``n.sum() < budget``).
    """

    n: IntArray
    N: IntArray
    budget: int
    method: str

    @property
    def total(self) -> int:
        return int(self.n.sum())

    @property
    def inclusion_probability(self) -> FloatArray:
        """π_h = n_h / N_h (0 for an empty stratum)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            pi = np.where(self.N > 0, self.n / np.maximum(self.N, 1), 0.0)
        return pi.astype(np.float64)


def largest_remainder(x: npt.ArrayLike, total: int, upper: npt.ArrayLike | None = None) -> IntArray:
    """Round non-negative reals ``x`` to integers summing to ``total`` (Hamilton's method).

    Each value is floored, then the units left go to the largest fractional parts (ties to the
    lower index, so the result is deterministic), never pushing a value above ``upper``.
    Requires Σ floor(x) ≤ total ≤ Σ upper.
    """
    xs = np.asarray(x, dtype=float)
    up = np.full(xs.shape, np.iinfo(np.int64).max) if upper is None else np.asarray(upper)
    base: IntArray = np.minimum(np.floor(xs + 1e-9), up).astype(np.int64)
    left = int(total - base.sum())
    if left < 0:
        raise AllocationError(f"rounding overshoots: floors sum to {base.sum()} > {total}")
    if left == 0:
        return base
    frac = xs - base
    eligible = base < up
    frac = np.where(eligible, frac, -np.inf)
    order = np.lexsort((np.arange(xs.size), -frac))  # largest fraction first, then index
    order = order[eligible[order]]
    if order.size < left:
        raise AllocationError(f"cannot place {left} more units under the upper bounds")
    base[order[:left]] += 1
    return base


def _as_per_stratum(value: float | npt.ArrayLike | None, H: int, default: float) -> FloatArray:
    if value is None:
        return np.full(H, default, dtype=float)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(H, float(arr), dtype=float)
    if arr.shape != (H,):
        raise ValueError(f"expected {H} per-stratum values, got shape {arr.shape}")
    return arr.astype(np.float64)


def neyman_history(
    recent_successes: npt.ArrayLike,
    recent_failures: npt.ArrayLike,
    older_successes: npt.ArrayLike,
    older_failures: npt.ArrayLike,
    *,
    prior_reviews: float = NEYMAN_PRIOR_REVIEWS,
) -> tuple[FloatArray, FloatArray]:
    """Per stratum (successes, failures) for Neyman's S_h: recent reviews plus a capped prior.

    The reviews inside the window count in full; the n_old reviews before it are scaled by
    a_0 = min(1, m / n_old) with m = ``prior_reviews`` (a power prior: Ibrahim & Chen 2000,
    *Statistical Science* 15(1):46–60), so they weigh at most m pseudo-reviews at their own
    rate. The result goes to :func:`beta_posterior_variance` (which adds the Beta(1, 1)), so
    S_h² = E[p(1−p)] under Beta(1 + s + a_0·s_old, 1 + f + a_0·f_old). ``prior_reviews = 0``
    ignores older reviews; ``prior_reviews = inf`` counts all history in full.
    Counts may be fractional (partial credit counts half).
    """
    arrays = [
        np.asarray(x, dtype=float)
        for x in (recent_successes, recent_failures, older_successes, older_failures)
    ]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise ValueError(f"expected arrays of one shape, got {[a.shape for a in arrays]}")
    if any(np.any(~np.isfinite(a)) or np.any(a < 0) for a in arrays):
        raise ValueError("review counts must be finite and ≥ 0")
    if not prior_reviews >= 0:
        raise ValueError(f"prior_reviews must be ≥ 0, got {prior_reviews}")
    s, f, s_old, f_old = arrays
    n_old = s_old + f_old
    with np.errstate(divide="ignore", invalid="ignore"):
        a0 = np.where(n_old > prior_reviews, prior_reviews / np.where(n_old > 0, n_old, 1.0), 1.0)
    return (
        np.asarray(s + a0 * s_old, dtype=np.float64),
        np.asarray(f + a0 * f_old, dtype=np.float64),
    )


def _water_fill(r: FloatArray, lo: FloatArray, hi: FloatArray, n: int) -> FloatArray:
    """Real x_h = clip(t·r_h, lo_h, hi_h) with Σ x_h = n, by bisection on t.

    Σ clip(t·r, lo, hi) is continuous and non-decreasing in t, from Σ lo (t = 0) to the sum
    of hi over r > 0 plus lo elsewhere (t → ∞), so a root exists when n lies in between.
    """
    if lo.sum() >= n:
        return lo.copy()
    t_lo, t_hi = 0.0, 1.0
    while np.clip(t_hi * r, lo, hi).sum() < n:
        t_hi *= 2.0
        if t_hi > 1e300:  # pragma: no cover - guarded by the caller's checks
            break
    for _ in range(200):
        mid = 0.5 * (t_lo + t_hi)
        if np.clip(mid * r, lo, hi).sum() < n:
            t_lo = mid
        else:
            t_hi = mid
    return np.asarray(np.clip(t_hi * r, lo, hi), dtype=np.float64)


def allocate(
    N: npt.ArrayLike,
    n: int,
    *,
    method: Method = "proportional",
    sd: npt.ArrayLike | None = None,
    successes: npt.ArrayLike | None = None,
    failures: npt.ArrayLike | None = None,
    quotas: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    floor: int = 5,
    maximum: int | npt.ArrayLike | None = None,
) -> Allocation:
    """Allocate a budget of ``n`` reviews over strata of sizes ``N``.

    Shares r_h: proportional N_h; equal 1; Neyman N_h·S_h (S_h from ``sd`` or from
    ``successes``/``failures`` via :func:`beta_posterior_variance`; nothing given = Beta(1,1)
    for all, which reduces Neyman to proportional); manual ``quotas``. Shares are multiplied
    by ``weights`` (oversampling factors, default 1). Empty strata get nothing.

    Constraints, in order of precedence: cap n_h ≤ N_h; the per-stratum ``maximum``; the
    floor f_h = min(floor, N_h, maximum_h). The solution is n_h = clip(t·r_h, f_h, c_h) with t
    chosen so that Σ n_h = n (water filling), rounded by largest remainder.

    Behaviour at the edges: if Σ N_h ≤ n every stratum is taken whole; if the maxima cap the
    total below n, each stratum gets its cap and ``total < budget``; if the floors alone
    exceed n, :class:`AllocationError` is raised (lower the floor or raise the budget).
    A stratum with share 0 (weight 0, S_h = 0, quota 0) still gets its floor.
    """
    Nh = np.asarray(N, dtype=np.int64).ravel()
    H = Nh.size
    if np.any(Nh < 0):
        raise ValueError("stratum sizes must be ≥ 0")
    if n < 0:
        raise ValueError("budget must be ≥ 0")
    if floor < 2:
        raise ValueError("the per-stratum floor is at least 2 (a variance needs two reviews)")

    if method == "proportional":
        r = Nh.astype(float)
    elif method == "equal":
        r = (Nh > 0).astype(float)
    elif method == "neyman":
        if sd is not None:
            S = _as_per_stratum(sd, H, 0.0)
        else:
            s_ = _as_per_stratum(successes, H, 0.0)
            f_ = _as_per_stratum(failures, H, 0.0)
            S = np.sqrt(beta_posterior_variance(s_, f_))
        if np.any(S < 0):
            raise ValueError("standard deviations must be ≥ 0")
        r = Nh * S
    elif method == "manual":
        if quotas is None:
            raise ValueError("method='manual' needs quotas=")
        r = _as_per_stratum(quotas, H, 0.0)
        if np.any(r < 0):
            raise ValueError("quotas must be ≥ 0")
    else:
        raise ValueError(f"unknown allocation method {method!r}")

    w = _as_per_stratum(weights, H, 1.0)
    if np.any(w < 0):
        raise ValueError("oversampling weights must be ≥ 0")
    r = np.where(Nh > 0, r * w, 0.0)
    if r.max(initial=0.0) > 0:
        # Scale shares to max 1 and treat shares below 1e-12 of the largest as zero, so the
        # water-filling search stays in floating-point range.
        r = r / r.max()
        r = np.where(r < 1e-12, 0.0, r)

    cap = Nh.astype(float)
    if maximum is not None:
        mx = _as_per_stratum(maximum, H, np.inf)
        if np.any(mx < 0):
            raise ValueError("per-stratum maxima must be ≥ 0")
        cap = np.minimum(cap, np.floor(mx))
    if cap.sum() <= n:  # census of every stratum (up to the maxima)
        return Allocation(n=cap.astype(np.int64), N=Nh, budget=n, method=method)
    lo = np.minimum(float(floor), cap)
    if lo.sum() > n:
        raise AllocationError(
            f"the per-stratum floors need {int(lo.sum())} reviews but the budget is {n}: "
            "lower the floor, merge strata or raise the budget"
        )
    hi = np.where(r > 0, cap, lo)  # a zero-share stratum stays at its floor...
    if hi.sum() < n:
        # ...unless the positive-share strata are all full: then they take their caps and
        # the rest of the budget goes to the zero-share strata, proportionally to N_h.
        zero = r <= 0
        lo = np.where(zero, lo, cap)
        r = np.where(zero, Nh.astype(float), 0.0)
        hi = cap
    x = _water_fill(r, lo, hi, n)
    nh = largest_remainder(x, n, upper=hi.astype(np.int64))
    return Allocation(n=nh, N=Nh, budget=n, method=method)


def oversampling_weights(strata: Strata, oversampling: Mapping[str, float] | None) -> FloatArray:
    """Per-stratum oversampling factor: the product of the weights whose key matches it.

    A key is a full stratum key ("cheap|high|edge") or "dimension=value" clauses joined by "&"
    ("tier=cheap&uncertainty=high"); a clause naming a dimension the strata do not have
    matches nothing. Unmatched strata keep factor 1.
    """
    weights = np.ones(strata.n_strata, dtype=np.float64)
    keys = strata.keys()
    for pattern, weight in (oversampling or {}).items():
        if "=" not in pattern:
            match = np.array([key == pattern for key in keys], dtype=bool)
        else:
            where: dict[str, str] = {}
            for clause in pattern.split("&"):
                dimension, _, value = clause.partition("=")
                where[dimension.strip()] = value.strip()
            if all(d in strata.dimensions for d in where):
                match = strata.mask(**where)
            else:
                match = np.zeros(strata.n_strata, dtype=bool)
        weights *= np.where(match, float(weight), 1.0)
    return weights


def design_allocation(
    strata: Strata,
    budget: int,
    *,
    method: Method,
    successes: npt.ArrayLike | None = None,
    failures: npt.ArrayLike | None = None,
    quotas: npt.ArrayLike | None = None,
    oversampling: Mapping[str, float] | None = None,
    floor: int = 5,
    maximum: int | None = None,
) -> Allocation:
    """A plan's allocation of one day's strata: what a queue build (and the efficiency study)
    runs. :func:`allocate` with the plan's method, its oversampling (:func:`oversampling_weights`)
    and floor; when the budget cannot give every stratum its floor, the floor drops to 2
    (the plan preview says so) rather than refusing to build. ``successes``/``failures`` are
    the stratum's review history (:func:`neyman_history`); ``quotas`` only for "manual".
    """
    weights = oversampling_weights(strata, oversampling)

    def with_floor(minimum: int) -> Allocation:
        return allocate(
            strata.sizes,
            budget,
            method=method,
            successes=successes,
            failures=failures,
            quotas=quotas if method == "manual" else None,
            weights=weights,
            floor=minimum,
            maximum=maximum,
        )

    try:
        return with_floor(floor)
    except AllocationError:
        return with_floor(2)


@dataclass(frozen=True, eq=False)
class Target:
    """A precision target for a domain: the strata in ``mask`` (e.g. tier "cheap").

    ``half_width`` is the wanted half-width of the ``confidence`` interval for the domain's
    accuracy.
    """

    name: str
    mask: npt.NDArray[np.bool_]
    half_width: float
    confidence: float = 0.95


@dataclass(frozen=True, eq=False)
class BudgetPlan:
    """Smallest budget found whose expected half-widths meet every target."""

    budget: int
    allocation: Allocation
    half_widths: tuple[float, ...]
    feasible: bool


def expected_half_width(
    N: npt.ArrayLike,
    n: npt.ArrayLike,
    s2: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    confidence: float = 0.95,
) -> float:
    """Expected half-width z·√V of a domain's stratified estimate (normal approximation).

    V = Σ_h W_h²·(1 − n_h/N_h)·S_h²/n_h over the domain's strata (Cochran 1977, eq. 5.6;
    :func:`sampling.estimate.stratified_variance`), with S_h² the expected per-item variance
    (e.g. :func:`beta_posterior_variance`). A domain stratum with n_h = 0 makes it infinite.
    """
    Nh = np.asarray(N, dtype=float)
    nh = np.asarray(n, dtype=float)
    s2h = np.asarray(s2, dtype=float)
    m = np.ones(Nh.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    m = m & (Nh > 0)
    if not m.any():
        return float("inf")
    if np.any(nh[m] <= 0):
        return float("inf")
    W = Nh[m] / Nh[m].sum()
    v = stratified_variance(W, Nh[m], nh[m], s2h[m])
    return float(normal_quantile(confidence) * np.sqrt(v))


def plan_budget(
    N: npt.ArrayLike,
    targets: Sequence[Target],
    *,
    successes: npt.ArrayLike | None = None,
    failures: npt.ArrayLike | None = None,
    method: Method = "neyman",
    weights: npt.ArrayLike | None = None,
    floor: int = 5,
    maximum: int | npt.ArrayLike | None = None,
    max_budget: int | None = None,
) -> BudgetPlan:
    """Smallest budget n whose allocation meets every target's expected half-width.

    Expected accuracy and per-item variance per stratum come from the Beta(1 + successes,
    1 + failures) posterior of past reviews: S_h² = E[p(1−p)] (conservative compared with a
    plug-in p̂(1−p̂)). For each candidate n the strata are allocated with :func:`allocate`
    (same method, weights, floor, maximum) and :func:`expected_half_width` is computed per
    target. The half-width is non-increasing in n apart from rounding, so n is found by
    bisection on [Σ floors, Σ N_h] and then stepped down while the targets still hold.
    If even a census (n = Σ N_h, or ``max_budget``) misses a target, ``feasible`` is False and
    the largest budget's plan is returned.
    """
    Nh = np.asarray(N, dtype=np.int64).ravel()
    H = Nh.size
    s_ = _as_per_stratum(successes, H, 0.0)
    f_ = _as_per_stratum(failures, H, 0.0)
    s2 = beta_posterior_variance(s_, f_)

    def evaluate(n: int) -> tuple[Allocation, tuple[float, ...], bool]:
        alloc = allocate(
            Nh,
            n,
            method=method,
            successes=s_,
            failures=f_,
            weights=weights,
            floor=floor,
            maximum=maximum,
        )
        hws = tuple(expected_half_width(Nh, alloc.n, s2, t.mask, t.confidence) for t in targets)
        ok = all(h <= t.half_width + 1e-12 for h, t in zip(hws, targets, strict=True))
        return alloc, hws, ok

    lo = int(np.minimum(floor, Nh).sum())
    hi = int(Nh.sum()) if max_budget is None else min(int(max_budget), int(Nh.sum()))
    if hi < lo:
        raise AllocationError(f"max_budget {hi} is below the floors' total {lo}")
    alloc, hws, ok = evaluate(hi)
    if not ok:
        return BudgetPlan(budget=hi, allocation=alloc, half_widths=hws, feasible=False)
    best = (hi, alloc, hws)
    a, b = lo, hi  # invariant: b meets the targets
    while a < b:
        mid = (a + b) // 2
        alloc_m, hws_m, ok_m = evaluate(mid)
        if ok_m:
            b = mid
            best = (mid, alloc_m, hws_m)
        else:
            a = mid + 1
    # Rounding can make the curve slightly non-monotone: step down while still meeting targets.
    n_best = best[0]
    while n_best - 1 >= lo:
        alloc_m, hws_m, ok_m = evaluate(n_best - 1)
        if not ok_m:
            break
        n_best -= 1
        best = (n_best, alloc_m, hws_m)
    return BudgetPlan(budget=best[0], allocation=best[1], half_widths=best[2], feasible=True)
