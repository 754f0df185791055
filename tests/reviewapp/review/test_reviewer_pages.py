"""The reviewer's pages through the test client: queues, claim, submit, skip, undo, history,
edit, permissions and empty states. htmx requests are sent with the HX-Request header, as the
browser sends them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.review.models import Claim, Review, ReviewAudit, Skip

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _shown(response) -> int | None:
    """The id of the item a page or fragment shows (None: no item)."""
    match = re.search(r'<section id="item" data-item="(\d+)"', response.content.decode())
    return int(match.group(1)) if match else None


def _login(client, user):
    client.force_login(user)
    return client


def _open_item(client, queue):
    page = client.get(reverse("review:queue", args=[queue.pk]))
    assert page.status_code == 200
    return page, page.context["item"]


def _submit(client, queue, item_pk, htmx=True, **fields):
    data = {"item": item_pk, "verdict": "correct", **fields}
    return client.post(reverse("review:queue", args=[queue.pk]), data, **(HX if htmx else {}))


# --- permissions ----------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login(client, make_queue):
    queue = make_queue(2)
    for url in (
        reverse("review:queues"),
        reverse("review:queue", args=[queue.pk]),
        reverse("review:history"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_it_refuses_viewers_and_outsiders(client, make_queue, request, who):
    queue = make_queue(2)
    _login(client, request.getfixturevalue(who))
    for url in (
        reverse("review:queues"),
        reverse("review:queue", args=[queue.pk]),
        reverse("review:history"),
    ):
        assert client.get(url).status_code == 403
    assert _submit(client, queue, queue.items.first().pk).status_code == 403
    assert not Claim.objects.exists()


def test_it_refuses_a_reviewer_not_assigned_to_the_plan(client, make_queue, django_user_model):
    from django.contrib.auth.models import Group

    other = django_user_model.objects.create_user("ruth", password="x")
    other.groups.add(Group.objects.get_or_create(name="reviewer")[0])
    queue = make_queue(2)
    _login(client, other)
    assert client.get(reverse("review:queue", args=[queue.pk])).status_code == 403
    listing = client.get(reverse("review:queues"))
    assert listing.status_code == 200
    assert listing.context["rows"] == []
    assert "No queues for you yet" in listing.content.decode()


def test_it_lets_a_qa_lead_open_any_queue(client, make_queue, qa_lead):
    queue = make_queue(2)
    _login(client, qa_lead)
    assert client.get(reverse("review:queue", args=[queue.pk])).status_code == 200
    assert [q.pk for q, _ in client.get(reverse("review:queues")).context["rows"]] == [queue.pk]


# --- queues ---------------------------------------------------------------------------------


def test_it_lists_assigned_queues_with_progress(client, make_queue, reviewer):
    queue = make_queue(3, overlap=True)
    make_queue(2, name="not-mine", reviewers=[])
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    _submit(client, queue, item["pk"])
    rows = client.get(reverse("review:queues")).context["rows"]
    assert [q.pk for q, _ in rows] == [queue.pk]
    progress = rows[0][1]
    assert (progress.done, progress.quota, progress.mine_today) == (1, 6, 1)


# --- claim and submit -----------------------------------------------------------------------


def test_it_claims_the_next_item_and_shows_it(client, make_queue, reviewer):
    queue = make_queue(3)
    _login(client, reviewer)
    page, item = _open_item(client, queue)
    first = queue.items.order_by("position").first()
    assert item["pk"] == first.pk
    assert Claim.objects.filter(item=first, reviewer=reviewer, released_at=None).exists()
    html = page.content.decode()
    assert "Question number 0?" in html
    assert "<strong>bold</strong>" in html  # Markdown rendered
    assert 'id="rubric"' in html and 'hx-post="' in html
    # Reloading shows the same held item, not a new one.
    assert _open_item(client, queue)[1]["pk"] == first.pk
    assert Claim.objects.filter(reviewer=reviewer).count() == 1


def test_an_htmx_submission_saves_and_returns_the_next_item_fragment(client, make_queue, reviewer):
    queue = make_queue(3, failure_tags=["wrong intent", "tone"])
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    response = _submit(
        client,
        queue,
        item["pk"],
        verdict="incorrect",
        failure_tags=["tone"],
        helpfulness="2",
        comment="Rude.",
        time_spent_ms="4321",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and html.lstrip().startswith('<section id="item"')
    assert "Question number 1?" in html
    assert "Saved: incorrect." in html
    review = Review.objects.get()
    assert (review.item_id, review.verdict, review.failure_tags) == (
        item["pk"],
        "incorrect",
        ["tone"],
    )
    assert (review.helpfulness, review.comment, review.time_spent_ms) == (2, "Rude.", 4321)
    assert ReviewAudit.objects.get().action == "create"


def test_a_plain_post_redirects_back_to_the_page(client, make_queue, reviewer):
    queue = make_queue(2)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    response = _submit(client, queue, item["pk"], htmx=False, verdict="partial")
    assert response.status_code == 302
    assert response.url == reverse("review:queue", args=[queue.pk])
    page = client.get(response.url)
    assert "Saved: partially correct." in page.content.decode()
    assert _shown(page) != item["pk"]


def test_time_spent_falls_back_to_the_claims_age(client, make_queue, reviewer):
    queue = make_queue(2)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    Claim.objects.filter(reviewer=reviewer).update(
        claimed_at=timezone.now() - dt.timedelta(seconds=30)
    )
    _submit(client, queue, item["pk"], htmx=False)
    assert 29_000 <= Review.objects.get().time_spent_ms <= 60_000


def test_a_submission_without_verdict_keeps_the_item_with_an_error(client, make_queue, reviewer):
    queue = make_queue(2)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    response = client.post(
        reverse("review:queue", args=[queue.pk]),
        {"item": item["pk"], "comment": "kept"},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Choose a verdict" in html and f'data-item="{item["pk"]}"' in html
    assert ">kept</textarea>" in html
    assert not Review.objects.exists()
    plain = client.post(reverse("review:queue", args=[queue.pk]), {"item": item["pk"]})
    assert plain.status_code == 400


def test_an_unknown_tag_is_refused(client, make_queue, reviewer):
    queue = make_queue(2, failure_tags=["tone"])
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    response = _submit(client, queue, item["pk"], failure_tags=["made up"])
    assert "made up" in response.content.decode()
    assert not Review.objects.exists()


def test_an_item_of_another_queue_is_not_found(client, make_queue, reviewer):
    queue = make_queue(2)
    other = make_queue(2, name="other")
    _login(client, reviewer)
    response = _submit(client, queue, other.items.first().pk)
    assert response.status_code == 404


def test_the_pairwise_question_records_preference_and_side(client, make_queue, reviewer):
    queue = make_queue(2, shadow=True)
    _login(client, reviewer)
    page, item = _open_item(client, queue)
    html = page.content.decode()
    assert "Answer A" in html and "Answer B" in html and "Shadow answer 0." in html
    assert item["served_side"] == "A"
    _submit(client, queue, item["pk"], preference="B")
    review = Review.objects.get()
    assert (review.preference, review.served_side) == ("B", "A")


def test_conversation_context_is_shown_escaped(client, make_queue, reviewer):
    queue = make_queue(
        1,
        metadata={
            "messages": [{"role": "user", "content": "<b>hi</b> earlier"}],
            "router": "tier-cheap-xyz",
        },
    )
    _login(client, reviewer)
    html = _open_item(client, queue)[0].content.decode()
    assert "&lt;b&gt;hi&lt;/b&gt; earlier" in html
    assert "tier-cheap-xyz" not in html


# --- skip, undo, empty state ----------------------------------------------------------------


def test_skip_needs_a_reason_and_moves_on(client, make_queue, reviewer):
    queue = make_queue(2)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    url = reverse("review:skip", args=[queue.pk])
    refused = client.post(url, {"item": item["pk"], "reason": "  "}, **HX)
    assert "Say why you skip" in refused.content.decode()
    assert not Skip.objects.exists()
    response = client.post(url, {"item": item["pk"], "reason": "not English"}, **HX)
    assert "Skipped." in response.content.decode()
    assert _shown(response) != item["pk"]
    assert Skip.objects.get().reason == "not English"
    # A plain post redirects.
    nxt = _shown(response)
    assert client.post(url, {"item": nxt, "reason": "x"}).status_code == 302


def test_undo_takes_back_the_last_review_and_offers_it_again(client, make_queue, reviewer):
    queue = make_queue(3, failure_tags=["tone"])
    _login(client, reviewer)
    _, first = _open_item(client, queue)
    nxt = _submit(client, queue, first["pk"], verdict="incorrect", failure_tags=["tone"])
    assert 'id="undo"' in nxt.content.decode()
    response = client.post(reverse("review:undo", args=[queue.pk]), **HX)
    assert response.status_code == 200
    assert _shown(response) == first["pk"]
    html = response.content.decode()
    assert "Undone" in html
    # The undone verdict and tag are pre-selected, ready to be changed.
    assert 'value="incorrect" data-key="3" checked' in html
    assert 'value="tone" data-key="o" checked' in html
    assert not Review.objects.exists()
    assert ReviewAudit.objects.filter(action="undo").count() == 1
    # Re-scoring it works, and the page goes on to the item after.
    again = _submit(client, queue, first["pk"], verdict="correct")
    assert Review.objects.get().verdict == "correct"
    assert _shown(again) != first["pk"]


def test_undo_is_refused_after_five_minutes(client, make_queue, reviewer):
    queue = make_queue(2)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    _submit(client, queue, item["pk"])
    Review.objects.update(created_at=timezone.now() - dt.timedelta(minutes=6))
    response = client.post(reverse("review:undo", args=[queue.pk]), **HX)
    assert "Nothing to undo" in response.content.decode()
    assert Review.objects.count() == 1
    assert client.post(reverse("review:undo", args=[queue.pk])).status_code == 302


def test_an_empty_queue_says_it_is_done(client, make_queue, reviewer):
    queue = make_queue(1)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    response = _submit(client, queue, item["pk"])
    html = response.content.decode()
    assert _shown(response) is None
    assert "Queue done" in html and 'id="queue-done"' in html
    assert "Queue done" in client.get(reverse("review:queue", args=[queue.pk])).content.decode()


def test_an_overlap_item_left_to_someone_else_is_explained(client, make_queue, reviewer):
    queue = make_queue(1, overlap=True)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    html = _submit(client, queue, item["pk"]).content.decode()
    assert "Nothing left for you here" in html and "1 review of this queue is" in html


# --- history and edit -----------------------------------------------------------------------


def test_history_lists_own_reviews_and_edits_them_with_an_audit_trail(
    client, make_queue, reviewer, qa_lead
):
    queue = make_queue(3, failure_tags=["tone", "factual error"])
    queue.plan.reviewers.add(qa_lead)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    _submit(client, queue, item["pk"], verdict="correct")
    review = Review.objects.get()
    history = client.get(reverse("review:history"))
    assert [row["review"].pk for row in history.context["rows"]] == [review.pk]
    assert reverse("review:review-edit", args=[review.pk]) in history.content.decode()

    edit_url = reverse("review:review-edit", args=[review.pk])
    assert client.get(edit_url).status_code == 200
    response = client.post(
        edit_url, {"verdict": "incorrect", "failure_tags": ["factual error"], "comment": "oops"}
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.verdict, review.failure_tags, review.comment) == (
        "incorrect",
        ["factual error"],
        "oops",
    )
    update = ReviewAudit.objects.get(action="update")
    assert update.actor == reviewer
    assert update.before["verdict"] == "correct" and update.after["verdict"] == "incorrect"
    html = client.get(reverse("review:history")).content.decode()
    assert "Edited by rita" in html and "verdict: correct → incorrect" in html

    # Somebody else's review is not theirs to see or edit.
    _login(client, qa_lead)
    assert client.get(edit_url).status_code == 404
    assert client.get(reverse("review:history")).context["rows"] == []


def test_a_review_past_its_edit_window_is_final(client, make_queue, reviewer):
    queue = make_queue(1)
    _login(client, reviewer)
    _, item = _open_item(client, queue)
    _submit(client, queue, item["pk"])
    Review.objects.update(created_at=timezone.now() - dt.timedelta(days=8))
    review = Review.objects.get()
    assert client.get(reverse("review:history")).context["rows"][0]["editable"] is False
    url = reverse("review:review-edit", args=[review.pk])
    client.post(url, {"verdict": "incorrect"})
    review.refresh_from_db()
    assert review.verdict == "correct"
    assert "past its edit window" in client.get(url).content.decode()


def test_history_is_paginated(client, make_queue, reviewer):
    queue = make_queue(30)
    _login(client, reviewer)
    for _ in range(30):
        _, item = _open_item(client, queue)
        _submit(client, queue, item["pk"], htmx=False)
    first = client.get(reverse("review:history"))
    assert len(first.context["rows"]) == 25
    second = client.get(reverse("review:history") + "?page=2")
    assert len(second.context["rows"]) == 5
