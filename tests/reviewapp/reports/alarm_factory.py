"""Hand-made designs for the alarm tests: a plan, its daily queues, strata, items and reviews
written straight to the database (no sampling), so every number is known in advance."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

START = dt.date(2025, 3, 1)
_counter = itertools.count()


def make_plan(*, name: str = "plan-a", targets: dict[str, float] | None = None) -> Any:
    from reviewapp.responses.models import Source
    from reviewapp.review.services import plan_save

    source = Source.objects.create(name=f"src-{name}-{next(_counter)}")
    return plan_save(name=name, config={"targets": targets or {}}, sources=[source]).plan


def add_day(
    plan: Any,
    day: dt.date,
    strata: Sequence[tuple[str, str, int, Sequence[bool]]],
    *,
    reviewer: Any,
) -> list[int]:
    """One probability queue for `day`: per stratum (tier, band, population, wrong flags), one
    reviewed item per flag (verdict incorrect if wrong, else correct). Reviews are stamped one
    second apart from 10:00 of the next day, in the order given; returns the item ids."""
    from reviewapp.responses.models import Response
    from reviewapp.review.models import Queue, QueueItem, Review, StratumCount

    version = plan.current_version
    source = version.sources.first()
    queue = Queue.objects.create(plan=plan, plan_version=version, day=day)
    at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(10), tzinfo=dt.UTC)
    item_ids = []
    position = 0
    for tier, band, population, wrong in strata:
        stratum = StratumCount.objects.create(
            queue=queue,
            key=f"{tier}|{band}|in",
            tier=tier,
            uncertainty_band=band,
            ood_band="in",
            population=population,
            quota=len(wrong),
        )
        for flag in wrong:
            n = next(_counter)
            response = Response.objects.create(
                source=source,
                external_id=f"r{n}",
                timestamp=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
                query=f"q{n}",
                response=f"a{n}",
                tier=tier,
                content_hash=f"h{n}",
            )
            item = QueueItem.objects.create(
                queue=queue,
                response=response,
                stratum=stratum,
                inclusion_probability=len(wrong) / population,
                review_count=1,
                position=position,
            )
            review = Review.objects.create(
                item=item, reviewer=reviewer, verdict="incorrect" if flag else "correct"
            )
            Review.objects.filter(pk=review.pk).update(
                created_at=at + dt.timedelta(seconds=position)
            )
            position += 1
            item_ids.append(item.pk)
    return item_ids


def flags(n: int, wrong: int) -> list[bool]:
    """n flags with `wrong` of them True, spread evenly."""
    out = [False] * n
    if wrong:
        for i in np.linspace(0, n - 1, wrong).round().astype(int):
            out[int(i)] = True
    return out
