"""Celery tasks of the review app: thin, ids in, one service call each.

Beat runs `build_daily_queues` once a day (settings.CELERY_BEAT_SCHEDULE): each active plan
gets its queue for the previous UTC day. `queue_build` is idempotent per (plan, day) — a
unique constraint decides a race — so a task sent twice, or retried, builds once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError

from .models import Plan
from .services import NoTraffic, queue_build

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def build_daily_queues(day: str | None = None) -> list[int]:
    """Send one build per active plan with a version, for `day` (ISO; default yesterday)."""
    day = day or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    plan_ids = list(
        Plan.objects.filter(active=True, current_version__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for plan_id in plan_ids:
        try:
            build_plan_queue.delay(plan_id, day)
        except Exception:
            # Run eagerly (no broker), one plan's failure must not stop the others.
            logger.exception("queue build of plan %s for %s failed", plan_id, day)
    return plan_ids


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=4,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
)
def build_plan_queue(self: Any, plan_id: int, day: str) -> dict[str, Any]:
    """Build one plan's queue for one day; retried when the database is briefly away."""
    plan = Plan.objects.filter(pk=plan_id, active=True).first()
    if plan is None:
        return {"plan": plan_id, "skipped": "no such active plan"}
    try:
        queue, created = queue_build(plan=plan, day=dt.date.fromisoformat(day))
    except NoTraffic as exc:
        return {"plan": plan_id, "skipped": str(exc)}
    return {"plan": plan_id, "queue": queue.pk, "created": created, "size": queue.size}
