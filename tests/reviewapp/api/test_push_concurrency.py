"""Ingest and review at the same time (issue 6): four pushes of 10,000 records into one source,
over real HTTP to a live server, while ten reviewers claim and review a queue of that source
through the REST API until it is empty.

The pushes overlap on purpose: each pair of neighbouring pushes (0-1, 1-2, 2-3, 3-0) shares 500
ids, sent by one push in ascending and by the other in descending order, at the front of the
first batch, so that the two upserts race for the same (source, external id) keys in opposite
orders; and each push re-sends a quarter of the queue's own responses with corrected content,
so rows are updated while reviewers are being served them. Scoring (eager here, as in the
embedded default) runs after each push's commit, over rows other pushes are still writing.

Afterwards: every push got a 200 and no request raised (a deadlock or serialization failure is
named), each run's counts add up to what it sent and the runs together to the union, the
database holds each pushed id once with exactly the pushed values, and every queue item has
exactly the reviews it needs. PostgreSQL only: SQLite serialises writers and proves nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
import traceback
from typing import Any

import httpx
import pytest
from django.core.signals import got_request_exception
from django.db.models import Min

from reviewapp.api.tokens import token_create
from reviewapp.responses.models import IngestRun, Response, Source
from reviewapp.responses.services import embedding_bytes
from reviewapp.review.models import Queue, QueueItem, Review
from tests.conftest import require_postgres_database
from tests.reviewapp.responses.ingest_helpers import response_record
from tests.reviewapp.review.concurrency import (
    OVERLAP_EVERY,
    assert_every_item_reviewed_exactly_as_required,
    build_queue,
    make_reviewers,
    run_reviewers,
)

PUSHES = 4
RECORDS_PER_PUSH = 10_000  # PUSH_MAX_RECORDS: the most one request may carry
SHARED_WITH_EACH_NEIGHBOUR = 500
REVIEWERS = 10
ITEMS = 400  # the queue: enough reviewing to last through the pushes
RESENT = 200  # queue responses r-0 … r-199 re-sent with corrections, each by exactly one push
EMBEDDING_DIM = 8  # response_record's
SOURCE = "mixload"


def pushed_record(external_id: str, n: int) -> dict[str, Any]:
    """The record for an id: the same id always gives the same content, whichever push sends
    it, so the stored row is known exactly."""
    return response_record(n, id=external_id, metadata={"n": n})


def shared_ids(pair: int) -> list[str]:
    """The ids pushes `pair` and `pair + 1` (mod 4) both send."""
    return [f"s{pair}-{i:04d}" for i in range(SHARED_WITH_EACH_NEIGHBOUR)]


def push_payloads() -> list[list[dict[str, Any]]]:
    """Four lists of 10,000 distinct records. Push k sends, in this order: the ids it shares with
    push k+1 (ascending), those it shares with push k-1 (descending: the opposite order to
    push k-1's), its quarter of the re-sent queue responses, then ids of its own."""
    numbers: dict[str, int] = {}

    def number(external_id: str) -> int:
        return numbers.setdefault(external_id, len(numbers))

    payloads = []
    for k in range(PUSHES):
        ids = shared_ids(k) + shared_ids((k - 1) % PUSHES)[::-1]
        ids += [f"r-{i}" for i in range(RESENT) if i % PUSHES == k]
        own = RECORDS_PER_PUSH - len(ids)
        ids += [f"p{k}-{i:05d}" for i in range(own)]
        assert len(set(ids)) == RECORDS_PER_PUSH
        payloads.append([pushed_record(i, number(i)) for i in ids])
    return payloads


def as_stored(record: dict[str, Any]) -> tuple[Any, ...]:
    """A pushed record as its row must hold it (embeddings are stored as float32 bytes)."""
    return (
        dt.datetime.fromisoformat(record["timestamp"]),
        record["query"],
        record["response"],
        record["tier"],
        record["model"],
        record["router_label"],
        record["router_confidence"],
        embedding_bytes(record["embedding"]),
        record["segment"],
        record["cost_usd"],
        record["metadata"],
    )


STORED_FIELDS = (
    "timestamp",
    "query",
    "response",
    "tier",
    "model",
    "router_label",
    "router_confidence",
    "embedding",
    "segment",
    "cost_usd",
    "metadata",
)


class ApiReviewing:
    """A reviewer working the queue over HTTP with their own token and keep-alive connection."""

    def __init__(self, base_url: str, token: str, queue: Queue) -> None:
        self.queue_id = queue.pk
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=120
        )

    def claim(self) -> int | None:
        answer = self.client.post(f"/api/v1/queues/{self.queue_id}/claim/")
        if answer.status_code == 204:
            return None
        assert answer.status_code == 200, (answer.status_code, answer.text[:500])
        return int(answer.json()["item"])

    def submit(self, item: int, verdict: str) -> bool:
        review = {"item": item, "verdict": verdict, "time_spent_ms": 1}
        answer = self.client.post("/api/v1/reviews/", json=review)
        if answer.status_code == 400 and "claim" in answer.text:
            return False  # refused as late: someone else took the slot
        assert answer.status_code == 201, (answer.status_code, answer.text[:500])
        return True

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def server_errors():
    """Every exception a request raised inside the live server, with its traceback: a 500 on
    its own would not say whether it was a deadlock."""
    errors: list[str] = []
    lock = threading.Lock()

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        kind, exc, tb = sys.exc_info()
        path = getattr(request, "path", "?")
        text = "".join(traceback.format_exception(kind, exc, tb))
        with lock:
            errors.append(f"{path}: {kind.__module__}.{kind.__name__}: {exc}\n{text}")

    got_request_exception.connect(record, weak=False)
    yield errors
    got_request_exception.disconnect(record)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_parallel_pushes_and_ten_reviewers_lose_nothing_and_never_deadlock(
    live_server, qa_lead, server_errors, capsys
):
    require_postgres_database()
    # The source already takes 8-dim embeddings (as after its first push), so the pushes'
    # first batches do not queue behind one another on setting it.
    source = Source.objects.create(name=SOURCE, kind=Source.Kind.PUSH, embedding_dim=EMBEDDING_DIM)
    reviewers = make_reviewers(REVIEWERS)
    tokens = {r.pk: token_create(user=r, name="mixload")[1] for r in reviewers}
    queue = build_queue(reviewers, items=ITEMS, source=source)
    queue_responses = dict(QueueItem.objects.filter(queue=queue).values_list("pk", "response_id"))
    push_token = token_create(user=qa_lead, name="mixload-push")[1]
    payloads = push_payloads()
    bodies = [json.dumps(p).encode() for p in payloads]
    results: list[dict[str, Any]] = [{} for _ in range(PUSHES)]

    def push(k: int) -> None:
        started = time.perf_counter()
        answer = httpx.post(
            f"{live_server.url}/api/v1/responses/?source={SOURCE}",
            content=bodies[k],
            headers={"Authorization": f"Token {push_token}", "Content-Type": "application/json"},
            timeout=600,
        )
        results[k] = {
            "status": answer.status_code,
            "body": answer.json() if answer.status_code < 500 else answer.text[:500],
            "seconds": time.perf_counter() - started,
        }

    stats = run_reviewers(
        queue,
        reviewers,
        reviewing=lambda q, r: ApiReviewing(live_server.url, tokens[r.pk], q),
        alongside=[lambda k=k: push(k) for k in range(PUSHES)],
        timeout=900,
    )

    # No request raised: above all, no deadlock and no serialization failure.
    named = [e for e in server_errors if "Deadlock" in e or "Serializ" in e]
    assert named == [], "\n\n".join(named)
    assert server_errors == [], "\n\n".join(server_errors)
    # Every push succeeded whole, and its run's counts add up to what it sent.
    assert [r["status"] for r in results] == [200] * PUSHES, results
    runs = [IngestRun.objects.get(pk=r["body"]["run"]) for r in results]
    for run, result in zip(runs, results, strict=True):
        assert run.status == IngestRun.Status.FINISHED, run.error
        assert run.rejected_count == 0
        assert run.created_count + run.updated_count + run.unchanged_count == RECORDS_PER_PUSH
        body = result["body"]
        counts = (run.created_count, run.updated_count, run.unchanged_count)
        assert (body["created"], body["updated"], body["unchanged"]) == counts
    # Together: each shared id was created by one push and found unchanged by the other, each
    # re-sent queue response updated once, every other id created once.
    union = {record["id"]: record for payload in payloads for record in payload}
    shared = PUSHES * SHARED_WITH_EACH_NEIGHBOUR
    assert len(union) == PUSHES * RECORDS_PER_PUSH - shared
    assert sum(run.created_count for run in runs) == len(union) - RESENT
    assert sum(run.updated_count for run in runs) == RESENT
    assert sum(run.unchanged_count for run in runs) == shared

    # The database holds the union of the pushed ids, each once, with exactly the pushed values
    # (plus the queue's responses that were not re-sent, untouched).
    rows = Response.objects.filter(source=source).values_list("external_id", *STORED_FIELDS)
    stored = {
        external_id: tuple(bytes(v) if isinstance(v, memoryview) else v for v in values)
        for external_id, *values in rows
    }
    assert len(rows) == len(stored) == len(union) + ITEMS - RESENT
    assert set(stored) == set(union) | {f"r-{i}" for i in range(ITEMS)}
    mismatched = [i for i, record in union.items() if stored[i] != as_stored(record)]
    assert mismatched == [], (mismatched[:5], len(mismatched))
    assert stored["r-300"][1:3] == ("question 300", "answer 300")  # not re-sent: untouched
    # Re-sent queue responses were updated in place: the queue still points at the same rows.
    assert dict(QueueItem.objects.filter(queue=queue).values_list("pk", "response_id")) == (
        queue_responses
    )
    # Scoring, run after each push's commit, left no row of the source unscored.
    assert not Response.objects.filter(source=source, scored_at__isnull=True).exists()

    # Every queue item was reviewed exactly as often as it needs, no review lost or doubled.
    assert_every_item_reviewed_exactly_as_required(queue)
    overlap = -(-ITEMS // OVERLAP_EVERY)
    assert stats["reviews"] == ITEMS + overlap
    assert stats["late"] == 0
    # The reviewing really overlapped the ingest (the run would prove little otherwise).
    first_start = min(run.started_at for run in runs)
    last_finish = max(run.finished_at for run in runs)
    during = Review.objects.filter(
        item__queue=queue, created_at__gte=first_start, created_at__lte=last_finish
    ).count()
    assert during > 0
    first_review = Review.objects.filter(item__queue=queue).aggregate(at=Min("created_at"))["at"]
    durations = ", ".join(f"{r['seconds']:.1f}" for r in results)
    with capsys.disabled():
        print(
            f"\n[push + review] {PUSHES} pushes of {RECORDS_PER_PUSH:,} "
            f"({durations} s) with {REVIEWERS} "
            f"reviewers: {stats['reviews']} reviews in {stats['seconds']:.1f} s, {during} of "
            f"them while pushes were running; first review "
            f"{(first_review - first_start).total_seconds():+.1f} s after the first run began, "
            f"runs {(last_finish - first_start).total_seconds():.1f} s; waits {stats['waits']}"
        )
