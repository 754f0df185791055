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
- drift: per source of the plan, tier and day, the stored `DailyDrift` row (PSI of the day's
  router confidence against the source's reference records with the same router label(s),
  or, when the reference set has too few of them, against the tier's own first production
  days; `sampling.drift.drift`, its alarm level `sampling.drift.drift_decision`), written
  after each ingest by the drift alarms
  (`services.drift_compute`). A day with answers and no row (ingested before drift was stored)
  is computed and stored on first read; `manage.py compute_drift --since D` backfills ahead of
  time. Only a drift day's histogram reads responses: one source, tier and day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from reviewapp.responses.models import FeedbackEvent, Source
from reviewapp.review.models import Plan, Queue, StratumCount
from sampling.drift import PSI_ALERT, PSI_WARN
from sampling.estimate import wilson_interval

from .exports import Table
from .models import Alarm, DailyDrift
from .selectors import domain_estimate, report_data
from .services import drift_compute_missing, drift_production, drift_reference
from .tables import num, pct

PERIODS = ("day", "week")
HISTOGRAM_BINS = 20


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


# A point estimated from fewer reviews than this is drawn faded, without its interval band:
# with a dozen reviews a 95 % interval spans 20–40 points (0–100 % near p̂ = 0.5) and the band
# hides every other point on the chart. The table keeps its numbers.
MIN_REVIEWS_PER_POINT = 20
# The accuracy charts of all tiers share one y-axis: from the lowest well-estimated interval
# edge or target, rounded down to this step, to 100 %.
AXIS_STEP = 0.05


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


def alarm_days(*, plan: Plan, start: dt.date, end: dt.date) -> list[tuple[str, dt.date]]:
    """(tier, day) of the plan's quality alarms in the window (reviewapp.reports.models.Alarm)."""
    alarms = Alarm.objects.filter(kind__in=Alarm.QUALITY_KINDS, plan=plan)
    return list(alarms.filter(day__gte=start, day__lte=end).values_list("tier", "day").distinct())


def drift_alarm_days(*, plan: Plan, start: dt.date, end: dt.date) -> list[tuple[str, str, dt.date]]:
    """(source name, tier, day) of the drift alarms of the plan's sources in the window."""
    alarms = Alarm.objects.filter(kind__in=Alarm.DRIFT_KINDS, source_id__in=_plan_source_ids(plan))
    return list(
        alarms.filter(day__gte=start, day__lte=end)
        .values_list("source__name", "tier", "day")
        .distinct()
    )


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
    """One stored tier-day: the effect sizes, their p-values, the level the alarm rule gives
    (`DailyDrift.level`: ok / warn / alert, or "not tested") and what it was compared with."""

    source: str
    tier: str
    day: dt.date
    production: int
    reference: int
    compared_with: str
    psi: float
    psi_pvalue: float
    psi_level: str
    wasserstein_norm: float
    ks_pvalue: float
    level: str


def plan_sources(plan: Plan) -> list[Source]:
    version = plan.current_version
    return list(version.sources.order_by("name")) if version else []


def _plan_source_ids(plan: Plan) -> list[int]:
    return [s.pk for s in plan_sources(plan)]


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


def _point(row: DailyDrift) -> DriftPoint:
    return DriftPoint(
        source=row.source.name,
        tier=row.tier,
        day=row.day,
        production=row.n_production,
        reference=row.n_reference,
        compared_with=row.compared_with,
        psi=row.psi,
        psi_pvalue=row.psi_pvalue,
        psi_level=row.psi_level,
        wasserstein_norm=row.wasserstein_norm,
        ks_pvalue=row.ks_pvalue,
        level=row.level,
    )


def drift_series(*, plan: Plan, start: dt.date, end: dt.date) -> list[DriftPoint]:
    """Per source of the plan, tier (of the plan's strata) and day: the stored DailyDrift
    (PSI, Wasserstein/SD, KS p-value); days with answers but no stored row are computed and
    stored first (`services.drift_compute_missing`)."""
    sources = plan_sources(plan)
    tiers = drift_tiers(plan=plan, start=start, end=end)
    if not sources or not tiers:
        return []
    for source in sources:
        drift_compute_missing(source=source, start=start, end=end)
    rows = DailyDrift.objects.filter(
        source__in=sources, tier__in=tiers, day__gte=start, day__lte=end
    ).select_related("source", "reference_set")
    return sorted((_point(r) for r in rows), key=lambda p: (p.tier, p.day, p.source))


@dataclass(frozen=True)
class Histogram:
    source: str
    tier: str
    day: dt.date
    edges: list[float]
    reference_share: list[float]
    production_share: list[float]
    point: DriftPoint | None


def drift_histogram(
    *, plan: Plan, tier: str, day: dt.date, source: Source | None = None
) -> Histogram:
    """Reference vs production router confidence of one source of the plan (it may be left out
    when the plan has one), tier and day, as shares of HISTOGRAM_BINS equal-width bins over
    [0, 1] (widened if a value falls outside), with the day's stored drift. The reference is
    the one the stored PSI used (`DriftReference.for_tier`: the tier's router labels, or the
    tier's own first production days)."""
    if source is None:
        sources = plan_sources(plan)
        if len(sources) != 1:
            raise ValueError(f"plan {plan.name} has {len(sources)} sources: name one")
        source = sources[0]
    drift_compute_missing(source=source, start=day, end=day)
    row = (
        DailyDrift.objects.filter(source=source, tier=tier, day=day)
        .select_related("source", "reference_set")
        .first()
    )
    reference = drift_reference(source)
    production, labels = drift_production(source=source, day=day, tier=tier).get(
        tier, (np.array([], dtype=float), [])
    )
    used = reference.for_tier(tier=tier, day=day, labels=labels) if reference else None
    reference_values = used.values if used is not None else np.array([], dtype=float)
    both = np.concatenate([reference_values, production])
    lo = min(0.0, float(both.min())) if len(both) else 0.0
    hi = max(1.0, float(both.max())) if len(both) else 1.0
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)

    def shares(values: np.ndarray) -> list[float]:
        if not len(values):
            return [0.0] * HISTOGRAM_BINS
        counts, _ = np.histogram(values, bins=edges)
        return [float(c) / len(values) for c in counts]

    return Histogram(
        source=source.name,
        tier=tier,
        day=day,
        edges=[float(e) for e in edges],
        reference_share=shares(reference_values),
        production_share=shares(production),
        point=_point(row) if row else None,
    )


# --------------------------------------------------------------------------- chart data


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def chart_data(
    accuracy: list[AccuracyPoint],
    feedback: list[FeedbackPoint],
    drifts: list[DriftPoint],
    *,
    drift_alarms: list[tuple[str, str, dt.date]] | None = None,
) -> dict[str, Any]:
    """What static/charts.js draws, as plain JSON-able values (put in the page by json_script).
    Accuracy points with fewer than MIN_REVIEWS_PER_POINT reviews are flagged `sparse` (drawn
    faded, without a band); `accuracy_axis` is the one y-range every tier's chart uses."""
    by_tier: dict[str, list[AccuracyPoint]] = defaultdict(list)
    for a in accuracy:
        by_tier[a.tier].append(a)
    fb_tier: dict[str, list[FeedbackPoint]] = defaultdict(list)
    for f in feedback:
        fb_tier[f.tier].append(f)
    drift_days = sorted({d.day.isoformat() for d in drifts})
    alarmed = set(drift_alarms or ())
    several = len({d.source for d in drifts}) > 1
    drift_series: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for d in drifts:
        drift_series[(d.source, d.tier)][d.day.isoformat()] = round(d.psi, 4)
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
                "reviews": [p.reviewed for p in points],
                "sparse": [p.reviewed < MIN_REVIEWS_PER_POINT for p in points],
            }
            for tier, points in by_tier.items()
        ],
        "accuracy_axis": accuracy_axis(accuracy),
        "min_reviews": MIN_REVIEWS_PER_POINT,
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
                    # One series per tier; per source and tier when the plan has several.
                    "tier": f"{source} · {tier}" if several else tier,
                    "psi": [values.get(day) for day in drift_days],
                    "alarms": [
                        (source, tier, dt.date.fromisoformat(day)) in alarmed for day in drift_days
                    ],
                }
                for (source, tier), values in sorted(
                    drift_series.items(), key=lambda kv: kv[0][::-1]
                )
            ],
        },
    }


def accuracy_axis(points: list[AccuracyPoint]) -> dict[str, float]:
    """The y-range, in %, shared by every tier's accuracy chart so that tiers compare at a
    glance: 100 at the top; at the bottom the lowest estimate, target, or interval edge of a
    point with enough reviews (a sparse point's band is not drawn, and its wide interval would
    flatten the others), rounded down to AXIS_STEP and at least one step below the top."""
    values = [p.target for p in points if p.target is not None]
    values += [p.accuracy for p in points if p.accuracy is not None]
    values += [
        p.ci_low for p in points if p.reviewed >= MIN_REVIEWS_PER_POINT and p.ci_low is not None
    ]
    low = min(values, default=0.0)
    steps = int(np.floor(max(0.0, low) / AXIS_STEP + 1e-9))
    bottom = min(steps * AXIS_STEP, 1.0 - AXIS_STEP)
    return {"min": round(100 * bottom, 1), "max": 100.0}


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
    """The drift chart's numbers; a Source column first when the points span several sources
    (a plan over several sources has a drift per source: each has its own reference). "Level"
    is the alarm rule's (significant and material), "Compared with" the tier's reference."""
    several = len({p.source for p in points}) > 1
    columns = [
        "Tier",
        "Day",
        "Level",
        "Compared with",
        "Production answers",
        "Reference values",
        "PSI",
        "PSI p-value",
        "Wasserstein / reference SD",
        "KS p-value",
    ]
    numeric = {4, 5, 6, 7, 8, 9}
    if several:
        columns.insert(0, "Source")
        numeric = {i + 1 for i in numeric}
    table = Table(columns=columns, rows=[], numeric=numeric)
    for p in points:
        row = [
            p.tier,
            p.day.isoformat(),
            p.level,
            p.compared_with,
            str(p.production),
            str(p.reference),
            num(p.psi, 3),
            f"{p.psi_pvalue:.3g}",
            num(p.wasserstein_norm, 3),
            f"{p.ks_pvalue:.3g}",
        ]
        table.rows.append([p.source, *row] if several else row)
    return table


def drift_day_column(table: Table) -> int:
    """The index of the Day column (the cell that links to the day's histograms)."""
    return table.columns.index("Day")
