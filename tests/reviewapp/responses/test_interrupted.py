"""An ingest killed with SIGKILL half-way, then run again, ends with exactly the file's records.

The real command in a real process against a real database: batches commit one by one, the
kill lands between or inside a batch, and the second run upserts by (source, id).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from .ingest_helpers import SubprocessDatabase, response_record, write_jsonl

RECORDS = 30_000
BATCH = 1_000


def _responses(database: SubprocessDatabase) -> int:
    return database.query("SELECT count(*) FROM responses_response")[0][0]


@pytest.mark.django_db(transaction=True)
def test_an_ingest_killed_half_way_and_run_again_stores_exactly_the_file(tmp_path):
    database = SubprocessDatabase(tmp_path)
    records = [response_record(i) for i in range(RECORDS)]
    path = write_jsonl(tmp_path / "big.jsonl", records)
    env = database.env(LONGTAIL_INGEST_BATCH_SIZE=str(BATCH))

    process = subprocess.Popen(
        database.command("ingest", str(path), "--source", "killed"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        committed = 0
        while committed < BATCH:
            assert process.poll() is None, (
                "the ingest finished before it could be killed: "
                + process.communicate()[1].decode()[-2000:]
            )
            assert time.monotonic() < deadline, "no batch was committed within 120 s"
            time.sleep(0.02)
            committed = _responses(database)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL

    partial = _responses(database)
    assert 0 < partial < RECORDS, partial
    # A batch commits whole or not at all: the rows, and the run's counts with them.
    assert partial % BATCH == 0, partial
    ((status, created),) = database.query("SELECT status, created_count FROM responses_ingestrun")
    assert (status, created) == ("running", partial)

    second = database.manage("ingest", str(path), "--source", "killed", env=env)

    assert second.returncode == 0, second.stderr[-3000:]
    assert (
        f"{RECORDS - partial} new, 0 updated, {partial} unchanged, 0 rejected" in second.stdout
    ), second.stdout
    ((total, distinct),) = database.query(
        "SELECT count(*), count(DISTINCT external_id) FROM responses_response"
    )
    assert total == distinct == RECORDS
    stored = {row[0] for row in database.query("SELECT external_id FROM responses_response")}
    assert stored == {record["id"] for record in records}
