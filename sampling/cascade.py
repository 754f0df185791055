"""Cascade threshold advice: how accuracy and cost of the cheap tier's traffic would move if
answers with self-confidence below a threshold t were escalated to the capable tier.

For a threshold t, each reviewed cheap-tier item i keeps its own reviewed score y_i when its
self-confidence c_i ≥ t, and takes the capable tier's estimated accuracy A_cap when c_i < t
(it would have been answered by the capable model). The traffic-weighted accuracy is the
stratified (1/π-weighted) mean of these scores over the cheap tier's sampling design:

    acc(t) = Σ_h W_h · mean_{i∈h}[ y_i·1(c_i ≥ t) + A_cap·1(c_i < t) ] = U(t) + A_cap·S(t),

S(t) the estimated escalated share of the cheap tier's traffic. Its variance is taken as
V̂[U + A_cap·S] (the design variance with A_cap fixed) + S(t)²·V̂[A_cap], the capable tier's
estimate coming from an independent set of strata. Cost per answer: c_cheap + S(t)·c_cap when
a cascade pays for the cheap answer before escalating (the default: self-confidence exists only
after the cheap model has answered), else (1 − S(t))·c_cheap + S(t)·c_cap.

The recommendation is the cheapest threshold whose interval's lower bound meets the tier's
target: "meets the target with 95 % confidence" in the one-sided sense of a 97.5 % lower bound
of a two-sided 95 % interval.

Assumptions, stated: (1) an escalated answer is as good as the capable tier's average answer —
escalated queries are the hard ones, so this is optimistic; the page says so; (2) the reviewed
items are a stratified random sample of the cheap tier (weights 1/π); (3) items without a
self-confidence are never escalated (a cascade cannot route on a score it does not have).

References: Chen, L., Zaharia, M., Zou, J. (2023). FrugalGPT: How to use large language models
while reducing cost and improving performance. arXiv:2305.05176 (score-thresholded cascades);
Cochran (1977) §5.3 and Lohr (2022) §3.2 for the stratified estimate; Franco et al. (2019) for
the Wilson interval on the design-based effective size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sampling.estimate import effective_size, stratified_estimate, wilson_interval

__all__ = ["CascadeAdvice", "ThresholdRow", "cascade_advice", "DEFAULT_THRESHOLDS"]

#: 0.00, 0.05, …, 1.00; threshold 0 escalates nothing (today's cheap tier).
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(21))


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    accuracy: float
    ci_low: float
    ci_high: float
    escalation_share: float
    cost_per_answer: float | None
    meets_target: bool | None  # None when there is no target


@dataclass(frozen=True)
class CascadeAdvice:
    rows: list[ThresholdRow]
    recommended: ThresholdRow | None
    target: float | None
    capable_accuracy: float
    n_reviewed: int
    n_with_confidence: int


def cascade_advice(
    N: npt.ArrayLike,
    stratum: npt.ArrayLike,
    scores: npt.ArrayLike,
    self_confidence: npt.ArrayLike,
    *,
    capable_accuracy: float,
    capable_variance: float,
    cheap_cost: float | None = None,
    capable_cost: float | None = None,
    target: float | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    pay_cheap_on_escalation: bool = True,
    confidence: float = 0.95,
) -> CascadeAdvice:
    """Accuracy, interval, escalation share and cost per answer at each threshold t.

    ``N[h]`` is the population of each of the cheap tier's strata; per reviewed cheap-tier item
    its stratum code, score in [0, 1] and self-confidence (NaN when absent). ``capable_accuracy``
    and ``capable_variance`` are the capable tier's estimate and its variance; the costs are
    per answer of each tier (None when unknown: cost is then not reported and the
    recommendation is the lowest qualifying threshold, i.e. the fewest escalations).
    """
    Nh = np.asarray(N, dtype=float)
    codes = np.asarray(stratum, dtype=np.int64)
    y = np.asarray(scores, dtype=float)
    c = np.asarray(self_confidence, dtype=float)
    if not (codes.shape == y.shape == c.shape):
        raise ValueError("stratum, scores and self_confidence need one entry per reviewed item")
    if codes.size == 0:
        raise ValueError("no reviewed items")
    if not 0.0 <= capable_accuracy <= 1.0 or capable_variance < 0:
        raise ValueError("capable_accuracy must lie in [0, 1] and its variance be ≥ 0")
    rows: list[ThresholdRow] = []
    for t in sorted(float(x) for x in thresholds):
        escalate = ~np.isnan(c) & (c < t)
        z = np.where(escalate, capable_accuracy, y)
        # The default variance floor, as in the tier report, so that t = 0 reproduces the tier's
        # own estimate and interval.
        est = stratified_estimate(Nh, codes, z, confidence=confidence)
        share = stratified_estimate(
            Nh, codes, escalate.astype(float), variance_floor="none", confidence=confidence
        ).estimate
        p = est.estimate
        if share == 0.0:
            lo, hi = est.ci_low, est.ci_high
        else:
            variance = est.variance + share**2 * capable_variance
            # The tier estimate's unit variance n*·V̂ (sampling.estimate.effective_size: it
            # counts the variance floor and cannot collapse at p̂ ≈ 1) over the larger V̂.
            if est.variance > 0 and np.isfinite(est.effective_n):
                n_eff = est.effective_n * est.variance / variance
            elif variance > 0:
                n_eff = effective_size(p, variance, kish_n=est.kish_n)
            else:
                n_eff = est.kish_n
            lo, hi = wilson_interval(p, n_eff, confidence, est.df)
        if cheap_cost is None or capable_cost is None:
            cost = None
        elif pay_cheap_on_escalation:
            cost = cheap_cost + share * capable_cost
        else:
            cost = (1 - share) * cheap_cost + share * capable_cost
        rows.append(
            ThresholdRow(
                threshold=t,
                accuracy=p,
                ci_low=lo,
                ci_high=hi,
                escalation_share=share,
                cost_per_answer=cost,
                meets_target=None if target is None else lo >= target,
            )
        )
    qualifying = [r for r in rows if r.meets_target]
    recommended = None
    if qualifying:
        recommended = min(
            qualifying,
            key=lambda r: (
                r.cost_per_answer if r.cost_per_answer is not None else r.escalation_share,
                r.threshold,
            ),
        )
    return CascadeAdvice(
        rows=rows,
        recommended=recommended,
        target=target,
        capable_accuracy=capable_accuracy,
        n_reviewed=int(codes.size),
        n_with_confidence=int(np.sum(~np.isnan(c))),
    )
