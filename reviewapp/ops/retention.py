"""Data retention: after LONGTAIL_RETENTION_DAYS, the customers' words go, the measurements stay.

Redaction empties what people wrote (query, answer, shadow answer, metadata, feedback
comments, the raw text of rejected rows) and drops embeddings. It keeps everything estimates
read: tier, scores, timestamps, costs, the stored strata counts, queue items, reviews and
adjudications — so every report computed before retention gives the same numbers after.
Rows are redacted, not deleted: queue items and reviews point at them (PROTECT).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reviewapp.responses.models import FeedbackEvent, RejectedRecord, Response
from reviewapp.responses.scoring import responses_score

logger = logging.getLogger(__name__)

#: Rows per UPDATE: bounded transactions and memory however much is due.
BATCH = 5_000


@dataclass(frozen=True)
class RetentionResult:
    cutoff: dt.datetime | None
    responses: int = 0
    feedback: int = 0
    rejects: int = 0
    dry_run: bool = False


def retention_days() -> int | None:
    days = settings.LONGTAIL.get("RETENTION_DAYS")
    return int(days) if days else None


def retention_cutoff(*, days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=days)


def _batched_update(queryset, **changes) -> int:  # type: ignore[no-untyped-def]
    done = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not pks:
            return done
        with transaction.atomic():
            done += queryset.model.objects.filter(pk__in=pks).update(**changes)


def retention_apply(
    *, days: int | None = None, now: dt.datetime | None = None, dry_run: bool = False
) -> RetentionResult:
    """Redact everything older than `days` (default: the setting; None = keep forever).

    Idempotent: redacted responses are marked `redacted_at` and never read again."""
    days = retention_days() if days is None else days
    if not days:
        return RetentionResult(cutoff=None, dry_run=dry_run)
    now = now or timezone.now()
    cutoff = retention_cutoff(days=days, now=now)
    responses = Response.objects.filter(timestamp__lt=cutoff, redacted_at__isnull=True)
    feedback = FeedbackEvent.objects.filter(timestamp__lt=cutoff).exclude(comment="")
    rejects = RejectedRecord.objects.filter(created_at__lt=cutoff).exclude(raw="")
    if dry_run:
        return RetentionResult(
            cutoff=cutoff,
            responses=responses.count(),
            feedback=feedback.count(),
            rejects=rejects.count(),
            dry_run=True,
        )
    # Score first: scoring reads the query text and embedding, which are about to go, and a
    # queue built later for an old day must still find its uncertainty and OOD bands.
    unscored_sources = (
        Response.objects.filter(timestamp__lt=cutoff, scored_at__isnull=True)
        .values_list("source_id", flat=True)
        .distinct()
    )
    for source_id in list(unscored_sources):
        responses_score(source_id=source_id)
    # A shadow answer becomes "" (not NULL): the item keeps the fact that it had one.
    had_shadow = _batched_update(
        responses.filter(shadow_response__isnull=False),
        query="",
        response="",
        shadow_response="",
        metadata={},
        embedding=None,
        redacted_at=now,
    )
    result = RetentionResult(
        cutoff=cutoff,
        responses=had_shadow
        + _batched_update(
            responses.filter(shadow_response__isnull=True),
            query="",
            response="",
            metadata={},
            embedding=None,
            redacted_at=now,
        ),
        feedback=_batched_update(feedback, comment=""),
        rejects=_batched_update(rejects, raw=""),
    )
    logger.info(
        "retention: redacted %s responses, %s feedback comments, %s rejected rows before %s",
        result.responses,
        result.feedback,
        result.rejects,
        cutoff.isoformat(),
    )
    return result


__all__ = ["RetentionResult", "retention_apply", "retention_cutoff", "retention_days"]
