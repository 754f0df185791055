"""Load a simulated scenario (sampling/simulate.py) through the same ingest service as real data.

The ground truth goes to a JSONL file, never into the database: the app must not be able to
peek at it. The oracle reviewer reads it from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from reviewapp.responses.models import IngestRun, Source
from reviewapp.responses.readers import RawRecord
from reviewapp.responses.services import ingest_records, source_get_or_create
from sampling.simulate import Scenario, reference_set, simulate


def _raw(records: Iterable[dict[str, Any]]) -> Iterator[RawRecord]:
    for number, record in enumerate(records, start=1):
        yield RawRecord(number, record, "")


def simulation_load(
    *,
    scenario: Scenario,
    source_name: str,
    days: int | None,
    per_day: int | None,
    seed: int,
    reference_n: int,
    embeddings: bool,
    truth_path: Path,
    on_day: Callable[[int, IngestRun], None] | None = None,
) -> dict[str, int]:
    """Ingest `days` simulated days (responses, then feedback) and the reference set."""
    source = source_get_or_create(name=source_name, kind=Source.Kind.FILE)
    totals = {"responses": 0, "feedback": 0, "reference": 0}
    reference = reference_set(scenario, reference_n, seed)
    run = ingest_records(
        source=source, kind="reference", records=_raw(reference.records()), origin="simulate"
    )
    totals["reference"] = run.accepted_count
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with truth_path.open("w", encoding="utf-8") as truth:
        for batch in simulate(scenario, days, per_day, seed):
            run = ingest_records(
                source=source,
                kind="responses",
                records=_raw(batch.response_records(embeddings=embeddings)),
                origin=f"simulate {scenario.name} day {batch.day}",
            )
            totals["responses"] += run.accepted_count
            feedback_run = ingest_records(
                source=source,
                kind="feedback",
                records=_raw(batch.feedback_records()),
                origin=f"simulate {scenario.name} day {batch.day}",
            )
            totals["feedback"] += feedback_run.accepted_count
            for record in batch.truth_records():
                truth.write(json.dumps(record) + "\n")
            if on_day:
                on_day(batch.day, run)
    return totals
