"""kill -9 in the middle of an ingest, then run it again: exactly the file's records remain.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/longtail_bench \\
        .venv/bin/python benchmarks/interrupted_ingest.py --n 200000

Generates N records (benchmarks/ingest.py's generator), starts `manage.py ingest` on them as a
subprocess, SIGKILLs it once part of the file is committed, runs the same command again to
the end, then a third time (which must find everything unchanged), and checks that the
source holds exactly N responses, one per id of the file. Exit status 1 if not.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this directory comes first on sys.path, where benchmarks/queue.py would
# shadow the standard library's queue (psycopg needs it): put the project root there instead.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import msgspec  # noqa: E402

from benchmarks.ingest import (  # noqa: E402 - needs the path above
    DEFAULT_URL,
    ensure_database,
    generate,
    setup_django,
    write_jsonl,
)

SOURCE = "interrupted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument(
        "--kill-at", type=float, default=0.4, help="kill once this share of N is committed"
    )
    parser.add_argument("--embeddings", type=int, default=0)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    setup_django(url)

    from django.db import connection

    from reviewapp.responses.models import IngestRun, Response
    from reviewapp.responses.services import source_get_or_create

    source = source_get_or_create(name=SOURCE)
    Response.objects.filter(source=source).delete()
    source.embedding_dim = None
    source.save(update_fields=["embedding_dim"])

    tmp = Path(tempfile.mkdtemp(prefix="longtail-kill-"))
    path = tmp / "responses.jsonl"
    n = write_jsonl(path, generate(args.n, embeddings=args.embeddings, seed=7))
    command = [sys.executable, str(ROOT / "manage.py"), "ingest", str(path), "--source", SOURCE]
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": os.environ.get("DEBUG", "1")}

    def committed() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM responses_response WHERE source_id = %s", [source.pk]
            )
            return int(cursor.fetchone()[0])

    print(f"{n:,} records in {path}")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.perf_counter()
    while process.poll() is None and committed() < args.kill_at * n:
        time.sleep(0.05)
    if process.poll() is not None:
        sys.exit(f"the ingest finished before it could be killed: {process.communicate()}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    at_kill = committed()
    killed_run = IngestRun.objects.filter(source=source).order_by("-pk").first()
    print(
        f"SIGKILL after {time.perf_counter() - started:.1f}s: {at_kill:,} responses committed, "
        f"the killed run #{killed_run.pk if killed_run else '?'} counted "
        f"{killed_run.created_count if killed_run else '?':,} new "
        f"(status left {killed_run.status if killed_run else '?'!r})"
    )

    outputs = []
    for label in ("rerun", "third run"):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        outputs.append(done.stdout.strip())
        print(f"{label}: exit {done.returncode}: {done.stdout.strip()}")
        if done.returncode:
            print(done.stderr)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT external_id) FROM responses_response "
            "WHERE source_id = %s",
            [source.pk],
        )
        total, distinct = cursor.fetchone()
    rerun, third = IngestRun.objects.filter(source=source).order_by("-pk")[:2][::-1]
    decoder = msgspec.json.Decoder()
    with path.open("rb") as lines:
        file_ids = {decoder.decode(line)["id"] for line in lines}
    stored_ids = set(Response.objects.filter(source=source).values_list("external_id", flat=True))
    ok = (
        total == n
        and distinct == n
        and stored_ids == file_ids
        and at_kill + rerun.created_count == n
        and rerun.updated_count == 0
        and (third.created_count, third.updated_count, third.unchanged_count) == (0, 0, n)
    )
    print(
        f"after the rerun: {total:,} responses, {distinct:,} distinct ids "
        f"(expected {n:,}), the same ids as the file: {stored_ids == file_ids}; "
        f"{at_kill:,} before the kill + {rerun.created_count:,} new in the "
        f"rerun (+ {rerun.unchanged_count:,} unchanged); third run {third.unchanged_count:,} "
        f"unchanged -> {'OK' if ok else 'MISMATCH'}"
    )
    path.unlink()
    tmp.rmdir()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
