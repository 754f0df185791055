"""Alarms: a tier's quality fell below its target, a CUSUM crossed, or router confidence drifted;
and the stored daily drift (`DailyDrift`) the drift alarms and the trends page read.

An alarm is identified by what crossed and on which day of data, so recomputing a day finds the
alarm it already raised instead of raising a second one: (plan, tier, kind, day) for quality
alarms, (source, tier, kind, day) for drift alarms (drift belongs to a source, not a plan).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from reviewapp.responses.models import Source
from reviewapp.review.models import Plan
from sampling.drift import DriftDecision, drift_decision, psi_pvalue


class Alarm(models.Model):
    class Kind(models.TextChoices):
        BELOW_TARGET = "below_target", "Below target"
        CUSUM = "cusum", "CUSUM early warning"
        DRIFT_PSI = "drift_psi", "Confidence drift (PSI)"
        DRIFT_WASSERSTEIN = "drift_wasserstein", "Confidence drift (Wasserstein)"

    class Level(models.TextChoices):
        WARN = "warn", "Warning"
        ALERT = "alert", "Alert"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    QUALITY_KINDS = (Kind.BELOW_TARGET, Kind.CUSUM)
    DRIFT_KINDS = (Kind.DRIFT_PSI, Kind.DRIFT_WASSERSTEIN)

    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.CASCADE, related_name="alarms"
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.CASCADE, related_name="alarms"
    )
    tier = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    level = models.CharField(max_length=8, choices=Level.choices)
    # The day of the data that crossed (a queue day, or the responses' UTC day).
    day = models.DateField()
    opened_at = models.DateTimeField(auto_now_add=True)
    # The numbers behind the alarm (estimate and interval vs target; CUSUM statistic vs h and
    # the reviews that drove it; PSI / Wasserstein vs thresholds), as plain JSON.
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notification_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-day", "-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "tier", "kind", "day"],
                condition=models.Q(plan__isnull=False),
                name="alarm_once_per_plan_tier_kind_day",
            ),
            models.UniqueConstraint(
                fields=["source", "tier", "kind", "day"],
                condition=models.Q(source__isnull=False),
                name="alarm_once_per_source_tier_kind_day",
            ),
            models.CheckConstraint(
                condition=models.Q(plan__isnull=False, source__isnull=True)
                | models.Q(plan__isnull=True, source__isnull=False),
                name="alarm_plan_xor_source",
            ),
        ]
        indexes = [models.Index(fields=["status", "-day"], name="alarm_status_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.tier} ({self.day:%Y-%m-%d})"

    @property
    def subject(self) -> str:
        """The plan or source the alarm is about."""
        if self.plan_id:
            return f"plan {self.plan.name}"
        return f"source {self.source.name}" if self.source_id else ""


class DailyDrift(models.Model):
    """Router-confidence drift of one source's tier on one UTC day against its reference set,
    stored when the day's drift alarms are computed (after each ingest), so trends and alarms
    read a row per (source, tier, day) instead of rescanning the day's answers.

    Recomputing the day (a late ingest, `manage.py compute_drift`) updates the row in place:
    one row per (source, tier, day). The PSI's bins are kept with it: `psi_edges` are the
    reference's interior deciles (sampling.drift.psi), `psi_reference_counts` and
    `psi_production_counts` the counts per bin (one more than the edges), so the PSI can be
    checked by hand from the row.

    Like with like: a tier is compared with the reference records of its own router labels
    (`reference_kind` "reference_set", `reference_labels` the labels); when the reference set
    has too few of them (it carries no tiers), with the tier's own first production days
    (`reference_kind` "production_window", `reference_start`..`reference_end`). The alarm
    levels (`decision`) are `sampling.drift.drift_decision`'s: significant at
    α / (2 · `tiers_tested`) AND material; `tiers_tested` = 0 marks a tier with too few
    answers that day to be tested.
    """

    class ReferenceKind(models.TextChoices):
        REFERENCE_SET = "reference_set", "Reference set"
        PRODUCTION_WINDOW = "production_window", "The tier's own earlier answers"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="daily_drifts")
    tier = models.CharField(max_length=64)
    day = models.DateField()
    reference_set = models.ForeignKey(
        "responses.ReferenceSet", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference_kind = models.CharField(
        max_length=20, choices=ReferenceKind.choices, default=ReferenceKind.REFERENCE_SET
    )
    # The router labels whose reference records were compared; empty = the whole reference
    # (rows stored before like-with-like comparison).
    reference_labels = models.JSONField(default=list)
    # The tier's own production days compared with (reference_kind "production_window").
    reference_start = models.DateField(null=True, blank=True)
    reference_end = models.DateField(null=True, blank=True)
    # The tiers of the source tested that day (the Bonferroni family); 0 = this tier was not
    # tested (fewer answers than the alarms' minimum).
    tiers_tested = models.PositiveSmallIntegerField(default=1)
    n_production = models.PositiveIntegerField()
    n_reference = models.PositiveIntegerField()
    psi = models.FloatField()
    ks_statistic = models.FloatField()
    ks_pvalue = models.FloatField()
    wasserstein = models.FloatField()
    # Wasserstein-1 over the reference's SD (infinite when the reference is constant).
    wasserstein_norm = models.FloatField()
    production_mean = models.FloatField()
    reference_mean = models.FloatField()
    psi_edges = models.JSONField(default=list)
    psi_reference_counts = models.JSONField(default=list)
    psi_production_counts = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source", "tier", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "tier", "day"], name="daily_drift_once_per_source_tier_day"
            ),
        ]
        indexes = [models.Index(fields=["source", "day"], name="daily_drift_source_day")]

    def __str__(self) -> str:
        return f"drift {self.tier} {self.day:%Y-%m-%d}: PSI {self.psi:.3f}"

    @property
    def psi_pvalue(self) -> float:
        """P-value of the stored PSI bins (`sampling.drift.psi_pvalue`)."""
        return psi_pvalue(self.psi_reference_counts, self.psi_production_counts)

    @property
    def decision(self) -> DriftDecision | None:
        """The alarm levels of the day (None: the tier was not tested)."""
        if not self.tiers_tested or not self.psi_reference_counts:
            return None
        return drift_decision(
            psi=self.psi,
            psi_pvalue=self.psi_pvalue,
            wasserstein_norm=self.wasserstein_norm,
            ks_pvalue=self.ks_pvalue,
            tiers=self.tiers_tested,
        )

    @property
    def level(self) -> str:
        """ok / warn / alert under the alarm rule, or "not tested"."""
        decision = self.decision
        return decision.level if decision else "not tested"

    @property
    def psi_level(self) -> str:
        decision = self.decision
        return decision.psi_level if decision else "ok"

    @property
    def wasserstein_level(self) -> str:
        decision = self.decision
        return decision.wasserstein_level if decision else "ok"

    @property
    def compared_with(self) -> str:
        """Which reference this tier-day was compared with, in words."""
        if self.reference_kind == self.ReferenceKind.PRODUCTION_WINDOW:
            span = (
                f"{self.reference_start:%Y-%m-%d}"
                if self.reference_start == self.reference_end
                else f"{self.reference_start:%Y-%m-%d} to {self.reference_end:%Y-%m-%d}"
            )
            return f"tier {self.tier}'s own answers, {span}"
        name = self.reference_set.name if self.reference_set else "(deleted reference set)"
        if self.reference_labels:
            return f"reference set {name}, router label {', '.join(self.reference_labels)}"
        return f"reference set {name}, all records"


class AlarmBaseline(models.Model):
    """A plan's in-control window for its quality alarms, set by a QA lead: the queue days
    (inclusive) known to be good. The CUSUM's p0 comes from the reviews of these days and the
    charts watch the days after `end`. Without a row the plan uses its first
    ALARM_BASELINE_DAYS queue days (reports/services.py:alarm_baseline_window)."""

    plan = models.OneToOneField(Plan, on_delete=models.CASCADE, related_name="alarm_baseline")
    start = models.DateField()
    end = models.DateField()
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="alarm_baseline_start_le_end"
            )
        ]

    def __str__(self) -> str:
        return f"{self.plan.name}: {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"
