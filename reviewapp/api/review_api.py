"""The review workflow over REST: plans, queues, claims and reviews, so that an external
labelling workforce can do the whole job without the HTML pages.

Who may call what (each view says it again):
- plans: read by every staff role (reviewer, qa_lead, viewer); written by QA leads;
- queues: QA leads and viewers see every queue, a reviewer only the queues of plans they are
  assigned to (any other queue is a 404, not a 403: its existence is not theirs to know);
- claim, skip, review: reviewers assigned to the queue's plan, and QA leads;
- anonymous: 401; a signed-in user with none of the roles: 403.

Views stay thin: check, call one service from reviewapp.review.services, shape the answer.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.responses.models import Source
from reviewapp.review.models import (
    DEFAULT_FAILURE_TAGS,
    Claim,
    Plan,
    PlanVersion,
    Queue,
    QueueItem,
    Review,
)
from reviewapp.review.roles import QA_LEAD, REVIEWER, VIEWER, has_role
from reviewapp.review.selectors import (
    assigned_to_plan,
    queue_rows,
    queue_to_review,
    reviews_of,
)
from reviewapp.review.services import (
    PLAN_FIELDS,
    AlreadyReviewed,
    ReviewError,
    claim_next,
    item_skip,
    plan_save,
    review_edit,
    review_submit,
    review_undo,
)

from .review_serializers import (
    ClaimedItemSerializer,
    PlanCreateSerializer,
    PlanSerializer,
    PlanWriteSerializer,
    QueueSerializer,
    ReviewCreateSerializer,
    ReviewEditSerializer,
    ReviewSerializer,
    SkipSerializer,
)
from .serializers import ErrorSerializer, ValidationErrorSerializer


def healthz(request: HttpRequest) -> HttpResponse:
    """A trivial Django view: the load benchmark's baseline (and a liveness probe)."""
    return HttpResponse("ok", content_type="text/plain")


# --- who may call ---------------------------------------------------------------------------


class IsStaff(BasePermission):
    message = "This takes the reviewer, qa_lead or viewer role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, REVIEWER, QA_LEAD, VIEWER)


class MayReview(BasePermission):
    message = "Reviewing takes the reviewer or qa_lead role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, REVIEWER, QA_LEAD)


_AUTH = {
    401: OpenApiResponse(ErrorSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(ErrorSerializer, description="The caller's role does not allow it."),
}
_NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such object, or not one the caller may see."
)
_BAD = OpenApiResponse(
    ValidationErrorSerializer,
    description="The input is invalid: `detail`, or the invalid fields' messages, say why.",
)


def _visible_queues(user: Any) -> QuerySet[Queue]:
    queues = Queue.objects.select_related("plan", "plan_version")
    if has_role(user, QA_LEAD, VIEWER):
        return queues
    return queues.filter(plan__reviewers=user)


def _queue_to_review(user: Any, pk: int) -> Queue:
    queue, allowed = queue_to_review(user=user, pk=pk)
    if queue is None or not allowed:
        raise NotFound(f"There is no queue {pk} for you to review.")
    return queue


def _failure_tags(version: PlanVersion) -> list[str]:
    return list(version.failure_tags or DEFAULT_FAILURE_TAGS)


# --- plans ----------------------------------------------------------------------------------


def _plans() -> QuerySet[Plan]:
    return Plan.objects.select_related("current_version").prefetch_related(
        "current_version__sources", "reviewers"
    )


def _plan_payload(plan: Plan, *, lead: bool) -> dict[str, Any]:
    version = plan.current_version
    return {
        "name": plan.name,
        "description": plan.description,
        "active": plan.active,
        "reviewers": sorted(u.get_username() for u in plan.reviewers.all()) if lead else [],
        "current_version": None
        if version is None
        else {
            "number": version.number,
            "created_at": version.created_at,
            "sources": sorted(s.name for s in version.sources.all()),
            **{name: getattr(version, name) for name in PLAN_FIELDS},
        },
    }


class _Invalid(Exception):
    """A plan body that names what does not exist, or a design plan_config_clean refuses."""


def _plan_write(request: Request, *, name: str, data: dict[str, Any]) -> Plan:
    """The body's sources and reviewers as objects, then plan_save (a new version)."""
    if not has_role(request.user, QA_LEAD):
        raise PermissionDenied("Writing plans takes the qa_lead role.")
    names = data["sources"]
    sources = list(Source.objects.filter(name__in=names))
    missing = sorted(set(names) - {s.name for s in sources})
    if missing:
        raise _Invalid(f"sources: no source named {', '.join(missing)}")
    reviewers = None
    if "reviewers" in data:
        usernames = data["reviewers"]
        reviewers = list(get_user_model().objects.filter(username__in=usernames))
        unknown = sorted(set(usernames) - {u.get_username() for u in reviewers})
        if unknown:
            raise _Invalid(f"reviewers: no user named {', '.join(unknown)}")
    try:
        version = plan_save(
            name=name,
            config={key: data[key] for key in PLAN_FIELDS if key in data},
            sources=sources,
            reviewers=reviewers,
            user=request.user,
            description=data.get("description", ""),
        )
    except ValueError as exc:
        raise _Invalid(str(exc)) from exc
    return _plans().get(pk=version.plan_id)


class PlanListView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="plans_list",
        summary="List plans",
        description="Every plan with its current version's design. Any staff role.",
        responses={200: PlanSerializer(many=True), **_AUTH},
        tags=["plans"],
    )
    def get(self, request: Request) -> Response:
        lead = has_role(request.user, QA_LEAD)
        return Response([_plan_payload(p, lead=lead) for p in _plans()])

    @extend_schema(
        operation_id="plans_create",
        summary="Create a plan (or a new version of one)",
        description="QA leads only. Saving a name that exists gives that plan a new version; "
        "queues already built keep the version they were built from.",
        request=PlanCreateSerializer,
        responses={201: PlanSerializer, 400: _BAD, **_AUTH},
        tags=["plans"],
    )
    def post(self, request: Request) -> Response:
        if not has_role(request.user, QA_LEAD):
            raise PermissionDenied("Writing plans takes the qa_lead role.")
        body = PlanCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            plan = _plan_write(request, name=body.validated_data["name"], data=body.validated_data)
        except _Invalid as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_plan_payload(plan, lead=True), status=status.HTTP_201_CREATED)


class PlanDetailView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="plans_retrieve",
        summary="Read a plan",
        responses={200: PlanSerializer, 404: _NOT_FOUND, **_AUTH},
        tags=["plans"],
    )
    def get(self, request: Request, name: str) -> Response:
        plan = _plans().filter(name=name).first()
        if plan is None:
            raise NotFound(f"There is no plan {name}.")
        return Response(_plan_payload(plan, lead=has_role(request.user, QA_LEAD)))

    @extend_schema(
        operation_id="plans_update",
        summary="Save a new version of a plan",
        description="QA leads only. The body is the whole design (omitted fields take their "
        "defaults, not the previous version's values).",
        request=PlanWriteSerializer,
        responses={200: PlanSerializer, 400: _BAD, 404: _NOT_FOUND, **_AUTH},
        tags=["plans"],
    )
    def put(self, request: Request, name: str) -> Response:
        if not has_role(request.user, QA_LEAD):
            raise PermissionDenied("Writing plans takes the qa_lead role.")
        if not Plan.objects.filter(name=name).exists():
            raise NotFound(f"There is no plan {name}; create it with POST /api/v1/plans/.")
        body = PlanWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            plan = _plan_write(request, name=name, data=body.validated_data)
        except _Invalid as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_plan_payload(plan, lead=True))


# --- queues ---------------------------------------------------------------------------------


def _queue_payloads(user: Any, queues: QuerySet[Queue]) -> list[dict[str, Any]]:
    rows = queue_rows(queues=queues)
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    mine = dict(
        Review.objects.filter(
            item__queue__in=[q.pk for q in rows], reviewer=user, created_at__gte=start
        )
        .values_list("item__queue")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        {
            "id": q.pk,
            "plan": q.plan.name,
            "plan_version": q.plan_version.number,
            "kind": q.kind,
            "day": q.day,
            "name": str(q),
            "description": q.description,
            "blind": q.plan_version.blind,
            "size": q.items_total,  # type: ignore[attr-defined]
            "reviews_done": q.reviews_done,  # type: ignore[attr-defined]
            "reviews_needed": q.reviews_needed,  # type: ignore[attr-defined]
            "mine_today": mine.get(q.pk, 0),
            "failure_tags": _failure_tags(q.plan_version),
        }
        for q in rows
    ]


class QueueListView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="queues_list",
        summary="List queues",
        description="The 200 most recent queues the caller may see: all of them for QA leads "
        "and viewers, those of the plans they are assigned to for reviewers.",
        responses={200: QueueSerializer(many=True), **_AUTH},
        tags=["queues"],
    )
    def get(self, request: Request) -> Response:
        queues = _visible_queues(request.user).order_by("-day", "plan__name", "-pk")
        ids = list(queues.values_list("pk", flat=True)[:200])
        queues = Queue.objects.select_related("plan", "plan_version").filter(pk__in=ids)
        rows = _queue_payloads(request.user, queues.order_by("-day", "plan__name", "-pk"))
        return Response(rows)


class QueueDetailView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="queues_retrieve",
        summary="Read a queue",
        responses={200: QueueSerializer, 404: _NOT_FOUND, **_AUTH},
        tags=["queues"],
    )
    def get(self, request: Request, pk: int) -> Response:
        queues = _visible_queues(request.user).filter(pk=pk)
        rows = _queue_payloads(request.user, queues)
        if not rows:
            raise NotFound(f"There is no queue {pk}.")
        return Response(rows[0])


def _claimed_item(
    item: QueueItem, reviewer: Any, *, claim: Claim | None = None, queue: Queue | None = None
) -> dict[str, Any]:
    """What a reviewer sees of a claimed item. For a blind plan (the default) this is built
    without tier, model, confidence, OOD, stratum and inclusion probability, and gold items
    look like any other. With the `claim` from claim_next (its item comes with response and
    stratum) and the `queue`, nothing more is read."""
    if claim is None or queue is None:
        item = (
            QueueItem.objects.select_related("response", "stratum", "queue__plan_version")
            .defer("response__embedding")  # never shown, and the widest column
            .get(pk=item.pk)
        )
    else:
        item.queue = queue
    if claim is None:
        claim = (
            Claim.objects.filter(item=item, reviewer=reviewer, released_at__isnull=True)
            .order_by("-claimed_at")
            .first()
        )
    version = item.queue.plan_version
    answer = item.response
    pairwise = None
    if item.served_side and answer.shadow_response is not None:
        served, shadow = answer.response, answer.shadow_response
        a, b = (served, shadow) if item.served_side == "A" else (shadow, served)
        pairwise = {"A": a, "B": b}
    data: dict[str, Any] = {
        "item": item.pk,
        "queue": item.queue_id,
        "query": answer.query,
        "response": answer.response,
        "pairwise": pairwise,
        "failure_tags": _failure_tags(version),
        "claimed_at": claim.claimed_at if claim else None,
        "expires_at": claim.expires_at if claim else None,
        "blind": version.blind,
    }
    if not version.blind:
        data["details"] = {
            "tier": answer.tier,
            "model": answer.model,
            "router_confidence": answer.router_confidence,
            "uncertainty": answer.uncertainty,
            "ood_percentile": answer.ood_percentile,
            "stratum": item.stratum.key if item.stratum else None,
            "inclusion_probability": item.inclusion_probability,
        }
    return data


class QueueClaimView(APIView):
    permission_classes = [MayReview]

    @extend_schema(
        operation_id="queues_claim",
        summary="Claim the next item",
        description="The caller's next item of the queue, held for them until `expires_at`. "
        "Calling again before reviewing returns the same item. 204 when nothing is left for "
        "the caller (everything is reviewed, held by others, or already reviewed by them).",
        request=None,
        responses={
            200: ClaimedItemSerializer,
            204: OpenApiResponse(description="Nothing left for the caller in this queue."),
            404: _NOT_FOUND,
            **_AUTH,
        },
        tags=["reviewing"],
    )
    def post(self, request: Request, pk: int) -> Response:
        queue = _queue_to_review(request.user, pk)
        claim = claim_next(queue=queue, reviewer=request.user)
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(_claimed_item(claim.item, request.user, claim=claim, queue=queue))


class QueueSkipView(APIView):
    permission_classes = [MayReview]

    @extend_schema(
        operation_id="queues_skip",
        summary="Skip an item",
        description="Pass on an item with a reason; it goes back to the queue for someone "
        "else and is never offered to the caller again.",
        request=SkipSerializer,
        responses={
            204: OpenApiResponse(description="Skipped."),
            400: _BAD,
            404: _NOT_FOUND,
            **_AUTH,
        },
        tags=["reviewing"],
    )
    def post(self, request: Request, pk: int) -> Response:
        queue = _queue_to_review(request.user, pk)
        body = SkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = QueueItem.objects.filter(queue=queue, pk=body.validated_data["item"]).first()
        if item is None:
            raise NotFound(f"Queue {pk} has no item {body.validated_data['item']}.")
        try:
            item_skip(item=item, reviewer=request.user, reason=body.validated_data["reason"])
        except ReviewError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- reviews --------------------------------------------------------------------------------


class ReviewCreateView(APIView):
    permission_classes = [MayReview]

    @extend_schema(
        operation_id="reviews_create",
        summary="Submit a review",
        description="The verdict on an item the caller claimed. A claim that has expired is "
        "still honoured if nobody else has taken the item.",
        request=ReviewCreateSerializer,
        responses={
            201: ReviewSerializer,
            400: _BAD,
            404: _NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The caller already reviewed it."),
            **_AUTH,
        },
        tags=["reviewing"],
    )
    def post(self, request: Request) -> Response:
        body = ReviewCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        item = (
            QueueItem.objects.select_related("queue", "response")
            .defer("response__embedding")
            .annotate(assigned=assigned_to_plan(user=request.user, plan_id="queue__plan_id"))
            .filter(pk=data["item"])
            .first()
        )
        if item is None or not (has_role(request.user, QA_LEAD) or item.assigned):
            raise NotFound(f"There is no item {data['item']} for you to review.")
        already = {"detail": "You have already reviewed this item; edit it instead."}
        try:
            review = review_submit(
                item=item,
                reviewer=request.user,
                verdict=data["verdict"],
                failure_tags=data.get("failure_tags") or [],
                helpfulness=data.get("helpfulness"),
                comment=data.get("comment", ""),
                preference=data.get("preference", ""),
                time_spent_ms=data.get("time_spent_ms"),
            )
        except AlreadyReviewed:
            return Response(already, status=status.HTTP_409_CONFLICT)
        except ReviewError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except IntegrityError:
            return Response(already, status=status.HTTP_409_CONFLICT)
        # The answer is read from what was just written and the item loaded above (the same
        # fields a fresh read through reviews_of would give), saving that query.
        review.item = item
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


def _own_review(request: Request, pk: int) -> Review:
    review = reviews_of(user=request.user).filter(pk=pk).first()
    if review is None:
        raise NotFound(f"You have no review {pk}.")
    return review


class ReviewDetailView(APIView):
    permission_classes = [MayReview]

    @extend_schema(
        operation_id="reviews_edit",
        summary="Edit one's review",
        description="Within the edit window (7 days); the audit trail keeps before and after.",
        request=ReviewEditSerializer,
        responses={200: ReviewSerializer, 400: _BAD, 404: _NOT_FOUND, **_AUTH},
        tags=["reviewing"],
    )
    def patch(self, request: Request, pk: int) -> Response:
        review = _own_review(request, pk)
        body = ReviewEditSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            review_edit(review=review, reviewer=request.user, changes=dict(body.validated_data))
        except ReviewError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ReviewSerializer(_own_review(request, pk)).data)


class ReviewUndoView(APIView):
    permission_classes = [MayReview]

    @extend_schema(
        operation_id="reviews_undo",
        summary="Undo one's review",
        description="Within 5 minutes of submitting: the review is withdrawn and the item is "
        "claimed again for the caller (returned as by the claim call).",
        request=None,
        responses={200: ClaimedItemSerializer, 400: _BAD, 404: _NOT_FOUND, **_AUTH},
        tags=["reviewing"],
    )
    def post(self, request: Request, pk: int) -> Response:
        review = _own_review(request, pk)
        try:
            item = review_undo(review=review, reviewer=request.user)
        except ReviewError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_claimed_item(item, request.user))


@extend_schema_view(
    get=extend_schema(
        operation_id="reviews_mine",
        summary="The caller's reviews",
        description="Newest first, paginated (limit/offset).",
        responses={200: ReviewSerializer(many=True), **_AUTH},
        tags=["reviewing"],
    )
)
class ReviewMineView(generics.ListAPIView):
    permission_classes = [MayReview]
    serializer_class = ReviewSerializer

    def get_queryset(self) -> QuerySet[Review]:
        return reviews_of(user=self.request.user)
