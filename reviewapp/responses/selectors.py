"""Reads for the responses app."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import IngestRun, RejectedRecord


def rejected_records(*, run_id: int | None = None) -> QuerySet[RejectedRecord] | None:
    """Rejects, newest run first; None when `run_id` names no run."""
    rejects = RejectedRecord.objects.select_related("run").order_by("-run_id", "line_number", "pk")
    if run_id is None:
        return rejects
    if not IngestRun.objects.filter(pk=run_id).exists():
        return None
    return rejects.filter(run_id=run_id)


def source_overview() -> list[dict[str, object]]:
    """Per source: responses per tier and the latest ingest run, for the home page."""
    from django.db.models import Count, Max

    from .models import Response, Source

    overview = []
    for source in Source.objects.all():
        tiers = list(
            Response.objects.filter(source=source)
            .values("tier")
            .annotate(responses=Count("id"), latest=Max("timestamp"))
            .order_by("tier")
        )
        overview.append(
            {
                "source": source,
                "tiers": tiers,
                "total": sum(t["responses"] for t in tiers),
                "last_run": source.ingest_runs.order_by("-started_at").first(),
            }
        )
    return overview
