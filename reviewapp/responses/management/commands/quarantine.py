"""python manage.py quarantine [--run N] [--limit N]: list rejected records with line and reason."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.responses.selectors import rejected_records


class Command(BaseCommand):
    help = "List rejected records (line, field, reason), newest run first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, default=None, help="only this ingest run")
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args: object, **options: object) -> None:
        run_id = options["run"]
        rejects = rejected_records(run_id=run_id)  # type: ignore[arg-type]
        if run_id is not None and rejects is None:
            raise CommandError(f"there is no ingest run {run_id}")
        shown = 0
        for reject in (rejects or [])[: int(options["limit"])]:  # type: ignore[call-overload]
            raw = reject.raw if len(reject.raw) <= 120 else reject.raw[:117] + "..."
            where = f"line {reject.line_number}" if reject.line_number else "record"
            field = f" {reject.field}:" if reject.field else ""
            self.stdout.write(f"run {reject.run_id} {where}:{field} {reject.reason}\n    {raw!s}")
            shown += 1
        if not shown:
            self.stdout.write("no rejected records")
            return
        total = rejects.count() if rejects is not None else shown
        if total > shown:
            self.stdout.write(
                f"showed {shown} of {total} rejected records (newest run first); "
                f"--limit {total} lists them all, --run N one run's"
            )
