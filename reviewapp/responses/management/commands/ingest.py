"""python manage.py ingest PATH [--source NAME] [--kind ...] [--format ...] [--mapping FILE]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError
from tqdm import tqdm

from reviewapp.responses.models import IngestRun
from reviewapp.responses.records import MappingError, validate_mapping
from reviewapp.responses.services import KINDS, ingest_path, source_get_or_create


class Command(BaseCommand):
    help = "Ingest a JSONL or CSV file (.gz, or - for stdin) of responses, feedback or reference."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a .jsonl / .csv file, optionally .gz; - for stdin")
        parser.add_argument("--source", default=None, help="source name (default: file stem)")
        parser.add_argument("--kind", choices=KINDS, default="responses")
        parser.add_argument("--format", choices=("jsonl", "csv"), default=None, dest="fmt")
        parser.add_argument("--mapping", default=None, help="JSON file: our field -> dotted path")

    def handle(self, *args: object, **options: object) -> None:
        path = str(options["path"])
        mapping = None
        if options["mapping"]:
            try:
                mapping = validate_mapping(json.loads(Path(str(options["mapping"])).read_text()))
            except (OSError, ValueError) as exc:
                raise CommandError(f"--mapping {options['mapping']}: {exc}") from None
        source_name = options["source"] or _default_source_name(path)
        source = source_get_or_create(name=str(source_name))
        size = Path(path).stat().st_size if path != "-" and Path(path).is_file() else None
        show_progress = sys.stderr.isatty() and size is not None and not path.endswith(".gz")
        with tqdm(
            total=size, unit="B", unit_scale=True, disable=not show_progress, desc="ingest"
        ) as bar:
            try:
                run = ingest_path(
                    path=path,
                    source=source,
                    kind=str(options["kind"]),
                    fmt=options["fmt"],  # type: ignore[arg-type]
                    mapping=mapping,
                    on_bytes=bar.update if show_progress else None,
                )
            except MappingError as exc:  # the source's stored mapping
                raise CommandError(str(exc)) from None
            except (OperationalError, InterfaceError) as exc:
                # The database went away mid-file (restart, failover, network). Each batch
                # commits whole, and a rerun upserts by (source, id), so the way on is to run
                # the same command again: say that, not a traceback.
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise CommandError(
                    f"the database connection was lost during the ingest ({reason}). "
                    "Batches committed before it are kept; run the same command again to "
                    "finish (records already stored are left unchanged)."
                ) from None
        self.stdout.write(
            f"run {run.pk} into source {source.name!r} ({run.kind}): "
            f"{run.created_count} new, {run.updated_count} updated, "
            f"{run.unchanged_count} unchanged, {run.rejected_count} rejected "
            f"in {run.duration_seconds or 0:.2f}s"
        )
        if run.rejected_count:
            self.stdout.write(f"rejected records: python manage.py quarantine --run {run.pk}")
        if run.status == IngestRun.Status.FAILED:
            raise CommandError(run.error)


def _default_source_name(path: str) -> str:
    if path == "-":
        return "stdin"
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".json", ".csv", ".ndjson"):
        name = name.removesuffix(suffix)
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "file"
