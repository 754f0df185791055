"""Reads for the trends page: per tier, accuracy per day or ISO week, feedback rates per 1,000
answers per day, and router-confidence drift per day, each as a list of plain rows that the page
charts and tabulates (the same rows feed its CSV).

Where the numbers come from:
- accuracy: `selectors.report_data` over the window, then `selectors.domain_estimate` on the
  strata of one tier and one period (a day's strata are the strata of that day's queue; a week's
  are its days' strata), so each point is the design-based estimate with its 95 % interval;
- feedback: thumbs-down and handoff events joined to their response's tier and day, counted in
  the database; the denominators are the answers per tier per day stored in `StratumCount`
  populations of the plan's probability queues, so responses are not rescanned. A rate is the
  share of answers with at least one such event, per 1,000, with a Wilson (1927) interval
  (`sampling.estimate.wilson_interval` with n the day's answers);
- drift: PSI of the day's production router confidence (one tier, the plan's sources) against
  the router confidence of the reference records with the same router label(s)
  (`sampling.drift.drift`). This one reads responses: one indexed (tier, timestamp) query per
  tier and day, values only, so memory is bounded by one day of one tier.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from reviewapp.responses.models import FeedbackEvent, ReferenceRecord, Response, Source
from reviewapp.review.models import Plan, Queue, StratumCount
from sampling.drift import PSI_ALERT, PSI_WARN, drift
from sampling.estimate import wilson_interval

from .exports import Table
from .models import Alarm
from .selectors import domain_estimate, report_data
from .tables import num, pct

PERIODS = ("day", "week")
HISTOGRAM_BINS = 20
CHUNK = 5_000


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    label: str
    first: dt.date
    last: dt.date


def periods(start: dt.date, end: dt.date, period: str = "day") -> list[Period]:
    """The days of start..end, or its ISO weeks clipped to the window (label 2025-W03)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if period == "day":
        return [Period(d.isoformat(), d, d) for d in days]
    weeks: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for d in days:
        year, week, _ = d.isocalendar()
        weeks[(year, week)].append(d)
    return [Period(f"{y}-W{w:02d}", ds[0], ds[-1]) for (y, w), ds in weeks.items()]


# --------------------------------------------------------------------------- accuracy


@dataclass(frozen=True)
class AccuracyPoint:
    tier: str
    period: str
    first_day: dt.date
    last_day: dt.date
    population: int
    reviewed: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    target: float | None
    alarms: int


def accuracy_series(
    *, plan: Plan, start: dt.date, end: dt.date, period: str = "day", method: str = "wilson"
) -> list[AccuracyPoint]:
    """Per tier and period: the stratified accuracy estimate of that period's strata."""
    data = report_data(plan=plan, start=start, end=end)
    version = plan.current_version
    targets = version.targets if version else {}
    alarms = alarm_days(plan=plan, start=start, end=end)
    day_labels = data.labels["day"]
    rows = []
    for tier in sorted(set(data.labels["tier"])):
        in_tier = data.labels["tier"] == tier
        for p in periods(start, end, period):
            in_period = (day_labels >= p.first.isoformat()) & (day_labels <= p.last.isoformat())
            domain = in_tier & in_period
            if not domain.any():
                continue
            estimate = domain_estimate(data, domain, method=method)
            rows.append(
                AccuracyPoint(
                    tier=tier,
                    period=p.label,
                    first_day=p.first,
                    last_day=p.last,
                    population=int(data.population[domain].sum()),
                    reviewed=int(domain[data.item_stratum].sum()),
                    accuracy=estimate.estimate if estimate else None,
                    ci_low=estimate.ci_low if estimate else None,
                    ci_high=estimate.ci_high if estimate else None,
                    target=targets.get(tier),
                    alarms=sum(1 for t, d in alarms if t == tier and p.first <= d <= p.last),
                )
            )
    return rows


def alarm_days(
    *, plan: Plan, start: dt.date, end: dt.date, drift: bool = False
) -> list[tuple[str, dt.date]]:
    """(tier, day) of the alarms of the window: quality alarms of the plan, or with
    `drift=True` drift alarms of the plan's sources (reviewapp.reports.models.Alarm)."""
    if drift:
        alarms = Alarm.objects.filter(
            kind__in=Alarm.DRIFT_KINDS, source_id__in=_plan_source_ids(plan)
        )
    else:
        alarms = Alarm.objects.filter(kind__in=Alarm.QUALITY_KINDS, plan=plan)
    return [
        (tier, day)
        for tier, day in alarms.filter(day__gte=start, day__lte=end)
        .values_list("tier", "day")
        .distinct()
    ]


# --------------------------------------------------------------------------- feedback


@dataclass(frozen=True)
class FeedbackPoint:
    tier: str
    day: dt.date
    answers: int
    thumbs_down: int
    thumbs_down_per_1000: float
    thumbs_down_low: float
    thumbs_down_high: float
    handoff: int
    handoff_per_1000: float
    handoff_low: float
    handoff_high: float


def _per_1000(count: int, n: int) -> tuple[float, float, float]:
    p = min(count, n) / n
    low, high = wilson_interval(p, n)
    if count == 0:  # exactly 0 (the formula leaves a rounding residue)
        low = 0.0
    return 1000 * p, 1000 * low, 1000 * high


def _day_sources(plan: Plan, start: dt.date, end: dt.date) -> dict[dt.date, set[int]]:
    """The sources each day's probability queue was built from (its plan version's)."""
    out: dict[dt.date, set[int]] = defaultdict(set)
    for day, source_id in Queue.objects.filter(
        plan=plan, kind=Queue.Kind.PROBABILITY, day__gte=start, day__lte=end
    ).values_list("day", "plan_version__sources"):
        if source_id is not None:
            out[day].add(source_id)
    return out


def feedback_series(*, plan: Plan, start: dt.date, end: dt.date) -> list[FeedbackPoint]:
    """Per tier and day with a queue: answers (from stored populations), and the answers with a
    thumbs-down / a handoff, per 1,000 with Wilson intervals."""
    answers: dict[tuple[str, dt.date], int] = {
        (tier, day): int(total)
        for tier, day, total in StratumCount.objects.filter(
            queue__plan=plan,
            queue__kind=Queue.Kind.PROBABILITY,
            queue__day__gte=start,
            queue__day__lte=end,
        )
        .values_list("tier", "queue__day")
        .annotate(total=Sum("population"))
        .values_list("tier", "queue__day", "total")
    }
    if not answers:
        return []
    sources = _day_sources(plan, start, end)
    all_sources = set().union(*sources.values()) if sources else set()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    counts: dict[tuple[str, dt.date, str], int] = defaultdict(int)
    events = (
        FeedbackEvent.objects.filter(
            kind__in=(FeedbackEvent.Kind.THUMBS_DOWN, FeedbackEvent.Kind.HANDOFF),
            response__source_id__in=all_sources,
            response__timestamp__gte=lo,
            response__timestamp__lt=hi,
        )
        .annotate(day=TruncDate("response__timestamp", tzinfo=dt.UTC))
        .values_list("response__source_id", "response__tier", "day", "kind")
        .annotate(n=Count("response", distinct=True))
        .order_by()
    )
    for source_id, tier, day, kind, n in events:
        if source_id in sources.get(day, ()):
            counts[(tier, day, kind)] += n
    rows = []
    for tier, day in sorted(answers):
        n = answers[(tier, day)]
        if n <= 0:
            continue
        down = counts[(tier, day, "thumbs_down")]
        handoff = counts[(tier, day, "handoff")]
        d_rate, d_low, d_high = _per_1000(down, n)
        h_rate, h_low, h_high = _per_1000(handoff, n)
        rows.append(
            FeedbackPoint(
                tier=tier,
                day=day,
                answers=n,
                thumbs_down=down,
                thumbs_down_per_1000=d_rate,
                thumbs_down_low=d_low,
                thumbs_down_high=d_high,
                handoff=handoff,
                handoff_per_1000=h_rate,
                handoff_low=h_low,
                handoff_high=h_high,
            )
        )
    return rows


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class DriftPoint:
    tier: str
    day: dt.date
    production: int
    reference: int
    psi: float
    psi_level: str
    wasserstein_norm: float
    ks_pvalue: float


def _plan_source_ids(plan: Plan) -> list[int]:
    version = plan.current_version
    return list(version.sources.values_list("pk", flat=True)) if version else []


def _reference(source_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(router labels, router confidences) of the reference records of the sources' reference
    sets (linked either way: Source.reference_set or ReferenceSet.source)."""
    linked = Source.objects.filter(pk__in=source_ids, reference_set__isnull=False).values(
        "reference_set"
    )
    rows = ReferenceRecord.objects.filter(
        Q(reference_set__source_id__in=source_ids) | Q(reference_set__in=linked),
        router_confidence__isnull=False,
    ).values_list("router_label", "router_confidence")
    labels, values = [], []
    for label, value in rows.iterator(chunk_size=CHUNK):
        labels.append(label)
        values.append(value)
    return np.array(labels, dtype=object), np.array(values, dtype=float)


def _production(source_ids: list[int], tier: str, day: dt.date) -> tuple[np.ndarray, set[str]]:
    lo = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    rows = Response.objects.filter(
        tier=tier,
        timestamp__gte=lo,
        timestamp__lt=lo + dt.timedelta(days=1),
        source_id__in=source_ids,
        router_confidence__isnull=False,
    ).values_list("router_confidence", "router_label")
    labels: set[str] = set()
    values = []
    for value, label in rows.iterator(chunk_size=CHUNK):
        values.append(value)
        labels.add(label)
    return np.array(values, dtype=float), labels


def _reference_for(ref_labels: np.ndarray, ref_values: np.ndarray, labels: set[str]) -> np.ndarray:
    """The reference records with the production's router label(s); all of them when none
    matches (e.g. the records carry no label)."""
    same = np.isin(ref_labels, list(labels))
    return ref_values[same] if same.any() else ref_values


def drift_tiers(*, plan: Plan, start: dt.date, end: dt.date) -> list[str]:
    return sorted(
        set(
            StratumCount.objects.filter(
                queue__plan=plan,
                queue__kind=Queue.Kind.PROBABILITY,
                queue__day__gte=start,
                queue__day__lte=end,
            ).values_list("tier", flat=True)
        )
        - {""}
    )


def _production_day(source_ids: list[int], day: dt.date) -> dict[str, tuple[np.ndarray, set[str]]]:
    """One day's production router confidence per tier (and the router labels seen): one
    query over the day's rows, values only, so memory is one day's floats."""
    lo = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    rows = Response.objects.filter(
        timestamp__gte=lo,
        timestamp__lt=lo + dt.timedelta(days=1),
        source_id__in=source_ids,
        router_confidence__isnull=False,
    ).values_list("tier", "router_confidence", "router_label")
    values: dict[str, list[float]] = defaultdict(list)
    labels: dict[str, set[str]] = defaultdict(set)
    for tier, value, label in rows.iterator(chunk_size=CHUNK):
        values[tier].append(value)
        labels[tier].add(label)
    return {t: (np.array(v, dtype=float), labels[t]) for t, v in values.items()}


def drift_series(*, plan: Plan, start: dt.date, end: dt.date) -> list[DriftPoint]:
    """Per tier (of the plan's strata) and day with production and a reference: PSI (and
    Wasserstein/SD, KS p-value)."""
    source_ids = _plan_source_ids(plan)
    ref_labels, ref_values = _reference(source_ids)
    if not len(ref_values):
        return []
    tiers = drift_tiers(plan=plan, start=start, end=end)
    rows = []
    for p in periods(start, end, "day"):
        by_tier = _production_day(source_ids, p.first)
        for tier in tiers:
            if tier not in by_tier:
                continue
            production, labels = by_tier[tier]
            result = drift(_reference_for(ref_labels, ref_values, labels), production)
            rows.append(
                DriftPoint(
                    tier=tier,
                    day=p.first,
                    production=result.n_production,
                    reference=result.n_reference,
                    psi=result.psi,
                    psi_level=result.psi_level,
                    wasserstein_norm=result.wasserstein_norm,
                    ks_pvalue=result.ks_pvalue,
                )
            )
    rows.sort(key=lambda r: (r.tier, r.day))
    return rows


@dataclass(frozen=True)
class Histogram:
    tier: str
    day: dt.date
    edges: list[float]
    reference_share: list[float]
    production_share: list[float]
    point: DriftPoint | None


def drift_histogram(*, plan: Plan, tier: str, day: dt.date) -> Histogram:
    """Reference vs production router confidence of one tier and day, as shares of
    HISTOGRAM_BINS equal-width bins over [0, 1] (widened if a value falls outside)."""
    source_ids = _plan_source_ids(plan)
    ref_labels, ref_values = _reference(source_ids)
    production, labels = _production(source_ids, tier, day)
    reference = _reference_for(ref_labels, ref_values, labels) if len(ref_values) else ref_values
    both = np.concatenate([reference, production])
    lo = min(0.0, float(both.min())) if len(both) else 0.0
    hi = max(1.0, float(both.max())) if len(both) else 1.0
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)

    def shares(values: np.ndarray) -> list[float]:
        if not len(values):
            return [0.0] * HISTOGRAM_BINS
        counts, _ = np.histogram(values, bins=edges)
        return [float(c) / len(values) for c in counts]

    point = None
    if len(reference) and len(production):
        result = drift(reference, production)
        point = DriftPoint(
            tier=tier,
            day=day,
            production=result.n_production,
            reference=result.n_reference,
            psi=result.psi,
            psi_level=result.psi_level,
            wasserstein_norm=result.wasserstein_norm,
            ks_pvalue=result.ks_pvalue,
        )
    return Histogram(
        tier=tier,
        day=day,
        edges=[float(e) for e in edges],
        reference_share=shares(reference),
        production_share=shares(production),
        point=point,
    )


# --------------------------------------------------------------------------- chart data


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def chart_data(
    accuracy: list[AccuracyPoint],
    feedback: list[FeedbackPoint],
    drifts: list[DriftPoint],
    *,
    drift_alarms: list[tuple[str, dt.date]] | None = None,
) -> dict[str, Any]:
    """What static/charts.js draws, as plain JSON-able values (put in the page by json_script)."""
    by_tier: dict[str, list[AccuracyPoint]] = defaultdict(list)
    for a in accuracy:
        by_tier[a.tier].append(a)
    fb_tier: dict[str, list[FeedbackPoint]] = defaultdict(list)
    for f in feedback:
        fb_tier[f.tier].append(f)
    drift_days = sorted({d.day.isoformat() for d in drifts})
    alarmed = set(drift_alarms or ())
    drift_tier: dict[str, dict[str, float]] = defaultdict(dict)
    for d in drifts:
        drift_tier[d.tier][d.day.isoformat()] = round(d.psi, 4)
    return {
        "accuracy": [
            {
                "tier": tier,
                "labels": [p.period for p in points],
                "accuracy": [_r(p.accuracy) for p in points],
                "low": [_r(p.ci_low) for p in points],
                "high": [_r(p.ci_high) for p in points],
                "target": points[0].target,
                "alarms": [p.alarms for p in points],
            }
            for tier, points in by_tier.items()
        ],
        "feedback": [
            {
                "tier": tier,
                "labels": [p.day.isoformat() for p in points],
                "thumbs_down": [_r(p.thumbs_down_per_1000, 3) for p in points],
                "thumbs_down_low": [_r(p.thumbs_down_low, 3) for p in points],
                "thumbs_down_high": [_r(p.thumbs_down_high, 3) for p in points],
                "handoff": [_r(p.handoff_per_1000, 3) for p in points],
                "handoff_low": [_r(p.handoff_low, 3) for p in points],
                "handoff_high": [_r(p.handoff_high, 3) for p in points],
            }
            for tier, points in fb_tier.items()
        ],
        "drift": {
            "labels": drift_days,
            "warn": PSI_WARN,
            "alert": PSI_ALERT,
            "series": [
                {
                    "tier": tier,
                    "psi": [values.get(day) for day in drift_days],
                    "alarms": [(tier, dt.date.fromisoformat(day)) in alarmed for day in drift_days],
                }
                for tier, values in sorted(drift_tier.items())
            ],
        },
    }


def histogram_chart(histogram: Histogram) -> dict[str, Any]:
    edges = histogram.edges
    return {
        "labels": [f"{edges[i]:.2f}–{edges[i + 1]:.2f}" for i in range(len(edges) - 1)],
        "reference": [round(v, 5) for v in histogram.reference_share],
        "production": [round(v, 5) for v in histogram.production_share],
    }


def as_dicts(rows: list[Any]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


# --------------------------------------------------------------------------- tables


def accuracy_table(points: list[AccuracyPoint]) -> Table:
    """The accuracy chart's numbers, as the page prints them (and the CSV writes them)."""
    columns = [
        "Tier",
        "Period",
        "First day",
        "Last day",
        "Responses",
        "Reviews",
        "Accuracy (%)",
        "95% CI low (%)",
        "95% CI high (%)",
        "Target (%)",
        "Alarms",
    ]
    table = Table(columns=columns, rows=[], numeric=set(range(4, len(columns))))
    for p in points:
        table.rows.append(
            [
                p.tier,
                p.period,
                p.first_day.isoformat(),
                p.last_day.isoformat(),
                str(p.population),
                str(p.reviewed),
                pct(p.accuracy),
                pct(p.ci_low),
                pct(p.ci_high),
                pct(p.target),
                str(p.alarms),
            ]
        )
    return table


def feedback_table(points: list[FeedbackPoint]) -> Table:
    columns = [
        "Tier",
        "Day",
        "Answers",
        "Thumbs-down",
        "Thumbs-down per 1,000",
        "95% CI low",
        "95% CI high",
        "Handoffs",
        "Handoffs per 1,000",
        "95% CI low",
        "95% CI high",
    ]
    table = Table(columns=columns, rows=[], numeric=set(range(2, len(columns))))
    for p in points:
        table.rows.append(
            [
                p.tier,
                p.day.isoformat(),
                str(p.answers),
                str(p.thumbs_down),
                num(p.thumbs_down_per_1000, 2),
                num(p.thumbs_down_low, 2),
                num(p.thumbs_down_high, 2),
                str(p.handoff),
                num(p.handoff_per_1000, 2),
                num(p.handoff_low, 2),
                num(p.handoff_high, 2),
            ]
        )
    return table


def drift_table(points: list[DriftPoint]) -> Table:
    columns = [
        "Tier",
        "Day",
        "Production answers",
        "Reference records",
        "PSI",
        "PSI level",
        "Wasserstein / reference SD",
        "KS p-value",
    ]
    table = Table(columns=columns, rows=[], numeric={2, 3, 4, 6, 7})
    for p in points:
        table.rows.append(
            [
                p.tier,
                p.day.isoformat(),
                str(p.production),
                str(p.reference),
                num(p.psi, 3),
                p.psi_level,
                num(p.wasserstein_norm, 3),
                f"{p.ks_pvalue:.3g}",
            ]
        )
    return table
