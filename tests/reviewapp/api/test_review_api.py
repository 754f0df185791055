"""The review workflow over /api/v1/: who may call what, the whole claim → review loop as an
external labelling workforce would run it, and blindness of what a reviewer receives."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from reviewapp.api.tokens import token_create
from reviewapp.responses.models import Response, Source
from reviewapp.review.models import Claim, Queue, QueueItem, Review, ReviewAudit, StratumCount
from reviewapp.review.services import plan_save

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 1, 20)
# Distinctive values: if any of them appears in a blind reviewer's JSON, blindness is broken.
TIER = "tierzebra"
MODEL = "modelokapi-7b"
CONFIDENCE = 0.613579
UNCERTAINTY = 0.386421
OOD = 97.246813
STRATUM = "stratumnarwhal|high|edge"
PI = 0.0424242


def client_for(user) -> APIClient:
    client = APIClient()
    _, key = token_create(user=user, name="test")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def make_queue(*, reviewers, blind=True, name="support", n=4, shadow_every=0) -> Queue:
    source, _ = Source.objects.get_or_create(name="bot")
    stamp = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    responses = [
        Response.objects.create(
            source=source,
            external_id=f"{name}-{i}",
            timestamp=stamp,
            query=f"How do I change my billing date? ({name} {i})",
            response=f"Go to Settings > Billing ({i}).",
            tier=TIER,
            model=MODEL,
            router_confidence=CONFIDENCE,
            uncertainty=UNCERTAINTY,
            ood_percentile=OOD,
            shadow_model="shadow-capable",
            shadow_response=f"The shadow answer {i}."
            if shadow_every and i % shadow_every == 0
            else None,
            content_hash=f"{name}{i}".ljust(32, "0")[:32],
        )
        for i in range(n)
    ]
    version = plan_save(
        name=name, config={"blind": blind}, sources=[source], reviewers=list(reviewers)
    )
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=DAY, population=100, size=n
    )
    stratum = StratumCount.objects.create(
        queue=queue, key=STRATUM, tier=TIER, population=100, quota=n
    )
    QueueItem.objects.bulk_create(
        [
            QueueItem(
                queue=queue,
                response=r,
                stratum=stratum,
                inclusion_probability=PI,
                required_reviews=1,
                served_side=("A" if i % 2 else "B") if r.shadow_response else "",
                position=i,
            )
            for i, r in enumerate(responses)
        ]
    )
    return queue


@pytest.fixture
def queue(reviewer):
    return make_queue(reviewers=[reviewer])


def endpoints(queue_id: int) -> list[tuple[str, str]]:
    return [
        ("get", "/api/v1/plans/"),
        ("get", "/api/v1/plans/support/"),
        ("get", "/api/v1/queues/"),
        ("get", f"/api/v1/queues/{queue_id}/"),
        ("post", f"/api/v1/queues/{queue_id}/claim/"),
        ("post", "/api/v1/reviews/"),
        ("get", "/api/v1/reviews/mine/"),
    ]


# --- who may call ---------------------------------------------------------------------------


def test_anonymous_gets_401_everywhere(api_client, queue):
    for method, url in endpoints(queue.pk):
        answer = getattr(api_client, method)(url, format="json")
        assert answer.status_code == 401, (method, url)
    assert not Claim.objects.exists()


def test_a_user_without_a_role_gets_403_everywhere(outsider, queue):
    client = client_for(outsider)
    for method, url in endpoints(queue.pk):
        answer = getattr(client, method)(url, {}, format="json")
        assert answer.status_code == 403, (method, url)
    assert not Claim.objects.exists()


def test_a_viewer_reads_plans_and_queues_but_never_claims_or_reviews(viewer, queue):
    client = client_for(viewer)
    assert client.get("/api/v1/plans/").status_code == 200
    assert client.get("/api/v1/plans/support/").status_code == 200
    assert [q["id"] for q in client.get("/api/v1/queues/").json()] == [queue.pk]
    assert client.get(f"/api/v1/queues/{queue.pk}/").status_code == 200
    assert client.post(f"/api/v1/queues/{queue.pk}/claim/").status_code == 403
    item = queue.items.first()
    answer = client.post("/api/v1/reviews/", {"item": item.pk, "verdict": "correct"})
    assert answer.status_code == 403
    assert client.post("/api/v1/plans/", {"name": "x", "sources": ["bot"]}).status_code == 403
    assert not Claim.objects.exists() and not Review.objects.exists()


def test_a_reviewer_not_assigned_to_the_plan_cannot_see_or_claim_its_queue(
    django_user_model, queue
):
    from django.contrib.auth.models import Group

    stranger = django_user_model.objects.create_user("sam", password="x")
    stranger.groups.add(Group.objects.get(name="reviewer"))
    client = client_for(stranger)
    assert client.get("/api/v1/queues/").json() == []
    assert client.get(f"/api/v1/queues/{queue.pk}/").status_code == 404
    answer = client.post(f"/api/v1/queues/{queue.pk}/claim/")
    assert answer.status_code == 404
    assert "no queue" in answer.json()["detail"]
    item = queue.items.first()
    answer = client.post("/api/v1/reviews/", {"item": item.pk, "verdict": "correct"})
    assert answer.status_code == 404
    assert not Claim.objects.exists() and not Review.objects.exists()


def test_a_reviewer_reads_plans_but_may_not_write_them(reviewer, queue):
    client = client_for(reviewer)
    plans = client.get("/api/v1/plans/").json()
    assert [p["name"] for p in plans] == ["support"]
    # Who else reviews is for QA leads.
    assert plans[0]["reviewers"] == []
    body = {"sources": ["bot"], "daily_budget": 5}
    assert client.put("/api/v1/plans/support/", body, format="json").status_code == 403
    assert client.post("/api/v1/plans/", {**body, "name": "x"}, format="json").status_code == 403


# --- plans ----------------------------------------------------------------------------------


def test_an_oversampling_key_naming_an_unknown_dimension_is_refused(qa_lead):
    Source.objects.create(name="bot")
    body = {
        "name": "billing",
        "sources": ["bot"],
        "dimensions": ["tier", "uncertainty"],
        "oversampling": {"tier=cheap&ood=out": 3},
    }
    answer = client_for(qa_lead).post("/api/v1/plans/", body, format="json")
    assert answer.status_code == 400
    text = str(answer.json())
    assert "“ood”" in text and "its dimensions are tier, uncertainty" in text


def test_a_qa_lead_creates_a_plan_and_saves_a_new_version(qa_lead, reviewer):
    Source.objects.create(name="bot")
    client = client_for(qa_lead)
    body = {
        "name": "billing",
        "description": "Billing questions",
        "sources": ["bot"],
        "reviewers": [reviewer.username],
        "dimensions": ["tier", "uncertainty"],
        "daily_budget": 120,
        "allocation": "proportional",
        "oversampling": {"tier=cheap&uncertainty=high": 3},
        "targets": {"cheap": 0.93},
    }
    answer = client.post("/api/v1/plans/", body, format="json")
    assert answer.status_code == 201, answer.json()
    plan = answer.json()
    assert plan["reviewers"] == [reviewer.username]
    version = plan["current_version"]
    assert version["number"] == 1
    assert version["sources"] == ["bot"]
    assert version["daily_budget"] == 120
    assert version["oversampling"] == {"tier=cheap&uncertainty=high": 3}
    assert version["blind"] is True  # the default

    answer = client.put(
        "/api/v1/plans/billing/", {"sources": ["bot"], "daily_budget": 80}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["current_version"]["number"] == 2
    assert answer.json()["current_version"]["daily_budget"] == 80
    assert client.get("/api/v1/plans/billing/").json()["current_version"]["number"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sources": ["nowhere"]}, "no source named nowhere"),
        ({"reviewers": ["nobody"]}, "no user named nobody"),
        ({"overlap_share": 0.9}, "overlap_share"),
        ({"stratum_min": 3, "stratum_max": 2}, "stratum_max"),
        ({"allocation": "random"}, "allocation"),
        # Past the database's integer (schemathesis found the 500 these were).
        ({"daily_budget": 22_051_533_205}, "daily_budget"),
        ({"stratum_max": 10**36}, "stratum_max"),
    ],
)
def test_an_invalid_plan_is_refused_with_a_reason(qa_lead, change, message):
    Source.objects.create(name="bot")
    client = client_for(qa_lead)
    answer = client.post(
        "/api/v1/plans/", {"name": "p", "sources": ["bot"], **change}, format="json"
    )
    assert answer.status_code == 400
    assert message in json.dumps(answer.json())


def test_putting_a_plan_that_does_not_exist_is_404(qa_lead):
    Source.objects.create(name="bot")
    answer = client_for(qa_lead).put("/api/v1/plans/nope/", {"sources": ["bot"]}, format="json")
    assert answer.status_code == 404


# --- the whole job over the API -------------------------------------------------------------


def test_a_reviewer_empties_a_queue_through_the_api(reviewer, queue):
    client = client_for(reviewer)
    queues = client.get("/api/v1/queues/").json()
    assert [(q["id"], q["reviews_needed"], q["reviews_done"]) for q in queues] == [(queue.pk, 4, 0)]
    reviewed = []
    for _ in range(10):
        claim = client.post(f"/api/v1/queues/{queue.pk}/claim/")
        if claim.status_code == 204:
            break
        assert claim.status_code == 200
        item = claim.json()
        # Claiming again before reviewing gives the same item, not a second one.
        assert client.post(f"/api/v1/queues/{queue.pk}/claim/").json()["item"] == item["item"]
        assert item["failure_tags"][0] == "wrong intent"
        answer = client.post(
            "/api/v1/reviews/",
            {
                "item": item["item"],
                "verdict": "incorrect",
                "failure_tags": ["factual error"],
                "helpfulness": 2,
                "comment": "wrong date",
                "time_spent_ms": 4200,
            },
            format="json",
        )
        assert answer.status_code == 201, answer.json()
        assert answer.json()["verdict"] == "incorrect"
        reviewed.append(item["item"])
    else:
        pytest.fail("the queue never ran dry")
    assert len(reviewed) == 4 == len(set(reviewed))
    assert client.post(f"/api/v1/queues/{queue.pk}/claim/").status_code == 204
    assert client.get(f"/api/v1/queues/{queue.pk}/").json()["reviews_done"] == 4

    stored = Review.objects.filter(reviewer=reviewer)
    assert sorted(stored.values_list("item_id", flat=True)) == sorted(reviewed)
    assert set(stored.values_list("verdict", "helpfulness", "time_spent_ms")) == {
        ("incorrect", 2, 4200)
    }
    assert ReviewAudit.objects.filter(action="create").count() == 4

    mine = client.get("/api/v1/reviews/mine/", {"limit": 3}).json()
    assert mine["count"] == 4
    assert len(mine["results"]) == 3
    assert mine["next"]
    assert {r["item"] for r in mine["results"]} <= set(reviewed)

    # A second submission on the same item is a conflict, and changes nothing.
    again = client.post("/api/v1/reviews/", {"item": reviewed[0], "verdict": "correct"})
    assert again.status_code == 409
    assert Review.objects.get(item_id=reviewed[0]).verdict == "incorrect"


def test_session_auth_works_too(client, reviewer, queue):
    """A browser-signed-in reviewer (Django session) can use the API as well."""
    client.force_login(reviewer)
    assert client.post(f"/api/v1/queues/{queue.pk}/claim/").status_code == 200


def test_a_review_without_a_claim_or_with_a_bad_rubric_is_400(reviewer, queue):
    client = client_for(reviewer)
    item = queue.items.order_by("position").first()
    answer = client.post("/api/v1/reviews/", {"item": item.pk, "verdict": "correct"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "Claim this item before reviewing it."
    claimed = client.post(f"/api/v1/queues/{queue.pk}/claim/").json()
    answer = client.post(
        "/api/v1/reviews/",
        {"item": claimed["item"], "verdict": "correct", "failure_tags": ["made up"]},
        format="json",
    )
    assert answer.status_code == 400
    assert "Unknown failure tag(s): made up." in answer.json()["detail"]
    answer = client.post("/api/v1/reviews/", {"item": claimed["item"], "verdict": "maybe"})
    assert answer.status_code == 400
    assert "verdict" in answer.json()
    answer = client.post(
        "/api/v1/reviews/", {"item": claimed["item"], "verdict": "correct", "preference": "A"}
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == "This item has no shadow answer to compare."
    assert not Review.objects.exists()


def test_skip_edit_and_undo(reviewer, queue):
    client = client_for(reviewer)
    first = client.post(f"/api/v1/queues/{queue.pk}/claim/").json()
    answer = client.post(f"/api/v1/queues/{queue.pk}/skip/", {"item": first["item"]})
    assert answer.status_code == 400  # a reason is required
    answer = client.post(
        f"/api/v1/queues/{queue.pk}/skip/", {"item": first["item"], "reason": "not English"}
    )
    assert answer.status_code == 204
    second = client.post(f"/api/v1/queues/{queue.pk}/claim/").json()
    assert second["item"] != first["item"]

    review = client.post("/api/v1/reviews/", {"item": second["item"], "verdict": "correct"})
    review_id = review.json()["id"]
    edited = client.patch(
        f"/api/v1/reviews/{review_id}/", {"verdict": "partial", "comment": "half"}, format="json"
    )
    assert edited.status_code == 200
    assert (edited.json()["verdict"], edited.json()["comment"]) == ("partial", "half")

    undone = client.post(f"/api/v1/reviews/{review_id}/undo/")
    assert undone.status_code == 200
    assert undone.json()["item"] == second["item"]
    assert not Review.objects.exists()
    assert list(ReviewAudit.objects.order_by("at", "pk").values_list("action", flat=True)) == [
        "create",
        "update",
        "undo",
    ]
    # The item is the reviewer's again: the next claim returns it.
    assert client.post(f"/api/v1/queues/{queue.pk}/claim/").json()["item"] == second["item"]


def test_nobody_edits_or_undoes_someone_elses_review(reviewer, qa_lead, queue):
    client = client_for(reviewer)
    item = client.post(f"/api/v1/queues/{queue.pk}/claim/").json()["item"]
    review_id = client.post("/api/v1/reviews/", {"item": item, "verdict": "correct"}).json()["id"]
    lead = client_for(qa_lead)
    assert lead.patch(f"/api/v1/reviews/{review_id}/", {"verdict": "incorrect"}).status_code == 404
    assert lead.post(f"/api/v1/reviews/{review_id}/undo/").status_code == 404
    assert Review.objects.get().verdict == "correct"


# --- blind ----------------------------------------------------------------------------------

HIDDEN = [TIER, MODEL, str(CONFIDENCE), str(UNCERTAINTY), str(OOD), "stratumnarwhal", str(PI)]
HIDDEN_KEYS = ['"tier"', '"model"', '"router_confidence"', '"ood_percentile"', '"stratum"']


def test_a_blind_claim_says_nothing_of_tier_model_confidence_or_stratum(reviewer):
    queue = make_queue(reviewers=[reviewer], shadow_every=1, n=2)
    client = client_for(reviewer)
    answer = client.post(f"/api/v1/queues/{queue.pk}/claim/")
    text = answer.content.decode()
    item = answer.json()
    assert item["query"].startswith("How do I change my billing date?")
    assert item["blind"] is True and "details" not in item
    for secret in HIDDEN + HIDDEN_KEYS + ["shadow-capable", "inclusion_probability", "is_gold"]:
        assert secret not in text, secret
    # The shadow answer is offered as A/B, on the item's randomised side.
    served = QueueItem.objects.get(pk=item["item"])
    expected_side = served.served_side
    assert item["pairwise"][expected_side] == item["response"]
    other = "B" if expected_side == "A" else "A"
    assert item["pairwise"][other].startswith("The shadow answer")

    # Neither the queue listing nor the reviewer's history gives them away either.
    review = client.post(
        "/api/v1/reviews/",
        {"item": item["item"], "verdict": "correct", "preference": other},
        format="json",
    )
    assert review.status_code == 201
    assert Review.objects.get().served_side == expected_side
    for url in ("/api/v1/queues/", f"/api/v1/queues/{queue.pk}/", "/api/v1/reviews/mine/"):
        body = client.get(url).content.decode()
        for secret in HIDDEN + HIDDEN_KEYS:
            assert secret not in body, (url, secret)


def test_a_plan_that_is_not_blind_shows_the_details(reviewer):
    queue = make_queue(reviewers=[reviewer], blind=False)
    item = client_for(reviewer).post(f"/api/v1/queues/{queue.pk}/claim/").json()
    assert item["blind"] is False
    assert item["details"] == {
        "tier": TIER,
        "model": MODEL,
        "router_confidence": CONFIDENCE,
        "uncertainty": UNCERTAINTY,
        "ood_percentile": OOD,
        "stratum": STRATUM,
        "inclusion_probability": PI,
    }


def test_the_schema_lists_the_review_endpoints(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {
        "/api/v1/plans/",
        "/api/v1/plans/{name}/",
        "/api/v1/queues/",
        "/api/v1/queues/{id}/",
        "/api/v1/queues/{id}/claim/",
        "/api/v1/reviews/",
        "/api/v1/reviews/mine/",
    } <= set(paths)
    claim = paths["/api/v1/queues/{id}/claim/"]["post"]
    assert {"200", "204", "401", "403", "404"} <= set(claim["responses"])


def test_healthz_live_is_a_plain_ok(client):
    answer = client.get("/healthz/live")
    assert answer.status_code == 200 and answer.content == b"ok"
