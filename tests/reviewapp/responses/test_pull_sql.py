"""SQL pull against a second, real PostgreSQL database the test creates (and drops): batches by
watermark, only new rows on the next pull, and failures that leave the cursor where it was."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command

from reviewapp.responses.connectors import pull, translate_query
from reviewapp.responses.models import IngestRun, Response, Source

DB_NAME = "longtail_sqlsource_test"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
QUERY = (
    "SELECT id, updated_at, question, answer, tier, confidence AS router_confidence, "
    "metadata, shadow FROM answers "
    "WHERE updated_at > :watermark ORDER BY updated_at LIMIT 2"
)


@pytest.fixture
def external_db(pg_admin_url):
    """A database that is not Django's, as a customer's warehouse would be."""
    import psycopg

    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    dsn = urlunsplit(urlsplit(pg_admin_url)._replace(path=f"/{DB_NAME}"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE answers (
                id text PRIMARY KEY,
                updated_at timestamptz NOT NULL,
                question text NOT NULL,
                answer text NOT NULL,
                tier text NOT NULL,
                confidence numeric(4, 3),
                metadata jsonb,
                shadow text  -- JSON in a text column
            )
            """
        )
    try:
        yield dsn
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def insert_rows(dsn: str, start: int, count: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(start, start + count):
            conn.execute(
                "INSERT INTO answers VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    f"a{i}",
                    T0 + timedelta(minutes=i),
                    f"can I get a refund for order {i}?",
                    f"yes, within 30 days ({i})",
                    "cheap" if i % 2 else "capable",
                    0.9 - i / 100,
                    json.dumps({"locale": "de", "turn": i}),
                    json.dumps({"model": "big-1", "response": f"shadow {i}"}),
                ),
            )


def sql_source(dsn: str, **overrides: Any) -> Source:
    return Source.objects.create(
        name="warehouse",
        kind=Source.Kind.SQL,
        settings={
            "dsn": dsn,
            "query": QUERY,
            "initial_watermark": "1970-01-01T00:00:00Z",
            "kind": "responses",
            "timeout": 10,
            **overrides,
        },
        mapping={"query": "question", "response": "answer", "timestamp": "updated_at"},
    )


def watermark(source: Source) -> Any:
    source.refresh_from_db()
    return source.cursor.get("watermark")


@pytest.mark.django_db
def test_it_pulls_in_batches_and_then_only_the_new_rows(external_db):
    insert_rows(external_db, 1, 5)  # three batches of LIMIT 2: 2, 2, 1
    source = sql_source(external_db)

    first = pull(source=source)

    assert first.run.status == IngestRun.Status.FINISHED, first.run.error
    assert (first.run.created_count, first.run.rejected_count) == (5, 0)
    # The watermark column follows the mapping of "timestamp" (updated_at).
    assert datetime.fromisoformat(watermark(source)) == T0 + timedelta(minutes=5)
    assert "password" not in first.run.origin and first.run.origin.endswith(f"/{DB_NAME}")
    row = Response.objects.get(source=source, external_id="a3")
    assert row.query == "can I get a refund for order 3?"
    assert row.timestamp == T0 + timedelta(minutes=3)
    assert row.router_confidence == pytest.approx(0.87)
    assert row.metadata == {"locale": "de", "turn": 3}
    assert (row.shadow_model, row.shadow_response) == ("big-1", "shadow 3")

    second = pull(source=source)
    assert second.run.status == IngestRun.Status.FINISHED
    assert (second.run.created_count, second.run.unchanged_count) == (0, 0)

    insert_rows(external_db, 6, 3)
    third = pull(source=source)

    assert (third.run.created_count, third.run.unchanged_count) == (3, 0)
    assert Response.objects.filter(source=source).count() == 8
    assert datetime.fromisoformat(watermark(source)) == T0 + timedelta(minutes=8)


@pytest.mark.django_db
def test_a_bad_query_fails_the_run_and_leaves_the_cursor(external_db):
    source = sql_source(
        external_db, query="SELECT * FROM answerz WHERE updated_at > :watermark LIMIT 10"
    )
    source.cursor = {"watermark": "2026-03-01T09:02:00+00:00"}
    source.save()

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert 'relation "answerz" does not exist' in result.run.error
    assert not result.transient
    assert source.cursor == {"watermark": "2026-03-01T09:02:00+00:00"}
    assert watermark(source) == "2026-03-01T09:02:00+00:00"


@pytest.mark.django_db
def test_a_query_that_does_not_pass_the_watermark_fails_instead_of_looping(external_db):
    insert_rows(external_db, 1, 3)
    source = sql_source(external_db, query=QUERY.replace("> :watermark", ">= :watermark"))

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "did not move past" in result.run.error
    # Every row was read and stored before the query came back to the last one.
    assert Response.objects.filter(source=source).count() == 3


@pytest.mark.django_db
def test_an_unreachable_database_is_a_transient_failure(pg_admin_url):
    dsn = urlunsplit(urlsplit(pg_admin_url)._replace(netloc="postgres:hunter2@127.0.0.1:1"))
    source = Source.objects.create(
        name="unreachable",
        kind=Source.Kind.SQL,
        settings={"dsn": dsn, "query": QUERY, "timeout": 2},
    )

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "cannot connect" in result.run.error
    assert "hunter2" not in result.run.error and "hunter2" not in result.run.origin
    assert result.transient


@pytest.mark.django_db
def test_a_query_without_the_watermark_is_refused_before_it_runs():
    source = Source.objects.create(
        name="nowm",
        kind=Source.Kind.SQL,
        settings={"dsn": "postgresql://x@127.0.0.1/x", "query": "SELECT * FROM answers"},
    )

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "must select rows after :watermark" in result.run.error


@pytest.mark.django_db
def test_the_pull_command_reads_a_sql_source(external_db):
    insert_rows(external_db, 1, 3)
    sql_source(external_db)
    out = io.StringIO()

    call_command("pull", "warehouse", stdout=out)

    assert "3 new, 0 updated, 0 unchanged, 0 rejected" in out.getvalue()


def test_the_watermark_is_always_a_bound_parameter():
    sql = translate_query(
        "SELECT a::text, ':watermark' AS q, x -- :watermark here\n"
        "FROM t WHERE name LIKE 'a%' AND ts > :watermark AND :watermarks ORDER BY ts"
    )
    assert sql == (
        "SELECT a::text, ':watermark' AS q, x -- :watermark here\n"
        "FROM t WHERE name LIKE 'a%%' AND ts > %(watermark)s AND :watermarks ORDER BY ts"
    )
