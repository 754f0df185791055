from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.ops.backup import BackupError, plan_restore


class Command(BaseCommand):
    help = (
        "Restore a plan backup (manage.py backup_reviews) into this database, which must hold "
        "its responses. Idempotent: restoring twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the JSONL backup")
        parser.add_argument("--plan", help="restore under this name (default: the backup's)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = plan_restore(path=options["file"], name=options["plan"])
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored: {counts.summary()}")
        if counts.created_users:
            self.stdout.write(
                "created as inactive accounts (no password): " + ", ".join(counts.created_users)
            )
