"""Celery tasks of the reports app: thin, ids in, one service call each.

- `compute_alarms_for_day(plan_id, day)`: quality alarms (below target, CUSUM) of one plan and
  day. Beat runs `compute_recent_alarms` every hour, for today and yesterday of every active
  plan; alarms are unique per (plan, tier, kind, day), so recomputing is harmless.
- `compute_drift_alarms(source_id, day)`: drift alarms of one source and day; ingest sends
  `compute_drift_alarms_after_ingest(source_id, since)` once its run commits, for every day
  the run wrote.
- `notify_alarm_email` / `notify_alarm_webhook`: sent after a new alarm commits; retried with
  exponential backoff (ALARM_RETRY_BASE_SECONDS × 2^attempt, up to ALARM_MAX_RETRIES).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from reviewapp.responses.models import Source
from reviewapp.review.models import Plan

from . import services

logger = logging.getLogger(__name__)

MAX_RETRIES = int(settings.LONGTAIL.get("ALARM_MAX_RETRIES", 5))
EAGER_BACKOFF_CAP_SECONDS = 2.0


def _backoff(retries: int) -> float:
    return float(settings.LONGTAIL.get("ALARM_RETRY_BASE_SECONDS", 30)) * 2**retries


@shared_task(ignore_result=True)
def compute_recent_alarms() -> list[int]:
    """Send today's and yesterday's quality-alarm computation for every active plan."""
    today = dt.datetime.now(dt.UTC).date()
    plan_ids = list(
        Plan.objects.filter(active=True, current_version__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for plan_id in plan_ids:
        for day in (today - dt.timedelta(days=1), today):
            try:
                compute_alarms_for_day.delay(plan_id, day.isoformat())
            except Exception:
                # Run eagerly, one plan's failure must not stop the others.
                logger.exception("alarms of plan %s for %s failed", plan_id, day)
    return plan_ids


@shared_task(
    bind=True, acks_late=True, max_retries=4, autoretry_for=(OperationalError,), retry_backoff=60
)
def compute_alarms_for_day(self: Any, plan_id: int, day: str) -> dict[str, Any]:
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return {"plan": plan_id, "skipped": "no such plan"}
    alarms = services.alarms_compute_quality(plan=plan, day=dt.date.fromisoformat(day))
    return {"plan": plan_id, "day": day, "alarms": [a.pk for a in alarms]}


@shared_task(
    bind=True, acks_late=True, max_retries=4, autoretry_for=(OperationalError,), retry_backoff=60
)
def compute_alarms_for_plan(self: Any, plan_id: int) -> dict[str, Any]:
    """Every queue day of the plan (the QA lead's "recompute all" button)."""
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        return {"plan": plan_id, "skipped": "no such plan"}
    alarms = services.alarms_compute_quality_all(plan=plan)
    return {"plan": plan_id, "alarms": [a.pk for a in alarms]}


@shared_task(
    bind=True, acks_late=True, max_retries=4, autoretry_for=(OperationalError,), retry_backoff=60
)
def compute_drift_alarms(self: Any, source_id: int, day: str) -> dict[str, Any]:
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        return {"source": source_id, "skipped": "no such source"}
    alarms = services.alarms_compute_drift(source=source, day=dt.date.fromisoformat(day))
    return {"source": source_id, "day": day, "alarms": [a.pk for a in alarms]}


@shared_task(ignore_result=True)
def compute_drift_alarms_after_ingest(source_id: int, since: str) -> list[str]:
    """One `compute_drift_alarms` per UTC day of the responses written since `since`."""
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        return []
    days = services.drift_days_since(source=source, since=dt.datetime.fromisoformat(since))
    for day in days:
        try:
            compute_drift_alarms.delay(source_id, day.isoformat())
        except Exception:
            logger.exception("drift alarms of source %s for %s failed", source_id, day)
    return [d.isoformat() for d in days]


def _retry(task: Any, exc: Exception, alarm_id: int) -> int:
    """Retry with exponential backoff. Run eagerly (no broker), Celery propagates the Retry
    instead of running the next attempt, so the attempts run here, with the backoff capped at
    EAGER_BACKOFF_CAP_SECONDS so that the embedded default is not held up for minutes."""
    retries = task.request.retries
    if not task.request.is_eager:
        raise task.retry(exc=exc, countdown=_backoff(retries)) from exc
    if retries >= task.max_retries:
        raise exc
    time.sleep(min(_backoff(retries), EAGER_BACKOFF_CAP_SECONDS))
    return int(task.apply(args=(alarm_id,), retries=retries + 1, throw=True).get())


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def notify_alarm_email(self: Any, alarm_id: int) -> int:
    try:
        return services.alarm_send_email(alarm_id=alarm_id)
    except Exception as exc:
        return _retry(self, exc, alarm_id)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def notify_alarm_webhook(self: Any, alarm_id: int) -> int:
    try:
        return services.alarm_post_webhook(alarm_id=alarm_id)
    except services.WebhookError as exc:
        return _retry(self, exc, alarm_id)
