"""The reviewer's hot paths stay cheap: claim and submit, over the API and on the review page.

The query counts are pinned (at most what they are now), so that a change which adds a query
to every claim or submission fails here rather than showing up as a slower load benchmark
(benchmarks/review_load.py). Each test also checks that the request did its job.

And a submission locks only its item's row: with the queue's row held by another transaction
(as every submission to the queue once did, by FOR UPDATE over a join), it still goes through.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from rest_framework.test import APIClient

from reviewapp.api.tokens import token_create
from reviewapp.review.models import Claim, Review
from reviewapp.review.services import item_claim, review_submit
from tests.conftest import require_postgres_database

# What each request costs now (a transaction's BEGIN and COMMIT, or SAVEPOINT and RELEASE in a
# test, count as two). Before these were pinned: 16, 16, 20 and 30.
# API claim: token; user's groups; queue with the plan assignment; my open claims; overlap
#   items waiting for a second review; new items; recount of the candidate; insert the claim.
API_CLAIM_QUERIES = 10
# API submit: token; groups; item with the plan assignment; lock the item; already reviewed
#   and my claim's expiry; insert the review; release the claim; count it on the item; audit.
API_SUBMIT_QUERIES = 11
# Page claim: session; user; groups; queue with the plan assignment; the claim as above (less
#   the token); queue progress; my reviews today and whether one can be undone.
PAGE_CLAIM_QUERIES = 13
# Page submit and next item: session, user, groups, queue, the posted item, the submission as
#   above, then the next claim and the progress as for the page claim.
PAGE_SUBMIT_AND_NEXT_QUERIES = 22


@pytest.fixture
def token_api(reviewer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=reviewer, name='t')[1]}")
    # The token's first use writes its last_used_at (then at most once a minute): not a cost
    # of claiming.
    assert client.get("/api/v1/queues/").status_code == 200
    return client


def test_an_api_claim_and_submission_make_a_bounded_number_of_queries(
    make_queue, reviewer, token_api, django_assert_max_num_queries
):
    queue = make_queue(n=3, overlap=True)
    with django_assert_max_num_queries(API_CLAIM_QUERIES):
        claimed = token_api.post(f"/api/v1/queues/{queue.pk}/claim/")
    assert claimed.status_code == 200
    item = claimed.json()["item"]
    assert Claim.objects.filter(item_id=item, reviewer=reviewer, released_at=None).exists()

    with django_assert_max_num_queries(API_SUBMIT_QUERIES):
        submitted = token_api.post(
            "/api/v1/reviews/", {"item": item, "verdict": "partial"}, format="json"
        )
    assert submitted.status_code == 201, submitted.content
    assert submitted.json()["verdict"] == "partial"
    assert submitted.json()["queue"] == queue.pk
    assert Review.objects.get(item_id=item, reviewer=reviewer).verdict == "partial"

    # Claiming again (a second item) costs the same, and submitting twice is still a 409.
    with django_assert_max_num_queries(API_CLAIM_QUERIES):
        again = token_api.post(f"/api/v1/queues/{queue.pk}/claim/")
    assert again.status_code == 200 and again.json()["item"] != item
    twice = token_api.post("/api/v1/reviews/", {"item": item, "verdict": "correct"}, format="json")
    assert twice.status_code == 409


def test_the_review_page_claims_and_submits_with_a_bounded_number_of_queries(
    client, make_queue, reviewer, django_assert_max_num_queries
):
    queue = make_queue(n=3)
    client.force_login(reviewer)
    url = f"/review/queues/{queue.pk}/"
    with django_assert_max_num_queries(PAGE_CLAIM_QUERIES):
        page = client.get(url, headers={"HX-Request": "true"})
    assert page.status_code == 200
    first = int(re.search(r'data-item="(\d+)"', page.content.decode()).group(1))

    with django_assert_max_num_queries(PAGE_SUBMIT_AND_NEXT_QUERIES):
        page = client.post(
            url,
            {"item": first, "verdict": "correct", "time_spent_ms": "900"},
            headers={"HX-Request": "true"},
        )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Saved: correct." in html
    second = int(re.search(r'data-item="(\d+)"', html).group(1))
    assert second != first
    # The progress bar counts the submission; the undo button is offered.
    assert '<strong id="progress-done">1</strong> / 3' in html
    assert '<strong id="progress-mine">1</strong>' in html
    assert 'id="undo"' in html
    assert Review.objects.get(item_id=first, reviewer=reviewer).time_spent_ms == 900


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submission_does_not_wait_for_a_lock_on_its_queue(make_queue, reviewer):
    require_postgres_database()
    queue = make_queue(n=2)
    item = item_claim(queue=queue, reviewer=reviewer)
    other = connection.copy()
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            # What a concurrent submission to another item of the queue held until its commit.
            cursor.execute("SELECT 1 FROM review_queue WHERE id = %s FOR UPDATE", [queue.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            review = review_submit(item=item, reviewer=reviewer, verdict="correct")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        other.rollback()
        other.close()
    assert review.pk and Review.objects.filter(item=item, reviewer=reviewer).exists()
