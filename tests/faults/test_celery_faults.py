"""A broker that goes away and a worker that dies, with the queue build task (acks_late).

A real worker (tests/faults/scenario.py worker, solo pool) on this session's private Redis and
PostgreSQL. To land a fault *inside* a task, every time, the test holds a lock on the queue
items table: the build starts, writes its queue row, then waits on the lock; the fault happens
there, before anything is committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from .conftest import ROOT, run_scenario, subprocess_env, wait_for

pytestmark = pytest.mark.faults

TASK = "reviewapp.review.tasks.build_plan_queue"
# kombu's Redis transport puts a message whose worker died back on the queue once it is older
# than this, checked every 10 s by a live worker.
VISIBILITY = 2


def _worker(db_url: str, redis_url: str, queue: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.scenario", "worker"]
        + ["--queue", queue, "--visibility", str(VISIBILITY)],
        env=subprocess_env(db_url, CELERY_BROKER_URL=redis_url),
        cwd=ROOT,
        stdout=handle,
        stderr=handle,
    )


def _producer(redis_url: str):
    from celery import Celery

    app = Celery("faults-producer", broker=redis_url)
    app.conf.broker_connection_retry_on_startup = True
    return app


def _send(app, queue: str, plan: int, day: str) -> None:
    # Publishing retries until the broker answers (up to a minute), as a caller should.
    app.send_task(
        TASK,
        args=[plan, day],
        queue=queue,
        retry=True,
        retry_policy={
            "max_retries": 120,
            "interval_start": 0.2,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    )


@contextmanager
def _items_locked(db_url: str) -> Iterator[psycopg.Connection]:
    """Hold EXCLUSIVE on the items table: reads go on, a queue build blocks on its insert."""
    conn = psycopg.connect(db_url)
    try:
        conn.execute("LOCK TABLE review_queueitem IN EXCLUSIVE MODE")
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _build_waiting_on_lock(db_url: str) -> bool:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE '%review_queueitem%'"
        ).fetchall()
    return rows[0][0] > 0


def _queues(db_url: str) -> dict[str, tuple[int, int, int, int]]:
    """day -> (queues that day, size, items, distinct responses among its items)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT q.day::text, count(DISTINCT q.id), max(q.size), count(i.id), "
            "count(DISTINCT i.response_id) FROM review_queue q "
            "LEFT JOIN review_queueitem i ON i.queue_id = q.id GROUP BY q.day"
        ).fetchall()
    return {day: (n, size, items, distinct) for day, n, size, items, distinct in rows}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_killed_mid_build_has_the_build_redone_once(fault_db, private_redis, tmp_path):
    day = "2025-03-10"
    plan = run_scenario(fault_db, "setup-plan", day, "--per-day", "600")["plan"]
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    first = _worker(fault_db, private_redis.url, queue, log)
    second = None
    try:
        with _items_locked(fault_db):
            _send(_producer(private_redis.url), queue, plan, day)
            wait_for(lambda: _build_waiting_on_lock(fault_db), timeout=90, what="the build")
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        # Killed before its transaction committed: nothing of that build is left.
        wait_for(lambda: not _build_waiting_on_lock(fault_db), timeout=30, what="rollback")
        assert _queues(fault_db) == {}

        second = _worker(fault_db, private_redis.url, queue, log)
        wait_for(
            # Redis redelivers an unacked message when a worker's restore cycle finds it past
            # the visibility timeout; the cycle is guarded by a mutex that a killed worker can
            # leave held for up to 5 minutes (kombu's unacked_mutex_expire).
            lambda: day in _queues(fault_db),
            timeout=360,
            what="the redelivered build",
        )
        # Longer than a visibility timeout and a restore cycle: no second delivery runs it again.
        time.sleep(VISIBILITY + 11)
    finally:
        for process in (first, second):
            if process is not None:
                _stop(process)

    ((count, size, items, distinct),) = _queues(fault_db).values()
    assert (count, items, distinct) == (1, size, size) and size > 0
    text = log.read_text(errors="replace")
    assert text.count(f"Task {TASK}[") >= 2, text[-3000:]  # received by both workers
    assert text.count("succeeded in") == 1, text[-3000:]
    assert "'created': True" in text, text[-3000:]


def test_redis_stopped_during_builds_each_queue_is_built_once(fault_db, private_redis, tmp_path):
    days = ["2025-03-10", "2025-03-11", "2025-03-12"]
    plan = run_scenario(fault_db, "setup-plan", *days, "--per-day", "300")["plan"]
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    worker = _worker(fault_db, private_redis.url, queue, log)
    producer = _producer(private_redis.url)
    try:
        with _items_locked(fault_db):
            _send(producer, queue, plan, days[0])
            wait_for(lambda: _build_waiting_on_lock(fault_db), timeout=90, what="the build")
            private_redis.stop()
            # A build requested while the broker is away: the publish waits for it.
            late = threading.Thread(target=_send, args=(producer, queue, plan, days[1]))
            late.start()
        # The first build now commits with no broker to acknowledge it to.
        time.sleep(2)
        private_redis.start()
        late.join(timeout=60)
        assert not late.is_alive(), "the publish did not go through once Redis was back"
        _send(producer, queue, plan, days[2])
        # The worker reconnects to the restarted broker with backoff: minutes on a busy machine.
        wait_for(lambda: len(_queues(fault_db)) == 3, timeout=300, what="three queues")
        # Let a restore cycle redeliver whatever was left unacknowledged.
        time.sleep(VISIBILITY + 11)
        assert worker.poll() is None, "the worker died with the broker"
    finally:
        _stop(worker)

    built = _queues(fault_db)
    assert set(built) == set(days)
    for day, (count, size, items, distinct) in built.items():
        assert (count, items, distinct) == (1, size, size) and size > 0, (day, built[day])
