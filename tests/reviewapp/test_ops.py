"""Operations: /healthz, request ids in logs, plan backup and restore, data retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import socket

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from reviewapp.ops.backup import BackupError, plan_backup, plan_restore
from reviewapp.ops.logs import JsonFormatter
from reviewapp.ops.retention import retention_apply
from reviewapp.reports.selectors import tier_report
from reviewapp.responses.models import Response
from reviewapp.review.models import (
    Adjudication,
    Plan,
    PlanVersion,
    Queue,
    QueueItem,
    Review,
    ReviewAudit,
    StratumCount,
)

from .reports.tiny_design import DAY, build

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- /healthz --------------------------------------------------------------------------------


def test_healthz_reports_database_and_eager_broker(client):
    # No broker configured (the embedded default; CI sets one, so clear it here).
    with override_settings(CELERY_BROKER_URL=""):
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"database": "ok", "broker": "eager"}


@pytest.mark.redis
def test_healthz_reaches_a_real_broker(client, redis_url):
    with override_settings(CELERY_BROKER_URL=redis_url):
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"database": "ok", "broker": "ok"}


def test_healthz_is_503_naming_an_unreachable_broker(client):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        answer = client.get("/healthz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")


def test_healthz_live_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = client.get("/healthz/live")
    assert answer.status_code == 200 and answer.content == b"ok"


def test_healthz_live_touches_nothing_for_a_signed_in_browser_either(
    client, viewer, django_assert_num_queries
):
    # The request log line must not load the session and user the view never asked for.
    client.force_login(viewer)
    with django_assert_num_queries(0):
        answer = client.get("/healthz/live")
    assert answer.status_code == 200 and answer.content == b"ok"


# --- request ids and structured logs ----------------------------------------------------------


def test_a_valid_request_id_round_trips_and_tags_the_logs(client, caplog):
    with caplog.at_level(logging.INFO, logger="reviewapp.request"):
        answer = client.get("/healthz/live", HTTP_X_REQUEST_ID="abc-123_x.Y")
    assert answer["X-Request-ID"] == "abc-123_x.Y"
    lines = [r for r in caplog.records if r.name == "reviewapp.request"]
    assert lines and all(r.request_id == "abc-123_x.Y" for r in lines)
    assert lines[-1].status == 200 and lines[-1].path == "/healthz/live"
    assert lines[-1].duration_ms >= 0


@pytest.mark.parametrize("given", ["", "has space", "x" * 65, "new\nline", "<script>"])
def test_an_invalid_request_id_is_replaced(client, given):
    answer = client.get("/healthz/live", HTTP_X_REQUEST_ID=given)
    made = answer["X-Request-ID"]
    assert made != given and len(made) == 32 and int(made, 16) >= 0


def test_records_logged_inside_a_view_carry_the_request_id_and_user(client, viewer, caplog):
    client.force_login(viewer)
    with caplog.at_level(logging.INFO):
        answer = client.get("/reports/", HTTP_X_REQUEST_ID="req-42")
    assert answer.status_code == 200
    tagged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-42"]
    assert tagged, "no record carried the request id"
    summary = [r for r in tagged if r.name == "reviewapp.request"][-1]
    assert summary.user_id == viewer.pk


def test_records_outside_a_request_have_no_id(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("reviewapp.test").info("outside")
    assert not hasattr(caplog.records[-1], "request_id")


def test_json_lines_carry_the_context_fields():
    record = logging.LogRecord("reviewapp.x", logging.WARNING, __file__, 1, "hi %s", ("you",), None)
    record.request_id, record.path, record.user_id = "r1", "/p", 7
    record.status, record.duration_ms = 201, 3.5
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hi you" and line["level"] == "WARNING"
    assert {k: line[k] for k in ("request_id", "path", "user_id", "status", "duration_ms")} == {
        "request_id": "r1",
        "path": "/p",
        "user_id": 7,
        "status": 201,
        "duration_ms": 3.5,
    }
    assert dt.datetime.fromisoformat(line["time"]).tzinfo is not None


def test_a_task_logs_with_its_task_id(caplog):
    from reviewapp.ops.tasks import apply_retention

    with (
        override_settings(LONGTAIL={**settings.LONGTAIL, "RETENTION_DAYS": 30}),
        caplog.at_level(logging.INFO, logger="reviewapp.ops.retention"),
    ):
        result = apply_retention.apply()
    lines = [r for r in caplog.records if r.name == "reviewapp.ops.retention"]
    assert lines and lines[-1].task_id == result.id == lines[-1].request_id


def test_an_eager_task_inside_a_request_keeps_the_request_id_and_hands_it_back(caplog):
    from reviewapp.ops.logs import LogContext, current
    from reviewapp.ops.tasks import apply_retention

    outer = LogContext(request_id="req-outer", path="/api/v1/responses/")
    token = current.set(outer)
    try:
        with (
            override_settings(LONGTAIL={**settings.LONGTAIL, "RETENTION_DAYS": 30}),
            caplog.at_level(logging.INFO, logger="reviewapp.ops.retention"),
        ):
            result = apply_retention.apply()
        assert current.get() is outer
    finally:
        current.reset(token)
    line = [r for r in caplog.records if r.name == "reviewapp.ops.retention"][-1]
    assert (line.request_id, line.task_id) == ("req-outer", result.id)


# --- backup and restore -----------------------------------------------------------------------


def _numbers(plan_name: str) -> list[tuple]:
    plan = Plan.objects.get(name=plan_name)
    rows = tier_report(plan=plan, start=DAY, end=DAY)
    assert rows and any(r.reviewed for r in rows)
    return [dataclasses.astuple(r) for r in rows]


def _plan_with_review_work(reviewer, qa_lead):
    plan = build(reviewer=reviewer)
    item = QueueItem.objects.filter(queue__plan=plan).order_by("pk").first()
    item.required_reviews = 2
    item.review_count = 2
    item.save()
    second = Review.objects.create(item=item, reviewer=qa_lead, verdict="incorrect")
    Adjudication.objects.create(item=item, verdict="incorrect", adjudicator=qa_lead)
    ReviewAudit.objects.create(
        review_id_value=second.pk,
        item=item,
        actor=qa_lead,
        action="create",
        after={"verdict": "incorrect"},
    )
    return plan


def _delete_plan(plan: Plan) -> None:
    items = QueueItem.objects.filter(queue__plan=plan)
    ReviewAudit.objects.filter(item__in=items).delete()
    Adjudication.objects.filter(item__in=items).delete()
    Review.objects.filter(item__in=items).delete()
    items.delete()
    StratumCount.objects.filter(queue__plan=plan).delete()
    Queue.objects.filter(plan=plan).delete()
    Plan.objects.filter(pk=plan.pk).update(current_version=None)
    PlanVersion.objects.filter(plan=plan).delete()
    plan.delete()


def _table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Plan, PlanVersion, Queue, StratumCount, QueueItem, Review)
        + (Adjudication, ReviewAudit)
    }


def test_backup_delete_restore_gives_the_same_report(reviewer, qa_lead, tmp_path):
    plan = _plan_with_review_work(reviewer, qa_lead)
    before = _numbers("tiny")
    reviews_before = sorted(
        Review.objects.filter(item__queue__plan=plan).values_list(
            "item__response__external_id", "reviewer__username", "verdict", "created_at"
        )
    )
    path = tmp_path / "tiny.jsonl"
    call_command("backup_reviews", "--plan", "tiny", "--out", str(path))
    kinds = [json.loads(line)["kind"] for line in path.read_text().splitlines()]
    assert kinds[0] == "plan" and {"item", "review", "adjudication", "audit"} <= set(kinds)
    # No primary key of a response leaves the database: items name source and external id.
    item_row = next(json.loads(x) for x in path.read_text().splitlines() if '"item"' in x)
    assert item_row["response"][1].startswith("t") and "response_id" not in item_row

    _delete_plan(plan)
    assert not Plan.objects.filter(name="tiny").exists()
    call_command("restore_reviews", str(path))

    assert _numbers("tiny") == before
    restored = Plan.objects.get(name="tiny")
    assert (
        sorted(
            Review.objects.filter(item__queue__plan=restored).values_list(
                "item__response__external_id", "reviewer__username", "verdict", "created_at"
            )
        )
        == reviews_before
    )
    assert Adjudication.objects.filter(item__queue__plan=restored).count() == 1
    audit = ReviewAudit.objects.get(item__queue__plan=restored)
    assert Review.objects.get(pk=audit.review_id_value).reviewer == qa_lead


def test_restoring_twice_changes_nothing(reviewer, qa_lead, tmp_path):
    plan = _plan_with_review_work(reviewer, qa_lead)
    path = tmp_path / "tiny.jsonl"
    with path.open("w") as out:
        plan_backup(plan=plan, out=out)
    counts_before = _table_counts()
    again = plan_restore(path=str(path))  # into the database it came from
    assert _table_counts() == counts_before
    assert sum(again.created.values()) == 0 and again.existing["review"] == 10
    # Under a new name it is a second, equal plan.
    plan_restore(path=str(path), name="tiny-copy")
    plan_restore(path=str(path), name="tiny-copy")
    assert _numbers("tiny-copy") == _numbers("tiny")
    assert Review.objects.filter(item__queue__plan__name="tiny-copy").count() == 10


def test_restore_names_missing_responses_and_writes_nothing(reviewer, qa_lead, tmp_path):
    plan = _plan_with_review_work(reviewer, qa_lead)
    path = tmp_path / "tiny.jsonl"
    with path.open("w") as out:
        plan_backup(plan=plan, out=out)
    _delete_plan(plan)
    items = [json.loads(line) for line in path.read_text().splitlines() if '"kind": "item"' in line]
    Response.objects.filter(external_id__in=[row["response"][1] for row in items[:2]]).delete()
    counts = _table_counts()
    with pytest.raises(BackupError, match="2 responses of the backup are not in this database"):
        plan_restore(path=str(path))
    assert _table_counts() == counts
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not in this database"):
        call_command("restore_reviews", str(path))


def test_restore_creates_unknown_reviewers_as_inactive_accounts(reviewer, qa_lead, tmp_path):
    plan = _plan_with_review_work(reviewer, qa_lead)
    path = tmp_path / "tiny.jsonl"
    with path.open("w") as out:
        plan_backup(plan=plan, out=out)
    text = path.read_text().replace('"quinn"', '"someone-else"')
    path.write_text(text)
    counts = plan_restore(path=str(path), name="other")
    assert counts.created_users == ["someone-else"]
    from django.contrib.auth import get_user_model

    ghost = get_user_model().objects.get(username="someone-else")
    assert not ghost.is_active and not ghost.has_usable_password()


# --- retention --------------------------------------------------------------------------------


def test_retention_redacts_old_texts_and_keeps_the_estimates(reviewer, qa_lead):
    plan = _plan_with_review_work(reviewer, qa_lead)
    source = plan.current_version.sources.get()
    old = Response.objects.filter(pk__in=list(source.responses.values_list("pk", flat=True)))
    old.update(
        shadow_response="the shadow said so",
        metadata={"email": "a@b.c"},
        embedding=b"\0" * 8,
        scored_at=timezone.now(),
    )
    recent = Response.objects.create(
        source=source,
        external_id="recent",
        timestamp=timezone.now() - dt.timedelta(days=2),
        query="what is my balance",
        response="42",
        tier="cheap",
        metadata={"email": "x@y.z"},
        content_hash="r",
    )
    before = _numbers("tiny")

    out = io.StringIO()
    call_command("apply_retention", "--days", "30", "--dry-run", stdout=out)
    assert f"would redact: {old.count()} responses" in out.getvalue()
    assert Response.objects.filter(redacted_at__isnull=False).count() == 0

    result = retention_apply(days=30)
    assert result.responses == old.count() == 9
    for response in Response.objects.exclude(pk=recent.pk):
        assert (response.query, response.response, response.shadow_response) == ("", "", "")
        assert response.metadata == {} and response.embedding is None
        assert response.redacted_at is not None and response.tier in {"cheap", "capable"}
    recent.refresh_from_db()
    assert (recent.query, recent.metadata, recent.redacted_at) == (
        "what is my balance",
        {"email": "x@y.z"},
        None,
    )
    assert _numbers("tiny") == before
    assert retention_apply(days=30).responses == 0


def test_retention_unset_keeps_everything(reviewer):
    build(reviewer=reviewer)
    out = io.StringIO()
    with override_settings(LONGTAIL={**settings.LONGTAIL, "RETENTION_DAYS": None}):
        call_command("apply_retention", stdout=out)
    assert "everything is kept" in out.getvalue()
    assert not Response.objects.filter(redacted_at__isnull=False).exists()
