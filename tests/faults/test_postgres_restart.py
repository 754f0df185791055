"""PostgreSQL restarted (`pg_ctl restart -m fast`) under a running ingest and a review session.

Everything runs against this session's private cluster (conftest.py): the real `manage.py
ingest` in a subprocess, and the real API served by gunicorn to reviewers over loopback HTTP.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.reviewapp.responses.ingest_helpers import response_record, write_jsonl

from .conftest import MANAGE_PY, ROOT, free_port, run_scenario, subprocess_env, wait_for

pytestmark = pytest.mark.faults

RECORDS = 20_000
BATCH = 500


def _count(url: str, sql: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError:
        return -1


def test_an_ingest_cut_by_a_restart_fails_clearly_and_a_rerun_stores_exactly_the_file(
    private_postgres, fault_db, tmp_path
):
    records = [response_record(i) for i in range(RECORDS)]
    path = write_jsonl(tmp_path / "big.jsonl", records)
    env = subprocess_env(fault_db, LONGTAIL_INGEST_BATCH_SIZE=str(BATCH))
    command = [sys.executable, str(MANAGE_PY), "ingest", str(path), "--source", "restarted"]

    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: (
                _count(fault_db, "SELECT count(*) FROM responses_response") >= BATCH
                or process.poll() is not None
            ),
            timeout=120,
            what="the first committed batch",
        )
        assert process.poll() is None, "the ingest finished before the restart: " + str(
            process.communicate()
        )
        private_postgres.restart()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    stored = _count(fault_db, "SELECT count(*) FROM responses_response")
    assert 0 < stored < RECORDS, stored
    # Failed, and said so in a sentence, not a page of traceback.
    assert process.returncode != 0, stdout
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "database" in stderr.lower() and "run the same command again" in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 5, stderr

    rerun = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"{RECORDS - stored} new, 0 updated, {stored} unchanged, 0 rejected" in rerun.stdout
    with psycopg.connect(fault_db) as conn:
        ids = [row[0] for row in conn.execute("SELECT external_id FROM responses_response")]
    assert len(ids) == RECORDS
    assert set(ids) == {record["id"] for record in records}


class ReviewSession:
    """Reviewers claiming and submitting through the API until told to stop; every review
    that got a 201 is written down with its id."""

    def __init__(self, base: str, tokens: list[str], queue_id: int) -> None:
        self.base = base
        self.tokens = tokens
        self.queue_id = queue_id
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.successes: list[tuple[float, int, int]] = []  # (time, review id, item id)
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._loop, args=(t,)) for t in tokens]

    def _loop(self, token: str) -> None:
        import httpx

        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    claim = client.post(f"/api/v1/queues/{self.queue_id}/claim/")
                    if claim.status_code != 200:
                        self._failed(f"claim {claim.status_code}")
                        continue
                    item = claim.json()["item"]
                    answer = client.post(
                        "/api/v1/reviews/", json={"item": item, "verdict": "correct"}
                    )
                except httpx.HTTPError as exc:
                    self._failed(f"{exc.__class__.__name__}")
                    continue
                if answer.status_code == 201:
                    with self.lock:
                        self.successes.append((time.monotonic(), answer.json()["id"], item))
                else:
                    self._failed(f"submit {answer.status_code}")

    def _failed(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)
        time.sleep(0.05)

    def __enter__(self) -> ReviewSession:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def count(self) -> int:
        with self.lock:
            return len(self.successes)


def test_no_review_that_got_a_success_response_is_lost_across_a_restart(
    private_postgres, fault_db, tmp_path
):
    data = run_scenario(fault_db, "setup-review", "--items", "600", "--reviewers", "4")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "gunicorn.log").open("w")
    # Persistent connections, as in production: the restart leaves every worker thread holding
    # a dead one, which is the case worth testing.
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "reviewapp.wsgi:application"]
        + ["--workers=2", "--worker-class=gthread", "--threads=4", f"--bind=127.0.0.1:{port}"]
        + ["--log-level=warning"],
        env=subprocess_env(fault_db, DB_CONN_MAX_AGE="60"),
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    try:
        wait_for(lambda: _up(base), timeout=60, what="gunicorn on " + base, interval=0.2)
        with ReviewSession(base, data["tokens"], data["queue"]) as session:
            wait_for(lambda: session.count() >= 20, timeout=60, what="20 reviews")
            private_postgres.restart()
            restarted_at = time.monotonic()
            before = session.count()
            wait_for(lambda: session.count() >= before + 20, timeout=60, what="reviews after it")
    finally:
        server.terminate()
        server.wait(timeout=30)

    with psycopg.connect(fault_db) as conn:
        stored = dict(conn.execute("SELECT id, item_id FROM review_review").fetchall())
        ((most,),) = conn.execute(
            "SELECT coalesce(max(n), 0) FROM "
            "(SELECT count(*) AS n FROM review_review GROUP BY item_id) AS per_item"
        ).fetchall()
    acknowledged = {review_id: item for _, review_id, item in session.successes}
    lost = {r: i for r, i in acknowledged.items() if stored.get(r) != i}
    assert not lost, f"{len(lost)} acknowledged reviews are missing: {sorted(lost)[:20]}"
    # The session went on after the restart: reviews were acknowledged after it, too.
    assert any(at > restarted_at for at, _, _ in session.successes)
    # No item was reviewed twice (overlap is off: each item needs one review).
    assert most == 1
    print(f"{len(acknowledged)} acknowledged, {len(stored)} stored, failures: {session.failures}")


def _up(base: str) -> bool:
    import httpx

    try:
        return httpx.get(base + "/api/schema/", timeout=2).status_code in {200, 401, 403}
    except httpx.HTTPError:
        return False
