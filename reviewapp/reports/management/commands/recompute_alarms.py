"""python manage.py recompute_alarms --plan NAME [--since YYYY-MM-DD] [--until YYYY-MM-DD]

Recompute a plan's quality alarms (below target, CUSUM) for its queue days in a range, or
for every queue day without one, in this process; idempotent (an alarm raised again is
refreshed, never doubled). Prints each alarm raised or refreshed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.reports.services import alarms_compute_quality, alarms_compute_quality_all
from reviewapp.review.models import Queue
from reviewapp.review.services_access import AccessError, plan_named


def _day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not a date like 2025-03-14.") from None


class Command(BaseCommand):
    help = "Recompute a plan's quality alarms for a range of queue days (default: all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", required=True)
        parser.add_argument("--since", help="first day, YYYY-MM-DD")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (inclusive)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            plan = plan_named(options["plan"])
        except AccessError as exc:
            raise CommandError(str(exc)) from None
        since, until = _day(options["since"], "--since"), _day(options["until"], "--until")
        if since and until and since > until:
            raise CommandError(f"--since {since} is after --until {until}.")
        days = Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY).order_by("day")
        if since:
            days = days.filter(day__gte=since)
        if until:
            days = days.filter(day__lte=until)
        queue_days = list(days.values_list("day", flat=True))
        if not queue_days:
            self.stdout.write(f"Plan {plan.name} has no queue in that range: nothing to compute.")
            return
        if since is None and until is None:
            alarms = alarms_compute_quality_all(plan=plan)
        else:
            alarms = [a for day in queue_days for a in alarms_compute_quality(plan=plan, day=day)]
        self.stdout.write(
            f"Plan {plan.name}: {len(queue_days)} queue day(s), {queue_days[0]} to "
            f"{queue_days[-1]}; {len(alarms)} alarm(s) raised or refreshed."
        )
        for alarm in alarms:
            self.stdout.write(
                f"  {alarm.day}  {alarm.tier}  {alarm.get_kind_display()}  "
                f"{alarm.get_level_display()}  ({alarm.get_status_display()})"
            )
