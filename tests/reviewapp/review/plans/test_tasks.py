"""The daily beat task against a real Celery worker on Redis."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from reviewapp.review.models import Queue, QueueItem
from reviewapp.review.tasks import build_daily_queues, build_plan_queue

from .conftest import make_responses


@pytest.mark.redis
def test_build_daily_queues_sent_twice_builds_once(celery_worker, plan, traffic):
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    make_responses(traffic, yesterday, {("cheap", 0.9, 50.0): 80, ("capable", 0.5, 50.0): 40}, "y")
    build_daily_queues.delay()
    build_daily_queues.delay()
    # The worker is solo: once this later task has run, the four before it have too.
    deadline = time.monotonic() + 60
    while not Queue.objects.filter(plan=plan, day=yesterday).exists():
        assert time.monotonic() < deadline, "no queue built within 60 s"
        time.sleep(0.2)
    result = build_plan_queue.delay(plan.pk, yesterday.isoformat()).get(timeout=60)
    assert result["created"] is False
    queue = Queue.objects.get(plan=plan, day=yesterday)
    assert queue.population == 120 and queue.size == 60
    assert QueueItem.objects.filter(queue__plan=plan).count() == 60


def test_build_daily_queues_skips_inactive_plans(plan):
    plan.active = False
    plan.save()
    assert build_daily_queues() == []
    assert not Queue.objects.exists()
