"""Beat runs `apply_retention` daily (settings.CELERY_BEAT_SCHEDULE); it does nothing when no
retention is set, and redacting twice changes nothing."""

from __future__ import annotations

from celery import shared_task

from .retention import retention_apply


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=60, max_retries=3)
def apply_retention() -> int:
    return retention_apply().responses
