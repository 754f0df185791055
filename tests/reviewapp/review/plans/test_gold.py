"""Gold items: adjudicated items marked gold come back, as copies, in later queues of the plan;
every assigned reviewer gets each copy, and no estimate counts them."""

from __future__ import annotations

import datetime as dt

from reviewapp.review.models import Adjudication, QueueItem
from reviewapp.review.selectors import queue_rows
from reviewapp.review.services import (
    item_adjudicate,
    item_claim,
    plan_save,
    queue_build,
    review_submit,
    stratum_history,
)

from .conftest import CONFIG, DAY


def test_gold_copies_are_mixed_in_for_every_reviewer(
    plan, traffic, qa_lead, reviewer, django_user_model
):
    second = django_user_model.objects.create_user(username="sam", password="x")
    first_queue, _ = queue_build(plan=plan, day=DAY - dt.timedelta(days=1))
    gold_items = list(first_queue.items.order_by("position")[:3])
    for item in gold_items:
        item_adjudicate(item=item, verdict="incorrect", user=qa_lead, gold=True)
    plan_save(
        name=plan.name,
        config={**CONFIG, "gold_share": 0.2},
        sources=[traffic],
        reviewers=[reviewer, second],
        user=qa_lead,
    )
    plan.refresh_from_db()
    queue, _ = queue_build(plan=plan, day=DAY)

    copies = list(queue.items.filter(is_gold=True))
    assert {c.response_id for c in copies} == {i.response_id for i in gold_items}
    for copy in copies:
        assert copy.inclusion_probability is None and copy.stratum is None
        assert copy.required_reviews == 2  # one per assigned reviewer
        assert 0 <= copy.position < queue.size
    real = queue.items.filter(is_gold=False)
    assert real.count() == queue.size == 60
    assert not real.filter(inclusion_probability__isnull=True).exists()

    # Both reviewers work through the whole queue; each meets every gold copy once.
    seen: dict[str, list[int]] = {"rita": [], "sam": []}
    for user in (reviewer, second):
        while (item := item_claim(queue=queue, reviewer=user)) is not None:
            review_submit(item=item, reviewer=user, verdict="correct")
            if item.is_gold:
                seen[user.username].append(item.pk)
    assert sorted(seen["rita"]) == sorted(seen["sam"]) == sorted(c.pk for c in copies)

    # Estimates' inputs ignore them: history has only real items' reviews, progress too.
    history = stratum_history(plan=plan)
    real_reviews = sum(i.review_count for i in QueueItem.objects.filter(is_gold=False))
    assert sum(s + f for s, f in history.values()) == real_reviews
    row = queue_rows(queues=plan.queues.filter(pk=queue.pk))[0]
    assert row.items_total == 60 and row.gold_items == 3
    assert Adjudication.objects.count() == 3  # copies are never adjudicated themselves


def test_no_gold_share_no_copies(plan, qa_lead):
    first_queue, _ = queue_build(plan=plan, day=DAY - dt.timedelta(days=1))
    item_adjudicate(item=first_queue.items.first(), verdict="correct", user=qa_lead, gold=True)
    queue, _ = queue_build(plan=plan, day=DAY)
    assert not queue.items.filter(is_gold=True).exists()
