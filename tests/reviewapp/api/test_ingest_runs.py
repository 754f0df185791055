"""GET /api/v1/ingest-runs/ and /api/v1/ingest-runs/{id}/rejects/."""

from __future__ import annotations

import json

import pytest

from reviewapp.responses.models import IngestRun

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/ingest-runs/"


def push(client, items, source="bot", kind="responses"):
    answer = client.post(
        f"/api/v1/{kind}/?source={source}", data=json.dumps(items), content_type="application/json"
    )
    assert answer.status_code in (200, 207), answer.content
    return answer.json()["run"]


def good(i: int) -> dict:
    return {
        "id": f"r-{i}",
        "timestamp": "2026-01-31T12:00:00Z",
        "query": "q",
        "response": "a",
        "tier": "cheap",
    }


def test_anonymous_gets_401(api_client):
    assert api_client.get(RUNS).status_code == 401
    assert api_client.get(RUNS + "1/rejects/").status_code == 401


@pytest.mark.parametrize("who", ["reviewer", "outsider"])
def test_reviewers_and_outsiders_get_403(request, api_client, who):
    api_client.force_login(request.getfixturevalue(who))
    assert api_client.get(RUNS).status_code == 403


def test_runs_are_listed_newest_first_and_paginated(token_client, api_client, viewer):
    first = push(token_client, [good(1)])
    second = push(token_client, [good(2), "bad"], source="other")
    third = push(
        token_client, [{"response_id": "r-1", "timestamp": "x", "kind": "handoff"}], kind="feedback"
    )

    api_client.force_login(viewer)
    page = api_client.get(RUNS, {"limit": 2}).json()
    assert page["count"] == 3
    assert [run["id"] for run in page["results"]] == [third, second]
    assert page["next"]
    newest = page["results"][1]
    assert newest["source"] == "other"
    assert newest["kind"] == "responses"
    assert newest["status"] == "finished"
    assert newest["started_by"] == "quinn"
    assert (newest["created_count"], newest["rejected_count"]) == (1, 1)
    assert newest["rejects_url"] == f"/api/v1/ingest-runs/{second}/rejects/"

    rest = api_client.get(page["next"]).json()
    assert [run["id"] for run in rest["results"]] == [first]


def test_runs_can_be_filtered_by_source_and_kind(token_client):
    push(token_client, [good(1)])
    other = push(token_client, [good(1)], source="other")
    feedback_run = push(
        token_client,
        [{"response_id": "r-1", "timestamp": "2026-01-31T12:00:00Z", "kind": "handoff"}],
        kind="feedback",
    )
    by_source = token_client.get(RUNS, {"source": "other"}).json()["results"]
    assert [run["id"] for run in by_source] == [other]
    by_kind = token_client.get(RUNS, {"kind": "feedback"}).json()["results"]
    assert [run["id"] for run in by_kind] == [feedback_run]
    assert token_client.get(RUNS, {"kind": "nonsense"}).status_code == 400


def test_a_runs_rejects_show_line_field_reason_and_raw(token_client):
    run = push(token_client, [good(1), {**good(2), "tier": ""}, [1, 2]])
    answer = token_client.get(f"{RUNS}{run}/rejects/")
    assert answer.status_code == 200
    rejects = answer.json()["results"]
    assert [(r["line_number"], r["field"]) for r in rejects] == [(2, "tier"), (3, "")]
    assert json.loads(rejects[0]["raw"])["id"] == "r-2"
    assert rejects[1]["raw"] == "[1, 2]"
    assert rejects[1]["reason"] == "must be a JSON object ({...})"


def test_rejects_of_a_missing_run_is_a_404(token_client):
    assert not IngestRun.objects.filter(pk=999_999).exists()
    answer = token_client.get(f"{RUNS}999999/rejects/")
    assert answer.status_code == 404
    assert "999999" in answer.json()["detail"]
