"""Writes of the reports app: alarms (computed, acknowledged, closed, notified).

Quality alarms, per plan and tier, after each day's reviews:
- **below target**: the tier's stratified estimate over the trailing 7 days (ending on the day)
  has its whole ALARM_BELOW_TARGET_CONFIDENCE (99.9 %) interval under the tier's target
  (`sampling.detect.below_target`) and the previous day's did not: one alarm per episode, on
  the day it starts.
- **CUSUM**: risk-adjusted Bernoulli CUSUMs (`sampling.detect.cusum`), one per tier ×
  uncertainty band (one per tier when the plan does not stratify by uncertainty:
  `sampling.monitor.chart_groups`), over the chart's reviewed items in review order (the time
  of each item's first review). X = 1 when the item is *not fully correct*: its score
  (adjudicated verdict, else the mean of its reviews) is below 1, so "partially correct"
  counts as wrong — the chart is Bernoulli, and a partial answer is one a user could not rely
  on. p0 is the item's stratum's error rate under the same rule in the plan's baseline window
  (`alarm_baseline_window`: set by a QA lead on the alarms page, else the first
  ALARM_BASELINE_DAYS queue days), shrunk towards the tier's rate (`sampling.baseline`); items
  after the window are monitored. The thresholds of ALL the plan's charts are set together
  (`sampling.monitor.calibrate_plan`) for the promise `quality_alarm_promise()` states — at
  most ALARM_FALSE_ALARMS_PER_QUARTER false alarms per plan per quarter (91 days) in
  ALARM_QUARTER_SHARE of stable quarters — with the uncertainty of the estimated p0 built in
  (each simulated quarter draws the true rates from their posterior). The whole pipeline is
  `sampling.monitor.plan_alarms`, the function `benchmarks/alarms.py` measures. After an
  alarm the chart restarts from 0 (`cusum(restart=True)`), so a persistent shift raises one
  alarm per day it keeps crossing (the alarm is unique per plan, tier and day), and the
  alarm's day is the queue day of the item whose review crossed h.

Drift, per source, tier and day, after each ingest: PSI, KS and Wasserstein/σ of that day's
router confidence against the source's reference set (`sampling.drift.drift`), stored as a
`DailyDrift` row (updated in place when the day is recomputed; `manage.py compute_drift`
backfills). Drift alarms are read from those rows: PSI warn ≥ 0.10, alert ≥ 0.25;
Wasserstein/σ alert ≥ 0.1; KS is recorded in the evidence, never alarmed on.

Recomputing is idempotent: an alarm is unique per (plan or source, tier, kind, day); a recompute
refreshes its evidence and may raise its level (warn → alert), never duplicates it, and never
deletes it (an alarm is a record of what the data said when it was computed). A *new* alarm, or
one raised to alert, is notified (e-mail, webhook) by Celery tasks after the commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from reviewapp.responses.models import ReferenceRecord, ReferenceSet, Response, Source
from reviewapp.review.models import Plan, PlanVersion, Queue, Review
from sampling.detect import below_target
from sampling.drift import DRIFT_ALPHA, PSI_ALERT, PSI_WARN, WASSERSTEIN_ALERT, drift
from sampling.estimate import Estimate, stratified_estimate
from sampling.monitor import QUARTER_DAYS, plan_alarms

from .models import Alarm, AlarmBaseline, DailyDrift
from .selectors import ReportData, domain_estimate, report_data

logger = logging.getLogger(__name__)

BELOW_TARGET_WINDOW_DAYS = 7
# Drift on fewer answers than this in a tier and day is noise, not a signal.
DRIFT_MIN_ANSWERS = 100
# How many of the reviews that drove a CUSUM alarm its evidence lists.
CUSUM_EVIDENCE_ITEMS = 25
CUSUM_ODDS_RATIO = 2.0


def _setting(name: str, default: Any) -> Any:
    return settings.LONGTAIL.get(name, default)


# --- raising an alarm -----------------------------------------------------------------------


def _alarm_upsert(
    *,
    plan: Plan | None = None,
    source: Source | None = None,
    tier: str,
    kind: str,
    day: dt.date,
    level: str,
    evidence: dict[str, Any],
) -> tuple[Alarm, bool]:
    """Create the alarm, or refresh the one already raised for the same (subject, tier, kind,
    day). Returns (alarm, notify): notify when it is new or was raised from warn to alert."""
    lookup = {"plan": plan, "source": source, "tier": tier, "kind": kind, "day": day}
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().filter(**lookup).first()
        if alarm is None:
            try:
                with transaction.atomic():
                    alarm = Alarm.objects.create(**lookup, level=level, evidence=evidence)
            except IntegrityError:
                # Another worker raised it between our read and our insert.
                alarm = Alarm.objects.select_for_update().get(**lookup)
            else:
                transaction.on_commit(lambda: _notify(alarm.pk))
                return alarm, True
        escalated = level == Alarm.Level.ALERT and alarm.level == Alarm.Level.WARN
        alarm.evidence = evidence
        fields = ["evidence"]
        if escalated:
            alarm.level = Alarm.Level.ALERT
            fields.append("level")
        alarm.save(update_fields=fields)
        if escalated:
            transaction.on_commit(lambda: _notify(alarm.pk))
        return alarm, escalated


def _notify(alarm_id: int) -> None:
    """Send the notification tasks; a broker that is down must not fail the computation."""
    from .tasks import notify_alarm_email, notify_alarm_webhook

    for task, wanted in (
        (notify_alarm_email, bool(_setting("ALARM_EMAILS", []))),
        (notify_alarm_webhook, bool(_setting("ALARM_WEBHOOK_URL", ""))),
    ):
        if not wanted:
            continue
        try:
            task.delay(alarm_id)
        except Exception:
            logger.exception("could not send %s for alarm %s", task.name, alarm_id)


# --- quality alarms -------------------------------------------------------------------------


def _version_for(plan: Plan, day: dt.date) -> PlanVersion | None:
    """The version the day's queue was built from, else the plan's current version."""
    queue = (
        Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY, day=day)
        .select_related("plan_version")
        .first()
    )
    return queue.plan_version if queue else plan.current_version


def _below_target_alarms(*, plan: Plan, day: dt.date, targets: dict[str, float]) -> list[Alarm]:
    """One alarm per episode: the tier's trailing-7-day interval lies wholly under its target
    on `day` and did not on the day before (a shortfall that lasts is one alarm, not one a
    day: each day would count against the plan's false-alarm budget).

    The interval is at ALARM_BELOW_TARGET_CONFIDENCE (99.9 %), not the report's 95 %: the
    rule is checked every day on overlapping windows, and at 95 % a tier sitting just above
    its target (the stable scenario's capable tier: 0.933 as reviewed, target 0.93) started
    0.7 below-target episodes a quarter (benchmarks/alarms.py); at 99.9 %, none in 30."""
    start = day - dt.timedelta(days=BELOW_TARGET_WINDOW_DAYS - 1)
    data = report_data(plan=plan, start=start, end=day)
    previous_day = day - dt.timedelta(days=1)
    before = report_data(plan=plan, start=start - dt.timedelta(days=1), end=previous_day)
    confidence = float(_setting("ALARM_BELOW_TARGET_CONFIDENCE", 0.999))

    def tier_estimate(window: ReportData, tier: str) -> Estimate | None:
        domain = window.mask(tier=tier)
        if domain_estimate(window, domain) is None:
            return None
        return stratified_estimate(
            window.population,
            window.item_stratum,
            window.item_score,
            domain=domain,
            confidence=confidence,
        )

    raised = []
    for tier, target in sorted(targets.items()):
        estimate = tier_estimate(data, tier)
        if estimate is None or not below_target((estimate.ci_low, estimate.ci_high), target):
            continue
        earlier = tier_estimate(before, tier)
        if earlier is not None and below_target((earlier.ci_low, earlier.ci_high), target):
            continue  # the episode began earlier: its alarm is that day's
        alarm, _ = _alarm_upsert(
            plan=plan,
            tier=tier,
            kind=Alarm.Kind.BELOW_TARGET,
            day=day,
            level=Alarm.Level.ALERT,
            evidence={
                "window_start": start.isoformat(),
                "window_end": day.isoformat(),
                "estimate": estimate.estimate,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "confidence": estimate.confidence,
                "method": estimate.method,
                "target": float(target),
                "reviewed": estimate.n_reviewed,
                "population": estimate.population,
                "uncovered_share": estimate.uncovered_share,
                "episode_start": True,
            },
        )
        raised.append(alarm)
    return raised


def _first_review_times(item_ids: np.ndarray) -> dict[int, dt.datetime]:
    times: dict[int, dt.datetime] = {}
    ids = [int(i) for i in item_ids]
    for start in range(0, len(ids), 5000):
        times.update(
            Review.objects.filter(item_id__in=ids[start : start + 5000])
            .values("item_id")
            .annotate(first=Min("created_at"))
            .values_list("item_id", "first")
        )
    return times


@dataclass(frozen=True)
class _Cells:
    """Stratum identity across days: (tier, uncertainty band, OOD band, segment)."""

    item_cell: np.ndarray
    cell_tier: np.ndarray
    names: list[tuple[str, ...]]
    tiers: list[str]


def _cells(data: ReportData) -> _Cells:
    dims = ("tier", "uncertainty", "ood", "segment")
    keys = [tuple(str(data.labels[d][h]) for d in dims) for h in range(data.n_strata)]
    names = sorted(set(keys))
    index = {k: i for i, k in enumerate(names)}
    tiers = sorted({k[0] for k in names})
    tier_index = {t: i for i, t in enumerate(tiers)}
    stratum_cell = np.array([index[k] for k in keys], dtype=np.int64)
    return _Cells(
        item_cell=stratum_cell[data.item_stratum] if data.n_strata else np.zeros(0, np.int64),
        cell_tier=np.array([tier_index[k[0]] for k in names], dtype=np.int64),
        names=names,
        tiers=tiers,
    )


@dataclass(frozen=True)
class BaselineWindow:
    """The in-control window of a plan's quality charts: queue days `start`..`end`
    (inclusive), `days` of them with a queue; `chosen` says who chose it: "set" (a QA lead, on
    the alarms page) or "default" (the plan's first ALARM_BASELINE_DAYS queue days; None
    dates while the plan has fewer queue days than that)."""

    start: dt.date | None
    end: dt.date | None
    days: int
    chosen: str
    default_days: int

    @property
    def complete(self) -> bool:
        """Charts can run: a set window with at least one queue day, or a full default."""
        if self.chosen == "set":
            return self.days > 0
        return self.end is not None


def alarm_baseline_window(plan: Plan) -> BaselineWindow:
    """The window the plan's quality charts take their in-control rates from.

    Default: the plan's first ALARM_BASELINE_DAYS queue days. Not a rolling window: a rolling
    baseline follows a slow drift (the seed scenario's ramp) and calls it normal, which is
    exactly what the chart is there to catch. A QA lead who knows the first days were not
    good (a drift that started inside them is otherwise absorbed) sets a range known to be
    good (`alarm_baseline_set`)."""
    default_days = int(_setting("ALARM_BASELINE_DAYS", 14))
    queue_days = Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY).order_by("day")
    chosen = AlarmBaseline.objects.filter(plan=plan).first()
    if chosen is not None:
        days = queue_days.filter(day__gte=chosen.start, day__lte=chosen.end).count()
        return BaselineWindow(chosen.start, chosen.end, days, "set", default_days)
    first = list(queue_days.values_list("day", flat=True)[:default_days])
    if len(first) < default_days:
        return BaselineWindow(
            first[0] if first else None, None, len(first), "default", default_days
        )
    return BaselineWindow(first[0], first[-1], len(first), "default", default_days)


def alarm_baseline_set(
    *, plan: Plan, start: dt.date | None, end: dt.date | None, user: Any
) -> None:
    """Set the plan's in-control window to the queue days `start`..`end` (a range known to be
    good), or go back to the default when both are None. Alarms already raised stay (they are
    a record); the next computation uses the new window."""
    if start is None and end is None:
        AlarmBaseline.objects.filter(plan=plan).delete()
        return
    if start is None or end is None:
        raise AlarmError("Give both the first and the last day of the baseline, or neither.")
    if end < start:
        raise AlarmError("The baseline's last day is before its first day.")
    AlarmBaseline.objects.update_or_create(
        plan=plan, defaults={"start": start, "end": end, "set_by": user}
    )


def quality_alarm_promise() -> str:
    """What the quality alarms promise, in days and quarters (page, README, alarm text)."""
    n = int(_setting("ALARM_FALSE_ALARMS_PER_QUARTER", 1))
    share = float(_setting("ALARM_QUARTER_SHARE", 0.95))
    return (
        f"at most {n} false CUSUM alarm{'s' if n != 1 else ''} per plan per quarter "
        f"({QUARTER_DAYS} days) in {share:.0%} of stable quarters, all of the plan's charts "
        "together"
    )


def _plan_charts(*, plan: Plan, day: dt.date) -> tuple[BaselineWindow, ReportData, Any] | None:
    """The plan's charts over its reviews up to `day` (`sampling.monitor.plan_alarms`)."""
    window = alarm_baseline_window(plan)
    if not window.complete or window.start is None or window.end is None or day <= window.end:
        return None  # still in (or without) the baseline: nothing to compare with yet
    data = report_data(plan=plan, start=window.start, end=day)
    if len(data.item_ids) == 0:
        return None
    cells = _cells(data)
    item_day = data.labels["day"][data.item_stratum]
    wrong = (data.item_score < 1.0).astype(np.int64)
    in_baseline = item_day <= window.end.isoformat()
    monitored = np.flatnonzero(~in_baseline)
    first_review = _first_review_times(data.item_ids[monitored])
    order = np.array(
        sorted(
            monitored.tolist(),
            key=lambda i: (first_review[int(data.item_ids[i])], int(data.item_ids[i])),
        ),
        dtype=np.int64,
    )
    result = plan_alarms(
        baseline_wrong=wrong[in_baseline],
        baseline_cell=cells.item_cell[in_baseline],
        monitored_wrong=wrong[order],
        monitored_cell=cells.item_cell[order],
        cell_tier=[name[0] for name in cells.names],
        cell_band=[name[1] for name in cells.names],
        baseline_days=max(window.days, 1),
        days=QUARTER_DAYS,
        max_alarms=int(_setting("ALARM_FALSE_ALARMS_PER_QUARTER", 1)),
        share=float(_setting("ALARM_QUARTER_SHARE", 0.95)),
        odds_ratio=CUSUM_ODDS_RATIO,
        n_runs=int(_setting("ALARM_CUSUM_RUNS", 500)),
    )
    return window, data, (result, cells, item_day, wrong, order, first_review)


def _cusum_alarms(*, plan: Plan, day: dt.date) -> list[Alarm]:
    charted = _plan_charts(plan=plan, day=day)
    if charted is None:
        return []
    window, data, (result, cells, item_day, wrong, order, first_review) = charted
    tier_index = {t: i for i, t in enumerate(sorted({n[0] for n in cells.names}))}
    raised = []
    for chart in result.charts:
        idx = order[chart.reviews]  # item positions in `data`, in review order
        p0 = chart.p0
        t = tier_index[chart.tier]
        previous = -1
        for at in chart.result.alarms.tolist():
            zeros = np.flatnonzero(chart.result.statistic[previous + 1 : at] == 0)
            begin = previous + 1 + (int(zeros[-1]) + 1 if len(zeros) else 0)
            excursion = range(begin, at + 1)
            previous = at
            crossing = idx[at]
            drivers = [
                {
                    "item": int(data.item_ids[idx[j]]),
                    "day": str(item_day[idx[j]]),
                    "stratum": "|".join(cells.names[cells.item_cell[idx[j]]]),
                    "score": float(data.item_score[idx[j]]),
                    "p0": float(p0[j]),
                    "weight": float(chart.result.weights[j]),
                }
                for j in excursion
                if wrong[idx[j]]
            ]
            calibration = result.calibration
            alarm, _ = _alarm_upsert(
                plan=plan,
                tier=chart.tier,
                kind=Alarm.Kind.CUSUM,
                day=dt.date.fromisoformat(str(item_day[crossing])),
                level=Alarm.Level.WARN,
                evidence={
                    "chart": chart.name,
                    "statistic": float(chart.result.statistic[at]),
                    "h": chart.h,
                    "calibration": "plan",
                    "promise": quality_alarm_promise(),
                    "charts_in_plan": len(result.charts),
                    "calibrated_share": calibration.share if calibration else None,
                    "odds_ratio": CUSUM_ODDS_RATIO,
                    "crossing_item": int(data.item_ids[crossing]),
                    "crossing_review_at": first_review[int(data.item_ids[crossing])].isoformat(),
                    "reviews_in_excursion": len(excursion),
                    "wrong_in_excursion": int(sum(wrong[idx[j]] for j in excursion)),
                    "expected_wrong_in_excursion": float(p0[begin : at + 1].sum()),
                    "baseline_start": window.start.isoformat() if window.start else None,
                    "baseline_end": window.end.isoformat() if window.end else None,
                    "baseline_chosen": window.chosen,
                    "baseline_reviews": int(result.rates.tier_n[t]),
                    "baseline_error_rate": float(result.rates.tier_rate[t]),
                    "wrong_rule": "score < 1 (partially correct counts as wrong)",
                    "drivers": drivers[-CUSUM_EVIDENCE_ITEMS:],
                },
            )
            raised.append(alarm)
    return raised


def alarms_compute_quality(*, plan: Plan, day: dt.date) -> list[Alarm]:
    """Below-target and CUSUM alarms of the plan's tiers with data up to `day` (idempotent).

    Returns the alarms raised or refreshed by this computation."""
    version = _version_for(plan, day)
    raised: list[Alarm] = []
    has_queue = Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY, day=day).exists()
    if version is not None and version.targets and has_queue:
        raised += _below_target_alarms(plan=plan, day=day, targets=version.targets)
    if has_queue:
        raised += _cusum_alarms(plan=plan, day=day)
    return raised


def alarms_compute_quality_all(*, plan: Plan) -> list[Alarm]:
    """Every queue day of the plan: below target per day; the CUSUM once, over everything up
    to the last day (it records every crossing on the way, so once is enough)."""
    days = list(
        Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY)
        .order_by("day")
        .values_list("day", flat=True)
    )
    raised: list[Alarm] = []
    for day in days:
        version = _version_for(plan, day)
        if version is not None and version.targets:
            raised += _below_target_alarms(plan=plan, day=day, targets=version.targets)
    if days:
        raised += _cusum_alarms(plan=plan, day=days[-1])
    return raised


# --- daily drift (stored) and drift alarms --------------------------------------------------

# Like with like: a tier is compared with the reference records of its own router label(s)
# when there are at least this many of them (a few dozen records have no stable deciles);
# else with the tier's own answers of its first DRIFT_BASELINE_DAYS production days (before
# the day measured), when they number at least this many; else it is not compared.
DRIFT_MIN_REFERENCE = 100
DRIFT_BASELINE_DAYS = 7
_CHUNK = 5_000
_DRIFT_VALUE_FIELDS = [
    "reference_set",
    "reference_kind",
    "reference_labels",
    "reference_start",
    "reference_end",
    "tiers_tested",
    "n_production",
    "n_reference",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "wasserstein",
    "wasserstein_norm",
    "production_mean",
    "reference_mean",
    "psi_edges",
    "psi_reference_counts",
    "psi_production_counts",
    "computed_at",
]


def drift_reference_set(source: Source) -> ReferenceSet | None:
    """The reference set a source's drift is measured against: the source's own
    (Source.reference_set), else the one named like the source (what ingesting a reference
    file creates, and where OOD scoring looks), else the newest set that names the source."""
    if source.reference_set_id:
        return source.reference_set
    return (
        ReferenceSet.objects.filter(name=source.name).first()
        or ReferenceSet.objects.filter(source=source).order_by("-pk").first()
    )


@dataclass(frozen=True)
class TierReference:
    """What one tier-day is compared with: the values, and which reference they are
    (DailyDrift.reference_kind, its router labels or its production days)."""

    values: np.ndarray
    kind: str
    labels: list[str]
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass
class DriftReference:
    """A source's reference set (router labels and confidences; records without a confidence
    left out), and the tier baselines already read from production (per tier and last day)."""

    reference_set: ReferenceSet
    labels: np.ndarray
    values: np.ndarray
    source: Source | None = None
    _baselines: dict[tuple[str, dt.date, dt.date], TierReference | None] | None = None

    def for_labels(self, labels: list[str]) -> np.ndarray | None:
        """The reference records carrying one of the tier's router labels when there are
        DRIFT_MIN_REFERENCE of them, else None (the set says nothing about this tier)."""
        if not labels:
            return None
        matched = np.isin(self.labels, labels)
        if int(matched.sum()) >= DRIFT_MIN_REFERENCE:
            return self.values[matched]
        return None

    def for_tier(self, *, tier: str, day: dt.date, labels: list[str]) -> TierReference | None:
        """Like with like: the records of the tier's router labels; else the tier's own answers
        of its first DRIFT_BASELINE_DAYS days before `day` (at least DRIFT_MIN_REFERENCE);
        else None (no comparison: the whole reference mixes tiers, and comparing a tier with
        it flags the difference between tiers, not a drift)."""
        values = self.for_labels(labels)
        if values is not None:
            return TierReference(values=values, kind="reference_set", labels=list(labels))
        if self.source is None:
            return None
        return self._baseline(tier, day)

    def _baseline(self, tier: str, day: dt.date) -> TierReference | None:
        assert self.source is not None
        first = (
            Response.objects.filter(
                source=self.source,
                tier=tier,
                router_confidence__isnull=False,
                timestamp__lt=_day_bounds(day)[0],
            )
            .order_by("timestamp")
            .values_list("timestamp", flat=True)
            .first()
        )
        if first is None:
            return None
        start = first.astimezone(dt.UTC).date()
        end = min(start + dt.timedelta(days=DRIFT_BASELINE_DAYS), day) - dt.timedelta(days=1)
        if self._baselines is None:
            self._baselines = {}
        key = (tier, start, end)
        if key not in self._baselines:
            rows = Response.objects.filter(
                source=self.source,
                tier=tier,
                router_confidence__isnull=False,
                timestamp__gte=_day_bounds(start)[0],
                timestamp__lt=_day_bounds(end)[1],
            ).values_list("router_confidence", flat=True)
            values = np.fromiter(rows.iterator(chunk_size=_CHUNK), dtype=float)
            values = values[np.isfinite(values)]
            self._baselines[key] = (
                TierReference(
                    values=values, kind="production_window", labels=[], start=start, end=end
                )
                if len(values) >= DRIFT_MIN_REFERENCE
                else None
            )
        return self._baselines[key]


def drift_reference(source: Source) -> DriftReference | None:
    """The source's drift reference, or None when it has none with a router confidence."""
    reference = drift_reference_set(source)
    if reference is None:
        return None
    rows = ReferenceRecord.objects.filter(
        reference_set=reference, router_confidence__isnull=False
    ).values_list("router_label", "router_confidence")
    labels, values = [], []
    for label, value in rows.iterator(chunk_size=_CHUNK):
        labels.append(label)
        values.append(value)
    if not values:
        return None
    return DriftReference(
        reference_set=reference,
        labels=np.array(labels, dtype=object),
        values=np.array(values, dtype=float),
        source=source,
    )


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def drift_production(
    *, source: Source, day: dt.date, tier: str | None = None
) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The UTC day's router confidences per tier (one tier if given) and the non-empty router
    labels seen: one indexed (source, timestamp) query, values only."""
    lo, hi = _day_bounds(day)
    rows = Response.objects.filter(
        source=source, timestamp__gte=lo, timestamp__lt=hi, router_confidence__isnull=False
    )
    if tier is not None:
        rows = rows.filter(tier=tier)
    values: dict[str, list[float]] = {}
    labels: dict[str, set[str]] = {}
    for t, label, value in rows.values_list("tier", "router_label", "router_confidence").iterator(
        chunk_size=_CHUNK
    ):
        values.setdefault(t, []).append(value)
        if label:
            labels.setdefault(t, set()).add(label)
    out = {}
    for t, vs in values.items():
        array = np.array(vs, dtype=float)
        array = array[np.isfinite(array)]
        if len(array):
            out[t] = (array, sorted(labels.get(t, ())))
    return out


def drift_compute(
    *, source: Source, day: dt.date, reference: DriftReference | None = None
) -> list[DailyDrift]:
    """Compute the day's drift per tier (PSI, KS, Wasserstein/σ of the router confidence
    against the tier's like-for-like reference, `DriftReference.for_tier`;
    `sampling.drift.drift`) and store it, one DailyDrift per (source, tier, day), updated in
    place on a recompute. Rows of tiers that no longer have an answer with a confidence that
    day, or no reference to compare with, are removed: the rows say what the data says now.
    Every compared tier gets a row; those with at least DRIFT_MIN_ANSWERS answers are tested,
    and their number is the day's Bonferroni family (`tiers_tested`)."""
    reference = reference or drift_reference(source)
    by_tier = drift_production(source=source, day=day) if reference is not None else {}
    compared = []
    for tier, (production, labels) in sorted(by_tier.items()):
        assert reference is not None  # by_tier is empty without one
        used = reference.for_tier(tier=tier, day=day, labels=labels)
        if used is not None:
            compared.append((tier, production, used))
    tested = sum(1 for _, production, _ in compared if len(production) >= DRIFT_MIN_ANSWERS)
    rows = []
    for tier, production, used in compared:
        assert reference is not None
        family = tested if len(production) >= DRIFT_MIN_ANSWERS else 0
        result = drift(used.values, production, tiers=max(family, 1))
        rows.append(
            DailyDrift(
                source=source,
                tier=tier,
                day=day,
                reference_set=reference.reference_set,
                reference_kind=used.kind,
                reference_labels=used.labels,
                reference_start=used.start,
                reference_end=used.end,
                tiers_tested=family,
                n_production=result.n_production,
                n_reference=result.n_reference,
                psi=result.psi,
                ks_statistic=result.ks_statistic,
                ks_pvalue=result.ks_pvalue,
                wasserstein=result.wasserstein,
                wasserstein_norm=result.wasserstein_norm,
                production_mean=float(production.mean()),
                reference_mean=float(used.values.mean()),
                psi_edges=list(result.bins.edges),
                psi_reference_counts=list(result.bins.reference),
                psi_production_counts=list(result.bins.production),
            )
        )
    with transaction.atomic():
        DailyDrift.objects.filter(source=source, day=day).exclude(
            tier__in=[r.tier for r in rows]
        ).delete()
        if rows:
            # One statement, safe against a concurrent recompute of the same day.
            DailyDrift.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["source", "tier", "day"],
                update_fields=_DRIFT_VALUE_FIELDS,
            )
    return list(
        DailyDrift.objects.filter(source=source, day=day)
        .select_related("reference_set")
        .order_by("tier")
    )


def drift_compute_missing(*, source: Source, start: dt.date, end: dt.date) -> list[dt.date]:
    """The readers' fallback: compute (and store) the days of start..end on which the source
    has answers with a router confidence but no stored drift (days ingested before drift was
    stored, or whose computation did not run). Returns the days computed. A day with rows is
    taken as computed: a later ingest recomputes it through the ingest hook."""
    stored = set(
        DailyDrift.objects.filter(source=source, day__gte=start, day__lte=end)
        .values_list("day", flat=True)
        .distinct()
    )
    missing = [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if start + dt.timedelta(days=i) not in stored
    ]
    if not missing:
        return []
    reference = drift_reference(source)
    if reference is None:
        return []
    computed = []
    for day in missing:
        lo, hi = _day_bounds(day)
        if Response.objects.filter(
            source=source, timestamp__gte=lo, timestamp__lt=hi, router_confidence__isnull=False
        ).exists():
            drift_compute(source=source, day=day, reference=reference)
            computed.append(day)
    return computed


def drift_evidence(row: DailyDrift) -> dict[str, Any]:
    """An alarm's evidence from the stored day (the keys alarm_describe and the API read):
    the effect sizes, the p-values and the per-test level they were held to, and which
    reference the tier was compared with."""
    decision = row.decision
    return {
        "reference_set": row.reference_set.name if row.reference_set else "",
        "reference_kind": row.reference_kind,
        "reference_labels": row.reference_labels
        or ("all" if row.reference_kind == DailyDrift.ReferenceKind.REFERENCE_SET else []),
        "reference_start": row.reference_start.isoformat() if row.reference_start else None,
        "reference_end": row.reference_end.isoformat() if row.reference_end else None,
        "compared_with": row.compared_with,
        "n_reference": row.n_reference,
        "n_production": row.n_production,
        "psi": row.psi,
        "psi_pvalue": row.psi_pvalue,
        "psi_warn": PSI_WARN,
        "psi_alert": PSI_ALERT,
        "wasserstein": row.wasserstein,
        "wasserstein_norm": row.wasserstein_norm,
        "wasserstein_alert": WASSERSTEIN_ALERT,
        "ks_statistic": row.ks_statistic,
        "ks_pvalue": row.ks_pvalue,
        "alpha": DRIFT_ALPHA,
        "tiers_tested": row.tiers_tested,
        "alpha_per_test": decision.alpha_per_test if decision else None,
        "reference_mean": row.reference_mean,
        "production_mean": row.production_mean,
    }


def alarms_compute_drift(*, source: Source, day: dt.date, recompute: bool = True) -> list[Alarm]:
    """Drift alarms of the day, per tier, from its DailyDrift rows under
    `sampling.drift.drift_decision`: a PSI alarm (warn/alert by the PSI's band) and a
    Wasserstein/σ alarm, each only when the difference is significant at
    DRIFT_ALPHA / (2 × the tiers tested that day) and material. With recompute (the default,
    after an ingest) the day's drift is computed and stored first; without, the stored rows
    are read and only a day with none is computed. Tiers with fewer than DRIFT_MIN_ANSWERS
    answers that day are not tested and raise nothing."""
    if recompute:
        rows = drift_compute(source=source, day=day)
    else:
        drift_compute_missing(source=source, start=day, end=day)
        rows = list(
            DailyDrift.objects.filter(source=source, day=day)
            .select_related("reference_set")
            .order_by("tier")
        )
    raised = []
    for row in rows:
        decision = row.decision
        if row.n_production < DRIFT_MIN_ANSWERS or decision is None:
            continue
        evidence = drift_evidence(row)
        if decision.psi_level != "ok":
            alarm, _ = _alarm_upsert(
                source=source,
                tier=row.tier,
                kind=Alarm.Kind.DRIFT_PSI,
                day=day,
                level=decision.psi_level,
                evidence=evidence,
            )
            raised.append(alarm)
        if decision.wasserstein_level == "alert":
            alarm, _ = _alarm_upsert(
                source=source,
                tier=row.tier,
                kind=Alarm.Kind.DRIFT_WASSERSTEIN,
                day=day,
                level=Alarm.Level.ALERT,
                evidence=evidence,
            )
            raised.append(alarm)
    return raised


def drift_days_since(*, source: Source, since: dt.datetime) -> list[dt.date]:
    """The UTC days of the source's responses written (created or updated) since `since`."""
    stamps = Response.objects.filter(source=source, updated_at__gte=since).values_list(
        "timestamp", flat=True
    )
    return sorted({stamp.astimezone(dt.UTC).date() for stamp in stamps.iterator(chunk_size=5000)})


# --- acknowledging and closing --------------------------------------------------------------


class AlarmError(ValueError):
    pass


@transaction.atomic
def alarm_acknowledge(*, alarm: Alarm, user: Any) -> Alarm:
    alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if alarm.status != Alarm.Status.OPEN:
        raise AlarmError(f"This alarm is {alarm.get_status_display().lower()}, not open.")
    alarm.status = Alarm.Status.ACKNOWLEDGED
    alarm.acknowledged_by = user
    alarm.acknowledged_at = timezone.now()
    alarm.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return alarm


@transaction.atomic
def alarm_close(*, alarm: Alarm, user: Any) -> Alarm:
    alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if alarm.status == Alarm.Status.CLOSED:
        raise AlarmError("This alarm is already closed.")
    if alarm.acknowledged_by_id is None:
        alarm.acknowledged_by = user
        alarm.acknowledged_at = timezone.now()
    alarm.status = Alarm.Status.CLOSED
    alarm.closed_at = timezone.now()
    alarm.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "closed_at"])
    return alarm


# --- notifications --------------------------------------------------------------------------


def alarm_describe(alarm: Alarm) -> str:
    """The alarm in plain words and numbers (the page, the e-mail and the webhook say this)."""
    e = alarm.evidence or {}

    def pct(key: str) -> str:
        value = e.get(key)
        return "?" if value is None else f"{100 * float(value):.1f} %"

    if alarm.kind == Alarm.Kind.BELOW_TARGET:
        return (
            f"Tier {alarm.tier}: estimated accuracy {pct('estimate')} "
            f"(95 % interval {pct('ci_low')} – {pct('ci_high')}, {e.get('reviewed', '?')} reviews, "
            f"{e.get('window_start')} to {e.get('window_end')}) is below the target "
            f"{pct('target')}: the whole interval is under it."
        )
    if alarm.kind == Alarm.Kind.CUSUM:
        calibration = e.get("promise") or (
            "at most one false alarm per quarter"
            if e.get("calibration") == "quarter"
            else f"one false alarm per {e.get('target_arl', 0):.0f} in-control reviews"
        )
        chart = f" ({e['chart']})" if e.get("chart") else ""
        return (
            f"Tier {alarm.tier}{chart}: the CUSUM of wrong answers reached "
            f"{e.get('statistic', 0):.2f}, "
            f"above its threshold h = {e.get('h', 0):.2f} (set for {calibration}): "
            f"{e.get('wrong_in_excursion')} of "
            f"the last {e.get('reviews_in_excursion')} reviews were wrong where the baseline "
            f"({e.get('baseline_start')} to {e.get('baseline_end')}) expected "
            f"{e.get('expected_wrong_in_excursion', 0):.1f}."
        )
    if alarm.kind == Alarm.Kind.DRIFT_PSI:
        return (
            f"Tier {alarm.tier}: router-confidence PSI {e.get('psi', 0):.3f} against "
            f"{_drift_compared_with(e)} (warn ≥ {e.get('psi_warn')}, alert ≥ "
            f"{e.get('psi_alert')}){_drift_significance(e, 'psi_pvalue')}; mean confidence "
            f"{e.get('production_mean', 0):.3f} vs {e.get('reference_mean', 0):.3f} "
            f"in the reference, {e.get('n_production')} answers."
        )
    return (
        f"Tier {alarm.tier}: router confidence moved {e.get('wasserstein_norm', 0):.3f} reference "
        f"standard deviations (Wasserstein/σ, alert ≥ {e.get('wasserstein_alert')}) against "
        f"{_drift_compared_with(e)}{_drift_significance(e, 'ks_pvalue')}; mean "
        f"{e.get('production_mean', 0):.3f} vs {e.get('reference_mean', 0):.3f}, "
        f"{e.get('n_production')} answers."
    )


def _drift_compared_with(e: dict[str, Any]) -> str:
    """Which reference a drift alarm's tier was compared with (evidence stored before
    like-with-like comparison names only the reference set)."""
    return str(e.get("compared_with") or f"reference {e.get('reference_set')}")


def _drift_significance(e: dict[str, Any], key: str) -> str:
    """ ", p = … < α′ (…)" when the evidence has the p-value and the per-test level."""
    if e.get(key) is None or e.get("alpha_per_test") is None:
        return ""
    test = "χ² test of the PSI's bins" if key == "psi_pvalue" else "KS test"
    return (
        f", significant: {test} p = {float(e[key]):.2g} < {float(e['alpha_per_test']):.2g} "
        f"(1 % per source-day over {e.get('tiers_tested')} tier(s) and two tests)"
    )


def alarm_payload(alarm: Alarm) -> dict[str, Any]:
    """The JSON the webhook posts (and the API returns)."""
    return {
        "id": alarm.pk,
        "plan": alarm.plan.name if alarm.plan_id else None,
        "source": alarm.source.name if alarm.source_id else None,
        "tier": alarm.tier,
        "kind": alarm.kind,
        "level": alarm.level,
        "day": alarm.day.isoformat(),
        "opened_at": alarm.opened_at.isoformat(),
        "status": alarm.status,
        "summary": alarm_describe(alarm),
        "evidence": alarm.evidence,
    }


def _record_notification(alarm_id: int, channel: str, error: str | None) -> None:
    """notified_at: the last successful delivery; notification_error: one line per channel
    whose last attempt failed."""
    with transaction.atomic():
        alarm = Alarm.objects.select_for_update().get(pk=alarm_id)
        lines = [
            line
            for line in alarm.notification_error.splitlines()
            if line and not line.startswith(f"{channel}:")
        ]
        if error:
            lines.append(f"{channel}: {error}"[:2000])
        else:
            alarm.notified_at = timezone.now()
        alarm.notification_error = "\n".join(lines)
        alarm.save(update_fields=["notified_at", "notification_error"])


def alarm_send_email(*, alarm_id: int) -> int:
    """E-mail the alarm to LONGTAIL ALARM_EMAILS; raises on failure (the task retries)."""
    alarm = Alarm.objects.select_related("plan", "source").get(pk=alarm_id)
    recipients = list(_setting("ALARM_EMAILS", []))
    if not recipients:
        return 0
    subject = f"[Longtail] {alarm.get_level_display()}: {alarm} — {alarm.subject}"
    body = (
        f"{alarm_describe(alarm)}\n\n"
        f"Subject: {alarm.subject}\nKind: {alarm.get_kind_display()}\n"
        f"Day of data: {alarm.day:%Y-%m-%d}\nOpened: {alarm.opened_at:%Y-%m-%d %H:%M} UTC\n\n"
        f"Evidence:\n{json.dumps(alarm.evidence, indent=2, sort_keys=True)}\n"
    )
    try:
        sent = send_mail(
            subject.replace("\n", " "),
            body,
            None,
            recipients,
            fail_silently=False,
        )
    except Exception as exc:
        _record_notification(alarm_id, "email", f"{exc.__class__.__name__}: {exc}")
        raise
    _record_notification(alarm_id, "email", None)
    return sent


class WebhookError(RuntimeError):
    pass


def alarm_post_webhook(*, alarm_id: int) -> int:
    """POST the alarm as JSON to LONGTAIL ALARM_WEBHOOK_URL; returns the HTTP status. Raises
    WebhookError on a non-2xx answer or a network error (the task retries)."""
    url = _setting("ALARM_WEBHOOK_URL", "")
    if not url:
        return 0
    alarm = Alarm.objects.select_related("plan", "source").get(pk=alarm_id)
    body = json.dumps(alarm_payload(alarm)).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "longtail-alarms/1"},
    )
    timeout = float(_setting("ALARM_WEBHOOK_TIMEOUT_SECONDS", 10))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        error = f"HTTP {exc.code} from the webhook"
    except (urllib.error.URLError, OSError) as exc:
        error = f"{exc.__class__.__name__}: {exc}"
    else:
        _record_notification(alarm_id, "webhook", None)
        return status
    _record_notification(alarm_id, "webhook", error)
    raise WebhookError(error)
