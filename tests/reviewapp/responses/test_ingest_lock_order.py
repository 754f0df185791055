"""Writers of the same responses take their row locks in one order, so they never deadlock.

Two races, each made certain rather than left to timing: a "gate" (this test's own
transaction) holds the row of the middle key locked while two writers start; each takes every
key it meets before the gate and stops there. Only when both are waiting (seen in
pg_stat_activity) does the gate open. Writers going in opposite orders now hold what the other
needs next: PostgreSQL reports a deadlock and kills one. Writers going in the same order just
queue behind each other.

1. Two pushes sharing every id, one sending them ascending and the other descending (the
   upsert used to take keys in the order they were sent).
2. Scoring a block of rows while a push re-sends them (scoring used to lock in id order, rows
   stored in another order than their keys').

PostgreSQL only: SQLite takes one lock for the whole database.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from reviewapp.responses.models import IngestRun, Response, Source
from reviewapp.responses.readers import RawRecord
from reviewapp.responses.scoring import responses_score
from reviewapp.responses.services import ingest_records
from tests.conftest import require_postgres_database
from tests.reviewapp.responses.ingest_helpers import response_record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

KEYS = 2_000
GATE = KEYS // 2  # the middle key: each writer holds half its keys when it reaches it


def raw_records(numbers: list[int], **overrides: Any) -> list[RawRecord]:
    return [RawRecord(line, response_record(n, **overrides)) for line, n in enumerate(numbers, 1)]


def external_id(n: int) -> str:
    return response_record(n)["id"]


def lock_waiters() -> int:
    """Backends of this database waiting for a lock right now."""
    with connection.cursor() as cursor:
        # Activity is read once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def race_through_the_gate(source: Source, writers: list[Callable[[], Any]]) -> list[Any]:
    """Hold the gate row locked, start the writers, open the gate once all of them wait on a
    lock; return what each writer returned or raised."""
    outcomes: list[Any] = [None] * len(writers)

    def run(index: int, writer: Callable[[], Any]) -> None:
        try:
            outcomes[index] = writer()
        except Exception as exc:  # noqa: BLE001 - returned to the test, which names it
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    with transaction.atomic():
        Response.objects.select_for_update().get(source=source, external_id=external_id(GATE))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while lock_waiters() < len(writers):
            assert time.monotonic() < deadline, "the writers never both reached the gate"
            assert all(t.is_alive() for t in threads), outcomes
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return outcomes


def test_two_pushes_sharing_ids_in_opposite_orders_both_finish():
    require_postgres_database()
    source = Source.objects.create(name="lock-order", kind=Source.Kind.PUSH)
    # The gate's row exists already (each push will find it unchanged); every other key is new.
    ingest_records(source=source, kind="responses", records=raw_records([GATE]))
    numbers = list(range(KEYS))

    def push(order: list[int]) -> Callable[[], IngestRun]:
        return lambda: ingest_records(
            source=source, kind="responses", records=raw_records(order), batch_size=KEYS
        )

    outcomes = race_through_the_gate(source, [push(numbers), push(numbers[::-1])])

    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert failures == [], failures  # before: psycopg.errors.DeadlockDetected
    runs: list[IngestRun] = outcomes
    assert all(run.status == IngestRun.Status.FINISHED for run in runs)
    # Each key created by exactly one push and found unchanged by the other.
    assert sum(run.created_count for run in runs) == KEYS - 1
    assert sum(run.unchanged_count for run in runs) == KEYS + 1
    assert sum(run.updated_count for run in runs) == 0
    stored = list(Response.objects.filter(source=source).values_list("external_id", flat=True))
    assert sorted(stored) == sorted(external_id(n) for n in numbers)


def test_scoring_and_a_push_re_sending_the_same_rows_both_finish():
    require_postgres_database()
    source = Source.objects.create(name="lock-order-score", kind=Source.Kind.PUSH)
    # Rows stored out of key order (here exactly reversed: ids ascend as keys descend), as
    # pushes over days leave them, and not scored yet.
    numbers = list(range(KEYS))
    Response.objects.bulk_create(
        [
            Response(
                source=source,
                external_id=external_id(n),
                timestamp=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
                query=f"question {n}",
                response=f"answer {n}",
                tier="cheap",
                content_hash="before",
            )
            for n in reversed(numbers)
        ]
    )

    def score() -> int:
        return responses_score(source_id=source.pk)

    def re_send() -> IngestRun:
        return ingest_records(
            source=source,
            kind="responses",
            records=raw_records(numbers, segment="corrected"),
            batch_size=KEYS,
        )

    outcomes = race_through_the_gate(source, [score, re_send])

    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert failures == [], failures  # before: psycopg.errors.DeadlockDetected
    scored, run = outcomes
    assert scored == KEYS
    assert (run.status, run.updated_count, run.created_count) == (
        IngestRun.Status.FINISHED,
        KEYS,
        0,
    )
    rows = Response.objects.filter(source=source)
    assert rows.count() == KEYS
    assert set(rows.values_list("segment", flat=True)) == {"corrected"}
    assert not rows.filter(scored_at__isnull=True).exists()
