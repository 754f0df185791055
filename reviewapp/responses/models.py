"""Sources, production responses, feedback and reference sets, and the record of every ingest."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .records import MappingError, validate_mapping


class Source(models.Model):
    """A named origin of records. Pull sources keep their settings and their cursor here."""

    class Kind(models.TextChoices):
        FILE = "file", "File"
        PUSH = "push", "REST push"
        HTTP = "http", "HTTP pull"
        SQL = "sql", "SQL pull"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FILE)
    # Pull settings (url, headers, query, dsn...) and the field mapping applied to every record.
    settings = models.JSONField(default=dict, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    # Where the last successful pull stopped; only advanced after the data before it is stored.
    cursor = models.JSONField(default=dict, blank=True)
    # Fixed by the first embedding the source sends: all its records must share it.
    embedding_dim = models.PositiveIntegerField(null=True, blank=True)
    # What OOD distance is measured against; default: the reference set named like the source.
    reference_set = models.ForeignKey(
        "ReferenceSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A mapping that cannot be applied would stop every ingest into the source: refuse it
        # where it is typed (the admin) rather than at the next ingest.
        try:
            validate_mapping(self.mapping)
        except MappingError as exc:
            raise ValidationError({"mapping": str(exc)}) from None


class Response(models.Model):
    """One answer served in production (docs/schema/response.schema.json)."""

    # No index of its own: the unique (source, external_id) and (source, timestamp) cover it,
    # and every index is one more write per ingested row.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="responses", db_index=False
    )
    external_id = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    query = models.TextField()
    response = models.TextField()
    tier = models.CharField(max_length=64)
    model = models.CharField(max_length=255, blank=True, default="")
    router_label = models.CharField(max_length=64, blank=True, default="")
    router_confidence = models.FloatField(null=True, blank=True)
    self_confidence = models.FloatField(null=True, blank=True)
    escalated = models.BooleanField(null=True, blank=True)
    auto_score = models.FloatField(null=True, blank=True)
    # float32 little-endian bytes: 384 dims = 1.5 KB, against ~8 KB as JSON text.
    embedding = models.BinaryField(null=True, blank=True)
    conversation_id = models.CharField(max_length=255, blank=True, default="")
    user_id = models.CharField(max_length=255, blank=True, default="")
    segment = models.CharField(max_length=128, blank=True, default="")
    cost_usd = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    shadow_model = models.CharField(max_length=255, blank=True, default="")
    shadow_response = models.TextField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Digest of the validated record: a re-sent identical record is "unchanged", not an update.
    content_hash = models.CharField(max_length=32)
    ingested_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Scores for stratification (sampling/ood.py), filled by scoring after each ingest.
    uncertainty = models.FloatField(null=True, blank=True)
    ood_distance = models.FloatField(null=True, blank=True)
    ood_percentile = models.FloatField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    # Set when data retention emptied the texts and embedding (reviewapp/ops/retention.py);
    # tier, scores and timestamps stay, so estimates built on this response are unchanged.
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="response_source_id"),
        ]
        indexes = [
            models.Index(fields=["source", "timestamp"], name="response_source_ts"),
            models.Index(fields=["tier", "timestamp"], name="response_tier_ts"),
            models.Index(
                fields=["source", "id"],
                condition=models.Q(scored_at__isnull=True),
                name="response_unscored",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"

    @property
    def embedding_vector(self) -> np.ndarray | None:
        if self.embedding is None:
            return None
        return np.frombuffer(bytes(self.embedding), dtype="<f4")


class FeedbackEvent(models.Model):
    """A thumbs or handoff signal (feedback.schema.json), joined to its response when it exists."""

    class Kind(models.TextChoices):
        THUMBS_UP = "thumbs_up", "Thumbs up"
        THUMBS_DOWN = "thumbs_down", "Thumbs down"
        HANDOFF = "handoff", "Handoff to support"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="feedback")
    # The event's own id, or a digest of its content when it has none (so re-sending is a no-op).
    external_id = models.CharField(max_length=255)
    response_external_id = models.CharField(max_length=255)
    response = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    timestamp = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    comment = models.TextField(blank=True, default="")
    content_hash = models.CharField(max_length=32)
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="feedback_source_id"),
        ]
        indexes = [
            models.Index(fields=["source", "response_external_id"], name="feedback_join"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.response_external_id}"


class ReferenceSet(models.Model):
    """What the router was trained on: OOD distance and drift are measured against it."""

    name = models.SlugField(max_length=100, unique=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="reference_sets"
    )
    embedding_dim = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The fitted OOD reference (sampling.ood), cached as an .npz: leave-one-out k-NN distances
    # over 20,000 points take seconds, so they are computed once per version of the set.
    fitted = models.BinaryField(null=True, blank=True, editable=False)
    fitted_version = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return self.name


class ReferenceRecord(models.Model):
    reference_set = models.ForeignKey(
        ReferenceSet, on_delete=models.CASCADE, related_name="records"
    )
    query = models.TextField()
    router_label = models.CharField(max_length=64, blank=True, default="")
    router_confidence = models.FloatField(null=True, blank=True)
    embedding = models.BinaryField(null=True, blank=True)
    # Reference records have no id of their own: the content is the identity.
    content_hash = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference_set", "content_hash"], name="reference_record_content"
            ),
        ]


class IngestRun(models.Model):
    """One ingest, whatever the path (file, push, pull): who, when, what, and what came of it."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        RESPONSES = "responses", "Responses"
        FEEDBACK = "feedback", "Feedback"
        REFERENCE = "reference", "Reference"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="ingest_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    origin = models.CharField(max_length=1000, blank=True, default="")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind} into {self.source_id})"

    @property
    def accepted_count(self) -> int:
        return self.created_count + self.updated_count + self.unchanged_count


class RejectedRecord(models.Model):
    """A record that failed validation: kept with where it was and why, never silently dropped."""

    run = models.ForeignKey(IngestRun, on_delete=models.CASCADE, related_name="rejects")
    line_number = models.PositiveIntegerField(null=True, blank=True)
    # The raw text, cut to a readable size (a 50 MB line is kept as its first 10 KB).
    raw = models.TextField(blank=True, default="")
    field = models.CharField(max_length=255, blank=True, default="")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "line_number"]

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.reason}"
