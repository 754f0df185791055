"""Reading an estimate against another one or against a target, with its uncertainty.

Two questions a report asks of an accuracy interval:

* did accuracy *change* between two windows? (:func:`change_interval`, :func:`change_direction`)
* is the tier below or above its *target*? (:func:`target_status`)

Both answer only what the intervals support: a change whose interval contains 0 is "no clear
change", a target inside the interval is "not yet known".

References:
* Newcombe, R. G. (1998). Interval estimation for the difference between independent
  proportions: comparison of eleven methods. *Statistics in Medicine* 17, 873–890 (method 10,
  the "hybrid score" interval built from each group's Wilson interval).
* Zou, G. Y., Donner, A. (2008). Construction of confidence limits about effect measures: a
  general approach. *Statistics in Medicine* 27, 1693–1702 (the same construction, MOVER, for
  any pair of independent intervals: here the survey Wilson or Korn–Graubard intervals of
  ``sampling.estimate``, each built on its window's effective sample size).
* Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. §5.3: estimates from independent
  samples (disjoint windows draw from disjoint strata) have V(p̂₁ − p̂₀) = V₁ + V₀.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sampling.detect import below_target

__all__ = [
    "Change",
    "ChangeDirection",
    "TargetStatus",
    "change_direction",
    "change_interval",
    "target_status",
]

ChangeDirection = Literal["up", "down", "none"]
TargetStatus = Literal["below target", "meets target", "not yet known", "no target"]


@dataclass(frozen=True)
class Change:
    """p̂_now − p̂_before with its interval; ``direction`` is "none" unless the interval
    excludes 0."""

    difference: float
    ci_low: float
    ci_high: float
    direction: ChangeDirection


#: Slack for an estimate that sits on its interval's end up to floating-point rounding.
_ROUNDING = 1e-9


def _check(estimate: float, interval: tuple[float, float], name: str) -> None:
    low, high = interval
    if not all(math.isfinite(v) for v in (estimate, low, high)):
        raise ValueError(f"{name}: estimate and interval must be finite numbers")
    if not low - _ROUNDING <= estimate <= high + _ROUNDING:
        raise ValueError(f"{name}: the estimate {estimate} lies outside its interval {interval}")


def change_interval(
    now: float,
    now_interval: tuple[float, float],
    before: float,
    before_interval: tuple[float, float],
) -> Change:
    """Interval of the change p̂_now − p̂_before between two independent estimates.

    MOVER (Newcombe 1998 method 10; Zou & Donner 2008) from each estimate's own interval
    (l, u) at the same confidence level:

        L = d − √((p̂_now − l_now)² + (u_before − p̂_before)²)
        U = d + √((u_now − p̂_now)² + (p̂_before − l_before)²),   d = p̂_now − p̂_before.

    With symmetric Wald intervals p̂ ± z·√V this is exactly d ± z·√(V_now + V_before), the
    variance of a difference of independent estimates; with the asymmetric Wilson or
    Korn–Graubard intervals built on each window's effective sample size it keeps their good
    behaviour near 0 and 1 (where a Wald difference is too narrow). Assumes the two windows are
    independent samples (different days: different strata, separate draws). Two censuses
    (point intervals) give a point: a census has no sampling error.
    """
    _check(now, now_interval, "now")
    _check(before, before_interval, "before")
    d = now - before
    low = d - math.hypot(max(now - now_interval[0], 0.0), max(before_interval[1] - before, 0.0))
    high = d + math.hypot(max(now_interval[1] - now, 0.0), max(before - before_interval[0], 0.0))
    return Change(
        difference=d,
        ci_low=low,
        ci_high=high,
        direction=change_direction(low, high),
    )


def change_direction(low: float, high: float) -> ChangeDirection:
    """ "up" when the change's whole interval is above 0, "down" when it is below, else "none"."""
    if low > 0:
        return "up"
    if high < 0:
        return "down"
    return "none"


def target_status(interval: tuple[float, float], target: float | None) -> TargetStatus:
    """What an accuracy interval says about a target (all on the same scale, e.g. 0–1).

    "below target" when the whole interval is under it (``sampling.detect.below_target``, the
    rule the below-target alarm uses), "meets target" when the whole interval is at or above
    it, "not yet known" when the target lies inside the interval (more reviews would tell),
    "no target" when there is none.
    """
    if target is None:
        return "no target"
    low, high = interval
    if math.isnan(low) or math.isnan(high):
        return "not yet known"
    if below_target((low, high), target):
        return "below target"
    if low >= target:
        return "meets target"
    return "not yet known"
