"""Schemathesis's stateless checks against every operation of the OpenAPI schema, sent to a live
server on loopback with a valid token: no 5xx and no answer that breaks its documented schema.

The run is bounded (examples per operation, a time budget) to stay around a minute in CI.
Schemathesis draws path ids and names from the schema alone, so nearly every one would be a
404; a config file hands it the ids of the queue, items and review made here (for a share of
the examples), so that the claim, review, edit and undo answers are checked too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.reviewapp.review import conftest as review_fixtures

make_queue = review_fixtures.make_queue
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = int(os.environ.get("LONGTAIL_SCHEMATHESIS_EXAMPLES", "8"))
# Another seed or a longer budget explores further (the same assertions hold for any of them).
SEED = os.environ.get("LONGTAIL_SCHEMATHESIS_SEED", "6")
MAX_SECONDS = int(os.environ.get("LONGTAIL_SCHEMATHESIS_SECONDS", "35"))
FAILURE = re.compile(r"_{3,} ((?:GET|POST|PUT|PATCH|DELETE) /\S+) _{3,}")
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
# How often a bound parameter takes a real value rather than a generated one.
REAL_VALUE_SHARE = 0.7


def _toml(value: Any) -> str:
    """A TOML value for the few shapes the config uses (JSON's strings and numbers are TOML's)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _config(dictionaries: dict[str, list[Any]], bindings: dict[str, dict[str, str]]) -> str:
    """schemathesis.toml: named lists of real values, and which parameters of each operation
    path draw from them (`path.id`, `body.item`, `body.sources[*]`). One [[operations]] entry per
    path: schemathesis applies only the first entry that matches an operation."""
    lines = []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}", ""]
    for path, parameters in bindings.items():
        draws = {}
        for key, name in parameters.items():
            # "tokens" alone is drawn every time: see the revoke run in the test.
            share = 1.0 if name == "tokens" else REAL_VALUE_SHARE
            draws[key] = {"dictionary": name, "probability": share}
        lines += [
            "[[operations]]",
            f"include-path = {_toml(path)}",
            f"parameters = {_toml(draws)}",
            "",
        ]
    return "\n".join(lines)


def _answered(tmp_path: Path, paths: list[str]) -> set[tuple[str, str, int]]:
    """(METHOD, documented path, status) of every answer in the runs' HAR files."""
    templates = [
        (re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + "$"), path)
        for path in paths
    ]
    answered = set()
    for har in tmp_path.glob("har-*.json"):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            request = entry["request"]
            url_path = urlsplit(request["url"]).path
            for pattern, path in templates:
                if pattern.match(url_path):
                    answered.add((request["method"], path, entry["response"]["status"]))
    return answered


def _run(tmp_path: Path, url: str, token: str, select: list[str], *, max_time: int) -> str:
    command = [
        str(ST),
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
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
        SEED,
        "--no-shrink",
        "--workers",
        "1",
        *select,
        # Every request and answer, for _answered (and for reading after a failure).
        "--report",
        "har",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=max_time + 120, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    # Kept for reading after a failure (pytest keeps the last runs' tmp_path directories).
    runs = len(list(tmp_path.glob("schemathesis-*.txt")))
    (tmp_path / f"schemathesis-{runs}.txt").write_text(output)
    assert "Summary" in output or "SUMMARY" in output, output[-4000:]
    return output


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    transactional_db, live_server, make_queue, qa_lead, reviewer, tmp_path
):
    from django.test import Client

    from reviewapp.api.models import ApiToken
    from reviewapp.api.tokens import token_create
    from reviewapp.review.models import QueueItem
    from reviewapp.review.services import item_claim, review_submit

    # Something for every path parameter to find: a plan, its queue, items and a review of the
    # token's user (fresh: edit and undo windows open).
    queue = make_queue(6, name="st-plan", reviewers=[reviewer, qa_lead])
    # Nothing to claim here: the 204.
    empty = make_queue(0, name="st-empty", reviewers=[reviewer, qa_lead])
    reviewed = item_claim(queue=queue, reviewer=qa_lead)
    assert reviewed is not None
    review = review_submit(item=reviewed, reviewer=qa_lead, verdict="correct")
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
    token = token_create(user=qa_lead, name="schemathesis")[1]
    # Tokens the revoke run may revoke: it draws only from these (and from an id nobody has,
    # for the 404), never the run's own token, or every later request would be a 401.
    spare = [token_create(user=qa_lead, name=f"spare {n}")[0].pk for n in range(3)]
    items = list(QueueItem.objects.filter(queue=queue).values_list("pk", flat=True))
    plan_body = {"body.sources[*]": "sources", "body.reviewers[*]": "users"}
    config = _config(
        {
            "queues": [queue.pk, empty.pk],
            "items": items,
            "reviews": [review.pk],
            "plans": [queue.plan.name],
            "sources": [s.name for s in queue.plan_version.sources.all()],
            "users": [reviewer.username, qa_lead.username],
            "tokens": [*spare, max(spare) + 1000],
        },
        {
            "/api/v1/queues/{id}/": {"path.id": "queues"},
            "/api/v1/queues/{id}/claim/": {"path.id": "queues"},
            "/api/v1/queues/{id}/skip/": {"path.id": "queues", "body.item": "items"},
            "/api/v1/reviews/": {"body.item": "items"},
            "/api/v1/reviews/{id}/": {"path.id": "reviews"},
            "/api/v1/reviews/{id}/undo/": {"path.id": "reviews"},
            "/api/v1/plans/": plan_body,
            "/api/v1/plans/{name}/": {"path.name": "plans", **plan_body},
            "/api/v1/reports/tiers/": {"query.plan": "plans"},
            "/api/v1/tokens/{id}/": {"path.id": "tokens"},
        },
    )
    (tmp_path / "schemathesis.toml").write_text(config)
    # Revoking is still fuzzed last and alone, so that a revoked run token cannot hide the rest.
    revoke = "/api/v1/tokens/{id}/"
    output = _run(
        tmp_path, live_server.url, token, ["--exclude-path", revoke], max_time=MAX_SECONDS
    )
    output += _run(tmp_path, live_server.url, token, ["--include-path", revoke], max_time=5)
    # The run's token worked to the end (the revoke run drew only the spare tokens' ids).
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exclude(pk__in=spare).exists()
    # Every documented operation was exercised (the two runs' "Tested: N" add up to all).
    tested = sum(int(n) for n in re.findall(r"Tested: (\d+)", output))
    assert tested == len(operations), output[-4000:]
    # No 5xx, ever.
    match = re.search(r"\[5\d\d\]", output)
    assert match is None, output[max(0, match.start() - 1500) : match.end() + 500]
    assert "Server error" not in output, output[-8000:]
    # No operation breaks its documented schema (status body, content type).
    failing = sorted(set(FAILURE.findall(output)))
    assert not failing, (failing, output[-8000:])
    # The real ids reached the API's logic: its answers to real work were checked too.
    answered = _answered(tmp_path, list(spec["paths"]))
    expected = {
        ("POST", "/api/v1/queues/{id}/claim/", 200),
        ("POST", "/api/v1/queues/{id}/claim/", 204),
        ("POST", "/api/v1/queues/{id}/skip/", 204),
        ("PATCH", "/api/v1/reviews/{id}/", 200),
        ("POST", "/api/v1/reviews/{id}/undo/", 200),
        ("POST", "/api/v1/plans/", 201),
        ("PUT", "/api/v1/plans/{name}/", 200),
        ("GET", "/api/v1/reports/tiers/", 200),
        ("DELETE", "/api/v1/tokens/{id}/", 204),
        ("DELETE", "/api/v1/tokens/{id}/", 404),
    }
    assert expected <= answered, sorted(expected - answered)
    # A review submitted (201), or refused as one already made (409): the submit path ran.
    assert answered & {("POST", "/api/v1/reviews/", 201), ("POST", "/api/v1/reviews/", 409)}
