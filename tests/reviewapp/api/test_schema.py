"""The OpenAPI schema at /api/schema/ describes the push and ingest-run endpoints."""

from __future__ import annotations

import pytest

from reviewapp.api.serializers import FeedbackRecordSerializer, ResponseRecordSerializer
from reviewapp.responses.records import FeedbackRecord, ResponseRecord

pytestmark = pytest.mark.django_db


def schema(client) -> dict:
    answer = client.get("/api/schema/", {"format": "json"})
    assert answer.status_code == 200
    return answer.json()


def test_the_schema_is_public_and_lists_the_paths(api_client):
    paths = schema(api_client)["paths"]
    assert {
        "/api/v1/responses/",
        "/api/v1/feedback/",
        "/api/v1/ingest-runs/",
        "/api/v1/ingest-runs/{id}/rejects/",
    } <= set(paths)


def test_an_authenticated_user_gets_the_schema_too(token_client):
    assert "/api/v1/responses/" in schema(token_client)["paths"]


def test_the_push_operations_describe_their_body_and_answers(api_client):
    document = schema(api_client)
    push = document["paths"]["/api/v1/responses/"]["post"]
    body = push["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/ResponseRecord"}}
    assert {"200", "207", "400", "401", "403", "413"} <= set(push["responses"])
    assert [p["name"] for p in push["parameters"]] == ["source"]
    result = document["components"]["schemas"]["PushResult"]["properties"]
    assert set(result) == {
        "run",
        "source",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "rejects",
    }
    feedback = document["paths"]["/api/v1/feedback/"]["post"]["requestBody"]
    assert feedback["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/FeedbackRecord"
    }


@pytest.mark.parametrize(
    ("serializer", "struct"),
    [(ResponseRecordSerializer, ResponseRecord), (FeedbackRecordSerializer, FeedbackRecord)],
)
def test_the_documented_records_have_the_validated_fields(serializer, struct):
    """The serializers only document the body; msgspec validates it. Keep them in step."""
    fields = serializer().fields
    assert set(fields) == set(struct.__struct_fields__)
    required = {name for name, field in fields.items() if field.required}
    defaults = len(struct.__struct_defaults__)
    assert required == set(struct.__struct_fields__[: len(struct.__struct_fields__) - defaults])


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    """drf-spectacular's own check: a warning means an endpoint is described wrongly."""
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/responses/" in out.read_text()
