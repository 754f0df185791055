"""Field names are untrusted too: a NUL in a key must end in a stored reject, never a 500
(schemathesis found one on POST /api/v1/feedback/); a lone surrogate makes the body invalid
JSON, which is refused whole with a 400."""

import json

import pytest

from reviewapp.responses.models import IngestRun, RejectedRecord, Response

pytestmark = pytest.mark.django_db

EVENT = {"response_id": "r1", "timestamp": "2026-01-05T10:00:00Z", "kind": "thumbs_up"}
GOOD = {"timestamp": "2026-01-05T10:00:00Z", "query": "q", "response": "a", "tier": "cheap"}


def _push(client, path: str, records: list) -> object:
    return client.post(path, data=json.dumps(records), content_type="application/json")


def test_feedback_with_a_nul_in_an_unknown_key_is_rejected_with_a_reason(token_client):
    records = [{**EVENT, "a\u0000b": 2}, {**EVENT, "\U0001f600\u0002": 1}, EVENT]
    answer = _push(token_client, "/api/v1/feedback/", records)
    assert answer.status_code == 207
    body = answer.json()
    assert body["rejected"] == 2 and body["created"] == 1
    fields = sorted(RejectedRecord.objects.values_list("field", flat=True))
    assert fields == ["a\\x00b", "\U0001f600\u0002"]


def test_response_with_a_nul_in_a_metadata_key_is_quarantined(token_client):
    records = [{**GOOD, "id": "r1", "a\u0000b": 2}, {**GOOD, "id": "r2"}]
    answer = _push(token_client, "/api/v1/responses/", records)
    assert answer.status_code == 207
    run = IngestRun.objects.get(pk=answer.json()["run"])
    assert set(Response.objects.values_list("external_id", flat=True)) == {"r2"}
    assert run.rejected_count == 1
    reject = RejectedRecord.objects.get(run=run)
    assert reject.field == "metadata" and "NUL" in reject.reason


def test_a_lone_surrogate_makes_the_body_invalid_json(token_client):
    answer = _push(token_client, "/api/v1/feedback/", [{**EVENT, "\udb84x": 1}])
    assert answer.status_code == 400
    assert not IngestRun.objects.exists()
