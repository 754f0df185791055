"""Fixtures for the review pages: a small plan and queue built from responses made in the test,
and a headless Chromium (Debian's, driven by Playwright) for the browser tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

# Distinctive strings: a blind page must contain none of them.
SECRET_TIER = "tier-cheap-xyz"
SECRET_MODEL = "model-zeta-9000"
SECRET_SHADOW_MODEL = "shadow-omega-77"
SECRET_CONFIDENCE = 0.8765
SECRET_STRATUM = "tier-cheap-xyz|band-high-qq|ood-edge-qq"


@pytest.fixture
def make_queue(db, reviewer) -> Callable[..., Any]:
    """make_queue(n=5, blind=True, answers=None, queries=None, shadow=False, overlap=False,
    reviewers=None, failure_tags=None, name="plan-x", metadata=None) -> a probability Queue of n
    items (one stratum, with distinctive tier/model/stratum strings) for the given reviewers."""
    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Queue, QueueItem, StratumCount
    from reviewapp.review.services import plan_save

    day = dt.date(2025, 3, 4)
    counter = {"n": 0}

    def make(
        n: int = 5,
        *,
        blind: bool = True,
        answers: list[str] | None = None,
        queries: list[str] | None = None,
        shadow: bool = False,
        overlap: bool = False,
        reviewers: list[Any] | None = None,
        failure_tags: list[str] | None = None,
        name: str = "plan-x",
        metadata: dict[str, Any] | None = None,
    ) -> Any:
        counter["n"] += 1
        source = Source.objects.create(name=f"src-{name}-{counter['n']}")
        config: dict[str, Any] = {"blind": blind, "daily_budget": max(n, 2)}
        if failure_tags is not None:
            config["failure_tags"] = failure_tags
        version = plan_save(
            name=name,
            config=config,
            sources=[source],
            reviewers=[reviewer] if reviewers is None else reviewers,
        )
        queue = Queue.objects.create(
            plan=version.plan, plan_version=version, day=day, population=n * 10, size=n
        )
        stratum = StratumCount.objects.create(
            queue=queue,
            key=SECRET_STRATUM,
            tier=SECRET_TIER,
            uncertainty_band="band-high-qq",
            ood_band="ood-edge-qq",
            population=n * 10,
            quota=n,
        )
        start = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
        for i in range(n):
            answer = answers[i % len(answers)] if answers else f"Answer number {i}: **bold** text."
            response = Response.objects.create(
                source=source,
                external_id=f"r{i}",
                timestamp=start + dt.timedelta(minutes=i),
                query=queries[i % len(queries)] if queries else f"Question number {i}?",
                response=answer,
                tier=SECRET_TIER,
                model=SECRET_MODEL,
                router_confidence=SECRET_CONFIDENCE,
                uncertainty=round(1 - SECRET_CONFIDENCE, 4),
                ood_percentile=97.3125,
                shadow_model=SECRET_SHADOW_MODEL if shadow else "",
                shadow_response=f"Shadow answer {i}." if shadow else None,
                metadata=metadata or {},
                content_hash=f"h{i}",
            )
            QueueItem.objects.create(
                queue=queue,
                response=response,
                stratum=stratum,
                inclusion_probability=0.1,
                required_reviews=2 if overlap else 1,
                served_side=("A" if i % 2 == 0 else "B") if shadow else "",
                position=i,
            )
        return queue

    return make
