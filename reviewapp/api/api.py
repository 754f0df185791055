"""REST endpoints: batch push of responses and feedback, and the ingest runs they leave.

Views stay thin: check who may call, parse, call the one ingest service
(`reviewapp.responses.services.ingest_records`), and shape its run into a response.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.responses.models import IngestRun, RejectedRecord, Source
from reviewapp.responses.selectors import rejected_records
from reviewapp.responses.services import ingest_records, source_get_or_create

from .parsers import RawJSONListParser, raw_records
from .permissions import CanPush, CanViewIngestRuns
from .serializers import (
    ErrorSerializer,
    FeedbackRecordSerializer,
    IngestRunQuerySerializer,
    IngestRunSerializer,
    PushQuerySerializer,
    PushResultSerializer,
    RejectedRecordSerializer,
    ResponseRecordSerializer,
    TooManyRecordsSerializer,
    ValidationErrorSerializer,
)

_AUTH_RESPONSES = {
    401: OpenApiResponse(ErrorSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(ErrorSerializer, description="The user may not do this."),
}
_PUSH_RESPONSES = {
    200: OpenApiResponse(PushResultSerializer, description="Every record was accepted."),
    207: OpenApiResponse(
        PushResultSerializer,
        description="Some records were rejected (listed in `rejects`, and quarantined in the "
        "run); the others were stored.",
    ),
    400: OpenApiResponse(
        ValidationErrorSerializer,
        description="The body is not JSON or not a list of records (`detail`), or the "
        "`source` parameter is not a slug (`source`).",
    ),
    **_AUTH_RESPONSES,
    413: OpenApiResponse(
        TooManyRecordsSerializer,
        description="More records than PUSH_MAX_RECORDS (10,000 by default), or a body over "
        "DATA_UPLOAD_MAX_MEMORY_SIZE; nothing was stored.",
    ),
}
_PUSH_RESULT_EXAMPLE = OpenApiExample(
    "some rejected",
    status_codes=["207"],
    response_only=True,
    value={
        "run": 42,
        "source": "support-bot",
        "created": 998,
        "updated": 0,
        "unchanged": 0,
        "rejected": 2,
        "rejects": [
            {
                "index": 17,
                "id": "r-17",
                "field": "router_confidence",
                "reason": "must be a number from 0 to 1",
            },
            {"index": 512, "id": None, "field": "", "reason": "must be a JSON object ({...})"},
        ],
    },
)


class _PushView(APIView):
    """Shared by the response and feedback pushes; a subclass names the record kind."""

    kind: str
    permission_classes = [CanPush]
    parser_classes = [RawJSONListParser]

    def post(self, request: Request) -> Response:
        query = PushQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # Parsing happens here, after authentication and the permission check: an anonymous
        # 90 MB body is never read.
        items = request.data
        if not isinstance(items, list):
            return Response(
                {"detail": "The body must be a JSON list (array) of records; it was empty."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        max_records = settings.LONGTAIL["PUSH_MAX_RECORDS"]
        if len(items) > max_records:
            return Response(
                {
                    "detail": f"A push takes at most {max_records:,} records; this one has "
                    f"{len(items):,}. Nothing was stored: split it into several requests.",
                    "max_records": max_records,
                    "records": len(items),
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        source = source_get_or_create(
            name=query.validated_data["source"], kind=str(Source.Kind.PUSH)
        )
        ids: list[str | None] = []
        run = ingest_records(
            source=source,
            kind=self.kind,
            records=raw_records(items, ids),
            user=request.user,
            origin=f"POST {request.path}",
        )
        return Response(
            _push_result(run, source, ids),
            status=status.HTTP_207_MULTI_STATUS if run.rejected_count else status.HTTP_200_OK,
        )


def _push_result(run: IngestRun, source: Source, ids: list[str | None]) -> dict[str, Any]:
    rejects = RejectedRecord.objects.filter(run=run).order_by("line_number", "pk")
    return {
        "run": run.pk,
        "source": source.name,
        "created": run.created_count,
        "updated": run.updated_count,
        "unchanged": run.unchanged_count,
        "rejected": run.rejected_count,
        "rejects": [
            {
                "index": line_number,
                "id": ids[line_number - 1] if line_number else None,
                "field": field,
                "reason": reason,
            }
            for line_number, field, reason in rejects.values_list("line_number", "field", "reason")
        ],
    }


class ResponsePushView(_PushView):
    kind = "responses"

    @extend_schema(
        operation_id="responses_push",
        summary="Push production responses",
        description="Upsert a list of production responses by (source, id): a new id is "
        "created, a changed record updated, an identical one left unchanged. Invalid records "
        "are rejected one by one and quarantined; the valid ones are stored. Feedback already "
        "pushed for a response is joined to it.",
        parameters=[PushQuerySerializer],
        request=ResponseRecordSerializer(many=True),
        responses=_PUSH_RESPONSES,
        examples=[_PUSH_RESULT_EXAMPLE],
        tags=["push"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class FeedbackPushView(_PushView):
    kind = "feedback"

    @extend_schema(
        operation_id="feedback_push",
        summary="Push feedback events",
        description="Store thumbs and handoff events, joined to their response by response_id "
        "within the same source; an event whose response has not arrived yet is kept and "
        "joined when it does. Invalid records are rejected one by one and quarantined.",
        parameters=[PushQuerySerializer],
        request=FeedbackRecordSerializer(many=True),
        responses=_PUSH_RESPONSES,
        examples=[_PUSH_RESULT_EXAMPLE],
        tags=["push"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


@extend_schema_view(
    get=extend_schema(
        operation_id="ingest_runs_list",
        summary="List ingest runs",
        description="Every ingest (file, push, pull), newest first, with its counts.",
        parameters=[IngestRunQuerySerializer],
        responses={
            200: IngestRunSerializer(many=True),
            400: OpenApiResponse(ValidationErrorSerializer, description="An invalid filter."),
            **_AUTH_RESPONSES,
        },
        tags=["ingest runs"],
    )
)
class IngestRunListView(generics.ListAPIView):
    serializer_class = IngestRunSerializer
    permission_classes = [CanViewIngestRuns]

    def get_queryset(self) -> QuerySet[IngestRun]:
        query = IngestRunQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        runs = IngestRun.objects.select_related("source", "started_by").order_by(
            "-started_at", "-pk"
        )
        if source := query.validated_data.get("source"):
            runs = runs.filter(source__name=source)
        if kind := query.validated_data.get("kind"):
            runs = runs.filter(kind=kind)
        return runs


@extend_schema_view(
    get=extend_schema(
        operation_id="ingest_run_rejects_list",
        summary="List a run's rejected records",
        description="The quarantined records of one ingest run, in input order: line number "
        "(a push's list position counting from 1), field, reason and the raw text (first 10 KB).",
        responses={
            200: RejectedRecordSerializer(many=True),
            **_AUTH_RESPONSES,
            404: OpenApiResponse(ErrorSerializer, description="No such run."),
        },
        tags=["ingest runs"],
    )
)
class IngestRunRejectsView(generics.ListAPIView):
    serializer_class = RejectedRecordSerializer
    permission_classes = [CanViewIngestRuns]

    def get_queryset(self) -> QuerySet[RejectedRecord]:
        rejects = rejected_records(run_id=self.kwargs["pk"])
        if rejects is None:
            raise NotFound(f"There is no ingest run {self.kwargs['pk']}.")
        return rejects
