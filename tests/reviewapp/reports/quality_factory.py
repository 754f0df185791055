"""A small hand-made plan for the quality pages: two tiers, three strata, three reviewers,
overlap, an adjudication, gold copies, shadow preferences and self-confidence. The expected
figures are worked out by hand in tests/reviewapp/reports/test_quality_reports.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

DAY = dt.date(2025, 3, 4)
NEXT = DAY + dt.timedelta(days=1)

# item name: (stratum, self_confidence, served_side)
ITEMS = {
    "a0": (0, 0.9, ""),
    "a1": (0, 0.2, ""),
    "a2": (0, 0.9, "A"),
    "a3": (0, 0.9, "B"),
    "b0": (1, 0.3, ""),
    "b1": (1, 0.3, ""),
    "b2": (1, 0.8, "A"),
    "b3": (1, 0.8, "B"),
    "c0": (2, None, ""),
    "c1": (2, None, ""),
    "c2": (2, None, ""),
    "c3": (2, None, ""),
}
# (item, reviewer, verdict, tags, preference)
REVIEWS = [
    ("a0", "rita", "correct", [], ""),
    ("a0", "ann", "correct", [], ""),
    ("a1", "rita", "correct", [], ""),
    ("a1", "ann", "incorrect", ["wrong intent"], ""),
    ("a2", "rita", "correct", [], "tie"),
    ("a3", "rita", "correct", [], "A"),
    ("b0", "rita", "incorrect", ["wrong intent"], ""),
    ("b0", "ann", "incorrect", ["wrong intent"], ""),
    ("b1", "rita", "incorrect", ["=tone"], ""),
    ("b1", "ann", "incorrect", [], ""),
    ("b2", "rita", "correct", [], "B"),
    ("b3", "rita", "correct", [], "B"),
    ("c0", "rita", "correct", [], ""),
    ("c1", "rita", "correct", [], ""),
    ("c2", "rita", "correct", [], ""),
    ("c3", "ben", "incorrect", [], ""),
]
# Gold copies (next day's queue) of a0 (gold: correct) and c3 (gold: incorrect).
GOLD_REVIEWS = [
    ("a0", "rita", "correct"),
    ("a0", "ann", "partial"),
    ("c3", "rita", "partial"),
    ("c3", "ann", "incorrect"),
]


def build_quality_plan(reviewer: Any, qa_lead: Any, *, see_reports: bool = False) -> Any:
    from django.contrib.auth import get_user_model

    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Adjudication, Queue, QueueItem, Review, StratumCount
    from reviewapp.review.services import plan_save

    users = {"rita": reviewer}
    for name in ("ann", "ben"):
        users[name] = get_user_model().objects.create_user(username=name, password="x")
    source = Source.objects.create(name="src-quality")
    version = plan_save(
        name="qa",
        config={
            "targets": {"cheap": 0.9},
            "reviewers_see_reports": see_reports,
            "daily_budget": 12,
        },
        sources=[source],
        reviewers=list(users.values()),
    )
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=DAY, population=200, size=12
    )
    strata = [
        StratumCount.objects.create(
            queue=queue,
            key=key,
            tier=tier,
            uncertainty_band=band,
            ood_band="in",
            population=n,
            quota=4,
            cost_sum=n * cost,
            cost_count=n,
        )
        for key, tier, band, n, cost in [
            ("cheap|low|in", "cheap", "low", 80, 0.001),
            ("cheap|high|in", "cheap", "high", 20, 0.001),
            ("capable|low|in", "capable", "low", 100, 0.004),
        ]
    ]
    start = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
    items = {}
    for position, (name, (h, confidence, side)) in enumerate(ITEMS.items()):
        response = Response.objects.create(
            source=source,
            external_id=name,
            timestamp=start + dt.timedelta(minutes=position),
            query=f"Question {name}?",
            response=f"<script>alert('{name}')</script> answer {name}",
            tier=strata[h].tier,
            model="m",
            self_confidence=confidence,
            shadow_response=f"shadow {name}" if side else None,
            content_hash=name,
        )
        items[name] = QueueItem.objects.create(
            queue=queue,
            response=response,
            stratum=strata[h],
            inclusion_probability=4 / strata[h].population,
            required_reviews=2,
            served_side=side,
            position=position,
        )
    for name, who, verdict, tags, preference in REVIEWS:
        item = items[name]
        Review.objects.create(
            item=item,
            reviewer=users[who],
            verdict=verdict,
            failure_tags=tags,
            preference=preference,
            served_side=item.served_side if preference else "",
            time_spent_ms=4000 if who == "rita" else 9000,
        )
        item.review_count += 1
        item.save(update_fields=["review_count"])
    Adjudication.objects.create(item=items["a1"], verdict="incorrect", adjudicator=qa_lead)
    Adjudication.objects.create(
        item=items["a0"], verdict="correct", adjudicator=qa_lead, is_gold=True
    )
    Adjudication.objects.create(
        item=items["c3"], verdict="incorrect", adjudicator=qa_lead, is_gold=True
    )
    gold_queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=NEXT, population=0, size=0
    )
    copies = {
        name: QueueItem.objects.create(
            queue=gold_queue,
            response=items[name].response,
            is_gold=True,
            required_reviews=2,
            position=i,
        )
        for i, name in enumerate(("a0", "c3"))
    }
    for name, who, verdict in GOLD_REVIEWS:
        Review.objects.create(item=copies[name], reviewer=users[who], verdict=verdict)
        copies[name].review_count += 1
        copies[name].save(update_fields=["review_count"])
    return version.plan
