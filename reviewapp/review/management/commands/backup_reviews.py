from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.ops.backup import plan_backup
from reviewapp.review.models import Plan


class Command(BaseCommand):
    help = (
        "Write one plan's versions, queues, strata, items, reviews, adjudications and audit "
        "rows as JSONL (responses referenced by source name and external id)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", required=True, help="the plan's name")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan.objects.filter(name=options["plan"]).first()
        if plan is None:
            raise CommandError(f"no plan named {options['plan']!r}")
        if options["out"]:
            with open(options["out"], "w", encoding="utf-8") as out:
                counts = plan_backup(plan=plan, out=out)
        else:
            counts = plan_backup(plan=plan, out=sys.stdout)
        summary = ", ".join(f"{kind}: {n}" for kind, n in counts.items())
        # The summary goes to stderr when the backup itself is on stdout.
        (self.stdout if options["out"] else self.stderr).write(f"backed up {plan.name}: {summary}")
