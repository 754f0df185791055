"""A proportion over a subdomain of a stratified sample whose size is not known in advance.

Example: the share of shadow comparisons in which the capable model's answer was preferred.
Only some reviewed items have a shadow answer (and a preference), and how many of each
stratum's N_h responses have one is not stored, so the subdomain's size must be estimated
from the sample too: a ratio of two Horvitz–Thompson totals, not a stratified mean with known
weights N_h/N.

References:
* Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., §2.13 and §5A.14 (domains,
  subpopulations of unknown size).
* Lohr, S. L. (2022). *Sampling: Design and Analysis*, 3rd ed., §4.3 (domain estimation),
  §9.1 (linearisation of a ratio).
* Franco, C. et al. (2019) for the Wilson interval on the design-based effective size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sampling.estimate import (
    SINGLE_REVIEW_VARIANCE,
    effective_size,
    kish_effective_n,
    wilson_interval,
)

__all__ = ["SubdomainEstimate", "subdomain_proportion"]


@dataclass(frozen=True)
class SubdomainEstimate:
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n: int  # sampled members of the subdomain
    population: float  # estimated number of the population's items in the subdomain
    df: float
    effective_n: float


def subdomain_proportion(
    N: npt.ArrayLike,
    stratum: npt.ArrayLike,
    y: npt.ArrayLike,
    member: npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> SubdomainEstimate | None:
    """Weighted share p̂ = Σ w_i d_i y_i / Σ w_i d_i with w_i = N_h/n_h (= 1/π_i).

    Inputs: ``N[h]`` the population of stratum h; for every reviewed item of the sample (members
    of the subdomain or not) its stratum ``stratum[i]``, a value ``y[i]`` in [0, 1] (used for
    members only) and ``member[i]`` (d_i). n_h counts all reviewed items of stratum h, because
    the sample was drawn from all N_h items; the subdomain's size in h is unknown.

    Variance by linearisation (Lohr 2022 §9.1): u_i = d_i (y_i − p̂)/N̂_d,
    V̂ = Σ_h N_h² (1 − n_h/N_h) s²_{u,h}/n_h; a stratum with a single reviewed item has no
    s²_{u,h} and gets the conservative d_i·0.25/N̂_d². Interval: Wilson on n* = p̂(1 − p̂)/V̂
    with a t quantile on df = (members) − (strata with a member), at least 1; when V̂ = 0 the
    Kish size of the members' weights replaces n*. Returns None when no item is a member.
    Assumes simple random sampling without replacement within strata.
    """
    Nh = np.asarray(N, dtype=float)
    codes = np.asarray(stratum, dtype=np.int64)
    values = np.asarray(y, dtype=float)
    d = np.asarray(member, dtype=bool)
    if not (codes.shape == values.shape == d.shape):
        raise ValueError("stratum, y and member must have one entry per reviewed item")
    if codes.size and (codes.min() < 0 or codes.max() >= Nh.size):
        raise ValueError("stratum codes must index N")
    if not d.any():
        return None
    if np.any((values[d] < 0) | (values[d] > 1)):
        raise ValueError("y must lie in [0, 1] for members")
    H = Nh.size
    nh = np.bincount(codes, minlength=H).astype(float)
    if np.any(nh > Nh):
        raise ValueError("a stratum has more reviewed items than items")
    w = Nh[codes] / nh[codes]
    wd = w * d
    total = float(wd.sum())
    p = float(np.sum(wd * np.where(d, values, 0.0)) / total)
    u = np.where(d, values - p, 0.0) / total
    sum_u = np.bincount(codes, weights=u, minlength=H)
    sum_u2 = np.bincount(codes, weights=u * u, minlength=H)
    variance = 0.0
    for h in np.flatnonzero(nh > 0):
        n = nh[h]
        fpc = 1.0 - n / Nh[h]
        if n >= 2:
            s2 = (sum_u2[h] - sum_u[h] ** 2 / n) / (n - 1.0)
        else:
            s2 = SINGLE_REVIEW_VARIANCE * float(d[codes == h].any()) / total**2
        variance += Nh[h] ** 2 * fpc * max(s2, 0.0) / n
    members = int(d.sum())
    df = float(max(1, members - np.unique(codes[d]).size))
    kish = kish_effective_n(w[d])
    # p̂(1 − p̂)/V̂, or Kish's size where p̂ is 0 or 1 up to rounding (Σ of the weights can
    # round p̂ to 0.9999999999999999, and p̂(1 − p̂)/V̂ would collapse to ~1e-13).
    n_eff = effective_size(p, variance, kish_n=kish) if variance > 0 else kish
    lo, hi = wilson_interval(p, n_eff, confidence, df)
    return SubdomainEstimate(
        estimate=p,
        se=float(np.sqrt(variance)),
        ci_low=lo,
        ci_high=hi,
        n=members,
        population=total,
        df=df,
        effective_n=float(n_eff),
    )
