"""Input and output shapes of the API.

The record serializers (`ResponseRecordSerializer`, `FeedbackRecordSerializer`) document the
push body in the OpenAPI schema; they do not validate it. Pushed records are validated by the
one ingest path (reviewapp.responses.records, msgspec), exactly as file and pull records are,
so a record is accepted or rejected for the same reason whichever way it came. A test keeps
their fields equal to the msgspec structs'.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from reviewapp.responses.models import IngestRun, RejectedRecord

_PROBABILITY = {"min_value": 0.0, "max_value": 1.0}


class ShadowSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, max_length=255)
    response = serializers.CharField(allow_blank=True)


class ResponseRecordSerializer(serializers.Serializer):
    """One production response (docs/schema/response.schema.json). Unknown top-level fields
    are kept under metadata."""

    id = serializers.CharField(
        max_length=255,
        help_text="Unique within its source; sending the same id again updates the record.",
    )
    timestamp = serializers.DateTimeField(
        help_text="When the response was served (RFC 3339; without offset it is UTC)."
    )
    query = serializers.CharField(help_text="The user's message that was answered.")
    response = serializers.CharField(
        allow_blank=True, help_text="The answer served to the user (untrusted text)."
    )
    tier = serializers.CharField(
        max_length=64, help_text="The routing tier that served the answer, e.g. cheap, capable."
    )
    model = serializers.CharField(required=False, max_length=255)
    router_label = serializers.CharField(
        required=False, max_length=64, help_text="The router classifier's label."
    )
    router_confidence = serializers.FloatField(
        required=False,
        help_text="The router's probability for the label it chose.",
        **_PROBABILITY,
    )
    self_confidence = serializers.FloatField(
        required=False,
        help_text="The serving model's own confidence (uncertainty-routed cascades).",
        **_PROBABILITY,
    )
    escalated = serializers.BooleanField(
        required=False, help_text="True when a cascade escalated the query."
    )
    auto_score = serializers.FloatField(
        required=False,
        help_text="An automatic judge's probability that the answer is correct.",
        **_PROBABILITY,
    )
    embedding = serializers.ListField(
        child=serializers.FloatField(),
        required=False,
        min_length=2,
        help_text="The query embedding; all records of one source share one dimension.",
    )
    conversation_id = serializers.CharField(required=False, max_length=255)
    user_id = serializers.CharField(
        required=False, max_length=255, help_text="A pseudonymous user key."
    )
    segment = serializers.CharField(
        required=False, max_length=128, help_text="Product area or customer segment."
    )
    cost_usd = serializers.FloatField(required=False, min_value=0.0)
    latency_ms = serializers.FloatField(required=False, min_value=0.0)
    shadow = ShadowSerializer(
        required=False, help_text="A more capable model's answer, not shown to the user."
    )
    metadata = serializers.DictField(required=False, help_text="Anything else, kept verbatim.")


class FeedbackRecordSerializer(serializers.Serializer):
    """A thumbs or handoff event (docs/schema/feedback.schema.json), joined to its response by
    response_id within the same source, now or when the response arrives."""

    id = serializers.CharField(
        required=False, max_length=255, help_text="Optional; with it, re-sending is a no-op."
    )
    response_id = serializers.CharField(max_length=255)
    timestamp = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["thumbs_up", "thumbs_down", "handoff"])
    comment = serializers.CharField(required=False, allow_blank=True)


class PushQuerySerializer(serializers.Serializer):
    source = serializers.SlugField(
        max_length=100,
        required=False,
        default="push",
        help_text="The source the records belong to (created, of kind 'push', if new). "
        "Record ids are unique within a source.",
    )


class PushRejectSerializer(serializers.Serializer):
    index = serializers.IntegerField(
        help_text="The record's position in the pushed list, counting from 1."
    )
    id = serializers.CharField(allow_null=True, help_text="The record's id, when it had one.")
    field = serializers.CharField(
        allow_blank=True, help_text="The offending field; empty for the record as a whole."
    )
    reason = serializers.CharField()


class PushResultSerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="The ingest run; see /api/v1/ingest-runs/.")
    source = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text="Re-sent records identical to the stored.")
    rejected = serializers.IntegerField()
    rejects = PushRejectSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """A 400. Either `detail`, one sentence for the request as a whole (a body that is not
    JSON, a rule across fields, a name that does not exist), or DRF's messages per invalid
    field: {"field": ["message"]}, nested by position or key for lists and objects
    ({"failure_tags": {"2": ["This field may not be blank."]}}). Its schema is written by
    ValidationErrorSchema below: a serializer cannot say "any field name"."""

    detail = serializers.CharField(required=False)


class ValidationErrorSchema(OpenApiSerializerExtension):
    """The OpenAPI schema of ValidationErrorSerializer (drf-spectacular registers an extension
    when its class is defined, so defining it next to the serializer is enough)."""

    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        messages = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": "Why the request was refused: `detail` for the request as a whole, "
            "or the messages of each invalid field under its name (`non_field_errors` for "
            "rules across fields); a list's or object's messages are nested under the "
            "position or key of the invalid element.",
            "properties": {
                "detail": {"type": "string"},
                "non_field_errors": messages,
            },
            "additionalProperties": {"anyOf": [messages, {"type": "object"}]},
        }


class TooManyRecordsSerializer(serializers.Serializer):
    detail = serializers.CharField()
    # Absent when it is the body's size, not its record count, that is over the limit.
    max_records = serializers.IntegerField(required=False)
    records = serializers.IntegerField(required=False)


class IngestRunQuerySerializer(serializers.Serializer):
    source = serializers.SlugField(max_length=100, required=False, help_text="Only this source.")
    kind = serializers.ChoiceField(choices=IngestRun.Kind.choices, required=False)


class IngestRunSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    started_by = serializers.CharField(
        source="started_by.get_username", read_only=True, allow_null=True, default=None
    )
    rejects_url = serializers.SerializerMethodField()

    class Meta:
        model = IngestRun
        fields = [
            "id",
            "source",
            "kind",
            "origin",
            "status",
            "error",
            "started_by",
            "started_at",
            "finished_at",
            "duration_seconds",
            "created_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "rejects_url",
        ]
        read_only_fields = fields

    def get_rejects_url(self, run: IngestRun) -> str:
        return str(reverse("api-ingest-run-rejects", args=[run.pk]))


class RejectedRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = RejectedRecord
        fields = ["id", "line_number", "field", "reason", "raw"]
        read_only_fields = fields
