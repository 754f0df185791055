"""Reads for the review workflow: the reviewer's queues, progress and history; the QA lead's
plans, preview and adjudication list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from reviewapp.responses.models import Response, Source
from sampling.allocation import (
    AllocationError,
    Target,
    expected_half_width,
    oversampling_weights,
    plan_budget,
)
from sampling.estimate import beta_posterior_variance

from .models import Plan, PlanVersion, Queue, QueueItem, Review, ReviewAudit
from .roles import QA_LEAD, has_role
from .services import UNDO_SECONDS

# --- reviewer: queues, progress, history (views.py) -----------------------------------------


def queues_for_reviewer(*, user: Any) -> QuerySet[Queue]:
    """The queues a user may review: those of plans they are assigned to; every queue for QA
    leads and superusers."""
    queues = Queue.objects.select_related("plan", "plan_version")
    if has_role(user, QA_LEAD):
        return queues
    return queues.filter(plan__reviewers=user)


def queue_allowed(*, user: Any, queue: Queue) -> bool:
    if has_role(user, QA_LEAD):
        return True
    return queue.plan.reviewers.filter(pk=user.pk).exists()


def assigned_to_plan(*, user: Any, plan_id: str = "plan_id") -> Exists:
    """For .annotate(): whether `user` is assigned to the plan the row's `plan_id` names, so
    that the row and queue_allowed's answer come in one query instead of two."""
    return Exists(Plan.reviewers.through.objects.filter(plan_id=OuterRef(plan_id), user_id=user.pk))


def queue_to_review(*, user: Any, pk: int) -> tuple[Queue | None, bool]:
    """Queue `pk` (with its plan and version) and whether the user may review it: what
    queue_allowed answers, in the same query as the queue."""
    queue = (
        Queue.objects.select_related("plan", "plan_version")
        .annotate(assigned=assigned_to_plan(user=user))
        .filter(pk=pk)
        .first()
    )
    if queue is None:
        return None, False
    return queue, has_role(user, QA_LEAD) or queue.assigned  # type: ignore[attr-defined]


@dataclass(frozen=True)
class QueueProgress:
    done: int  # reviews given (an overlap item counts twice)
    quota: int  # reviews the queue needs
    mine_today: int  # the reviewer's own reviews in this queue since midnight (UTC)
    # The reviewer has a review in this queue still within the undo window.
    can_undo: bool = False

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.done)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.quota) if self.quota else 100


def _today_start(now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def queue_progress(*, queue: Queue, user: Any, now: dt.datetime | None = None) -> QueueProgress:
    now = now or timezone.now()
    totals = queue.items.aggregate(
        done=Coalesce(Sum(Least("review_count", "required_reviews")), 0),
        quota=Coalesce(Sum("required_reviews"), 0),
    )
    # Today's count and "anything to undo?" in one query (review_by_reviewer_time index).
    today, undo_after = _today_start(now), now - dt.timedelta(seconds=UNDO_SECONDS)
    mine = Review.objects.filter(
        item__queue=queue, reviewer=user, created_at__gte=min(today, undo_after)
    ).aggregate(
        today=Count("pk", filter=Q(created_at__gte=today)),
        undoable=Count("pk", filter=Q(created_at__gt=undo_after)),
    )
    return QueueProgress(
        done=totals["done"],
        quota=totals["quota"],
        mine_today=mine["today"],
        can_undo=mine["undoable"] > 0,
    )


def queue_overview(*, user: Any, limit: int = 60) -> list[tuple[Queue, QueueProgress]]:
    """The user's queues, most recent day first, each with its progress (one query for all)."""
    queues = list(
        queues_for_reviewer(user=user)
        .annotate(
            done=Coalesce(Sum(Least("items__review_count", "items__required_reviews")), 0),
            quota=Coalesce(Sum("items__required_reviews"), 0),
        )
        .order_by("-day", "plan__name", "-pk")[:limit]
    )
    mine = dict(
        Review.objects.filter(
            item__queue__in=[q.pk for q in queues],
            reviewer=user,
            created_at__gte=_today_start(),
        )
        .values_list("item__queue")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        (q, QueueProgress(done=q.done, quota=q.quota, mine_today=mine.get(q.pk, 0))) for q in queues
    ]


def review_last_undoable(
    *, queue: Queue, user: Any, now: dt.datetime | None = None
) -> Review | None:
    """The reviewer's latest review in `queue` if it is still within the undo window."""
    now = now or timezone.now()
    return (
        Review.objects.filter(
            item__queue=queue,
            reviewer=user,
            created_at__gt=now - dt.timedelta(seconds=UNDO_SECONDS),
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def reviews_of(*, user: Any) -> QuerySet[Review]:
    """A reviewer's own reviews, newest first, with what the history page shows."""
    return (
        Review.objects.filter(reviewer=user)
        .select_related("item__queue__plan", "item__response")
        .order_by("-created_at", "-pk")
    )


def review_audit_trail(*, review_ids: list[int]) -> dict[int, list[ReviewAudit]]:
    """Per review id: its audit entries, oldest first."""
    trail: dict[int, list[ReviewAudit]] = {pk: [] for pk in review_ids}
    for entry in (
        ReviewAudit.objects.filter(review_id_value__in=review_ids)
        .select_related("actor")
        .order_by("at", "pk")
    ):
        trail[entry.review_id_value].append(entry)
    return trail


# --- QA lead: plans, queues, the preview, ad-hoc filters, adjudication (views_plans.py) ------


def plan_rows() -> list[dict[str, Any]]:
    """Every plan with its current version, last probability queue and that queue's progress."""
    plans = list(
        Plan.objects.select_related("current_version").prefetch_related("current_version__sources")
    )
    last_by_plan: dict[int, Queue] = {}
    for queue in queue_rows(
        queues=Queue.objects.filter(kind=Queue.Kind.PROBABILITY).order_by("plan_id", "-day")
    ):
        last_by_plan.setdefault(queue.plan_id, queue)
    return [{"plan": plan, "last_queue": last_by_plan.get(plan.pk)} for plan in plans]


def queue_rows(*, queues: QuerySet[Queue]) -> list[Queue]:
    """Queues annotated with progress (gold copies left out: they are not part of the sample)
    and the number of disputed overlap items still waiting for adjudication."""
    real = Q(items__is_gold=False)
    rows = list(
        queues.select_related("plan_version").annotate(
            items_total=Count("items", filter=real),
            items_done=Count(
                "items", filter=real & Q(items__review_count__gte=F("items__required_reviews"))
            ),
            reviews_done=Coalesce(Sum("items__review_count", filter=real), 0),
            reviews_needed=Coalesce(Sum("items__required_reviews", filter=real), 0),
            gold_items=Count("items", filter=Q(items__is_gold=True)),
        )
    )
    disputed: dict[int, int] = {}
    for queue_id in (
        disputed_items().filter(queue__in=[q.pk for q in rows]).values_list("queue_id", flat=True)
    ):
        disputed[queue_id] = disputed.get(queue_id, 0) + 1
    for queue in rows:
        queue.adjudication_needed = disputed.get(queue.pk, 0)  # type: ignore[attr-defined]
    return rows


def disputed_items() -> QuerySet[QueueItem]:
    """Overlap items whose reviewers gave different verdicts and that no QA lead has
    adjudicated yet (gold copies never: their truth is already known)."""
    return (
        QueueItem.objects.filter(is_gold=False, required_reviews__gte=2, adjudication__isnull=True)
        .annotate(verdicts=Count("reviews__verdict", distinct=True))
        .filter(verdicts__gt=1)
        .select_related("queue__plan", "response")
        .prefetch_related("reviews__reviewer")
        .order_by("queue__day", "queue_id", "position")
    )


def latest_traffic_day(*, sources: list[Source]) -> dt.date | None:
    """The day the preview describes: the latest UTC day before today that has responses of
    `sources` ("yesterday" in production), or the latest day at all when all traffic is
    today's."""
    today_start = dt.datetime.combine(timezone.now().date(), dt.time.min, tzinfo=dt.UTC)
    responses = Response.objects.filter(source__in=sources)
    latest = responses.filter(timestamp__lt=today_start).aggregate(m=Max("timestamp"))["m"]
    if latest is None:
        latest = responses.aggregate(m=Max("timestamp"))["m"]
    return latest.astimezone(dt.UTC).date() if latest else None


def traffic_labels(*, sources: list[Source]) -> dict[str, list[str]]:
    """The tiers and segments in the latest day of traffic of `sources` (the day the preview
    describes), as the strata name them ("(none)" for no segment): what the plan form offers
    and checks targets, the planner and oversampling keys against. One day, read by the
    (source, timestamp) index, so it stays cheap on a large table."""
    day = latest_traffic_day(sources=sources)
    if day is None:
        return {"tier": [], "segment": []}
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    pairs = set(
        Response.objects.filter(
            source__in=sources, timestamp__gte=start, timestamp__lt=start + dt.timedelta(days=1)
        )
        .values_list("tier", "segment")
        .distinct()
    )
    return {
        "tier": sorted({tier for tier, _ in pairs}),
        "segment": sorted({segment or "(none)" for _, segment in pairs}),
    }


def _points(half_width: float | None) -> float | None:
    """A half-width as percentage points, rounded for people (0.0498 → 5.0)."""
    return None if half_width is None else round(100 * float(half_width), 1)


@dataclass
class PlanPreview:
    day: dt.date | None
    population: int = 0
    budget: int = 0
    allocated: int = 0
    method: str = ""
    floor_lowered: bool = False
    uncertainty_cuts: tuple[float, ...] = ()
    uncertainty_from_reference: bool = True
    ood_cuts: tuple[float, ...] = ()
    overall_half_width_points: float | None = None
    strata: list[dict[str, Any]] = field(default_factory=list)
    tiers: list[dict[str, Any]] = field(default_factory=list)
    overall_half_width: float | None = None
    reviews_in_history: float = 0.0
    history_window_days: int = 0
    planner: dict[str, Any] | None = None


def plan_preview(
    *,
    config: dict[str, Any],
    sources: list[Source],
    plan: Plan | None = None,
    planner_tier: str = "",
    planner_half_width: float | None = None,
) -> PlanPreview:
    """What a (possibly unsaved) design would draw from the latest day of traffic: N_h, n_h,
    π per stratum, the expected 95 % half-width per tier from the plan's recent reviews (S_h² =
    E[p(1−p)] under the Beta posterior of services.allocation_history, the counts the
    allocation used), and, given a target half-width for one tier, the smallest budget that
    meets it (sampling.allocation.plan_budget)."""
    from .services import neyman_window_days, plan_config_clean, plan_design

    clean = plan_config_clean(config)
    day = latest_traffic_day(sources=sources)
    if day is None:
        return PlanPreview(day=None, budget=clean["daily_budget"])
    version = PlanVersion(plan=plan or Plan(name="preview"), number=0, **clean)
    design = plan_design(version=version, day=day, sources=sources)
    strata, allocation = design.strata, design.allocation
    N = strata.sizes.astype(float)
    n = allocation.n.astype(float)
    keys = strata.keys()
    # The history the allocation itself used (recent window + capped prior), so the expected
    # half-widths and the planner describe the queue this design would build.
    zeros = np.zeros(len(keys))
    successes = zeros if design.successes is None else design.successes
    failures = zeros if design.failures is None else design.failures
    s2 = beta_posterior_variance(successes, failures)
    smin = clean["stratum_min"]
    preview = PlanPreview(
        day=day,
        population=int(N.sum()),
        budget=clean["daily_budget"],
        allocated=int(n.sum()),
        method=clean["allocation"],
        # plan_design lowers the floor to 2 when the budget cannot give every stratum its minimum.
        floor_lowered=bool(np.any((smin <= N) & (n < smin))),
        # Three significant figures: a reference quantile is 0.323, not 0.32341090000000006.
        uncertainty_cuts=tuple(float(f"{c:.3g}") for c in design.bands["uncertainty"].cuts),
        uncertainty_from_reference=not clean["uncertainty_cuts"],
        ood_cuts=tuple(float(f"{c:.3g}") for c in design.bands["ood"].cuts),
        reviews_in_history=float(successes.sum() + failures.sum()),
        history_window_days=neyman_window_days(),
    )
    for h, key in enumerate(keys):
        preview.strata.append(
            {
                "key": key,
                "labels": dict(zip(strata.dimensions, strata.labels[h], strict=True)),
                "population": int(N[h]),
                "quota": int(n[h]),
                "pi": n[h] / N[h] if N[h] else 0.0,
                "reviews": float(successes[h] + failures[h]),
            }
        )
    if len(N):
        preview.overall_half_width = expected_half_width(N, n, s2)
        preview.overall_half_width_points = _points(preview.overall_half_width)
    tiers: list[str] = []
    if "tier" in strata.dimensions:
        tiers = sorted({labels[strata.dimensions.index("tier")] for labels in strata.labels})
    for tier in tiers:
        mask = strata.mask(tier=tier)
        preview.tiers.append(
            {
                "tier": tier,
                "population": int(N[mask].sum()),
                "quota": int(n[mask].sum()),
                "half_width": expected_half_width(N, n, s2, mask),
                "half_width_points": _points(expected_half_width(N, n, s2, mask)),
                "target": clean["targets"].get(tier),
                "target_percent": _points(clean["targets"].get(tier)),
            }
        )
    if planner_tier and planner_half_width:
        preview.planner = _plan_budget_for(
            design=design,
            clean=clean,
            successes=successes,
            failures=failures,
            tier=planner_tier,
            half_width=planner_half_width,
        )
    return preview


def _plan_budget_for(
    *,
    design: Any,
    clean: dict[str, Any],
    successes: np.ndarray,
    failures: np.ndarray,
    tier: str,
    half_width: float,
) -> dict[str, Any]:
    strata = design.strata
    out: dict[str, Any] = {"tier": tier, "half_width": half_width}
    if tier and "tier" not in strata.dimensions:
        out["error"] = "Add the tier dimension to plan for one tier."
        return out
    mask = strata.mask(tier=tier)
    if not mask.any():
        out["error"] = f"No traffic of tier {tier} on that day."
        return out
    method = clean["allocation"] if clean["allocation"] != "manual" else "neyman"
    out["method"] = method
    weights = oversampling_weights(strata, clean["oversampling"])
    try:
        result = plan_budget(
            strata.sizes,
            [Target(name=tier, mask=mask, half_width=half_width)],
            successes=successes,
            failures=failures,
            method=method,
            weights=weights,
            floor=clean["stratum_min"],
            maximum=clean["stratum_max"],
        )
    except AllocationError as exc:
        out["error"] = str(exc)
        return out
    out.update(
        budget=result.budget,
        feasible=result.feasible,
        achieved=result.half_widths[0],
        achieved_points=_points(result.half_widths[0]),
        half_width_points=_points(half_width),
        tier_quota=int(result.allocation.n[mask].sum()),
        daily_budget=clean["daily_budget"],
        **_binding_limit(
            sizes=strata.sizes[mask],
            maximum=clean["stratum_max"],
            feasible=result.feasible,
            budget=result.budget,
            daily_budget=clean["daily_budget"],
        ),
    )
    return out


def _binding_limit(
    *,
    sizes: np.ndarray,
    maximum: int | None,
    feasible: bool,
    budget: int,
    daily_budget: int,
) -> dict[str, Any]:
    """What stands between the planner's tier and its target: "maximum" when the per-stratum
    maximum caps the tier's reviews below its traffic and the target is out of reach,
    "population" when even reviewing every answer of the day misses it, "budget" when the
    plan's daily budget is smaller than the one needed, or "" when the plan's budget is
    enough. `reachable` is the most reviews the tier can get in a day."""
    reachable = int(sizes.sum() if maximum is None else np.minimum(sizes, maximum).sum())
    if not feasible:
        capped = maximum is not None and bool(np.any(sizes > maximum))
        return {"binding": "maximum" if capped else "population", "reachable": reachable}
    return {"binding": "budget" if budget > daily_budget else "", "reachable": reachable}


def adhoc_responses(
    *, plan: Plan, kind: str, days: int, now: dt.datetime | None = None
) -> QuerySet[Response]:
    """Responses of the plan's sources for an ad-hoc (non-probability) queue: thumbs-down or
    handoffs received in the last `days` days, or responses of those days whose OOD
    percentile is in the plan's top band ("out")."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    version = plan.current_version
    sources = list(version.sources.all()) if version else []
    responses = Response.objects.filter(source__in=sources)
    if kind in ("thumbs_down", "handoff"):
        return responses.filter(feedback__kind=kind, feedback__timestamp__gte=since).distinct()
    if kind == "ood_out":
        cuts = [float(c) for c in (version.ood_cuts if version else [])] or [95.0, 99.0]
        return responses.filter(timestamp__gte=since, ood_percentile__gte=cuts[-1])
    raise ValueError(f"unknown ad-hoc filter {kind!r}")
