"""python manage.py build_queue --plan NAME [--date YYYY-MM-DD] [--seed N]

Builds a plan's probability queue for one day (default: yesterday, UTC). Building the same
(plan, day) again changes nothing and says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.review.models import Plan
from reviewapp.review.services import queue_build


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date {value!r} is not a date like 2025-03-14.") from None


class Command(BaseCommand):
    help = "Build a plan's review queue for one day (default: yesterday, UTC)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", required=True, help="the plan's name")
        parser.add_argument("--date", help="YYYY-MM-DD, default yesterday (UTC)")
        parser.add_argument("--seed", type=int, help="default: derived from plan and day")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan.objects.filter(name=options["plan"]).first()
        if plan is None:
            names = ", ".join(Plan.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No plan named {options['plan']!r} (plans: {names}).")
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        day = _day(options["date"]) if options["date"] else yesterday
        if day > dt.datetime.now(dt.UTC).date():
            raise CommandError(f"--date {day} is in the future.")
        try:
            queue, created = queue_build(plan=plan, day=day, seed=options["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        verb = "Built" if created else "Already built (nothing changed):"
        self.stdout.write(
            f"{verb} queue {queue.pk} for {plan.name} v{queue.plan_version.number} on "
            f"{day:%Y-%m-%d}: population {queue.population}, size {queue.size}, "
            f"seed {queue.seed}"
        )
        strata = list(queue.strata.order_by("key"))
        if not strata:
            return
        width = max(len("stratum"), *(len(s.key) for s in strata))
        self.stdout.write(f"{'stratum':<{width}}  {'N_h':>8}  {'n_h':>6}  {'pi':>8}")
        for stratum in strata:
            self.stdout.write(
                f"{stratum.key:<{width}}  {stratum.population:>8}  {stratum.quota:>6}  "
                f"{stratum.inclusion_probability:>8.4f}"
            )
