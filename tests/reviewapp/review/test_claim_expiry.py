"""A claim is judged expired by each transaction's own clock. A submission whose clock says
"still valid" while another reviewer's claim already took the item over must not give the
item a review more than it needs (found by the 50-thread test under load: 3 runs in 6)."""

from __future__ import annotations

import datetime as dt

import pytest

from reviewapp.review.models import QueueItem, Review
from reviewapp.review.services import CLAIM_SECONDS, ReviewError, claim_next, review_submit


@pytest.fixture
def second_reviewer(db, django_user_model):
    from tests.conftest import _user

    return _user(django_user_model, "sam", "reviewer")


def test_a_late_submission_with_a_slow_clock_does_not_review_an_item_twice(
    make_queue, reviewer, second_reviewer
):
    queue = make_queue(1, reviewers=[reviewer, second_reviewer])
    start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    first = claim_next(queue=queue, reviewer=reviewer, now=start)
    assert first is not None
    # The first claim has run out: the second reviewer takes the item over and scores it.
    later = start + dt.timedelta(seconds=CLAIM_SECONDS + 1)
    second = claim_next(queue=queue, reviewer=second_reviewer, now=later)
    assert second is not None and second.item.pk == first.item.pk
    review_submit(item=second.item, reviewer=second_reviewer, verdict="correct", now=later)

    # The first reviewer's submission arrives stamped before its claim ran out.
    with pytest.raises(ReviewError, match="already has the reviews it needs"):
        review_submit(item=first.item, reviewer=reviewer, verdict="incorrect", now=start)

    item = QueueItem.objects.get(pk=first.item.pk)
    assert item.review_count == item.required_reviews == 1
    assert list(Review.objects.filter(item=item).values_list("verdict", flat=True)) == ["correct"]
