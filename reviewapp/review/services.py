"""Writes for the review workflow: plans, queue building, claims, reviews, adjudication.

The statistics (bands, strata, allocation, the seeded draw) are in sampling/; this module reads
the day's responses as arrays, calls it, and stores what it returns.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from reviewapp.responses.models import ReferenceRecord, Response, Source
from reviewapp.responses.scoring import responses_score
from sampling.allocation import (
    NEYMAN_WINDOW_DAYS,
    Allocation,
    design_allocation,
    neyman_history,
)
from sampling.draw import draw
from sampling.ood import uncertainty as uncertainty_of
from sampling.strata import (
    DEFAULT_OOD_CUTS,
    DEFAULT_OOD_LABELS,
    DEFAULT_UNCERTAINTY_LABELS,
    Bands,
    Strata,
    assign_strata,
    band,
    uncertainty_cuts_from_reference,
)

from .models import (
    ALLOCATIONS,
    DEFAULT_FAILURE_TAGS,
    DIMENSIONS,
    Adjudication,
    Claim,
    Plan,
    PlanVersion,
    Queue,
    QueueItem,
    Review,
    ReviewAudit,
    Skip,
    StratumCount,
)

UNKNOWN_BAND = "unknown"
# How long a claimed item stays with its reviewer before it returns to the queue.
CLAIM_SECONDS = getattr(settings, "LONGTAIL_CLAIM_SECONDS", 15 * 60)
UNDO_SECONDS = 5 * 60
EDIT_SECONDS = 7 * 24 * 3600


class ReviewError(Exception):
    """A review action that cannot be done: a sentence for the reviewer."""


class AlreadyReviewed(ReviewError):
    """The reviewer has reviewed this item already (the API answers 409)."""


class NoTraffic(ValueError):
    """A day with no response in the plan's sources: nothing to sample, so no queue is built
    (an empty queue would become every report's latest window and hide the real ones)."""


# --- plans ----------------------------------------------------------------------------------

# The largest daily budget or stratum bound: what a PositiveIntegerField holds on every database
# (PostgreSQL's integer). A larger one overflowed the column when saved, a 500.
PLAN_INT_MAX = 2_147_483_647

PLAN_FIELDS = (
    "dimensions",
    "uncertainty_cuts",
    "ood_cuts",
    "daily_budget",
    "allocation",
    "stratum_min",
    "stratum_max",
    "manual_quotas",
    "oversampling",
    "overlap_share",
    "gold_share",
    "targets",
    "blind",
    "failure_tags",
    "reviewers_see_reports",
)


def plan_config_clean(config: dict[str, Any]) -> dict[str, Any]:
    """Check a plan's design; raise ValueError naming the field and the problem."""
    clean = {key: config[key] for key in PLAN_FIELDS if key in config}
    dimensions = clean.setdefault("dimensions", ["tier", "uncertainty", "ood"])
    if not dimensions or any(d not in DIMENSIONS for d in dimensions):
        raise ValueError(f"dimensions: choose from {', '.join(DIMENSIONS)}")
    if len(set(dimensions)) != len(dimensions):
        raise ValueError("dimensions: each at most once")
    if clean.setdefault("allocation", "neyman") not in ALLOCATIONS:
        raise ValueError(f"allocation: one of {', '.join(ALLOCATIONS)}")
    for key in ("uncertainty_cuts", "ood_cuts"):
        cuts = clean.setdefault(key, [])
        if any(not isinstance(c, int | float) for c in cuts) or cuts != sorted(cuts):
            raise ValueError(f"{key}: ascending numbers")
    if any(not 0 <= c <= 1 for c in clean["uncertainty_cuts"]):
        raise ValueError("uncertainty_cuts: values between 0 and 1")
    if any(not 0 <= c <= 100 for c in clean["ood_cuts"]):
        raise ValueError("ood_cuts: percentiles between 0 and 100")
    budget = clean.setdefault("daily_budget", 200)
    if not isinstance(budget, int) or budget < 1:
        raise ValueError("daily_budget: a whole number ≥ 1")
    minimum = clean.setdefault("stratum_min", 5)
    if not isinstance(minimum, int) or minimum < 2:
        raise ValueError("stratum_min: at least 2 (a variance needs two reviews)")
    maximum = clean.get("stratum_max")
    if maximum is not None and (not isinstance(maximum, int) or maximum < minimum):
        raise ValueError("stratum_max: a whole number ≥ stratum_min")
    for key in ("daily_budget", "stratum_min", "stratum_max"):
        if (clean.get(key) or 0) > PLAN_INT_MAX:
            raise ValueError(f"{key}: at most {PLAN_INT_MAX:,}")
    for key in ("overlap_share", "gold_share"):
        share = clean.setdefault(key, 0.1 if key == "overlap_share" else 0.0)
        if not isinstance(share, int | float) or not 0 <= share <= 0.5:
            raise ValueError(f"{key}: a share between 0 and 0.5")
    for key in ("oversampling", "manual_quotas"):
        values = clean.setdefault(key, {})
        if not isinstance(values, dict) or any(
            not isinstance(v, int | float) or v < 0 for v in values.values()
        ):
            raise ValueError(f"{key}: an object of non-negative numbers")
    for key in clean["oversampling"]:
        _oversampling_key_check(key, dimensions)
    targets = clean.setdefault("targets", {})
    if not isinstance(targets, dict) or any(
        not isinstance(v, int | float) or not 0 < v < 1 for v in targets.values()
    ):
        raise ValueError("targets: an object {tier: accuracy between 0 and 1}")
    tags = clean.setdefault("failure_tags", list(DEFAULT_FAILURE_TAGS))
    if not isinstance(tags, list) or any(not isinstance(t, str) or not t.strip() for t in tags):
        raise ValueError("failure_tags: a list of names")
    if len(tags) > 20:
        raise ValueError("failure_tags: at most 20")
    clean.setdefault("blind", True)
    clean.setdefault("reviewers_see_reports", False)
    return clean


@transaction.atomic
def plan_save(
    *,
    name: str,
    config: dict[str, Any],
    sources: list[Source],
    reviewers: list[Any] | None = None,
    user: Any = None,
    description: str = "",
) -> PlanVersion:
    """Create a plan, or give an existing one a new version (versions are immutable)."""
    if not sources:
        raise ValueError("sources: choose at least one source")
    clean = plan_config_clean(config)
    plan, _ = Plan.objects.select_for_update().get_or_create(
        name=name, defaults={"created_by": user, "description": description}
    )
    if description and plan.description != description:
        plan.description = description
    number = (plan.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = PlanVersion.objects.create(plan=plan, number=number, created_by=user, **clean)
    version.sources.set(sources)
    plan.current_version = version
    plan.save()
    if reviewers is not None:
        plan.reviewers.set(reviewers)
    return version


# --- queue building -------------------------------------------------------------------------


@dataclass(frozen=True)
class DayDesign:
    """A plan's design applied to one day's traffic: what a queue build would draw."""

    response_ids: np.ndarray
    strata: Strata
    allocation: Allocation
    bands: dict[str, Bands]
    # Per stratum: sums and counts of auto_score and cost_usd over the whole population, kept
    # with the queue so that reports (PPI, cost per answer) never rescan responses.
    totals: dict[str, np.ndarray] | None = None
    # Per response (aligned with response_ids): its auto_score, NaN when absent. Items keep
    # theirs, so the PPI's item terms come from the same moment as the stratum sums above.
    auto_scores: np.ndarray | None = None
    # Per stratum: the review history the allocation used (allocation_history), for the
    # planner's expected half-widths.
    successes: np.ndarray | None = None
    failures: np.ndarray | None = None


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _uncertainty_bands(version: PlanVersion, sources: list[Source] | None = None) -> Bands:
    if version.uncertainty_cuts:
        cuts = tuple(float(c) for c in version.uncertainty_cuts)
        labels = (
            DEFAULT_UNCERTAINTY_LABELS
            if len(cuts) == 1
            else tuple(f"u{i}" for i in range(len(cuts) + 1))
        )
        return Bands(cuts, labels)
    confidences = np.array(
        ReferenceRecord.objects.filter(
            reference_set__name__in=[
                s.name for s in (version.sources.all() if sources is None else sources)
            ],
            router_confidence__isnull=False,
        ).values_list("router_confidence", flat=True),
        dtype=np.float64,
    )
    if confidences.size == 0:
        # No reference: the conventional 0.5-confidence-margin cut, stated in the preview.
        return Bands((0.2,), DEFAULT_UNCERTAINTY_LABELS)
    return uncertainty_cuts_from_reference(uncertainty_of(confidences))


def _ood_bands(version: PlanVersion) -> Bands:
    cuts = tuple(float(c) for c in version.ood_cuts) or DEFAULT_OOD_CUTS
    labels = DEFAULT_OOD_LABELS if len(cuts) == 2 else tuple(f"o{i}" for i in range(len(cuts) + 1))
    return Bands(cuts, labels)


def _labels(values: np.ndarray, bands: Bands) -> np.ndarray:
    """Band labels; a response without the score is in its own "unknown" band, never dropped."""
    out = np.full(values.shape, UNKNOWN_BAND, dtype=object)
    known = ~np.isnan(values)
    if known.any():
        out[known] = band(values[known], bands)
    return out.astype(str)


def stratum_history(
    *, plan: Plan, before: dt.date | None = None, since: dt.date | None = None
) -> dict[str, tuple[float, float]]:
    """Per stratum key: (successes, failures) of the plan's reviews of queue days in
    [since, before) (partial credit counts half); gold copies never count."""
    reviews = Review.objects.filter(
        item__queue__plan=plan, item__queue__kind=Queue.Kind.PROBABILITY, item__is_gold=False
    )
    if before:
        reviews = reviews.filter(item__queue__day__lt=before)
    if since:
        reviews = reviews.filter(item__queue__day__gte=since)
    history: dict[str, list[float]] = {}
    for key, verdict, count in (
        reviews.values_list("item__stratum__key", "verdict").annotate(count=Count("id")).order_by()
    ):
        score = Review.SCORES[verdict]
        entry = history.setdefault(key, [0.0, 0.0])
        entry[0] += score * count
        entry[1] += (1 - score) * count
    return {key: (s, f) for key, (s, f) in history.items()}


def neyman_window_days() -> int:
    """Days of reviews Neyman allocation counts in full (settings NEYMAN_WINDOW_DAYS; 0 = all
    history)."""
    days = settings.LONGTAIL.get("NEYMAN_WINDOW_DAYS", NEYMAN_WINDOW_DAYS)
    if not isinstance(days, int) or days < 0:
        raise ValueError(f"LONGTAIL_NEYMAN_WINDOW_DAYS: a whole number ≥ 0, got {days!r}")
    return days


def allocation_history(
    *, plan: Plan, keys: list[str], day: dt.date
) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum of `keys`: the (successes, failures) Neyman's S_h and the planner use for
    `day`: the reviews of the window's days before `day` in full, older ones as a capped prior
    (sampling.allocation.neyman_history). An unsaved plan has no history."""
    zeros = np.zeros(len(keys))
    if not plan.pk:
        return zeros, zeros.copy()
    window = neyman_window_days()
    since = day - dt.timedelta(days=window) if window else None
    recent = stratum_history(plan=plan, before=day, since=since)
    older = stratum_history(plan=plan, before=since) if since else {}
    counts = [
        np.array([source.get(k, (0.0, 0.0))[i] for k in keys])
        for source in (recent, older)
        for i in (0, 1)
    ]
    return neyman_history(*counts)


def plan_design(
    *,
    version: PlanVersion,
    day: dt.date,
    budget: int | None = None,
    sources: list[Source] | None = None,
) -> DayDesign:
    """Stratify and allocate one day's responses of the plan's sources (no draw, no writes).

    `sources` overrides the version's (for the preview of an unsaved version, which has no
    many-to-many rows yet; its `plan` may be unsaved too, and then has no history)."""
    if sources is None:
        sources = list(version.sources.all())
    for source in sources:
        responses_score(source_id=source.pk)
    start, end = _day_bounds(day)
    rows = list(
        Response.objects.filter(source__in=sources, timestamp__gte=start, timestamp__lt=end)
        .order_by("pk")
        .values_list(
            "pk", "tier", "uncertainty", "ood_percentile", "segment", "auto_score", "cost_usd"
        )
    )
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    bands = {"uncertainty": _uncertainty_bands(version, sources), "ood": _ood_bands(version)}
    dims: dict[str, np.ndarray] = {}
    for dimension in version.dimensions:
        if dimension == "tier":
            dims["tier"] = np.array([r[1] for r in rows], dtype=str)
        elif dimension == "segment":
            dims["segment"] = np.array([r[4] or "(none)" for r in rows], dtype=str)
        elif dimension == "uncertainty":
            dims["uncertainty"] = _labels(_float_column(rows, 2), bands["uncertainty"])
        elif dimension == "ood":
            dims["ood"] = _labels(_float_column(rows, 3), bands["ood"])
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        strata = Strata(codes=empty, labels=(), dimensions=tuple(dims), sizes=empty)
        return DayDesign(ids, strata, Allocation(empty, empty, budget or 0, "none"), bands)
    strata = assign_strata(dims)
    keys = strata.keys()
    auto_scores = _float_column(rows, 5)
    totals = _stratum_totals(strata, {"auto_score": auto_scores, "cost": _float_column(rows, 6)})
    successes, failures = allocation_history(plan=version.plan, keys=list(keys), day=day)
    quotas = np.array([float((version.manual_quotas or {}).get(k, 0)) for k in keys])
    allocation = design_allocation(
        strata,
        budget if budget is not None else version.daily_budget,
        method=version.allocation,  # type: ignore[arg-type]
        successes=successes,
        failures=failures,
        quotas=quotas,
        oversampling=version.oversampling,
        floor=version.stratum_min,
        maximum=version.stratum_max,
    )
    return DayDesign(ids, strata, allocation, bands, totals, auto_scores, successes, failures)


def _optional_float(values: np.ndarray | None, index: int) -> float | None:
    if values is None or np.isnan(values[index]):
        return None
    return float(values[index])


def _float_column(rows: list[tuple[Any, ...]], index: int) -> np.ndarray:
    """One column of the day's rows as floats, NaN where it is NULL."""
    return np.array([np.nan if r[index] is None else r[index] for r in rows], dtype=float)


def _stratum_totals(strata: Strata, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    totals: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        known = ~np.isnan(values)
        totals[f"{name}_sum"] = np.bincount(
            strata.codes[known], weights=values[known], minlength=strata.n_strata
        )
        totals[f"{name}_count"] = np.bincount(strata.codes[known], minlength=strata.n_strata)
    return totals


def _oversampling_key_check(key: str, dimensions: list[str]) -> None:
    """Refuse an oversampling key that could match nothing for a reason the QA lead can fix: a
    clause naming a dimension the plan does not stratify by (it used to be ignored silently),
    or a full stratum key with the wrong number of parts."""
    named = ", ".join(dimensions)
    if "=" not in key:
        parts = key.split("|")
        if len(parts) != len(dimensions) or not all(p.strip() for p in parts):
            raise ValueError(
                f"oversampling: “{key}” is neither “dimension=value” clauses joined by “&” nor "
                f"a full stratum key with one value per dimension ({'|'.join(dimensions)})"
            )
        return
    for clause in key.split("&"):
        dimension, sep, value = clause.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"oversampling: “{clause}” in “{key}” is not “dimension=value”")
        if dimension.strip() not in dimensions:
            raise ValueError(
                f"oversampling: “{key}” names the dimension “{dimension.strip()}”, which this "
                f"plan does not stratify by; its dimensions are {named}"
            )


def _seed_for(plan: Plan, day: dt.date) -> int:
    # Reproducible without being told: the same plan and day give the same draw.
    return zlib.crc32(f"{plan.name}:{day.isoformat()}".encode())


def queue_build(
    *, plan: Plan, day: dt.date, seed: int | None = None, user: Any = None
) -> tuple[Queue, bool]:
    """Build the plan's probability queue for `day`; (queue, created). Building the same
    (plan, day) again returns the existing queue untouched; a day without traffic raises
    NoTraffic and builds nothing."""
    existing = Queue.objects.filter(plan=plan, day=day, kind=Queue.Kind.PROBABILITY).first()
    if existing:
        return existing, False
    version = plan.current_version
    if version is None:
        raise ValueError(f"plan {plan.name} has no version yet")
    seed = _seed_for(plan, day) if seed is None else seed
    design = plan_design(version=version, day=day)
    if len(design.response_ids) == 0:
        raise NoTraffic(
            f"No traffic in plan {plan.name}'s sources on {day:%Y-%m-%d} (UTC): nothing to "
            "review, so no queue was built. Choose a day with responses."
        )
    sample = draw(design.strata.codes, design.allocation.n, seed=seed)
    rng = np.random.default_rng([seed, 1])
    keys = design.strata.keys()
    try:
        with transaction.atomic():
            queue = Queue.objects.create(
                plan=plan,
                plan_version=version,
                day=day,
                seed=seed,
                population=len(design.response_ids),
                size=len(sample.indices),
                built_by=user if getattr(user, "is_authenticated", False) else None,
            )
            strata = StratumCount.objects.bulk_create(
                [
                    StratumCount(
                        queue=queue,
                        key=keys[h],
                        population=int(design.strata.sizes[h]),
                        quota=int(design.allocation.n[h]),
                        **_stratum_fields(design.strata, h),
                        **{
                            name: (float if name.endswith("sum") else int)(values[h])
                            for name, values in (design.totals or {}).items()
                        },
                    )
                    for h in range(design.strata.n_strata)
                ]
            )
            if connection.vendor != "postgresql":
                strata = list(StratumCount.objects.filter(queue=queue).order_by("pk"))
            overlap = rng.random(len(sample.indices)) < version.overlap_share
            has_shadow = set(
                Response.objects.filter(
                    pk__in=design.response_ids[sample.indices].tolist(),
                    shadow_response__isnull=False,
                ).values_list("pk", flat=True)
            )
            sides = rng.choice(np.array(["A", "B"]), size=len(sample.indices))
            items = []
            for position, (index, h) in enumerate(
                zip(sample.indices.tolist(), sample.stratum.tolist(), strict=True)
            ):
                response_id = int(design.response_ids[index])
                items.append(
                    QueueItem(
                        queue=queue,
                        response_id=response_id,
                        stratum=strata[h],
                        inclusion_probability=float(sample.pi[position]),
                        auto_score=_optional_float(design.auto_scores, index),
                        required_reviews=2 if overlap[position] else 1,
                        served_side=str(sides[position]) if response_id in has_shadow else "",
                        position=position,
                    )
                )
            QueueItem.objects.bulk_create(items, batch_size=1000)
            if version.gold_share > 0:
                QueueItem.objects.bulk_create(_gold_copies(queue, version, items, rng))
    except IntegrityError:
        # Another worker built the same (plan, day) first: that one stands.
        return Queue.objects.get(plan=plan, day=day, kind=Queue.Kind.PROBABILITY), False
    return queue, True


def _gold_copies(
    queue: Queue, version: PlanVersion, items: list[QueueItem], rng: np.random.Generator
) -> list[QueueItem]:
    """Copies of the plan's gold items (adjudicated, marked gold) to mix into the queue.

    Every assigned reviewer gets every copy (required_reviews = number of reviewers), so a
    copy measures each reviewer against the adjudicated truth. Their number G makes gold about
    `gold_share` of each reviewer's stream: with W reviews of real items split over R
    reviewers, G / (W/R + G) = share. Copies sit at random positions among the real items and
    look like them (same fields, sides randomised); they have no stratum and no inclusion
    probability, so no estimate counts them.
    """
    share = version.gold_share
    reviewers = max(1, version.plan.reviewers.count())
    work = sum(item.required_reviews for item in items)
    wanted = round(share * work / (reviewers * (1 - share)))
    taken = {item.response_id for item in items}
    gold = Adjudication.objects.filter(
        is_gold=True, item__queue__plan=version.plan, item__is_gold=False
    ).values_list("item__response_id", flat=True)
    pool = sorted(set(gold) - taken)
    if wanted <= 0 or not pool:
        return []
    with_shadow = set(
        Response.objects.filter(pk__in=pool, shadow_response__isnull=False).values_list(
            "pk", flat=True
        )
    )
    chosen = rng.choice(len(pool), size=min(wanted, len(pool)), replace=False)
    positions = rng.integers(0, max(1, len(items)), size=len(chosen))
    sides = rng.choice(np.array(["A", "B"]), size=len(chosen))
    return [
        QueueItem(
            queue=queue,
            response_id=pool[index],
            stratum=None,
            inclusion_probability=None,
            required_reviews=min(reviewers, 32_767),
            is_gold=True,
            served_side=str(side) if pool[index] in with_shadow else "",
            position=int(position),
        )
        for index, position, side in zip(chosen.tolist(), positions, sides, strict=True)
    ]


def _stratum_fields(strata: Strata, h: int) -> dict[str, str]:
    names = {"tier": "tier", "uncertainty": "uncertainty_band", "ood": "ood_band"}
    names["segment"] = "segment"
    return {
        names[dimension]: label
        for dimension, label in zip(strata.dimensions, strata.labels[h], strict=True)
        if dimension in names
    }


@transaction.atomic
def queue_build_adhoc(
    *, plan: Plan, name: str, responses: Any, user: Any = None, description: str = ""
) -> Queue:
    """A non-probability queue from a filter (e.g. last week's thumbs-down): reviewed like any
    other, never fed to estimates (its items carry no inclusion probability)."""
    version = plan.current_version
    if version is None:
        raise ValueError(f"plan {plan.name} has no version yet")
    ids = list(responses.order_by("pk").values_list("pk", flat=True)[:10_000])
    queue = Queue.objects.create(
        plan=plan,
        plan_version=version,
        kind=Queue.Kind.ADHOC,
        day=timezone.now().date(),
        name=name,
        description=description,
        population=len(ids),
        size=len(ids),
        built_by=user if getattr(user, "is_authenticated", False) else None,
    )
    QueueItem.objects.bulk_create(
        [
            QueueItem(queue=queue, response_id=pk, inclusion_probability=None, position=i)
            for i, pk in enumerate(ids)
        ],
        batch_size=1000,
    )
    return queue


# --- claims and reviews ---------------------------------------------------------------------


def _open_claims(now: dt.datetime) -> Q:
    return Q(released_at__isnull=True, expires_at__gt=now)


def item_claim(*, queue: Queue, reviewer: Any, now: dt.datetime | None = None) -> QueueItem | None:
    """The reviewer's next item in `queue`, claimed for CLAIM_SECONDS; None when there is none."""
    claim = claim_next(queue=queue, reviewer=reviewer, now=now)
    return None if claim is None else claim.item


def claim_next(*, queue: Queue, reviewer: Any, now: dt.datetime | None = None) -> Claim | None:
    """The reviewer's claim on their next item in `queue` (claim.item is the item, with its
    response and stratum: every caller shows them), made for CLAIM_SECONDS or the one they
    already hold; None when there is nothing for them.

    Invariant kept under concurrency: for every item, reviews + open claims ≤ required
    reviews, and nobody holds or reviews the same item twice. Rows are locked with SKIP LOCKED
    on PostgreSQL, so 50 reviewers claiming at once each get a different item without waiting.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # All of my open claims in one read (claim_open_by_reviewer index): the one I hold in
        # this queue, if any, and those that expired.
        mine = list(
            Claim.objects.filter(reviewer=reviewer, released_at__isnull=True)
            .select_related("item__response", "item__stratum")
            .defer("item__response__embedding")
            .order_by("claimed_at", "pk")
        )
        held = next((c for c in mine if c.item.queue_id == queue.pk and c.expires_at > now), None)
        if held:
            return held
        expired = [c.pk for c in mine if c.expires_at <= now]
        if expired:
            # My expired claims are closed, so the same item can be claimed again later.
            Claim.objects.filter(pk__in=expired, released_at__isnull=True).update(released_at=now)
        open_claims = (
            Claim.objects.filter(item=OuterRef("pk"))
            .filter(_open_claims(now))
            .order_by()
            .values("item")
            .annotate(count=Count("pk"))
            .values("count")
        )
        candidates = (
            # The first condition is the item_claimable index's: items already done are not in
            # it, so they are never walked past.
            QueueItem.objects.filter(queue=queue, review_count__lt=F("required_reviews"))
            .exclude(reviews__reviewer=reviewer)
            .exclude(skips__reviewer=reviewer)
            .alias(open_claim_count=Coalesce(Subquery(open_claims), 0))
            .filter(open_claim_count__lt=F("required_reviews") - F("review_count"))
            .order_by("position")
            # Loaded with the row (the embedding is never shown): no second read of the item.
            .select_related("response", "stratum")
            .defer("response__embedding")
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        # One level of review_count at a time, so that each query walks the item_claimable
        # index (queue, review_count, position) in order and stops at the first free row: its
        # cost grows with the items held by others, not with the queue's length (a query over
        # all open items sorts the whole queue on every claim: 35 ms at 3,000 items). The
        # second review of an overlap item comes first, so pairs finish early.
        levels = [
            candidates.filter(review_count=1, required_reviews__gt=1),
            candidates.filter(review_count=0),
            candidates.filter(review_count__gt=1),
        ]
        item = None
        passed: list[int] = []
        for level in levels:
            while item is None:
                found = level.exclude(pk__in=passed).first()
                if found is None:
                    break
                # The candidate query's open-claim count comes from its snapshot, taken before
                # the row lock: a claim committed by another reviewer in between (who then
                # released the lock) is invisible to it, and the item would be handed out
                # twice. Holding the lock now, a fresh statement sees every claim; recount
                # (review count and open claims in one statement).
                review_count, taken = (
                    QueueItem.objects.filter(pk=found.pk)
                    .annotate(taken=Coalesce(Subquery(open_claims), 0))
                    .values_list("review_count", "taken")
                    .get()
                )
                if review_count + taken < found.required_reviews:
                    item = found
                else:
                    passed.append(found.pk)
            if item is not None:
                break
        if item is None:
            return None
        return Claim.objects.create(
            item=item,
            reviewer=reviewer,
            claimed_at=now,
            expires_at=now + dt.timedelta(seconds=CLAIM_SECONDS),
        )


def _review_snapshot(review: Review) -> dict[str, Any]:
    return {
        "verdict": review.verdict,
        "failure_tags": review.failure_tags,
        "helpfulness": review.helpfulness,
        "comment": review.comment,
        "preference": review.preference,
    }


def _clean_review_fields(item: QueueItem, fields: dict[str, Any]) -> dict[str, Any]:
    verdict = fields.get("verdict")
    if verdict not in Review.SCORES:
        raise ReviewError("Choose a verdict: correct, partially correct or incorrect.")
    allowed = set(item.queue.plan_version.failure_tags or DEFAULT_FAILURE_TAGS)
    tags = list(dict.fromkeys(fields.get("failure_tags") or []))
    unknown = [t for t in tags if t not in allowed]
    if unknown:
        raise ReviewError(f"Unknown failure tag(s): {', '.join(unknown)}.")
    helpfulness = fields.get("helpfulness")
    if helpfulness in ("", None):
        helpfulness = None
    elif not isinstance(helpfulness, int) or not 1 <= helpfulness <= 5:
        raise ReviewError("Helpfulness is a score from 1 to 5.")
    preference = fields.get("preference") or ""
    if preference and preference not in Review.Preference.values:
        raise ReviewError("Preference is A, B or tie.")
    if preference and not item.served_side:
        raise ReviewError("This item has no shadow answer to compare.")
    return {
        "verdict": verdict,
        "failure_tags": tags,
        "helpfulness": helpfulness,
        "comment": str(fields.get("comment") or "")[:10_000],
        "preference": preference,
        "served_side": item.served_side if preference else "",
    }


def review_submit(
    *,
    item: QueueItem,
    reviewer: Any,
    verdict: str,
    failure_tags: list[str] | None = None,
    helpfulness: int | None = None,
    comment: str = "",
    preference: str = "",
    time_spent_ms: int | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Record a reviewer's verdict on an item they claimed.

    Never more reviews than the item requires: whatever the claims say (a claim is judged
    expired or not by each transaction's own clock), the item's review count, read under its
    row lock, decides."""
    with transaction.atomic():
        item = (
            # Lock the item's row only (of=self): FOR UPDATE without OF would also lock the
            # joined queue and plan version rows, and every submission to the queue would wait
            # for the one before it to commit.
            QueueItem.objects.select_for_update(of=("self",))
            .select_related("queue__plan_version")
            .get(pk=item.pk)
        )
        # Whether I reviewed it already and when my claim expires, in one statement. It runs
        # after the lock is held, so its snapshot sees what a submission committed while this
        # one waited for the lock (the lock statement's own snapshot is older).
        mine = Claim.objects.filter(item=OuterRef("pk"), reviewer=reviewer, released_at=None)
        already_reviewed, expires_at = (
            QueueItem.objects.filter(pk=item.pk)
            .annotate(
                reviewed=Exists(Review.objects.filter(item=OuterRef("pk"), reviewer=reviewer)),
                expires=Subquery(mine.order_by("pk").values("expires_at")[:1]),
            )
            .values_list("reviewed", "expires")
            .get()
        )
        if already_reviewed:
            raise AlreadyReviewed("You have already reviewed this item; edit it from your history.")
        if item.review_count >= item.required_reviews:
            # My claim ran out, someone else claimed the item and finished it while this
            # submission was on its way (or waited for the lock).
            raise ReviewError("This item already has the reviews it needs; your claim had expired.")
        # The clock is read once the lock is held: a time taken before waiting for it could
        # call my claim still valid after another reviewer's claim had judged it expired.
        now = now or timezone.now()
        fields = _clean_review_fields(
            item,
            {
                "verdict": verdict,
                "failure_tags": failure_tags,
                "helpfulness": helpfulness,
                "comment": comment,
                "preference": preference,
            },
        )
        claims = Claim.objects.filter(item=item, reviewer=reviewer, released_at__isnull=True)
        if expires_at is None:
            raise ReviewError("Claim this item before reviewing it.")
        if expires_at <= now:
            # An expired claim may still be honoured if the slot is free.
            others = Claim.objects.filter(item=item).exclude(reviewer=reviewer)
            taken = others.filter(_open_claims(now)).count()
            if item.review_count + taken >= item.required_reviews:
                claims.update(released_at=now)
                raise ReviewError(
                    "Your claim on this item expired and another reviewer has it now."
                )
        review = Review.objects.create(
            item=item,
            reviewer=reviewer,
            time_spent_ms=time_spent_ms if time_spent_ms is None else max(0, int(time_spent_ms)),
            **fields,
        )
        claims.update(released_at=now)
        QueueItem.objects.filter(pk=item.pk).update(review_count=F("review_count") + 1)
        ReviewAudit.objects.create(
            review_id_value=review.pk,
            item=item,
            actor=reviewer,
            action=ReviewAudit.Action.CREATE,
            after=_review_snapshot(review),
        )
        return review


def review_undo(*, review: Review, reviewer: Any, now: dt.datetime | None = None) -> QueueItem:
    """Take back a submission within UNDO_SECONDS; the item is claimed again for the reviewer."""
    now = now or timezone.now()
    if review.reviewer_id != reviewer.pk:
        raise ReviewError("You can only undo your own reviews.")
    if (now - review.created_at).total_seconds() > UNDO_SECONDS:
        raise ReviewError("Undo is possible for 5 minutes after submitting; edit it instead.")
    with transaction.atomic():
        item = QueueItem.objects.select_for_update().get(pk=review.item_id)
        ReviewAudit.objects.create(
            review_id_value=review.pk,
            item=item,
            actor=reviewer,
            action=ReviewAudit.Action.UNDO,
            before=_review_snapshot(review),
        )
        review.delete()
        QueueItem.objects.filter(pk=item.pk).update(review_count=F("review_count") - 1)
        Claim.objects.filter(reviewer=reviewer, released_at__isnull=True).filter(
            item__queue=item.queue_id
        ).update(released_at=now)
        Claim.objects.create(
            item=item,
            reviewer=reviewer,
            claimed_at=now,
            expires_at=now + dt.timedelta(seconds=CLAIM_SECONDS),
        )
        item.refresh_from_db()
        return item


def review_edit(
    *, review: Review, reviewer: Any, changes: dict[str, Any], now: dt.datetime | None = None
) -> Review:
    """Change one's own review within EDIT_SECONDS; the audit keeps before and after."""
    now = now or timezone.now()
    if review.reviewer_id != reviewer.pk:
        raise ReviewError("You can only edit your own reviews.")
    if (now - review.created_at).total_seconds() > EDIT_SECONDS:
        raise ReviewError("This review is past its edit window.")
    with transaction.atomic():
        review = (
            # The review's row only: the joined item, queue and version are read, not changed.
            Review.objects.select_for_update(of=("self",))
            .select_related("item__queue__plan_version")
            .get(pk=review.pk)
        )
        before = _review_snapshot(review)
        fields = _clean_review_fields(review.item, {**before, **changes})
        for name, value in fields.items():
            setattr(review, name, value)
        review.save()
        ReviewAudit.objects.create(
            review_id_value=review.pk,
            item=review.item,
            actor=reviewer,
            action=ReviewAudit.Action.UPDATE,
            before=before,
            after=_review_snapshot(review),
        )
        return review


def item_skip(*, item: QueueItem, reviewer: Any, reason: str) -> None:
    """Pass on an item (with a reason); it goes back to the queue for someone else."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("Say why you skip this item.")
    with transaction.atomic():
        Skip.objects.create(item=item, reviewer=reviewer, reason=reason[:500])
        Claim.objects.filter(item=item, reviewer=reviewer, released_at__isnull=True).update(
            released_at=timezone.now()
        )


@transaction.atomic
def item_adjudicate(
    *, item: QueueItem, verdict: str, user: Any, comment: str = "", gold: bool = False
) -> Adjudication:
    """A QA lead's final verdict on a disputed overlap item; estimates use it."""
    if verdict not in Review.SCORES:
        raise ReviewError("Choose a verdict: correct, partially correct or incorrect.")
    adjudication, _ = Adjudication.objects.update_or_create(
        item=item,
        defaults={"verdict": verdict, "adjudicator": user, "comment": comment, "is_gold": gold},
    )
    return adjudication
