"""Alarms: a tier's quality fell below its target, a CUSUM crossed, or router confidence drifted.

An alarm is identified by what crossed and on which day of data, so recomputing a day finds the
alarm it already raised instead of raising a second one: (plan, tier, kind, day) for quality
alarms, (source, tier, kind, day) for drift alarms (drift belongs to a source, not a plan).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from reviewapp.responses.models import Source
from reviewapp.review.models import Plan


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
