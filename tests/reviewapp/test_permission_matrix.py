"""The permission matrix: every URL pattern of the project × every role × every method.

Size when written: 55 URL patterns (admin/ as one "staff only" row) × 7 roles × 2 methods for
pages (GET, POST), 5 for the API (GET, POST, PUT, PATCH, DELETE), 1 for admin/ = 1,141 cells;
the test prints the current figure and puts it in its failure message.

One table (EXPECTED) says what each role gets from each URL pattern and method; one test walks
django.urls.get_resolver() recursively and fails for any pattern that has no row (a new
endpoint without a row breaks the build) and for any row whose pattern no longer exists.
Path parameters are filled with real objects made in the fixture: a plan with an assigned
reviewer, a queue with items, reviews, an item in disagreement, an alarm, an ingest run and an
API token. Every request runs in a savepoint that is rolled back, so that one cell's write
(a claim, a build, a revoke) never changes the next cell's answer.

Pages are requested with a session (force_login), the API with each user's hashed token.
Anonymous users get 302 to the login page on pages and 401 on the API, never data; and no
answer other than a 2xx ever contains the fixture's canary text.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from reviewapp.api.tokens import token_create

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous",
    "outsider",
    "reviewer",  # assigned to the plan of the fixture's queue
    "reviewer_unassigned",
    "qa_lead",
    "viewer",
    "superuser",
)
PAGE_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LOGIN = "302→login"  # a redirect to settings.LOGIN_URL with ?next=
CANARY = "canary-7f3a-answer-text"

RECORD = os.environ.get("LONGTAIL_MATRIX_RECORD") == "1"


def cells(default: int | str, **by_role: int | str) -> dict[str, int | str]:
    """Expected outcome per role: `default` for every role not named."""
    unknown = set(by_role) - set(ROLES)
    assert not unknown, unknown
    return {role: by_role.get(role, default) for role in ROLES}


@dataclass(frozen=True)
class Row:
    kind: str  # "page", "api" or "admin"
    methods: dict[str, dict[str, int | str]]


# What each role gets. LOGIN = 302 to the login page; 400 = past the permission check, the
# empty body refused; 404 on an object = not yours (or not your plan's), said as "no such
# object" so that ids leak nothing; 302 (not LOGIN) = done, redirected back to the page;
# admin/ answers 302 to its own login page to everyone but staff.
EXPECTED: dict[str, Row] = {
    "": Row(
        "page",
        {
            "GET": cells(302, anonymous=LOGIN, outsider=403),
            "POST": cells(302, anonymous=LOGIN, outsider=403),
        },
    ),
    "sources/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
        },
    ),
    "login/": Row(
        "page",
        {
            "GET": cells(200),
            "POST": cells(200),
        },
    ),
    "logout/": Row(
        "page",
        {
            "GET": cells(405),
            "POST": cells(302),
        },
    ),
    "admin/": Row(
        "admin",
        {
            "GET": cells(302, superuser=200),
        },
    ),
    "api/v1/responses/": Row(
        "api",
        {
            "GET": cells(403, anonymous=401, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=401, qa_lead=400, superuser=400),
            "PUT": cells(403, anonymous=401, qa_lead=405, superuser=405),
            "PATCH": cells(403, anonymous=401, qa_lead=405, superuser=405),
            "DELETE": cells(403, anonymous=401, qa_lead=405, superuser=405),
        },
    ),
    "api/v1/feedback/": Row(
        "api",
        {
            "GET": cells(403, anonymous=401, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=401, qa_lead=400, superuser=400),
            "PUT": cells(403, anonymous=401, qa_lead=405, superuser=405),
            "PATCH": cells(403, anonymous=401, qa_lead=405, superuser=405),
            "DELETE": cells(403, anonymous=401, qa_lead=405, superuser=405),
        },
    ),
    "api/v1/ingest-runs/": Row(
        "api",
        {
            "GET": cells(403, anonymous=401, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "PUT": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "PATCH": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "DELETE": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
        },
    ),
    "api/v1/ingest-runs/<int:pk>/rejects/": Row(
        "api",
        {
            "GET": cells(403, anonymous=401, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "PUT": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "PATCH": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "DELETE": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
        },
    ),
    "api/v1/plans/": Row(
        "api",
        {
            "GET": cells(200, anonymous=401, outsider=403),
            "POST": cells(403, anonymous=401, qa_lead=400, superuser=400),
            "PUT": cells(405, anonymous=401, outsider=403),
            "PATCH": cells(405, anonymous=401, outsider=403),
            "DELETE": cells(405, anonymous=401, outsider=403),
        },
    ),
    "api/v1/plans/<slug:name>/": Row(
        "api",
        {
            "GET": cells(200, anonymous=401, outsider=403),
            "POST": cells(405, anonymous=401, outsider=403),
            "PUT": cells(403, anonymous=401, qa_lead=400, superuser=400),
            "PATCH": cells(405, anonymous=401, outsider=403),
            "DELETE": cells(405, anonymous=401, outsider=403),
        },
    ),
    "api/v1/queues/": Row(
        "api",
        {
            "GET": cells(200, anonymous=401, outsider=403),
            "POST": cells(405, anonymous=401, outsider=403),
            "PUT": cells(405, anonymous=401, outsider=403),
            "PATCH": cells(405, anonymous=401, outsider=403),
            "DELETE": cells(405, anonymous=401, outsider=403),
        },
    ),
    "api/v1/queues/<int:pk>/": Row(
        "api",
        {
            "GET": cells(200, anonymous=401, outsider=403, reviewer_unassigned=404),
            "POST": cells(405, anonymous=401, outsider=403),
            "PUT": cells(405, anonymous=401, outsider=403),
            "PATCH": cells(405, anonymous=401, outsider=403),
            "DELETE": cells(405, anonymous=401, outsider=403),
        },
    ),
    "api/v1/queues/<int:pk>/claim/": Row(
        "api",
        {
            "GET": cells(405, anonymous=401, outsider=403, viewer=403),
            "POST": cells(200, anonymous=401, outsider=403, reviewer_unassigned=404, viewer=403),
            "PUT": cells(405, anonymous=401, outsider=403, viewer=403),
            "PATCH": cells(405, anonymous=401, outsider=403, viewer=403),
            "DELETE": cells(405, anonymous=401, outsider=403, viewer=403),
        },
    ),
    "api/v1/queues/<int:pk>/skip/": Row(
        "api",
        {
            "GET": cells(405, anonymous=401, outsider=403, viewer=403),
            "POST": cells(400, anonymous=401, outsider=403, reviewer_unassigned=404, viewer=403),
            "PUT": cells(405, anonymous=401, outsider=403, viewer=403),
            "PATCH": cells(405, anonymous=401, outsider=403, viewer=403),
            "DELETE": cells(405, anonymous=401, outsider=403, viewer=403),
        },
    ),
    "api/v1/reviews/": Row(
        "api",
        {
            "GET": cells(405, anonymous=401, outsider=403, viewer=403),
            "POST": cells(400, anonymous=401, outsider=403, viewer=403),
            "PUT": cells(405, anonymous=401, outsider=403, viewer=403),
            "PATCH": cells(405, anonymous=401, outsider=403, viewer=403),
            "DELETE": cells(405, anonymous=401, outsider=403, viewer=403),
        },
    ),
    "api/v1/reviews/mine/": Row(
        "api",
        {
            "GET": cells(200, anonymous=401, outsider=403, viewer=403),
            "POST": cells(405, anonymous=401, outsider=403, viewer=403),
            "PUT": cells(405, anonymous=401, outsider=403, viewer=403),
            "PATCH": cells(405, anonymous=401, outsider=403, viewer=403),
            "DELETE": cells(405, anonymous=401, outsider=403, viewer=403),
        },
    ),
    "api/v1/reviews/<int:pk>/": Row(
        "api",
        {
            "GET": cells(405, anonymous=401, outsider=403, viewer=403),
            "POST": cells(405, anonymous=401, outsider=403, viewer=403),
            "PUT": cells(405, anonymous=401, outsider=403, viewer=403),
            "PATCH": cells(404, anonymous=401, outsider=403, reviewer=200, viewer=403),
            "DELETE": cells(405, anonymous=401, outsider=403, viewer=403),
        },
    ),
    "api/v1/reviews/<int:pk>/undo/": Row(
        "api",
        {
            "GET": cells(405, anonymous=401, outsider=403, viewer=403),
            "POST": cells(404, anonymous=401, outsider=403, reviewer=200, viewer=403),
            "PUT": cells(405, anonymous=401, outsider=403, viewer=403),
            "PATCH": cells(405, anonymous=401, outsider=403, viewer=403),
            "DELETE": cells(405, anonymous=401, outsider=403, viewer=403),
        },
    ),
    "api/v1/alarms/": Row(
        "api",
        {
            "GET": cells(403, anonymous=401, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "PUT": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "PATCH": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
            "DELETE": cells(403, anonymous=401, qa_lead=405, viewer=405, superuser=405),
        },
    ),
    "api/v1/reports/tiers/": Row(
        "api",
        {
            "GET": cells(403, anonymous=401, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=401),
            "PUT": cells(405, anonymous=401),
            "PATCH": cells(405, anonymous=401),
            "DELETE": cells(405, anonymous=401),
        },
    ),
    "api/v1/tokens/": Row(
        "api",
        {
            "GET": cells(200, anonymous=401),
            "POST": cells(400, anonymous=401),
            "PUT": cells(405, anonymous=401),
            "PATCH": cells(405, anonymous=401),
            "DELETE": cells(405, anonymous=401),
        },
    ),
    "api/v1/tokens/<int:pk>/": Row(
        "api",
        {
            "GET": cells(405, anonymous=401),
            "POST": cells(405, anonymous=401),
            "PUT": cells(405, anonymous=401),
            "PATCH": cells(405, anonymous=401),
            "DELETE": cells(404, anonymous=401, qa_lead=204),
        },
    ),
    "review/": Row(
        "page",
        {
            "GET": cells(200, anonymous=LOGIN, outsider=403, viewer=403),
            "POST": cells(200, anonymous=LOGIN, outsider=403, viewer=403),
        },
    ),
    "review/queues/<int:queue_id>/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, reviewer=200, qa_lead=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, reviewer=404, qa_lead=404, superuser=404),
        },
    ),
    "review/queues/<int:queue_id>/skip/": Row(
        "page",
        {
            "GET": cells(405, anonymous=LOGIN, outsider=403, viewer=403),
            "POST": cells(403, anonymous=LOGIN, reviewer=404, qa_lead=404, superuser=404),
        },
    ),
    "review/queues/<int:queue_id>/undo/": Row(
        "page",
        {
            "GET": cells(405, anonymous=LOGIN, outsider=403, viewer=403),
            "POST": cells(403, anonymous=LOGIN, reviewer=302, qa_lead=302, superuser=302),
        },
    ),
    "review/history/": Row(
        "page",
        {
            "GET": cells(200, anonymous=LOGIN, outsider=403, viewer=403),
            "POST": cells(200, anonymous=LOGIN, outsider=403, viewer=403),
        },
    ),
    "review/history/<int:review_id>/": Row(
        "page",
        {
            "GET": cells(404, anonymous=LOGIN, outsider=403, reviewer=200, viewer=403),
            "POST": cells(404, anonymous=LOGIN, outsider=403, reviewer=400, viewer=403),
        },
    ),
    "review/plans/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
        },
    ),
    "review/plans/new/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
        },
    ),
    "review/plans/preview/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
        },
    ),
    "review/plans/<slug:name>/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
        },
    ),
    "review/plans/<slug:name>/edit/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
        },
    ),
    "review/plans/<slug:name>/build/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "review/plans/<slug:name>/adhoc/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "review/adjudication/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=200, superuser=200),
        },
    ),
    "review/adjudication/<int:item_id>/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "reports/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/summary/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/alarms/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(403, anonymous=LOGIN, qa_lead=405, viewer=405, superuser=405),
        },
    ),
    "reports/alarms/recompute/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "reports/alarms/baseline/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "reports/alarms/<int:alarm_id>/acknowledge/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "reports/alarms/<int:alarm_id>/close/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=405, superuser=405),
            "POST": cells(403, anonymous=LOGIN, qa_lead=302, superuser=302),
        },
    ),
    "reports/trends/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/trends/drift/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=404, viewer=404, superuser=404),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/agreement/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/shadow/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/cascade/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/regression.zip": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=404, superuser=404),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "reports/all/": Row(
        "page",
        {
            "GET": cells(403, anonymous=LOGIN, qa_lead=200, viewer=200, superuser=200),
            "POST": cells(405, anonymous=LOGIN),
        },
    ),
    "healthz": Row(
        "page",
        {
            "GET": cells(200),
            "POST": cells(200),
        },
    ),
    "healthz/live": Row(
        "page",
        {
            "GET": cells(200),
            "POST": cells(200),
        },
    ),
    "api/schema/": Row(
        "page",
        {
            "GET": cells(200),
            "POST": cells(405),
        },
    ),
    "account/tokens/": Row(
        "page",
        {
            "GET": cells(200, anonymous=LOGIN),
            "POST": cells(400, anonymous=LOGIN),
        },
    ),
    "account/tokens/<int:token_id>/revoke/": Row(
        "page",
        {
            "GET": cells(405, anonymous=LOGIN),
            "POST": cells(404, anonymous=LOGIN, qa_lead=302),
        },
    ),
}


# --- the fixture ---------------------------------------------------------------------------


@pytest.fixture
def world(db, django_user_model, reviewer, qa_lead, viewer, outsider) -> dict[str, Any]:
    from reviewapp.reports.models import Alarm
    from reviewapp.responses.models import IngestRun, Response, Source
    from reviewapp.review.models import Queue, QueueItem, Review, StratumCount
    from reviewapp.review.services import plan_save

    other = django_user_model.objects.create_user(username="rex", password="pass-rex")
    other.groups.add(Group.objects.get_or_create(name="reviewer")[0])
    root = django_user_model.objects.create_superuser(username="sue", password="pass-sue")
    users = {
        "outsider": outsider,
        "reviewer": reviewer,
        "reviewer_unassigned": other,
        "qa_lead": qa_lead,
        "viewer": viewer,
        "superuser": root,
    }
    source = Source.objects.create(name="matrix-src")
    version = plan_save(
        name="matrix-plan",
        config={"blind": True, "daily_budget": 4},
        sources=[source],
        reviewers=[reviewer],
    )
    day = dt.date(2025, 3, 4)
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=day, population=40, size=4
    )
    stratum = StratumCount.objects.create(
        queue=queue,
        key="cheap|high|in",
        tier="cheap",
        uncertainty_band="high",
        ood_band="in",
        population=40,
        quota=4,
    )
    items = []
    for i in range(4):
        response = Response.objects.create(
            source=source,
            external_id=f"m{i}",
            timestamp=dt.datetime.combine(day, dt.time(9, i), tzinfo=dt.UTC),
            query=f"question {i} {CANARY}",
            response=f"answer {i} {CANARY}",
            tier="cheap",
            model="small",
            router_confidence=0.8,
            uncertainty=0.2,
            ood_percentile=50.0,
            content_hash=f"m{i}",
        )
        items.append(
            QueueItem.objects.create(
                queue=queue,
                response=response,
                stratum=stratum,
                inclusion_probability=0.1,
                required_reviews=2 if i == 1 else 1,
                position=i,
            )
        )
    review = Review.objects.create(item=items[0], reviewer=reviewer, verdict="correct")
    # Item 1 was double-reviewed and the two disagree: it waits for adjudication.
    Review.objects.create(item=items[1], reviewer=reviewer, verdict="correct")
    Review.objects.create(item=items[1], reviewer=qa_lead, verdict="incorrect")
    QueueItem.objects.filter(pk=items[0].pk).update(review_count=1)
    QueueItem.objects.filter(pk=items[1].pk).update(review_count=2)
    alarm = Alarm.objects.create(
        plan=version.plan, tier="cheap", kind="below_target", level="alert", day=day
    )
    run = IngestRun.objects.create(source=source, kind="responses", origin="matrix")
    token, _ = token_create(user=qa_lead, name="qa-lead-token")
    keys = {role: token_create(user=user, name="matrix")[1] for role, user in users.items()}
    params = {
        "queue_id": queue.pk,
        "review_id": review.pk,
        "item_id": items[1].pk,
        "alarm_id": alarm.pk,
        "token_id": token.pk,
        "name": version.plan.name,
    }
    # Patterns whose one parameter is called pk: which object it means, by pattern.
    pk_for = {
        "api/v1/ingest-runs/<int:pk>/rejects/": run.pk,
        "api/v1/queues/<int:pk>/": queue.pk,
        "api/v1/queues/<int:pk>/claim/": queue.pk,
        "api/v1/queues/<int:pk>/skip/": queue.pk,
        "api/v1/reviews/<int:pk>/": review.pk,
        "api/v1/reviews/<int:pk>/undo/": review.pk,
        "api/v1/tokens/<int:pk>/": token.pk,
    }
    return {"users": users, "keys": keys, "params": params, "pk_for": pk_for}


# --- walking the URL patterns -----------------------------------------------------------------


def url_patterns() -> list[tuple[str, Any]]:
    """(pattern string, URLPattern) for every leaf pattern; admin/ is one row of its own."""
    found: list[tuple[str, Any]] = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for entry in resolver.url_patterns:
            pattern = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if pattern == "admin/":
                    found.append((pattern, entry))
                else:
                    walk(entry, pattern)
            else:
                assert isinstance(entry, URLPattern)
                found.append((pattern, entry))

    walk(get_resolver(), "")
    return found


def fill(pattern: str, world: dict[str, Any]) -> str:
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "pk":
            return str(world["pk_for"][pattern])
        return str(world["params"][name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, pattern)


def kind_of(pattern: str) -> str:
    if pattern == "admin/":
        return "admin"
    return "api" if pattern.startswith("api/v1/") else "page"


def outcome(answer: Any) -> int | str:
    from django.conf import settings
    from django.shortcuts import resolve_url

    if answer.status_code == 302:
        location = answer["Location"]
        login = resolve_url(settings.LOGIN_URL)
        if location.startswith(login + "?next="):
            return LOGIN
    return answer.status_code


def clients(world: dict[str, Any]) -> dict[str, tuple[Client, APIClient]]:
    made: dict[str, tuple[Client, APIClient]] = {}
    for role in ROLES:
        page, api = Client(raise_request_exception=False), APIClient(raise_request_exception=False)
        if role != "anonymous":
            page.force_login(world["users"][role])
            api.credentials(HTTP_AUTHORIZATION=f"Token {world['keys'][role]}")
        made[role] = (page, api)
    return made


def request(client: Any, method: str, path: str, kind: str) -> Any:
    """One request inside a savepoint that is always rolled back."""
    call = getattr(client, method.lower())
    # A cell may log the user out (POST logout/) or rotate the session: the database side is
    # rolled back below, the client's cookies are put back here.
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic():
        with_body = kind == "api" and method != "GET"
        answer = call(path, {}, format="json") if with_body else call(path)
        transaction.set_rollback(True)
    client.cookies = cookies
    return answer


def uncovered(names: list[str]) -> tuple[list[str], list[str]]:
    """(patterns without a row, rows without a pattern)."""
    return sorted(set(names) - set(EXPECTED)), sorted(set(EXPECTED) - set(names))


def test_a_new_url_pattern_without_a_row_is_reported():
    names = [p for p, _ in url_patterns()]
    assert uncovered([*names, "api/v1/new-endpoint/"]) == (["api/v1/new-endpoint/"], [])
    assert uncovered(names[1:]) == ([], [names[0]])


# Reachable without signing in; every other row must refuse anonymous users.
PUBLIC = {"login/", "logout/", "healthz", "healthz/live", "api/schema/"}
# Rows where any signed-in user acts on their own things (their tokens).
OWN = {
    "account/tokens/",
    "account/tokens/<int:token_id>/revoke/",
    "api/v1/tokens/",
    "api/v1/tokens/<int:pk>/",
}


def test_the_table_never_gives_anonymous_or_outsiders_data():
    """Rules the table itself must obey, so that a careless new row cannot grant access."""
    for pattern, row in EXPECTED.items():
        for method, by_role in row.methods.items():
            if pattern in PUBLIC:
                continue
            anonymous = by_role["anonymous"]
            if row.kind == "api":
                assert anonymous == 401, (pattern, method)
            elif row.kind == "page":
                assert anonymous == LOGIN, (pattern, method)
            else:
                assert anonymous == 302 and by_role["outsider"] == 302, (pattern, method)
            if pattern not in OWN:
                assert by_role["outsider"] in {403, 405, 302}, (pattern, method)
                assert by_role["outsider"] != 302 or row.kind == "admin", (pattern, method)


def test_every_url_pattern_role_and_method_gets_what_the_table_says(world):
    names = [p for p, _ in url_patterns()]
    missing, stale = uncovered(names)
    if not RECORD:
        assert not missing, f"URL patterns with no row in EXPECTED: {missing}"
        assert not stale, f"rows in EXPECTED for patterns that no longer exist: {stale}"

    by_role = clients(world)
    mismatches: list[str] = []
    leaks: list[str] = []
    observed: dict[str, dict[str, dict[str, int | str]]] = {}
    size = 0
    for pattern in names:
        kind = kind_of(pattern)
        path = fill(pattern, world)
        methods = ("GET",) if kind == "admin" else API_METHODS if kind == "api" else PAGE_METHODS
        observed[pattern] = {}
        for method in methods:
            observed[pattern][method] = {}
            for role in ROLES:
                page, api = by_role[role]
                answer = request(api if kind == "api" else page, method, path, kind)
                got = outcome(answer)
                observed[pattern][method][role] = got
                size += 1
                body = b"" if getattr(answer, "streaming", False) else answer.content
                # A refusal (redirect, 401, 403, 404, 405) never carries the fixture's texts.
                refused = answer.status_code in {302, 401, 403, 404, 405}
                if refused and CANARY.encode() in body:
                    leaks.append(f"{method} {path} as {role}: {answer.status_code} with data")
                if not RECORD:
                    want = EXPECTED[pattern].methods[method][role]
                    if got != want:
                        mismatches.append(f"{method} {path} as {role}: got {got}, want {want}")
    if RECORD:
        import json

        print(json.dumps(observed))
    rows = len(names)
    summary = f"matrix: {rows} URL patterns × {len(ROLES)} roles × methods = {size} cells"
    print(summary)
    assert not leaks, f"{summary}; non-2xx answers with data: {leaks}"
    assert not mismatches, f"{summary}; {len(mismatches)} cells differ:\n" + "\n".join(mismatches)
