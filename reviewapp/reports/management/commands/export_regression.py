"""`python manage.py export_regression --plan NAME [--days 28] [--end YYYY-MM-DD] [--out DIR]`

Writes the plan's living regression suite: one `<tier>.jsonl` per tier of the reviewed items
of its probability queues over the last `--days` days (ending on `--end`, default the plan's
latest queue day), and `manifest.json` with every stratum's traffic share. Gold copies and
ad-hoc queues are never exported (see reviewapp/reports/regression.py). Run it daily (cron or
a beat entry) to keep the suite following production.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.reports.regression import (
    DEFAULT_DAYS,
    regression_export,
    regression_window,
    regression_write,
)
from reviewapp.review.models import Plan


class Command(BaseCommand):
    help = "Export recent reviewed items as tier-split JSONL regression sets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", required=True)
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
        parser.add_argument("--end", help="Last day, YYYY-MM-DD (default: latest queue day)")
        parser.add_argument("--out", default="regression", help="Directory (default ./regression)")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan.objects.filter(name=options["plan"]).first()
        if plan is None:
            raise CommandError(f"No plan named {options['plan']!r}.")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        end = None
        if options.get("end"):
            try:
                end = dt.date.fromisoformat(options["end"])
            except ValueError:
                raise CommandError("--end must be YYYY-MM-DD.") from None
        start, end = regression_window(plan=plan, days=options["days"], end=end)
        export = regression_export(plan=plan, start=start, end=end)
        paths = regression_write(export, Path(options["out"]))
        for tier, lines in export.tiers.items():
            self.stdout.write(f"{tier}: {len(lines)} items")
        self.stdout.write(
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d}: wrote {len(paths)} files to {options['out']} "
            f"(covering {100 * export.manifest['covered_share']:.1f} % of the window's traffic)"
        )
