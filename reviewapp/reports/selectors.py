"""Reads for reports: the stored design (per-queue stratum counts) and the reviews, turned into
arrays for sampling.estimate. Reports never rescan responses: populations, auto-score and cost
totals come from `StratumCount`, written when each queue was built.

Only probability queues feed estimates; ad-hoc queues and gold items never do. An item's score
is its adjudicated verdict where there is one, else the mean of its reviews (partial credit:
correct 1, partially correct 0.5, incorrect 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import QuerySet

from reviewapp.review.models import (
    Adjudication,
    Plan,
    Queue,
    QueueItem,
    Review,
    StratumCount,
)
from sampling.estimate import Estimate, ppi_estimate, stratified_estimate

# The dimensions a report can split by, as StratumCount fields.
DIMENSION_FIELDS = {
    "tier": "tier",
    "uncertainty": "uncertainty_band",
    "ood": "ood_band",
    "segment": "segment",
    "day": "day",
}
METHODS = ("wilson", "korn-graubard")


@dataclass(frozen=True, eq=False)
class ReportData:
    """One plan's design and reviews over a window, as aligned arrays.

    Per stratum h (a (queue day, stratum) pair): `labels[dimension][h]`, `population[h]`,
    `quota[h]`, auto-score and cost totals. Per reviewed item i: `item_stratum[i]` (an index
    into the strata), `item_score[i]`, `item_auto_score[i]` (NaN when absent).
    """

    plan: Plan
    start: dt.date
    end: dt.date
    labels: dict[str, np.ndarray]
    population: np.ndarray
    quota: np.ndarray
    auto_score_sum: np.ndarray
    auto_score_count: np.ndarray
    cost_sum: np.ndarray
    cost_count: np.ndarray
    item_ids: np.ndarray
    item_stratum: np.ndarray
    item_score: np.ndarray
    item_auto_score: np.ndarray
    days: int = field(default=1)

    @property
    def n_strata(self) -> int:
        return len(self.population)

    def mask(self, **where: str) -> np.ndarray:
        """Strata of a domain, e.g. mask(tier="cheap", uncertainty="high")."""
        out = np.ones(self.n_strata, dtype=bool)
        for dimension, value in where.items():
            out &= self.labels[dimension] == value
        return out


def report_data(*, plan: Plan, start: dt.date, end: dt.date) -> ReportData:
    """Load a plan's strata and scored items for the days start..end (inclusive)."""
    strata = list(
        StratumCount.objects.filter(
            queue__plan=plan,
            queue__kind=Queue.Kind.PROBABILITY,
            queue__day__gte=start,
            queue__day__lte=end,
        )
        .order_by("queue__day", "pk")
        .values_list(
            "pk",
            "tier",
            "uncertainty_band",
            "ood_band",
            "segment",
            "queue__day",
            "population",
            "quota",
            "auto_score_sum",
            "auto_score_count",
            "cost_sum",
            "cost_count",
        )
    )
    index = {row[0]: h for h, row in enumerate(strata)}
    labels = {
        "tier": np.array([r[1] for r in strata], dtype=object),
        "uncertainty": np.array([r[2] for r in strata], dtype=object),
        "ood": np.array([r[3] for r in strata], dtype=object),
        "segment": np.array([r[4] for r in strata], dtype=object),
        "day": np.array([r[5].isoformat() for r in strata], dtype=object),
    }

    def column(i: int, dtype: type) -> np.ndarray:
        return np.array([r[i] for r in strata], dtype=dtype)

    # Joined through the plan and window, not IN-lists of item ids: one indexed query each.
    window = {
        "queue__plan": plan,
        "queue__kind": Queue.Kind.PROBABILITY,
        "queue__day__gte": start,
        "queue__day__lte": end,
        "is_gold": False,
    }
    items = list(
        QueueItem.objects.filter(review_count__gte=1, **window)
        .order_by("pk")
        .values_list("pk", "stratum_id", "auto_score")
    )
    item_pks = np.fromiter((pk for pk, _, _ in items), dtype=np.int64, count=len(items))
    position = {pk: i for i, pk in enumerate(item_pks.tolist())}
    item_window = {f"item__{key}": value for key, value in window.items()}
    # Per item: the sum and count of its review scores, then adjudication overrides.
    score_sum = np.zeros(len(items))
    score_count = np.zeros(len(items))
    for item_id, verdict in Review.objects.filter(**item_window).values_list("item_id", "verdict"):
        i = position.get(item_id)
        if i is not None:
            score_sum[i] += Review.SCORES[verdict]
            score_count[i] += 1
    scores = np.divide(score_sum, np.maximum(score_count, 1))
    for item_id, verdict in Adjudication.objects.filter(**item_window).values_list(
        "item_id", "verdict"
    ):
        i = position.get(item_id)
        if i is not None:
            scores[i] = Review.SCORES[verdict]
    return ReportData(
        plan=plan,
        start=start,
        end=end,
        labels=labels,
        population=column(6, np.int64),
        quota=column(7, np.int64),
        auto_score_sum=column(8, float),
        auto_score_count=column(9, np.int64),
        cost_sum=column(10, float),
        cost_count=column(11, np.int64),
        item_ids=item_pks,
        item_stratum=np.array([index[s] for _, s, _ in items], dtype=np.int64),
        item_score=scores,
        item_auto_score=np.array([np.nan if a is None else a for _, _, a in items], dtype=float),
        days=(end - start).days + 1,
    )


def domain_estimate(
    data: ReportData, domain: np.ndarray, *, method: str = "wilson"
) -> Estimate | None:
    """Stratified estimate of a domain's accuracy; None when it has no reviewed item."""
    if not domain.any() or not domain[data.item_stratum].any():
        return None
    return stratified_estimate(
        data.population, data.item_stratum, data.item_score, domain=domain, method=method
    )


def domain_ppi_estimate(data: ReportData, domain: np.ndarray) -> Estimate | None:
    """Prediction-powered estimate where the automatic judge scored every response of the
    domain's strata and every reviewed item; None otherwise."""
    in_domain = domain[data.item_stratum]
    if not in_domain.any():
        return None
    complete = data.auto_score_count[domain] == data.population[domain]
    if not complete.all() or np.isnan(data.item_auto_score[in_domain]).any():
        return None
    auto_mean = np.divide(
        data.auto_score_sum,
        np.maximum(data.auto_score_count, 1),
    )
    items = in_domain
    return ppi_estimate(
        data.population,
        auto_mean,
        data.item_stratum[items],
        data.item_score[items],
        data.item_auto_score[items],
        domain=domain,
    )


@dataclass(frozen=True)
class DomainRow:
    """One line of a report table: a domain (e.g. a tier) and its estimate."""

    key: tuple[str, ...]
    population: int
    share: float
    reviewed: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    design_effect: float | None
    uncovered_share: float | None
    target: float | None
    status: str
    wrong_per_day: float | None
    cost_per_answer: float | None
    ppi_accuracy: float | None = None
    ppi_ci_low: float | None = None
    ppi_ci_high: float | None = None
    #: Responses in the strata with ≥ 1 review: the population the estimate (and
    #: wrong_per_day) is about; population × uncovered_share is left out.
    covered_population: int | None = None


def row_status(estimate: Estimate | None, target: float | None) -> str:
    """The status word of a report line, the one rule every report uses: "no reviews";
    "below target" or "meets target" only when the whole interval is on that side of the
    target, "not yet known" while the target lies inside it; "no target" without one
    (``sampling.compare.target_status``). Open alarms are shown beside it, not instead of it."""
    from sampling.compare import target_status

    if estimate is None:
        return "no reviews"
    return target_status((estimate.ci_low, estimate.ci_high), target)


def domain_rows(
    data: ReportData,
    by: Sequence[str] = ("tier",),
    *,
    method: str = "wilson",
    targets: dict[str, float] | None = None,
) -> list[DomainRow]:
    """One row per combination of `by` (dimensions) present in the data, sorted."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    unknown = [d for d in by if d not in DIMENSION_FIELDS]
    if unknown:
        raise ValueError(f"unknown dimension(s): {', '.join(unknown)}")
    targets = targets or {}
    total = int(data.population.sum())
    keys = sorted({tuple(data.labels[d][h] for d in by) for h in range(data.n_strata)})
    return [
        domain_row(
            data,
            key,
            data.mask(**dict(zip(by, key, strict=True))),
            method=method,
            target=targets.get(key[0]) if by and by[0] == "tier" else None,
            total=total,
        )
        for key in keys
    ]


def domain_row(
    data: ReportData,
    key: tuple[str, ...],
    domain: np.ndarray,
    *,
    method: str = "wilson",
    target: float | None = None,
    total: int | None = None,
) -> DomainRow:
    """The report line of one domain (a boolean mask over strata), labelled `key`; `share` is
    its population over `total` (default: the whole window's)."""
    total = int(data.population.sum()) if total is None else total
    population = int(data.population[domain].sum())
    estimate = domain_estimate(data, domain, method=method)
    ppi = domain_ppi_estimate(data, domain)
    cost_count = int(data.cost_count[domain].sum())
    return DomainRow(
        key=key,
        population=population,
        share=population / total if total else 0.0,
        reviewed=int(domain[data.item_stratum].sum()),
        accuracy=estimate.estimate if estimate else None,
        ci_low=estimate.ci_low if estimate else None,
        ci_high=estimate.ci_high if estimate else None,
        method=estimate.method if estimate else method,
        design_effect=estimate.design_effect if estimate else None,
        uncovered_share=estimate.uncovered_share if estimate else None,
        target=target,
        status=row_status(estimate, target),
        # On the population the estimate is about (the covered strata), not the whole domain:
        # the uncovered share's wrong answers are unknown, and the report shows that share.
        wrong_per_day=(
            estimate.covered_population * (1 - estimate.estimate) / data.days if estimate else None
        ),
        cost_per_answer=(float(data.cost_sum[domain].sum()) / cost_count if cost_count else None),
        ppi_accuracy=ppi.estimate if ppi else None,
        ppi_ci_low=ppi.ci_low if ppi else None,
        ppi_ci_high=ppi.ci_high if ppi else None,
        covered_population=estimate.covered_population if estimate else None,
    )


def tier_report(
    *, plan: Plan, start: dt.date, end: dt.date, method: str = "wilson"
) -> list[DomainRow]:
    """The tier report: per tier, population, reviews and accuracy with its interval."""
    data = report_data(plan=plan, start=start, end=end)
    version = plan.current_version
    return domain_rows(data, ("tier",), method=method, targets=version.targets if version else {})


# --- report pages: who may read which plan, the default window, the long tail, alarms --------

#: The easy centre of a tier: its lowest uncertainty band and in-distribution queries
#: (sampling.strata's default labels). Everything else is the long tail.
CENTRE_UNCERTAINTY = "low"
CENTRE_OOD = "in"
DEFAULT_WINDOW_DAYS = 14


def report_plans(*, user: object) -> list[Plan]:
    """The plans whose reports `user` may read: every plan for QA leads and viewers (and
    superusers); for a reviewer, the plans they review whose current version lets reviewers
    see reports; nothing for anyone else."""
    from reviewapp.review.roles import QA_LEAD, REVIEWER, VIEWER, has_role

    plans = Plan.objects.select_related("current_version").order_by("name")
    if has_role(user, QA_LEAD, VIEWER):
        return list(plans)
    if has_role(user, REVIEWER):
        return list(plans.filter(reviewers=user, current_version__reviewers_see_reports=True))
    return []


def may_read_reports(*, user: object) -> bool:
    """May open the report pages at all (which plans is `report_plans`)."""
    from reviewapp.review.roles import QA_LEAD, VIEWER, has_role

    return has_role(user, QA_LEAD, VIEWER) or bool(report_plans(user=user))


def default_plan(plans: Sequence[Plan]) -> Plan | None:
    """The plan with the latest probability queue among `plans` (else the first one)."""
    if not plans:
        return None
    latest = (
        Queue.objects.filter(plan__in=plans, kind=Queue.Kind.PROBABILITY)
        .order_by("-day", "plan__name")
        .values_list("plan_id", flat=True)
        .first()
    )
    return next((p for p in plans if p.pk == latest), plans[0])


def default_window(
    *, plan: Plan, days: int = DEFAULT_WINDOW_DAYS
) -> tuple[dt.date, dt.date] | None:
    """The last `days` days ending on the latest day whose probability queue has a review (a
    queue built but not yet reviewed, or built empty, must not blank every report); without
    any review, ending on the latest probability queue; None without a queue."""
    from django.db.models import Exists, OuterRef

    queues = Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY).order_by("-day")
    last = (
        queues.filter(Exists(Review.objects.filter(item__queue=OuterRef("pk"))))
        .values_list("day", flat=True)
        .first()
    )
    if last is None:
        last = queues.values_list("day", flat=True).first()
    if last is None:
        return None
    return last - dt.timedelta(days=days - 1), last


def longtail_rows(
    data: ReportData, *, method: str = "wilson", targets: dict[str, float] | None = None
) -> list[DomainRow]:
    """Per tier, its easy centre beside its long tail: key (tier, slice) with slices
    "easy centre" (low uncertainty and in distribution), "high uncertainty" (any OOD band),
    "out of distribution" (edge or out, any uncertainty) and "long tail" (either). Shares are
    of the whole window's traffic, so the slices of a tier show how much of it each is."""
    targets = targets or {}
    total = int(data.population.sum())
    tiers = sorted(set(data.labels["tier"]))
    uncertain = data.labels["uncertainty"] != CENTRE_UNCERTAINTY
    outside = data.labels["ood"] != CENTRE_OOD
    slices = (
        ("easy centre", ~uncertain & ~outside),
        ("high uncertainty", uncertain),
        ("out of distribution", outside),
        ("long tail", uncertain | outside),
    )
    rows = []
    for tier in tiers:
        in_tier = data.labels["tier"] == tier
        for name, mask in slices:
            domain = in_tier & mask
            if not domain.any():
                continue
            rows.append(
                domain_row(
                    data,
                    (tier, name),
                    domain,
                    method=method,
                    target=targets.get(tier),
                    total=total,
                )
            )
    return rows


def alarm_queryset(*, plan: str = "", status: str = "active", kind: str = "") -> QuerySet[Any]:
    """Alarms by filter, newest day first: the one read behind the alarms page, its CSV, the
    open-alarm count of every page and the summary's list. `plan` (a name) also matches the
    drift alarms of the sources of the plan's current version (its confidence drift is part of
    its story); `status` "active" (the default) is every alarm not closed, whatever its day —
    an alarm stays open until someone closes it — "all" every alarm, else one status."""
    from django.db.models import Q

    from reviewapp.reports.models import Alarm

    alarms = Alarm.objects.select_related("plan", "source", "acknowledged_by")
    if plan:
        chosen = Plan.objects.filter(name=plan).select_related("current_version").first()
        version = chosen.current_version if chosen else None
        sources = list(version.sources.values_list("pk", flat=True)) if version else []
        alarms = alarms.filter(Q(plan__name=plan) | Q(source_id__in=sources))
    if status == "active" or not status:
        alarms = alarms.exclude(status=Alarm.Status.CLOSED)
    elif status != "all":
        alarms = alarms.filter(status=status)
    if kind:
        alarms = alarms.filter(kind=kind)
    return alarms.order_by("-day", "-opened_at", "-pk")


def open_alarms(*, plan: Plan) -> QuerySet[Any]:
    """The plan's open alarms (not closed, any day): what the alarms page lists for the plan."""
    return alarm_queryset(plan=plan.name)


def open_alarm_count(*, user: object) -> int | None:
    """How many alarms are open (not closed, every plan and source): the number the alarms
    page lists by default, shown on every page. None for a user who may not read alarms."""
    from reviewapp.review.roles import QA_LEAD, VIEWER, has_role

    if not getattr(user, "is_authenticated", False) or not has_role(user, QA_LEAD, VIEWER):
        return None
    return alarm_queryset().count()


def open_alarm_tiers(*, plan: Plan, start: dt.date, end: dt.date) -> set[str]:
    """Tiers with an open quality alarm (below target or CUSUM) of the plan raised on a day of
    the window (the report's "Open alarm" column is about the window's data)."""
    from reviewapp.reports.models import Alarm

    return set(
        open_alarms(plan=plan)
        .filter(plan=plan, kind__in=Alarm.QUALITY_KINDS, day__gte=start, day__lte=end)
        .values_list("tier", flat=True)
    )
