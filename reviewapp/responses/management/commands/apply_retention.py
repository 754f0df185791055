from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.ops.retention import retention_apply, retention_days


class Command(BaseCommand):
    help = (
        "Redact response texts and embeddings older than LONGTAIL_RETENTION_DAYS (or --days), "
        "keeping tiers, scores, strata counts and verdicts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="override LONGTAIL_RETENTION_DAYS")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else retention_days()
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        if not days:
            self.stdout.write("No retention set (LONGTAIL_RETENTION_DAYS): everything is kept.")
            return
        result = retention_apply(days=days, dry_run=options["dry_run"])
        verb = "would redact" if result.dry_run else "redacted"
        self.stdout.write(
            f"{verb}: {result.responses} responses, {result.feedback} feedback comments, "
            f"{result.rejects} rejected rows older than {result.cutoff:%Y-%m-%d %H:%M} UTC"
        )
