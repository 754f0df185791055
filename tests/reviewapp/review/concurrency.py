"""Helpers for the concurrency tests on PostgreSQL: a queue with 10 % overlap, reviewer users,
and reviewer threads (each with its own database connection) that claim and review it until
nothing is left for them, optionally alongside other workers started at the same moment.

How a reviewer claims and submits is pluggable (`Reviewing`): through the services directly
(tests/reviewapp/review/test_concurrency.py) or over HTTP through the REST API
(tests/reviewapp/api/test_push_concurrency.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Count, F

from reviewapp.responses.models import Response, Source
from reviewapp.review.models import Claim, Queue, QueueItem, Review, ReviewAudit
from reviewapp.review.services import ReviewError, item_claim, plan_save, review_submit

OVERLAP_EVERY = 10  # every 10th item needs two reviews: 10 % overlap
DAY = dt.date(2026, 1, 20)
VERDICTS = ("correct", "partial", "incorrect")


def build_queue(reviewers: list, *, items: int = 300, source: Source | None = None) -> Queue:
    """A queue built directly (the draw is tested elsewhere) over `items` responses r-0, r-1, …
    of `source` (a new source "concurrency" by default): every 10th item needs two reviews."""
    source = source or Source.objects.create(name="concurrency")
    stamp = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    responses = Response.objects.bulk_create(
        [
            Response(
                source=source,
                external_id=f"r-{i}",
                timestamp=stamp,
                query=f"question {i}",
                response=f"answer {i}",
                tier="cheap" if i % 3 else "capable",
                content_hash=f"{i:032d}",
            )
            for i in range(items)
        ]
    )
    version = plan_save(name="load", config={}, sources=[source], reviewers=reviewers)
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=DAY, population=items, size=items
    )
    QueueItem.objects.bulk_create(
        [
            QueueItem(
                queue=queue,
                response=response,
                inclusion_probability=1.0,
                required_reviews=2 if i % OVERLAP_EVERY == 0 else 1,
                position=i,
            )
            for i, response in enumerate(responses)
        ]
    )
    return queue


def make_reviewers(n: int) -> list:
    group = Group.objects.get_or_create(name="reviewer")[0]
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"reviewer-{i:02d}") for i in range(n)])
    group.user_set.add(*users)
    return users


def work_left(queue: Queue, reviewer) -> bool:
    """Unfinished items this reviewer has not reviewed: they may come back if a claim expires."""
    return (
        QueueItem.objects.filter(queue=queue)
        .exclude(reviews__reviewer=reviewer)
        .filter(review_count__lt=F("required_reviews"))
        .exists()
    )


class Reviewing(Protocol):
    """One reviewer's way of working a queue, used from that reviewer's own thread."""

    def claim(self) -> int | None:
        """The claimed item's id, or None when nothing is free for this reviewer now."""
        ...

    def submit(self, item: int, verdict: str) -> bool:
        """True when the review was stored, False when it was refused as late."""
        ...

    def close(self) -> None: ...


class ServiceReviewing:
    """Claims and submits through reviewapp.review.services, in this thread's connection."""

    def __init__(self, queue: Queue, reviewer: Any) -> None:
        self.queue = queue
        self.reviewer = reviewer
        self.claimed: dict[int, QueueItem] = {}

    def claim(self) -> int | None:
        item = item_claim(queue=self.queue, reviewer=self.reviewer)
        if item is None:
            return None
        self.claimed[item.pk] = item
        return item.pk

    def submit(self, item: int, verdict: str) -> bool:
        try:
            review_submit(
                item=self.claimed.pop(item),
                reviewer=self.reviewer,
                verdict=verdict,
                time_spent_ms=1,
            )
        except ReviewError:
            return False
        return True

    def close(self) -> None:
        pass


def run_reviewers(
    queue: Queue,
    reviewers: list,
    *,
    sleep_past_expiry: float = 0.0,
    reviewing: Callable[[Queue, Any], Reviewing] = ServiceReviewing,
    alongside: Sequence[Callable[[], None]] = (),
    timeout: float = 300.0,
) -> dict:
    """Each reviewer in its own thread: claim → submit until nothing is left for them.

    With `sleep_past_expiry`, every fifth reviewer dawdles on every third item long enough for
    its claim to expire, then submits anyway (and is told, when someone else took the slot).
    Each of `alongside` (say, an ingest) runs in a thread of its own, released by the same
    barrier as the reviewers; an exception in any thread fails the run."""
    barrier = threading.Barrier(len(reviewers) + len(alongside))
    errors: list[BaseException] = []
    stats: Counter[str] = Counter()
    lock = threading.Lock()
    bound = queue.size * 4  # bounded: never spin forever

    def reviewer_thread(index: int, reviewer) -> None:
        local: Counter[str] = Counter()
        worker = None
        try:
            worker = reviewing(queue, reviewer)
            barrier.wait()
            for step in range(bound):
                item = worker.claim()
                if item is None:
                    if not work_left(queue, reviewer):
                        break
                    local["waits"] += 1
                    time.sleep(0.02)
                    continue
                local["claims"] += 1
                if sleep_past_expiry and index % 5 == 0 and step % 3 == 0:
                    time.sleep(sleep_past_expiry)
                    local["dawdles"] += 1
                if worker.submit(item, VERDICTS[item % 3]):
                    local["reviews"] += 1
                else:
                    local["late"] += 1
            else:
                raise AssertionError(f"{reviewer.username} did not finish in its bounded loop")
        except BaseException as exc:  # noqa: BLE001 - reported by the test, never swallowed
            with lock:
                errors.append(exc)
        finally:
            with lock:
                stats.update(local)
            if worker is not None:
                worker.close()
            connection.close()

    def other_thread(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, never swallowed
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=reviewer_thread, args=(i, r), name=r.username)
        for i, r in enumerate(reviewers)
    ] + [
        threading.Thread(target=other_thread, args=(work,), name=f"alongside-{i}")
        for i, work in enumerate(alongside)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    elapsed = time.perf_counter() - started
    assert not any(t.is_alive() for t in threads), "a reviewer thread hung"
    assert errors == [], errors
    return {
        "seconds": elapsed,
        "reviews": 0,
        "late": 0,
        "waits": 0,
        "claims": 0,
        "dawdles": 0,
        **stats,
    }


def assert_every_item_reviewed_exactly_as_required(queue: Queue) -> None:
    items = list(
        QueueItem.objects.filter(queue=queue).annotate(
            reviews_n=Count("reviews"), reviewers_n=Count("reviews__reviewer", distinct=True)
        )
    )
    assert len(items) == queue.size
    single = [i for i in items if i.required_reviews == 1]
    overlap = [i for i in items if i.required_reviews == 2]
    assert len(overlap) == -(-queue.size // OVERLAP_EVERY)
    # No item lost (each has its reviews), none duplicated (never more than required).
    assert sorted({i.reviews_n for i in single}) == [1]
    assert sorted({i.reviews_n for i in overlap}) == [2]
    # Two different people on every overlap item.
    assert sorted({i.reviewers_n for i in overlap}) == [2]
    # The denormalised counter agrees with the rows.
    assert all(i.review_count == i.reviews_n for i in items)
    total = queue.size + len(overlap)
    assert Review.objects.filter(item__queue=queue).count() == total
    assert ReviewAudit.objects.filter(item__queue=queue, action="create").count() == total
    # Nobody holds anything in a finished queue... except claims already past their expiry.
    now = dt.datetime.now(dt.UTC)
    assert not Claim.objects.filter(
        item__queue=queue, released_at__isnull=True, expires_at__gt=now
    ).exists()
