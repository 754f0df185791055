"""Ingest throughput on PostgreSQL: our ingest against Django's bulk_create and raw COPY.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/longtail_bench \\
        .venv/bin/python benchmarks/ingest.py --n 200000 [--embeddings 384]

It creates the database named in DATABASE_URL if missing and migrates it, generates N
realistic response records (written as JSONL to a temporary file), then measures, each into
the same empty responses_response table with its indexes and unique constraint:

  (a) ingest      `ingest_path` on the JSONL file, end to end: read, parse, validate,
                  digest, COPY into a stage, upsert, rejects and counts, a commit per batch;
  (b) bulk_create reading and parsing the same file, building Response objects from the
                  parsed dicts (inside the timing) and `bulk_create` in batches, a commit per
                  --batch records. No validation, no digest, no upsert: generous to it;
  (c) raw COPY    the same rows (content hash included) from a prepared CSV file streamed to
                  `COPY responses_response FROM STDIN (FORMAT csv)`: the database's own limit;
  (r) re-ingest   (a)'s file again into the filled table: every record unchanged;
  (s) tasks       what ingest schedules after its commit (uncertainty/OOD scoring, drift
                  alarms: Celery tasks, async on a worker in production, eager here without
                  a broker): held back during (a) and timed on their own, outside the ratios.

The table is truncated and a CHECKPOINT is taken before each measurement, so one
measurement's dirty pages are not written during the next one's timing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, this directory comes first on sys.path, where benchmarks/queue.py would
# shadow the standard library's queue (psycopg needs it): put the project root there instead.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/longtail_bench"

_VOCABULARY = (
    "account billing invoice refund charge card payment plan upgrade downgrade subscription "
    "cancel renew trial seat user admin workspace project export import report dashboard "
    "login password reset two factor token api key webhook integration slack email sso saml "
    "error timeout slow sync failed missing duplicate limit quota storage attachment upload "
    "download permission role team member invite remove transfer ownership currency tax vat "
    "receipt statement cycle proration credit balance dispute fraud chargeback reconcile "
    "why how can I do you please my the a an to of for on in with is was not it this that "
    "when after before yesterday today month year again still works doesn't help thanks"
)
_WORDS = _VOCABULARY.split()
_TIERS = ("cheap", "capable")
_SEGMENTS = ("free", "pro", "business", "enterprise")
_LABELS = ("simple", "complex")
_CHANNELS = ("web", "ios", "android", "email")
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP")


def _text(rng: random.Random, low: int, high: int) -> str:
    words: list[str] = []
    size = 0
    target = rng.randint(low, high)
    while size < target:
        chunk = rng.choices(_WORDS, k=16)
        words.extend(chunk)
        size += sum(map(len, chunk)) + len(chunk)
    text = " ".join(words)[:target]
    return text[0].upper() + text[1:] + "."


def generate(n: int, *, embeddings: int = 0, seed: int = 1) -> Iterator[dict[str, Any]]:
    """N response records as a production log would hold them (docs/schema/response)."""
    import numpy as np

    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    chunk = 2_000
    for offset in range(0, n, chunk):
        count = min(chunk, n - offset)
        vectors = None
        if embeddings:
            raw = np_rng.standard_normal((count, embeddings), dtype=np.float32)
            raw /= np.linalg.norm(raw, axis=1, keepdims=True)
            # Six decimals: about float32's precision, as embedding exports usually write them.
            vectors = np.round(raw.astype(np.float64), 6).tolist()
        for i in range(count):
            number = offset + i
            tier = _TIERS[0] if rng.random() < 0.65 else _TIERS[1]
            confidence = round(rng.betavariate(5, 1.5), 4)
            record: dict[str, Any] = {
                "id": f"resp-{number:09d}-{rng.getrandbits(32):08x}",
                "timestamp": (start + timedelta(seconds=number * 2.16)).isoformat(),
                "query": _text(rng, 80, 400),
                "response": _text(rng, 200, 900),
                "tier": tier,
                "model": "small-2026-01" if tier == "cheap" else "large-2026-01",
                "router_label": _LABELS[0] if tier == "cheap" else _LABELS[1],
                "router_confidence": confidence,
                "auto_score": round(rng.random(), 4),
                "conversation_id": f"conv-{number // 3:08d}",
                "user_id": f"user-{rng.randrange(200_000):06d}",
                "segment": rng.choice(_SEGMENTS),
                "cost_usd": round(rng.uniform(0.0001, 0.02), 6),
                "latency_ms": round(rng.uniform(200, 4000), 1),
                "metadata": {
                    "channel": rng.choice(_CHANNELS),
                    "locale": rng.choice(_LOCALES),
                    "app_version": f"4.{rng.randrange(20)}.{rng.randrange(10)}",
                },
            }
            if vectors is not None:
                record["embedding"] = vectors[i]
            yield record


def write_jsonl(path: Path, records: Iterator[dict[str, Any]]) -> int:
    import msgspec

    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    count = 0
    with path.open("wb") as out:
        for record in records:
            encoder.encode_into(record, buffer, len(buffer))
            buffer += b"\n"
            count += 1
            if len(buffer) > 1 << 22:
                out.write(buffer)
                buffer.clear()
        out.write(buffer)
    return count


def ensure_database(url: str) -> None:
    """Create the benchmark database through the admin database if it does not exist yet."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings_test")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    # Ingest imports its after-commit tasks lazily (scipy among them: seconds on a busy
    # machine); a worker pays that once per process, so it is paid here, before any timing.
    import importlib

    for module in ("reviewapp.responses.tasks", "reviewapp.reports.tasks"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def _csv_field(value: Any) -> str:
    # CSV COPY: an unquoted empty field is NULL, a quoted one is the empty string.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return repr(value)


def write_copy_csv(jsonl: Path, csv_path: Path, source: Any) -> None:
    """The rows our ingest would store, as a CSV file for COPY (not timed)."""
    import msgspec

    from reviewapp.responses.records import validate
    from reviewapp.responses.services import _ResponseWriter

    writer = _ResponseWriter(source)
    decoder = msgspec.json.Decoder()
    now = datetime.now(UTC).isoformat()
    with jsonl.open("rb") as lines, csv_path.open("w", encoding="utf-8") as out:
        for line in lines:
            row = writer._row(validate("responses", decoder.decode(line)))  # type: ignore[arg-type]
            out.write(",".join(map(_csv_field, row)) + f",{now},{now}\n")


def reset(source: Any) -> None:
    """Empty the table (indexes and constraint stay) and flush dirty pages to disk."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE responses_response RESTART IDENTITY CASCADE")
        cursor.execute("TRUNCATE responses_rejectedrecord")
        cursor.execute("CHECKPOINT")
    source.embedding_dim = None
    source.save(update_fields=["embedding_dim"])


def count_rows() -> int:
    from reviewapp.responses.models import Response

    return Response.objects.count()


def run_ingest(jsonl: Path, source: Any, deferred: list[Any] | None = None) -> tuple[float, Any]:
    """Time `ingest_path`. The tasks it schedules after its commit (scoring, drift alarms:
    Celery tasks that a worker runs in production, but that run eagerly in-process without a
    broker) are held back in `deferred` and timed on their own by `run_deferred`: they are
    not part of writing the records."""
    from celery.app.task import Task

    from reviewapp.responses.services import ingest_path

    held = deferred if deferred is not None else []

    def hold(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        held.append((task, args or (), kwargs or {}))

    original = Task.apply_async
    Task.apply_async = hold  # type: ignore[method-assign,assignment]
    try:
        started = time.perf_counter()
        run = ingest_path(path=str(jsonl), source=source, kind="responses")
        return time.perf_counter() - started, run
    finally:
        Task.apply_async = original  # type: ignore[method-assign]


def run_deferred(deferred: list[Any]) -> float:
    started = time.perf_counter()
    for task, args, kwargs in deferred:
        task.apply(args, kwargs)
    return time.perf_counter() - started


def run_bulk_create(jsonl: Path, source: Any, batch: int, batch_size: int) -> float:
    import msgspec
    from django.db import transaction

    from reviewapp.responses.models import Response
    from reviewapp.responses.services import embedding_bytes

    decoder = msgspec.json.Decoder()

    def build(data: dict[str, Any]) -> Response:
        embedding = data.get("embedding")
        return Response(
            source=source,
            external_id=data["id"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            query=data["query"],
            response=data["response"],
            tier=data["tier"],
            model=data.get("model") or "",
            router_label=data.get("router_label") or "",
            router_confidence=data.get("router_confidence"),
            self_confidence=data.get("self_confidence"),
            escalated=data.get("escalated"),
            auto_score=data.get("auto_score"),
            embedding=embedding_bytes(embedding) if embedding is not None else None,
            conversation_id=data.get("conversation_id") or "",
            user_id=data.get("user_id") or "",
            segment=data.get("segment") or "",
            cost_usd=data.get("cost_usd"),
            latency_ms=data.get("latency_ms"),
            metadata=data.get("metadata") or {},
            content_hash="",
        )

    started = time.perf_counter()
    pending: list[Response] = []
    with jsonl.open("rb") as lines:
        for line in lines:
            pending.append(build(decoder.decode(line)))
            if len(pending) >= batch:
                with transaction.atomic():
                    Response.objects.bulk_create(pending, batch_size=batch_size)
                pending.clear()
    if pending:
        with transaction.atomic():
            Response.objects.bulk_create(pending, batch_size=batch_size)
    return time.perf_counter() - started


def run_copy(csv_path: Path) -> float:
    from django.db import connection, transaction

    from reviewapp.responses.services import RESPONSE_COLUMNS

    columns = ", ".join((*RESPONSE_COLUMNS, "ingested_at", "updated_at"))
    started = time.perf_counter()
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, csv_path.open("rb") as data:
            statement = f"COPY responses_response ({columns}) FROM STDIN (FORMAT csv)"
            with cursor.copy(statement) as copy:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="records (default 200000)")
    parser.add_argument("--embeddings", type=int, default=0, help="embedding dimensions (0)")
    parser.add_argument("--batch", type=int, default=5_000, help="bulk_create: per commit")
    parser.add_argument("--batch-size", type=int, default=2_000, help="bulk_create batch_size")
    parser.add_argument("--skip", default="", help="comma list of a,b,c,r,s to skip")
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL (this benchmark measures COPY)")
    ensure_database(url)
    setup_django(url)

    from django.conf import settings
    from django.db import connection

    from reviewapp.responses.services import source_get_or_create

    source = source_get_or_create(name="benchmark")
    tmp = Path(tempfile.mkdtemp(prefix="longtail-bench-"))
    jsonl = tmp / "responses.jsonl"
    csv_path = tmp / "responses.csv"
    try:
        started = time.perf_counter()
        n = write_jsonl(jsonl, generate(args.n, embeddings=args.embeddings))
        if "c" not in skip:
            write_copy_csv(jsonl, csv_path, source)
        size_mb = jsonl.stat().st_size / 1e6
        print(
            f"{n:,} records, {args.embeddings or 'no'} embedding dims, JSONL {size_mb:,.0f} MB "
            f"({size_mb * 1e6 / n:,.0f} B/record), prepared in {time.perf_counter() - started:.0f}s"
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        print(f"{version}; ingest batch {settings.LONGTAIL['INGEST_BATCH_SIZE']:,}")

        results: dict[str, float] = {}
        if "a" not in skip:
            reset(source)
            deferred: list[Any] = []
            seconds, run = run_ingest(jsonl, source, deferred)
            assert run.status == "finished", run.error
            assert (run.created_count, run.rejected_count) == (n, 0), (run.created_count, run)
            assert count_rows() == n
            results["a"] = seconds
            if "s" not in skip:
                results["s"] = run_deferred(deferred)
            if "r" not in skip:
                seconds, run = run_ingest(jsonl, source)
                assert (run.unchanged_count, run.created_count, run.updated_count) == (n, 0, 0)
                assert count_rows() == n
                results["r"] = seconds
        if "b" not in skip:
            reset(source)
            results["b"] = run_bulk_create(jsonl, source, args.batch, args.batch_size)
            assert count_rows() == n
        if "c" not in skip:
            reset(source)
            results["c"] = run_copy(csv_path)
            assert count_rows() == n

        labels = {
            "a": "(a) ingest_path, end to end",
            "r": "(r) re-ingest, all unchanged",
            "s": "(s) tasks ingest schedules (scoring...)",
            "b": f"(b) bulk_create ({args.batch_size:,}/query, {args.batch:,}/commit)",
            "c": "(c) raw COPY from CSV",
        }
        print()
        print(f"{'measurement':<44} {'seconds':>9} {'records/s':>11}")
        for key in ("a", "s", "r", "b", "c"):
            if key in results:
                print(f"{labels[key]:<44} {results[key]:>9.2f} {n / results[key]:>11,.0f}")
        print()
        if "a" in results and "b" in results:
            print(f"ingest / bulk_create = {results['b'] / results['a']:.2f}x   (target >= 5x)")
        if "a" in results and "c" in results:
            print(f"ingest / raw COPY    = {results['c'] / results['a']:.2f}x   (target >= 0.3x)")
    finally:
        if args.keep:
            print(f"files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
