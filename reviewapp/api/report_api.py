"""Reports over REST: the tier report as JSON (`GET /api/v1/reports/tiers/`).

Same rules as the report pages: QA leads and viewers read every plan; a reviewer only the
plans they review whose current version has `reviewers_see_reports` (403 otherwise); anonymous
401. Read-only: other methods are 405. Numbers are unrounded (the pages round for display).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.reports.forms import ReportForm
from reviewapp.reports.selectors import METHODS, report_plans
from reviewapp.reports.tables import tier_report
from reviewapp.review.models import Plan
from reviewapp.review.roles import QA_LEAD, VIEWER, has_role

from .serializers import ErrorSerializer, ValidationErrorSerializer


class TierReportQuerySerializer(serializers.Serializer):
    """Query parameters (all optional: the defaults are the report page's)."""

    plan = serializers.CharField(
        required=False, help_text="Plan name; default: the plan with the latest queue."
    )
    start = serializers.DateField(
        required=False, help_text="First day (YYYY-MM-DD); default: 14 days before `end`."
    )
    end = serializers.DateField(
        required=False, help_text="Last day, inclusive; default: the plan's latest queue day."
    )
    method = serializers.ChoiceField(
        choices=METHODS, required=False, default="wilson", help_text="95 % interval method."
    )


class TierRowSerializer(serializers.Serializer):
    tier = serializers.CharField()
    population = serializers.IntegerField(help_text="Responses of the tier in the window.")
    share = serializers.FloatField(help_text="Share of the window's traffic, 0–1.")
    reviewed = serializers.IntegerField(help_text="Reviewed items of the probability sample.")
    accuracy = serializers.FloatField(
        allow_null=True, help_text="Stratified estimate Σ W_h p̂_h, 0–1; null without reviews."
    )
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    method = serializers.ChoiceField(choices=METHODS)
    design_effect = serializers.FloatField(allow_null=True)
    uncovered_share = serializers.FloatField(
        allow_null=True, help_text="Share of the tier's traffic in strata without a review."
    )
    target = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["below target", "meets target", "not yet known", "no target", "no reviews"],
        help_text="Below or meets target only when the whole interval is on that side of it.",
    )
    open_alarm = serializers.BooleanField(
        help_text="An open quality alarm of the tier on a day of the window."
    )
    wrong_per_day = serializers.FloatField(allow_null=True)
    cost_per_answer = serializers.FloatField(allow_null=True)
    ppi_accuracy = serializers.FloatField(allow_null=True)
    ppi_ci_low = serializers.FloatField(allow_null=True)
    ppi_ci_high = serializers.FloatField(allow_null=True)


class TierReportSerializer(serializers.Serializer):
    plan = serializers.CharField(allow_null=True)
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    method = serializers.ChoiceField(choices=METHODS)
    tiers = TierRowSerializer(many=True)


class TierReportView(APIView):
    """Per tier over a window: population, reviews, accuracy with its 95 % interval."""

    @extend_schema(
        operation_id="reports_tiers",
        summary="Per-tier accuracy with intervals",
        parameters=[TierReportQuerySerializer],
        responses={
            200: TierReportSerializer,
            400: OpenApiResponse(
                ValidationErrorSerializer,
                description="Invalid parameters (an unknown plan, a bad date or window).",
            ),
            401: OpenApiResponse(ErrorSerializer, description="No credentials."),
            403: OpenApiResponse(ErrorSerializer, description="The role may not read it."),
        },
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        query = TierReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        plans = report_plans(user=request.user)
        if not plans and not has_role(request.user, QA_LEAD, VIEWER):
            raise PermissionDenied("Your role does not allow reports.")
        asked = query.validated_data.get("plan")
        if asked and asked not in {p.name for p in plans}:
            if Plan.objects.filter(name=asked).exists():
                raise PermissionDenied("You may not read this plan's reports.")
            raise ValidationError({"plan": [f"No plan named {asked!r}."]})
        method = query.validated_data["method"]
        if not plans:
            empty = {"plan": None, "start": None, "end": None, "method": method, "tiers": []}
            return Response(TierReportSerializer(empty).data)
        params = {k: str(v) for k, v in query.validated_data.items()}
        form = ReportForm.for_request(params, plans=plans, with_by=False)
        if not form.is_valid():
            raise ValidationError({k: list(v) for k, v in form.errors.items()})
        data = form.cleaned_data
        report = tier_report(
            plan=data["plan_obj"], start=data["start"], end=data["end"], method=method
        )
        tiers: list[dict[str, Any]] = report.table.records
        body = {
            "plan": report.plan.name,
            "start": report.start,
            "end": report.end,
            "method": method,
            "tiers": tiers,
        }
        return Response(TierReportSerializer(body).data)
