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
    assert body == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ResponseRecordRequest"},
    }
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
        "$ref": "#/components/schemas/FeedbackRecordRequest"
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


def _api_operations() -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every route under /api/v1/ and every method its view has."""
    import re

    from reviewapp.api import urls

    operations = set()
    for pattern in urls.urlpatterns:
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)).replace("{pk}", "{id}")
        view = pattern.callback.view_class
        for method in view.http_method_names:
            if method not in {"options", "head"} and hasattr(view, method):
                operations.add((method.upper(), f"/api/v1/{route}"))
    return operations


def test_every_api_operation_is_in_the_schema(api_client):
    paths = schema(api_client)["paths"]
    documented = {(m.upper(), p) for p, item in paths.items() for m in item}
    operations = _api_operations()
    assert len(operations) >= 20
    assert operations <= documented, sorted(operations - documented)


def test_every_operation_documents_its_error_bodies(api_client):
    """A caller can parse any answer: each operation names 401, every 4xx has a JSON body, and
    the 400s are the ValidationError shape (`detail`, or messages per field)."""
    document = schema(api_client)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            for code, answer in responses.items():
                if code.startswith("4"):
                    body = answer["content"]["application/json"]["schema"]
                    assert body.get("$ref"), (method, path, code)
            if "400" in responses:
                body = responses["400"]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ValidationError"}, (method, path)
    error = document["components"]["schemas"]["ValidationError"]
    assert set(error["properties"]) == {"detail", "non_field_errors"}
    assert error["additionalProperties"]


def test_path_parameters_say_what_the_url_converters_match(api_client):
    paths = schema(api_client)["paths"]
    queue = paths["/api/v1/queues/{id}/"]["get"]["parameters"]
    assert queue == [
        {"in": "path", "name": "id", "schema": {"type": "integer", "minimum": 0}, "required": True}
    ]
    plan = paths["/api/v1/plans/{name}/"]["get"]["parameters"][0]
    assert plan["schema"] == {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}


def test_request_bodies_say_what_is_refused(api_client):
    """Request components are split from answers, so blank strings and empty lists the
    serializers refuse are documented as refused (minLength, minItems)."""
    schemas = schema(api_client)["components"]["schemas"]
    assert schemas["TokenCreateInputRequest"]["properties"]["name"]["minLength"] == 1
    plan = schemas["PlanCreateRequest"]["properties"]
    assert plan["sources"]["minItems"] == 1
    assert plan["daily_budget"]["maximum"] == 2_147_483_647
    review = schemas["ReviewCreateRequest"]["properties"]
    assert review["failure_tags"]["items"]["minLength"] == 1
    assert review["time_spent_ms"]["maximum"] == 24 * 3600 * 1000
    # Answers may hold blank strings: no minLength there.
    assert "minLength" not in schemas["Plan"]["properties"]["description"]


def test_the_claimed_item_schema_keeps_blind_plans_blind(api_client):
    """What a reviewer of a blind plan receives carries no tier, model, confidence, OOD or
    stratum: they exist only under the optional `details` (sent for plans that are not blind)."""
    schemas = schema(api_client)["components"]["schemas"]
    claimed = schemas["ClaimedItem"]
    hidden = {"tier", "model", "router_confidence", "uncertainty", "ood_percentile", "stratum"}
    assert not hidden & set(claimed["properties"])
    assert "details" not in claimed["required"]
    assert hidden <= set(schemas["ItemDetails"]["properties"])
