"""A day of traffic with known strata, and a plan over it, for the QA lead's pages."""

from __future__ import annotations

import datetime as dt

import pytest

DAY = dt.date(2025, 3, 10)
# (tier, router_confidence, ood_percentile) → count on DAY. With uncertainty cut 0.3 and the
# default OOD cuts (95, 99) these are five strata of known size.
DAY_STRATA = {
    ("cheap", 0.9, 50.0): 300,  # cheap|low|in
    ("cheap", 0.5, 50.0): 60,  # cheap|high|in
    ("cheap", 0.9, 99.5): 10,  # cheap|low|out
    ("capable", 0.9, 50.0): 150,  # capable|low|in
    ("capable", 0.6, 97.0): 30,  # capable|high|edge
}
EXPECTED_N = {
    "cheap|low|in": 300,
    "cheap|high|in": 60,
    "cheap|low|out": 10,
    "capable|low|in": 150,
    "capable|high|edge": 30,
}
CONFIG = {
    "dimensions": ["tier", "uncertainty", "ood"],
    "uncertainty_cuts": [0.3],
    "daily_budget": 60,
    "allocation": "neyman",
    "stratum_min": 5,
    "overlap_share": 0.2,
}


def make_responses(source, day: dt.date, strata: dict, prefix: str = "r") -> int:
    from reviewapp.responses.models import Response

    rows = []
    base = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    n = 0
    for (tier, confidence, ood), count in strata.items():
        for _ in range(count):
            rows.append(
                Response(
                    source=source,
                    external_id=f"{prefix}-{day:%Y%m%d}-{n}",
                    timestamp=base + dt.timedelta(seconds=n),
                    query=f"question {n}",
                    response=f"answer {n}",
                    tier=tier,
                    model=f"{tier}-model",
                    router_confidence=confidence,
                    content_hash=f"{n:032x}",
                    uncertainty=1 - confidence,
                    ood_percentile=ood,
                    scored_at=base,
                )
            )
            n += 1
    Response.objects.bulk_create(rows)
    return n


@pytest.fixture
def traffic(db):
    """Source "support": DAY with the strata above (550 responses), and 40 the day before."""
    from reviewapp.responses.models import Source

    source = Source.objects.create(name="support")
    make_responses(source, DAY, DAY_STRATA)
    make_responses(
        source, DAY - dt.timedelta(days=1), {("cheap", 0.9, 50.0): 30, ("capable", 0.9, 50.0): 10}
    )
    return source


@pytest.fixture
def plan(traffic, qa_lead, reviewer):
    from reviewapp.review.services import plan_save

    version = plan_save(
        name="support-daily",
        config=dict(CONFIG),
        sources=[traffic],
        reviewers=[reviewer],
        user=qa_lead,
    )
    return version.plan
