"""python manage.py compute_drift --since YYYY-MM-DD [--until YYYY-MM-DD] [--source NAME ...]
[--missing] [--alarms]

Computes and stores the router-confidence drift (`DailyDrift`: PSI, KS, Wasserstein/σ per
source, tier and UTC day) of every day in since..until (default until: the source's last
answer) on which the source has answers with a router confidence. Ingest keeps these rows
current; this backfills days ingested before drift was stored, or recomputes after a
reference set changed. Idempotent: a recomputed day updates its rows in place. Each tier is
compared like with like (`services.DriftReference.for_tier`: its router label's reference
records, else its own first production days); the output counts the tier-days of each kind.

--missing computes only the days that have no row yet; --alarms also raises the days' drift
alarms from the rows (as ingest does; new alarms are notified).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max, Min

from reviewapp.reports.models import DailyDrift
from reviewapp.reports.services import (
    alarms_compute_drift,
    drift_compute,
    drift_compute_missing,
    drift_reference,
)
from reviewapp.responses.models import Response, Source


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r}: give a day as YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Compute and store daily router-confidence drift per source, tier and day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (default: the last answer's)")
        parser.add_argument(
            "--source", action="append", dest="sources", help="a source name (repeatable)"
        )
        parser.add_argument("--missing", action="store_true", help="only days without a stored row")
        parser.add_argument("--alarms", action="store_true", help="also raise drift alarms")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _day(options["since"], "--since")
        until = _day(options["until"], "--until") if options["until"] else None
        if until is not None and until < since:
            raise CommandError(f"--until {until} is before --since {since}")
        names = options["sources"] or []
        sources = list(Source.objects.filter(name__in=names) if names else Source.objects.all())
        unknown = sorted(set(names) - {s.name for s in sources})
        if unknown:
            raise CommandError(f"no such source: {', '.join(unknown)}")
        for source in sorted(sources, key=lambda s: s.name):
            self._source(source, since, until, missing=options["missing"], alarms=options["alarms"])

    def _source(
        self, source: Source, since: dt.date, until: dt.date | None, *, missing: bool, alarms: bool
    ) -> None:
        reference = drift_reference(source)
        if reference is None:
            self.stdout.write(f"{source.name}: no reference set with router confidence, skipped")
            return
        bounds = Response.objects.filter(source=source).aggregate(
            first=Min("timestamp"), last=Max("timestamp")
        )
        if bounds["first"] is None:
            self.stdout.write(f"{source.name}: no answers, skipped")
            return
        start = max(since, bounds["first"].astimezone(dt.UTC).date())
        end = bounds["last"].astimezone(dt.UTC).date()
        if until is not None:
            end = min(until, end)
        if missing:
            days = drift_compute_missing(source=source, start=start, end=end)
        else:
            days = []
            day = start
            while day <= end:
                if drift_compute(source=source, day=day, reference=reference):
                    days.append(day)
                day += dt.timedelta(days=1)
        raised = 0
        if alarms:
            for day in days:
                raised += len(alarms_compute_drift(source=source, day=day, recompute=False))
        stored = DailyDrift.objects.filter(source=source, day__gte=start, day__lte=end)
        rows = stored.count()
        own = stored.filter(reference_kind=DailyDrift.ReferenceKind.PRODUCTION_WINDOW).count()
        self.stdout.write(
            f"{source.name}: {len(days)} days computed ({start} to {end}), "
            f"{rows} tier-day rows stored in the window"
            + (f" ({own} compared with the tier's own first days)" if own else "")
            + (f", {raised} drift alarms raised or refreshed" if alarms else "")
        )
