"""python manage.py oracle_review --plan NAME [--truth simulated/<source>/truth.jsonl]
[--error-rate 0.02] [--reviewers 3] [--days START..END] [--build] [--seed N]
[--api-url http://127.0.0.1:8000]

Reviews a plan's open queues with the simulator's oracle through the review API (claim, then
submit), as reviewers oracle-1..N (created, put in the reviewer group and assigned to the
plan; their API tokens are created too). Without --api-url the API runs in-process (DRF's
APIClient, no server needed); with it, real HTTP to that server, which must use this database.
--build first builds the plan's queue for every day in --days (or every day its sources have
responses) that has none, day by day, reviewing each before building the next (Neyman reads
past reviews).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.reports.oracle import (
    ApiError,
    default_truth_path,
    in_process_hosts,
    oracle_clients,
    oracle_review,
    oracle_reviewers_ensure,
    plan_build_and_review,
    queues_to_review,
    source_days,
    truth_load,
)
from reviewapp.review.models import Plan, Queue


def _days(value: str) -> tuple[dt.date, dt.date]:
    start, _, end = value.partition("..")
    try:
        return dt.date.fromisoformat(start), dt.date.fromisoformat(end or start)
    except ValueError:
        raise CommandError(
            f"--days {value!r}: a day (2025-01-06) or a range (2025-01-06..2025-02-02)"
        ) from None


class Command(BaseCommand):
    help = "Review a plan's open queues with the simulator's oracle, through the review API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", required=True)
        parser.add_argument("--truth", help="truth.jsonl (default simulated/<source>/truth.jsonl)")
        parser.add_argument("--error-rate", type=float, default=0.02, dest="error_rate")
        parser.add_argument("--reviewers", type=int, default=3)
        parser.add_argument("--days", help="YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
        parser.add_argument("--build", action="store_true", help="build missing queues first")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--api-url", dest="api_url", help="review over HTTP at this server")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan.objects.filter(name=options["plan"]).first()
        if plan is None:
            raise CommandError(f"No plan named {options['plan']!r}.")
        if not 0 <= options["error_rate"] < 0.5:
            raise CommandError("--error-rate: between 0 and 0.5")
        if options["reviewers"] < 1:
            raise CommandError("--reviewers: at least 1")
        try:
            path = options["truth"] or default_truth_path(plan)
            truth = truth_load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"ground truth: {exc}") from None
        start, end = _days(options["days"]) if options["days"] else (None, None)
        report = self._report(plan)
        try:
            if options["build"]:
                days = sorted(
                    {d for s in plan.current_version.sources.all() for d in source_days(s)}
                )
                days = [d for d in days if (not start or d >= start) and (not end or d <= end)]
                summary = plan_build_and_review(
                    plan=plan,
                    days=days,
                    truth=truth,
                    reviewers=options["reviewers"],
                    error_rate=options["error_rate"],
                    api_url=options["api_url"],
                    seed=options["seed"],
                    on_day=report,
                )
            else:
                users = oracle_reviewers_ensure(plan=plan, count=options["reviewers"])
                clients = oracle_clients(users=users, api_url=options["api_url"])
                with in_process_hosts():
                    summary = oracle_review(
                        plan=plan,
                        truth=truth,
                        queues=queues_to_review(plan=plan, start=start, end=end),
                        clients=clients,
                        error_rate=options["error_rate"],
                        seed=options["seed"],
                        on_queue=report,
                    )
        except ApiError as exc:
            raise CommandError(str(exc)) from None
        transport = f"HTTP at {options['api_url']}" if options["api_url"] else "the API in-process"
        self.stdout.write(
            f"oracle reviewed {summary.queues} queue(s) of {plan.name} through {transport}: "
            f"{summary.reviews} reviews by {options['reviewers']} oracle reviewer(s), "
            f"error rate {options['error_rate']:g} ({summary.wrong_verdicts} verdicts differ "
            "from the truth)"
        )

    def _report(self, plan: Plan) -> Any:
        def on_queue(queue: Queue, reviews: int) -> None:
            self.stdout.write(
                f"  {plan.name} {queue.day:%Y-%m-%d}: queue {queue.pk}, {queue.size} items, "
                f"{reviews} reviews"
            )

        return on_queue
