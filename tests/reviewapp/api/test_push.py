"""POST /api/v1/responses/ and /api/v1/feedback/: real HTTP through DRF's test client."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from reviewapp.api.tokens import token_create
from reviewapp.responses.models import (
    FeedbackEvent,
    IngestRun,
    RejectedRecord,
    Response,
    Source,
)

pytestmark = pytest.mark.django_db

RESPONSES = "/api/v1/responses/"
FEEDBACK = "/api/v1/feedback/"


def record(i: int, **overrides) -> dict:
    data = {
        "id": f"r-{i}",
        "timestamp": "2026-01-31T12:00:00Z",
        "query": f"How do I change my billing date? ({i})",
        "response": "Go to Settings > Billing.",
        "tier": "cheap" if i % 2 else "capable",
        "router_confidence": 0.8,
    }
    data.update(overrides)
    return data


def feedback(response_id: str, event_id: str, kind: str = "thumbs_down") -> dict:
    return {
        "id": event_id,
        "response_id": response_id,
        "timestamp": "2026-01-31T12:05:00Z",
        "kind": kind,
    }


def post_json(client: APIClient, url: str, body, **extra):
    payload = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data=payload, content_type="application/json", **extra)


# --- who may push -------------------------------------------------------------------------


def test_anonymous_gets_401_with_a_token_challenge(api_client):
    answer = post_json(api_client, RESPONSES, [record(1)])
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Token"
    assert not Response.objects.exists()


def test_a_wrong_token_gets_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert post_json(api_client, RESPONSES, [record(1)]).status_code == 401


@pytest.mark.parametrize("who", ["viewer", "reviewer", "outsider"])
def test_users_without_the_right_get_403(request, api_client, who):
    api_client.force_login(request.getfixturevalue(who))
    answer = post_json(api_client, RESPONSES, [record(1)])
    assert answer.status_code == 403
    assert "qa_lead" in answer.json()["detail"]
    assert post_json(api_client, FEEDBACK, [feedback("r-1", "f-1")]).status_code == 403
    assert not Response.objects.exists()
    assert not IngestRun.objects.exists()


def test_a_qa_lead_pushes_with_a_token(token_client, qa_lead):
    answer = post_json(token_client, RESPONSES, [record(1), record(2)])
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body == {
        "run": body["run"],
        "source": "push",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "rejects": [],
    }
    run = IngestRun.objects.get(pk=body["run"])
    assert run.started_by == qa_lead
    assert run.origin == "POST /api/v1/responses/"
    assert Source.objects.get(name="push").kind == Source.Kind.PUSH
    assert set(Response.objects.values_list("external_id", flat=True)) == {"r-1", "r-2"}


def test_a_qa_lead_pushes_with_a_session(api_client, qa_lead):
    api_client.force_login(qa_lead)
    assert post_json(api_client, RESPONSES, [record(1)]).status_code == 200


def test_a_session_push_needs_the_csrf_token(qa_lead):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(qa_lead)
    answer = post_json(client, RESPONSES, [record(1)])
    assert answer.status_code == 403
    assert "CSRF" in answer.json()["detail"]


def test_an_integrator_account_needs_only_the_add_response_permission(
    api_client, django_user_model
):
    bot = django_user_model.objects.create_user(username="ingest-bot")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=bot, name='push')[1]}")
    assert post_json(api_client, RESPONSES, [record(1)]).status_code == 403
    bot.user_permissions.add(Permission.objects.get(codename="add_response"))
    assert post_json(api_client, RESPONSES, [record(1)]).status_code == 200


def test_staff_may_push(api_client, django_user_model):
    api_client.force_login(django_user_model.objects.create_user(username="sam", is_staff=True))
    assert post_json(api_client, RESPONSES, [record(1)]).status_code == 200


def test_an_inactive_users_token_is_refused(token_client, qa_lead):
    qa_lead.is_active = False
    qa_lead.save()
    assert post_json(token_client, RESPONSES, [record(1)]).status_code == 401


# --- what a push does ---------------------------------------------------------------------


def test_the_source_is_named_by_a_query_parameter(token_client):
    answer = post_json(token_client, RESPONSES + "?source=support-bot", [record(1)])
    assert answer.json()["source"] == "support-bot"
    assert Response.objects.get().source.name == "support-bot"
    assert Source.objects.get(name="support-bot").kind == Source.Kind.PUSH


def test_a_source_name_that_is_not_a_slug_is_a_400(token_client):
    answer = post_json(token_client, RESPONSES + "?source=no spaces/please", [record(1)])
    assert answer.status_code == 400
    assert "source" in answer.json()
    assert not Source.objects.exists()


def test_re_pushing_the_same_records_changes_nothing(token_client):
    records = [record(i, embedding=[0.1 * i, 0.2, 0.3]) for i in range(1, 6)]
    assert post_json(token_client, RESPONSES, records).json()["created"] == 5
    stamps = dict(Response.objects.values_list("external_id", "updated_at"))

    again = post_json(token_client, RESPONSES, records)
    assert again.status_code == 200
    assert again.json() | {"run": 0} == {
        "run": 0,
        "source": "push",
        "created": 0,
        "updated": 0,
        "unchanged": 5,
        "rejected": 0,
        "rejects": [],
    }
    assert dict(Response.objects.values_list("external_id", "updated_at")) == stamps
    assert Response.objects.count() == 5


def test_a_changed_record_is_updated_in_place(token_client):
    post_json(token_client, RESPONSES, [record(1), record(2)])
    pk = Response.objects.get(external_id="r-1").pk
    body = post_json(token_client, RESPONSES, [record(1, tier="capable"), record(2)]).json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1)
    assert Response.objects.get(external_id="r-1").tier == "capable"
    assert Response.objects.get(external_id="r-1").pk == pk


def test_a_mixed_list_stores_the_good_and_reports_each_bad_one(token_client):
    items = [
        record(1),
        record(2, router_confidence=1.7),
        "not an object",
        record(4),
        {"id": "r-5", "timestamp": "2026-01-31T12:00:00Z", "query": "q", "response": "a"},
        record(6, embedding=[0.1, 0.2, 0.3]),
        record(7, embedding=[0.1, 0.2]),
    ]
    answer = post_json(token_client, RESPONSES, items)
    assert answer.status_code == 207, answer.content
    body = answer.json()
    assert (body["created"], body["rejected"]) == (3, 4)
    assert body["rejects"] == [
        {
            "index": 2,
            "id": "r-2",
            "field": "router_confidence",
            "reason": body["rejects"][0]["reason"],
        },
        {"index": 3, "id": None, "field": "", "reason": "must be a JSON object ({...})"},
        {"index": 5, "id": "r-5", "field": "tier", "reason": "is required but missing"},
        {"index": 7, "id": "r-7", "field": "embedding", "reason": body["rejects"][3]["reason"]},
    ]
    assert "0 to 1" in body["rejects"][0]["reason"]
    assert body["rejects"][3]["reason"].startswith("has 2 numbers")
    assert set(Response.objects.values_list("external_id", flat=True)) == {"r-1", "r-4", "r-6"}
    # The quarantine keeps the same, with the raw JSON text of each rejected item.
    quarantined = RejectedRecord.objects.filter(run_id=body["run"]).order_by("line_number")
    assert [r.line_number for r in quarantined] == [2, 3, 5, 7]
    assert json.loads(quarantined[0].raw)["router_confidence"] == 1.7
    assert quarantined[1].raw == '"not an object"'


def test_unknown_fields_are_kept_under_metadata(token_client):
    post_json(token_client, RESPONSES, [record(1, locale="de-DE", metadata={"plan": "pro"})])
    assert Response.objects.get().metadata == {"locale": "de-DE", "plan": "pro"}


def test_embeddings_are_stored_as_float32(token_client):
    vector = [i / 384 for i in range(384)]
    assert post_json(token_client, RESPONSES, [record(1, embedding=vector)]).status_code == 200
    stored = Response.objects.get().embedding_vector
    assert stored.shape == (384,)
    assert stored[383] == pytest.approx(383 / 384, rel=1e-6)


def test_an_empty_list_is_an_empty_run(token_client):
    answer = post_json(token_client, RESPONSES, [])
    assert answer.status_code == 200
    assert answer.json()["created"] == 0


# --- limits and malformed bodies ----------------------------------------------------------


def test_more_than_10000_records_is_a_413_and_nothing_is_stored(token_client, settings):
    assert settings.LONGTAIL["PUSH_MAX_RECORDS"] == 10_000
    items = [record(i) for i in range(10_001)]
    answer = post_json(token_client, RESPONSES + "?source=too-many", items)
    assert answer.status_code == 413
    body = answer.json()
    assert (body["max_records"], body["records"]) == (10_000, 10_001)
    assert "10,000" in body["detail"]
    assert not Response.objects.exists()
    assert not IngestRun.objects.exists()
    assert not Source.objects.filter(name="too-many").exists()


def test_exactly_the_limit_is_accepted(token_client, settings):
    settings.LONGTAIL = {**settings.LONGTAIL, "PUSH_MAX_RECORDS": 3}
    assert post_json(token_client, RESPONSES, [record(i) for i in range(3)]).status_code == 200
    assert (
        post_json(token_client, FEEDBACK, [feedback("r-1", f"f-{i}") for i in range(4)]).status_code
        == 413
    )


def test_a_body_over_the_upload_limit_is_a_413_before_it_is_read(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    answer = post_json(token_client, RESPONSES, [record(i) for i in range(20)])
    assert answer.status_code == 413
    assert "1,000" in answer.json()["detail"]
    assert not IngestRun.objects.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (json.dumps(record(1)), "not an object"),
        ('"just text"', "not a string"),
        ("42", "not a number"),
        ("null", "not null"),
        ('[{"id": ', "not valid JSON"),
        ("[1, 2] trailing", "not valid JSON"),
        ("", "empty"),
    ],
)
def test_a_body_that_is_not_a_json_list_is_a_400(token_client, body, expected):
    answer = post_json(token_client, RESPONSES, body)
    assert answer.status_code == 400, answer.content
    assert expected in answer.json()["detail"]
    assert not IngestRun.objects.exists()


def test_a_form_body_is_a_415(token_client):
    answer = token_client.post(RESPONSES, data={"id": "r-1"})
    assert answer.status_code == 415


# --- feedback -----------------------------------------------------------------------------


def test_feedback_is_joined_to_an_existing_response(token_client):
    post_json(token_client, RESPONSES + "?source=bot", [record(1), record(2)])
    answer = post_json(
        token_client, FEEDBACK + "?source=bot", [feedback("r-1", "f-1"), feedback("r-2", "f-2")]
    )
    assert answer.status_code == 200
    assert answer.json()["created"] == 2
    event = FeedbackEvent.objects.get(external_id="f-1")
    assert event.response == Response.objects.get(external_id="r-1")
    assert event.kind == "thumbs_down"


def test_feedback_pushed_before_its_response_is_joined_when_the_response_arrives(token_client):
    post_json(token_client, FEEDBACK + "?source=bot", [feedback("r-9", "f-9", "handoff")])
    assert FeedbackEvent.objects.get().response is None

    post_json(token_client, RESPONSES + "?source=bot", [record(9)])
    assert FeedbackEvent.objects.get().response == Response.objects.get(external_id="r-9")


def test_feedback_joins_only_within_its_source(token_client):
    post_json(token_client, RESPONSES + "?source=one", [record(1)])
    post_json(token_client, FEEDBACK + "?source=two", [feedback("r-1", "f-1")])
    assert FeedbackEvent.objects.get().response is None


def test_feedback_rejects_and_re_push(token_client):
    items = [feedback("r-1", "f-1"), feedback("r-1", "f-2", kind="meh")]
    answer = post_json(token_client, FEEDBACK, items)
    assert answer.status_code == 207
    assert answer.json()["rejects"] == [
        {"index": 2, "id": "f-2", "field": "kind", "reason": answer.json()["rejects"][0]["reason"]}
    ]
    again = post_json(token_client, FEEDBACK, items[:1]).json()
    assert (again["created"], again["unchanged"]) == (0, 1)
    assert FeedbackEvent.objects.count() == 1
