"""python manage.py pull SOURCE [--batch-size N]: fetch what is new from an http or sql source."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.responses.connectors import SourceBusy, SourceConfigError
from reviewapp.responses.models import IngestRun, Source
from reviewapp.responses.services import source_pull


class Command(BaseCommand):
    help = "Pull new records from an HTTP or SQL source, from its stored watermark on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="the source's name")
        parser.add_argument("--batch-size", type=int, default=None, help="records per commit")

    def handle(self, *args: object, **options: object) -> None:
        name = str(options["source"])
        source = Source.objects.filter(name=name).first()
        if source is None:
            raise CommandError(f"there is no source {name!r}")
        try:
            result = source_pull(source=source, batch_size=options["batch_size"])  # type: ignore[arg-type]
        except (SourceBusy, SourceConfigError) as exc:
            raise CommandError(str(exc)) from None
        run = result.run
        self.stdout.write(
            f"run {run.pk} from source {source.name!r} ({run.kind}): "
            f"{run.created_count} new, {run.updated_count} updated, "
            f"{run.unchanged_count} unchanged, {run.rejected_count} rejected "
            f"in {run.duration_seconds or 0:.2f}s"
        )
        self.stdout.write(f"cursor: {json.dumps(result.cursor, default=str)}")
        if run.rejected_count:
            self.stdout.write(f"rejected records: python manage.py quarantine --run {run.pk}")
        if run.status == IngestRun.Status.FAILED:
            raise CommandError(run.error)
