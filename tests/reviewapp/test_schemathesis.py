"""Schemathesis's stateless checks against every operation of the OpenAPI schema, sent to a live
server on loopback with a valid token: no 5xx and no answer that breaks its documented schema.

The run is bounded (examples per operation, a time budget) to stay under a minute in CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.reviewapp.review import conftest as review_fixtures

make_queue = review_fixtures.make_queue
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = int(os.environ.get("LONGTAIL_SCHEMATHESIS_EXAMPLES", "8"))
FAILURE = re.compile(r"_{3,} ((?:GET|POST|PUT|PATCH|DELETE) /\S+) _{3,}")
# Schema mismatches schemathesis found (2026-11, seed 6), left for the API's owners to fix:
# - a 400's body is DRF's {"field": ["message"]}, documented as {"detail": "..."} (ST108);
# - input serializers stricter than their schema: blank token name, empty plan `sources`,
#   blank failure tag, `time_spent_ms` sent as form text (400 where the schema allows it);
# - `{id}` path parameters are integers in the schema but Django's <int:> converter answers a
#   negative one with its HTML 404 page (ST105 undocumented Content-Type); the schema should say
#   minimum 1 (a drf-spectacular postprocessing hook) or the API should 404 in JSON.
# A new operation in this list is a regression: the assertion below fails on it.
KNOWN_MISMATCHES = {
    "POST /api/v1/plans/",
    "PUT /api/v1/plans/{name}/",
    "POST /api/v1/queues/{id}/claim/",
    "POST /api/v1/queues/{id}/skip/",
    "POST /api/v1/reviews/",
    "PATCH /api/v1/reviews/{id}/",
    "POST /api/v1/reviews/{id}/undo/",
    "POST /api/v1/tokens/",
    "GET /api/v1/reports/tiers/",
    "GET /api/v1/plans/{name}/",
    "GET /api/v1/queues/{id}/",
    "DELETE /api/v1/tokens/{id}/",
}
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def _token_for(user) -> str:
    """A real API token, made the way the API makes them (hashed when the app stores hashes)."""
    try:
        from reviewapp.api.tokens import token_create
    except ImportError:  # before hashed tokens: DRF's own
        from rest_framework.authtoken.models import Token

        return Token.objects.create(user=user).key
    return token_create(user=user, name="schemathesis")[1]


def _run(tmp_path: Path, url: str, token: str, select: list[str], *, max_time: int) -> str:
    command = [
        str(ST),
        "run",
        str(tmp_path / "openapi.json"),
        "--url",
        url,
        "--header",
        f"Authorization: Token {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,fuzzing",
        "--mode",
        "positive",
        "--max-time",
        str(max_time),
        "--request-timeout",
        "10",
        "--seed",
        "6",
        "--no-shrink",
        "--workers",
        "1",
        *select,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "Summary" in output or "SUMMARY" in output, output[-4000:]
    return output


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    transactional_db, live_server, make_queue, qa_lead, reviewer, tmp_path
):
    from django.test import Client

    # Something for every path parameter to find: a plan, its queue and items.
    queue = make_queue(6, name="st-plan", reviewers=[reviewer, qa_lead])
    client = Client()
    client.force_login(qa_lead)
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    spec = json.loads(schema.content)
    operations = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
    assert len(operations) >= 15, operations
    # The token goes in as a fixed header; left in the schema, the security schemes make
    # schemathesis generate its own Authorization values (every request then a 401).
    spec.get("components", {}).pop("securitySchemes", None)
    spec.pop("security", None)
    for item in spec["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    token = _token_for(qa_lead)
    # Revoking a token is fuzzed last and alone: DELETE /tokens/{id}/ with id 1 revokes the run's
    # own token, and every later request would be a 401 that tests nothing.
    revoke = "/api/v1/tokens/{id}/"
    output = _run(tmp_path, live_server.url, token, ["--exclude-path", revoke], max_time=35)
    output += _run(tmp_path, live_server.url, token, ["--include-path", revoke], max_time=5)
    # Every documented operation was exercised (the two runs' "Tested: N" add up to all).
    tested = sum(int(n) for n in re.findall(r"Tested: (\d+)", output))
    assert tested == len(operations), output[-4000:]
    # No 5xx, ever.
    match = re.search(r"\[5\d\d\]", output)
    assert match is None, output[max(0, match.start() - 1500) : match.end() + 500]
    assert "Server error" not in output, output[-8000:]
    # No operation outside the known list breaks its documented schema (see KNOWN_MISMATCHES).
    failing = set(FAILURE.findall(output))
    assert failing <= KNOWN_MISMATCHES, sorted(failing - KNOWN_MISMATCHES)
    assert queue.pk
