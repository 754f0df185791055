"""A SQL source's database restarted in the middle of `manage.py pull`: the cursor never
passes a row that was not stored, and the next pull ends with exactly the source's rows."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import psycopg
import pytest

from .conftest import MANAGE_PY, ROOT, run_scenario, subprocess_env, wait_for

pytestmark = pytest.mark.faults

ROWS = 4_000
T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


def _count(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return int(conn.execute("SELECT count(*) FROM responses_response").fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError:
        return -1


def test_a_source_restarted_mid_pull_leaves_the_cursor_at_stored_data(private_postgres, fault_db):
    warehouse = fault_db.rsplit("/", 1)[0] + "/" + fault_db.rsplit("/", 1)[1] + "_src"
    private_postgres.sql(f"CREATE DATABASE {warehouse.rsplit('/', 1)[1]}")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE answers (id text PRIMARY KEY, updated_at timestamptz NOT NULL, "
            "question text NOT NULL, answer text NOT NULL, tier text NOT NULL)"
        )
        with conn.cursor().copy("COPY answers FROM STDIN") as copy:
            for i in range(ROWS):
                copy.write_row(
                    (
                        f"a{i}",
                        T0 + dt.timedelta(seconds=i),
                        f"question {i}",
                        f"answer {i}",
                        "cheap" if i % 2 else "capable",
                    )
                )
    run_scenario(fault_db, "setup-sql-source", warehouse, "--limit", "100")
    env = subprocess_env(fault_db)
    command = [sys.executable, str(MANAGE_PY), "pull", "warehouse", "--batch-size", "100"]

    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: _count(fault_db) >= 300 or process.poll() is not None,
            timeout=120,
            what="the first pages",
        )
        assert process.poll() is None, "the pull finished before the restart"
        private_postgres.restart()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0, stdout

    def stored_and_cursor() -> tuple[set[str], str | None]:
        with psycopg.connect(fault_db) as conn:
            ids = {row[0] for row in conn.execute("SELECT external_id FROM responses_response")}
            ((cursor,),) = conn.execute(
                "SELECT cursor FROM responses_source WHERE name = 'warehouse'"
            ).fetchall()
        if isinstance(cursor, str):
            cursor = json.loads(cursor)
        return ids, (cursor or {}).get("watermark")

    ids, mark = stored_and_cursor()
    assert 0 < len(ids) < ROWS
    if mark is not None:
        # Every source row up to the watermark is stored: nothing unread was skipped.
        upto = dt.datetime.fromisoformat(mark)
        below = {f"a{i}" for i in range(ROWS) if T0 + dt.timedelta(seconds=i) <= upto}
        assert below <= ids, sorted(below - ids)[:10]

    rerun = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    ids, mark = stored_and_cursor()
    assert ids == {f"a{i}" for i in range(ROWS)}
    assert dt.datetime.fromisoformat(mark) == T0 + dt.timedelta(seconds=ROWS - 1)
