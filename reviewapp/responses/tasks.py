"""Celery tasks of the responses app: thin, ids in, one service call each.

Beat runs `pull_all_sources` every PULL_INTERVAL_SECONDS (settings.CELERY_BEAT_SCHEDULE).
Pulls are idempotent: each starts from the source's stored watermark, re-read records are
upserts, and a second pull of a source that is already being pulled does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError

from .connectors import PULL_KINDS, SourceBusy
from .models import IngestRun, Source
from .services import source_pull

logger = logging.getLogger(__name__)

# Retries only help with what passes (a server restarting, a timeout); they stay within the
# beat interval's order of magnitude: 30 s, 60 s, 120 s, 240 s.
MAX_RETRIES = 4
RETRY_BASE_SECONDS = 30


@shared_task(ignore_result=True)
def pull_all_sources() -> list[int]:
    """Start a pull of every active http and sql source; returns their ids."""
    source_ids = list(
        Source.objects.filter(active=True, kind__in=PULL_KINDS)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for source_id in source_ids:
        try:
            pull_source.delay(source_id)
        except Exception:
            # Run eagerly (no broker), a source's failure surfaces here: it must not keep the
            # other sources from being pulled.
            logger.exception("pull of source %s failed", source_id)
    return source_ids


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=MAX_RETRIES,
    autoretry_for=(OperationalError,),
    retry_backoff=RETRY_BASE_SECONDS,
)
def pull_source(self: Any, source_id: int) -> dict[str, Any]:
    """Pull one source; retried with backoff when the failure may be transient."""
    source = Source.objects.filter(pk=source_id, active=True, kind__in=PULL_KINDS).first()
    if source is None:
        return {"source": source_id, "skipped": "no such active http or sql source"}
    try:
        result = source_pull(source=source)
    except SourceBusy:
        return {"source": source_id, "skipped": "already being pulled"}
    run = result.run
    if run.status == IngestRun.Status.FAILED and result.transient and not self.request.is_eager:
        raise self.retry(countdown=RETRY_BASE_SECONDS * 2**self.request.retries)
    return {
        "source": source_id,
        "run": run.pk,
        "status": run.status,
        "created": run.created_count,
        "updated": run.updated_count,
        "unchanged": run.unchanged_count,
        "rejected": run.rejected_count,
        "error": run.error,
    }


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, autoretry_for=(OperationalError,))
def score_source(self: Any, source_id: int) -> int:
    """Score the source's responses that have no uncertainty / OOD scores yet (idempotent)."""
    from .scoring import responses_score

    return responses_score(source_id=source_id)
