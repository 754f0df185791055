"""`python manage.py report tiers|strata|drift|agreement [--plan NAME] [--start D] [--end D]
[--method wilson|korn-graubard] [--format table|csv|json]`

Prints a report table: the same cells as the report page and its CSV (`csv` is that very CSV,
first line included; `json` the unrounded records). Defaults are the page's: the plan with the
latest queue, the last 14 days of its queues.

A subcommand is one function in SUBCOMMANDS: `(options) -> Report`, where `options` holds the
parsed arguments (plan is a Plan, start/end dates, method) — add yours there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from reviewapp.reports.exports import Table, csv_lines, report_title
from reviewapp.reports.forms import ReportForm
from reviewapp.reports.selectors import METHODS
from reviewapp.reports.tables import BY_CHOICES, tier_report
from reviewapp.review.models import Plan


@dataclass
class Report:
    """What a subcommand returns: a title for the header line and the table."""

    title: str
    table: Table
    empty_message: str = ""


def _estimates(by: str) -> Callable[[dict[str, Any]], Report]:
    def run(options: dict[str, Any]) -> Report:
        report = tier_report(
            plan=options["plan"],
            start=options["start"],
            end=options["end"],
            method=options["method"],
            by=by,
        )
        return Report(
            title=f"tier report ({BY_CHOICES[by][0]})",
            table=report.table,
            empty_message="No queue of this plan in the window, so no estimate.",
        )

    return run


def _drift(options: dict[str, Any]) -> Report:
    """The trends page's drift table: per source, tier and day, router confidence against
    the reference (PSI, Wasserstein / SD, KS); JSON records carry the same fields unrounded."""
    from dataclasses import asdict

    from reviewapp.reports import trends

    points = trends.drift_series(plan=options["plan"], start=options["start"], end=options["end"])
    table = trends.drift_table(points)
    table.records = [asdict(p) for p in points]
    return Report(
        title="router-confidence drift per source, tier and day",
        table=table,
        empty_message="No production answer with a router confidence in the window, "
        "so no drift figure.",
    )


def _agreement(options: dict[str, Any]) -> Report:
    from reviewapp.reports.selectors_quality import agreement_report, agreement_summary_table

    report = agreement_report(plan=options["plan"], start=options["start"], end=options["end"])
    return Report(
        title="reviewer agreement (alpha overall, kappa per pair)",
        table=agreement_summary_table(report),
        empty_message="No item in the window has two reviews, so no agreement figure.",
    )


SUBCOMMANDS: dict[str, Callable[[dict[str, Any]], Report]] = {
    "tiers": _estimates("tier"),
    "strata": _estimates("stratum"),
    "drift": _drift,
    "agreement": _agreement,
}


def render_table(table: Table) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    widths = [
        max([len(c), *(len(row[i]) for row in table.rows)]) for i, c in enumerate(table.columns)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in table.numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(table.columns), rule, *(line(r) for r in table.rows)])


class Command(BaseCommand):
    help = "Print a report table: tiers, strata, drift or agreement."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subcommand", choices=sorted(SUBCOMMANDS))
        parser.add_argument("--plan", help="Plan name (default: the plan with the latest queue)")
        parser.add_argument("--start", help="First day, YYYY-MM-DD (default: 14 days of data)")
        parser.add_argument("--end", help="Last day, YYYY-MM-DD, inclusive")
        parser.add_argument("--method", choices=METHODS, default="wilson")
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        plans = list(Plan.objects.select_related("current_version").order_by("name"))
        if not plans:
            raise CommandError("No plan yet: nothing to report.")
        query = {k: options[k] for k in ("plan", "start", "end", "method") if options.get(k)}
        form = ReportForm.for_request(query, plans=plans, with_by=False)
        if not form.is_valid():
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            raise CommandError(problems)
        data = form.cleaned_data
        params = {
            "plan": data["plan_obj"],
            "start": data["start"],
            "end": data["end"],
            "method": data["method"],
        }
        report = SUBCOMMANDS[options["subcommand"]](params)
        header = report_title(
            report.title,
            plan=data["plan"],
            start=data["start"],
            end=data["end"],
            method=data["method"],
        )
        fmt = options["format"]
        if fmt == "csv":
            # The download's bytes minus the BOM (a terminal or a pipe does not want it).
            text = "".join(csv_lines(report.table.columns, report.table.rows))
            self.stdout.write(text.lstrip("\ufeff"), ending="")
        elif fmt == "json":
            body = {
                "plan": data["plan"],
                "start": data["start"],
                "end": data["end"],
                "method": data["method"],
                # Named as the API names them (GET /api/v1/reports/tiers/ answers "tiers").
                options["subcommand"]: report.table.records,
            }
            self.stdout.write(json.dumps(body, cls=DjangoJSONEncoder, indent=2, allow_nan=False))
        else:
            self.stdout.write(header)
            if report.table:
                self.stdout.write(render_table(report.table))
            else:
                self.stdout.write(report.empty_message)
        if fmt != "table" and not report.table and report.empty_message:
            sys.stderr.write(report.empty_message + "\n")
