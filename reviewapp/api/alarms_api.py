"""GET /api/v1/alarms/: the alarms page as JSON (QA leads and viewers; 401 / 403 otherwise)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from reviewapp.reports.models import Alarm
from reviewapp.reports.selectors import alarm_queryset
from reviewapp.reports.services import alarm_describe
from reviewapp.review.roles import QA_LEAD, VIEWER, has_role

from .serializers import ErrorSerializer, ValidationErrorSerializer


class CanReadAlarms(BasePermission):
    message = "Alarms take the qa_lead or viewer role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, QA_LEAD, VIEWER)


class AlarmQuerySerializer(serializers.Serializer):
    plan = serializers.CharField(
        required=False,
        help_text="A plan's name: its quality alarms and the drift alarms of its sources.",
    )
    status = serializers.ChoiceField(
        choices=["active", "all", *Alarm.Status.values],
        required=False,
        default="active",
        help_text="active (default) = open or acknowledged.",
    )
    kind = serializers.ChoiceField(choices=Alarm.Kind.values, required=False)


class AlarmSerializer(serializers.ModelSerializer):
    plan = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    source = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    acknowledged_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    summary = serializers.SerializerMethodField(help_text="What crossed, in words and numbers.")
    evidence = serializers.JSONField(
        help_text="The numbers: estimate and interval vs target (below_target); statistic, h "
        "and the driving reviews (cusum); PSI / Wasserstein vs thresholds (drift_*)."
    )

    class Meta:
        model = Alarm
        fields = [
            "id",
            "plan",
            "source",
            "tier",
            "kind",
            "level",
            "day",
            "opened_at",
            "status",
            "acknowledged_by",
            "acknowledged_at",
            "closed_at",
            "notified_at",
            "notification_error",
            "summary",
            "evidence",
        ]
        read_only_fields = fields

    def get_summary(self, alarm: Alarm) -> str:
        return alarm_describe(alarm)


@extend_schema_view(
    get=extend_schema(
        operation_id="alarms_list",
        summary="List alarms",
        description="Quality alarms (below_target, cusum: per plan and tier) and drift alarms "
        "(drift_psi, drift_wasserstein: per source and tier), newest day first. `day` is the day "
        "of the data that crossed. QA leads and viewers.",
        parameters=[AlarmQuerySerializer],
        responses={
            200: AlarmSerializer(many=True),
            400: OpenApiResponse(ValidationErrorSerializer, description="An invalid filter."),
            401: OpenApiResponse(ErrorSerializer, description="No or invalid credentials."),
            403: OpenApiResponse(ErrorSerializer, description="Not a qa_lead or viewer."),
        },
        tags=["alarms"],
    )
)
class AlarmListView(generics.ListAPIView):
    serializer_class = AlarmSerializer
    permission_classes = [CanReadAlarms]

    def get_queryset(self) -> QuerySet[Alarm]:
        query = AlarmQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return alarm_queryset(
            plan=data.get("plan", ""),
            status=data.get("status", "active"),
            kind=data.get("kind", ""),
        )
