"""python manage.py simulate: write or load a simulated production stream (sampling/simulate.py).

--out DIR writes responses.jsonl, feedback.jsonl, reference.jsonl and truth.jsonl there;
--load ingests the stream into the database through the one ingest service (source
"sim-<scenario>"), writing only the ground truth to a file, since it must stay apart.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewapp.responses.simulation import simulation_load
from sampling.simulate import load_scenario, write_scenario


class Command(BaseCommand):
    help = "Simulate a routed LLM system's production stream, with ground truth kept apart."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenario", default="seed", help="seed, stable, or a JSON file")
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--per-day", type=int, default=None, dest="per_day")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--reference", type=int, default=20_000, help="reference set size")
        parser.add_argument("--no-embeddings", action="store_true")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--out", default=None, help="write JSONL files to this folder")
        target.add_argument("--load", action="store_true", help="ingest into the database")
        parser.add_argument("--source", default=None, help="source name with --load")

    def handle(self, *args: object, **options: object) -> None:
        try:
            scenario = load_scenario(str(options["scenario"]))
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise CommandError(f"--scenario {options['scenario']}: {exc}") from None
        days = options["days"]
        per_day = options["per_day"]
        embeddings = not options["no_embeddings"]
        if options["load"]:
            source_name = str(options["source"] or f"sim-{scenario.name}")
            truth_dir = Path(settings.BASE_DIR) / "simulated" / source_name
            summary = simulation_load(
                scenario=scenario,
                source_name=source_name,
                days=days,  # type: ignore[arg-type]
                per_day=per_day,  # type: ignore[arg-type]
                seed=int(options["seed"]),  # type: ignore[call-overload]
                reference_n=int(options["reference"]),  # type: ignore[call-overload]
                embeddings=embeddings,
                truth_path=truth_dir / "truth.jsonl",
                on_day=lambda day, run: self.stdout.write(
                    f"day {day}: {run.created_count} new, {run.updated_count} updated, "
                    f"{run.unchanged_count} unchanged, {run.rejected_count} rejected"
                ),
            )
            self.stdout.write(
                f"loaded scenario {scenario.name!r} into source {source_name!r}: "
                + ", ".join(f"{count} {kind}" for kind, count in summary.items())
                + f"; ground truth in {truth_dir / 'truth.jsonl'}"
            )
            return
        out = Path(str(options["out"] or f"simulated/{scenario.name}"))
        counts = write_scenario(
            out,
            scenario,
            days=days,  # type: ignore[arg-type]
            per_day=per_day,  # type: ignore[arg-type]
            seed=int(options["seed"]),  # type: ignore[call-overload]
            reference_n=int(options["reference"]),  # type: ignore[call-overload]
            embeddings=embeddings,
        )
        self.stdout.write(
            f"wrote scenario {scenario.name!r} to {out}: "
            + ", ".join(f"{count} {kind}" for kind, count in counts.items())
        )
