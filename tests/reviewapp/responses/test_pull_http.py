"""HTTP pull against a real JSON API on 127.0.0.1, started by the test: auth, pages, watermark,
and every way a page can go wrong, each ending with the cursor at the last stored page."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.management import CommandError, call_command

from reviewapp.responses import connectors
from reviewapp.responses.connectors import Page, SourceBusy, SourceConfigError, pull
from reviewapp.responses.models import IngestRun, Response, Source
from tests.conftest import require_postgres_database

TOKEN = "s3cret-token"


def make_records(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i}",
            "timestamp": f"2026-01-01T10:{i:02d}:00Z",
            "query": f"question {i}",
            "response": f"answer {i}",
            "tier": "cheap" if i % 3 else "capable",
            "router_confidence": 0.5 + i / 200,
        }
        for i in range(start, start + count)
    ]


@dataclass
class FakeApi:
    """A paged JSON API. Records are served in timestamp order, after `since` (strictly)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 3
    # "url": the page carries the next page's URL; "token": an opaque cursor (observability
    # export style, {"traces": [...], "meta": {"next_cursor": ...}}).
    style: str = "url"
    watermark_field: str = "timestamp"
    fail_at: int | None = None  # the offset whose page answers HTTP 500
    malformed_at: int | None = None  # ... answers broken JSON
    slow_at: int | None = None  # ... answers after `slow_seconds`
    slow_seconds: float = 2.0
    gzip: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def answer(self, path: str, query: dict[str, str], auth: str | None) -> tuple[int, bytes]:
        self.requests.append({"path": path, "query": query, "auth": auth})
        if auth != f"Bearer {TOKEN}":
            return 401, b'{"error": "missing or bad token"}'
        since = query.get("since")
        selected = [r for r in self.records if since is None or r[self.watermark_field] > since]
        offset = int(query.get("cursor", 0))
        if offset == self.fail_at:
            return 500, b'{"error": "database is restarting"}'
        if offset == self.malformed_at:
            return 200, b'{"data": [{"id": "r1", "timestamp": '
        if offset == self.slow_at:
            time.sleep(self.slow_seconds)
        items = selected[offset : offset + self.page_size]
        following = offset + self.page_size if offset + self.page_size < len(selected) else None
        if self.style == "token":
            body: Any = {
                "traces": items,
                "meta": {"next_cursor": None if following is None else str(following)},
            }
        else:
            next_query = {**({"since": since} if since else {}), "cursor": following}
            body = {
                "data": items,
                "next": None
                if following is None
                else f"{self.base_url}/api/records?{urlencode(next_query)}",
            }
        return 200, json.dumps(body).encode()


@pytest.fixture
def api():
    state = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            status, body = state.answer(parts.path, query, self.headers.get("Authorization"))
            compress = state.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
            if compress:
                body = gzip.compress(body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if compress:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test): nothing to answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def http_source(api: FakeApi, name: str = "support-bot", **overrides: Any) -> Source:
    settings = {
        "url": f"{api.base_url}/api/records",
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "next_path": "next",
        "watermark_param": "since",
        "kind": "responses",
        "timeout": 5,
        **overrides,
    }
    return Source.objects.create(name=name, kind=Source.Kind.HTTP, settings=settings)


def watermark(source: Source) -> Any:
    source.refresh_from_db()
    return source.cursor.get("watermark")


@pytest.mark.django_db
def test_it_refuses_without_the_auth_header_and_says_why(api):
    api.records = make_records(1, 4)
    source = http_source(api, headers={})

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "HTTP 401" in result.run.error
    assert "Authorization header" in result.run.error
    assert not result.transient
    assert Response.objects.count() == 0
    assert watermark(source) is None
    assert api.requests[0]["auth"] is None


@pytest.mark.django_db
def test_it_follows_pages_and_a_second_run_fetches_only_what_is_new(api):
    api.records = make_records(1, 10)  # 4 pages of 3, 3, 3, 1
    source = http_source(api)

    first = pull(source=source)

    assert first.run.status == IngestRun.Status.FINISHED, first.run.error
    assert (first.run.created_count, first.run.rejected_count) == (10, 0)
    assert len(api.requests) == 4
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in api.requests)
    assert watermark(source) == "2026-01-01T10:10:00Z"
    assert Response.objects.filter(source=source).count() == 10
    assert first.run.origin == f"{api.base_url}/api/records"

    api.requests.clear()
    second = pull(source=source)

    assert second.run.status == IngestRun.Status.FINISHED
    assert (second.run.created_count, second.run.updated_count) == (0, 0)
    assert api.requests[0]["query"]["since"] == "2026-01-01T10:10:00Z"

    api.records += make_records(11, 5)
    third = pull(source=source)

    assert third.run.created_count == 5
    assert third.run.unchanged_count == 0
    assert watermark(source) == "2026-01-01T10:15:00Z"
    assert Response.objects.filter(source=source).count() == 15


@pytest.mark.django_db
def test_a_500_mid_pagination_keeps_the_cursor_at_the_last_good_page(api):
    api.records = make_records(1, 9)
    api.fail_at = 6  # the third page
    source = http_source(api)

    failed = pull(source=source)

    assert failed.run.status == IngestRun.Status.FAILED
    assert "page 3" in failed.run.error and "HTTP 500" in failed.run.error
    assert failed.transient
    assert failed.run.created_count == 6
    assert watermark(source) == "2026-01-01T10:06:00Z"

    api.fail_at = None  # the server recovers
    api.requests.clear()
    resumed = pull(source=source)

    assert resumed.run.status == IngestRun.Status.FINISHED
    assert api.requests[0]["query"]["since"] == "2026-01-01T10:06:00Z"
    assert (resumed.run.created_count, resumed.run.unchanged_count) == (3, 0)
    assert Response.objects.filter(source=source).count() == len(api.records)
    assert watermark(source) == "2026-01-01T10:09:00Z"


@pytest.mark.django_db
def test_a_server_slower_than_the_timeout_fails_the_run_after_the_stored_pages(api):
    api.records = make_records(1, 6)
    api.slow_at, api.slow_seconds = 3, 2.0
    source = http_source(api, timeout=0.3)

    started = time.monotonic()
    result = pull(source=source)

    assert time.monotonic() - started < 1.8
    assert result.run.status == IngestRun.Status.FAILED
    assert "page 2" in result.run.error and "0.3 s timeout" in result.run.error
    assert result.transient
    assert result.run.created_count == 3
    assert watermark(source) == "2026-01-01T10:03:00Z"


@pytest.mark.django_db
def test_a_malformed_page_fails_the_run_and_keeps_what_came_before(api):
    api.records = make_records(1, 9)
    api.malformed_at = 3
    source = http_source(api)

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "page 2" in result.run.error and "not valid JSON" in result.run.error
    assert not result.transient
    assert result.run.created_count == 3
    assert watermark(source) == "2026-01-01T10:03:00Z"


@pytest.mark.django_db
def test_a_page_of_the_wrong_shape_says_which_setting_to_fix(api):
    api.records = make_records(1, 2)
    api.style = "token"  # {"traces": [...]}: neither a list nor "records" / "data"
    source = http_source(api)

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "an object with keys [traces, meta]" in result.run.error
    assert "records_path" in result.run.error

    source.settings["records_path"] = "meta"
    source.save()
    result = pull(source=source)
    assert "records_path 'meta' does not lead to a list" in result.run.error


@pytest.mark.django_db
def test_an_observability_export_is_mapped_onto_responses(api):
    api.style, api.page_size, api.watermark_field = "token", 2, "start_time"
    api.records = [
        {
            "trace_id": f"tr-{i}",
            "start_time": f"2026-02-01T08:00:{i:02d}+00:00",
            "input": f"how do I {i}?",
            "output": f"like this {i}",
            "metadata": {"tier": "cheap" if i < 4 else "capable", "region": "eu"},
            "latency_ms": 120 + i,
        }
        for i in range(1, 6)
    ]
    source = http_source(api, records_path="traces", next_path="meta.next_cursor")
    source.mapping = {
        "id": "trace_id",
        "query": "input",
        "response": "output",
        "tier": "metadata.tier",
        "timestamp": "start_time",
    }
    source.save()

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FINISHED, result.run.error
    assert result.run.created_count == 5
    # The cursor token and the watermark both go back to the API.
    assert [r["query"].get("cursor") for r in api.requests] == [None, "2", "4"]
    # watermark_field follows the mapping of "timestamp" when it is not set.
    assert watermark(source) == "2026-02-01T08:00:05+00:00"
    row = Response.objects.get(source=source, external_id="tr-4")
    assert (row.query, row.response, row.tier) == ("how do I 4?", "like this 4", "capable")
    assert row.latency_ms == 124
    assert row.metadata == {"tier": "capable", "region": "eu"}

    assert pull(source=source).run.created_count == 0


@pytest.mark.django_db
def test_bad_records_in_a_page_are_quarantined_and_the_rest_is_stored(api):
    api.records = make_records(1, 3)
    api.records[1]["router_confidence"] = 1.7
    api.records.append("not an object")  # type: ignore[arg-type]
    api.page_size = 10
    source = http_source(api, next_path=None, watermark_param=None)

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FINISHED
    assert (result.run.created_count, result.run.rejected_count) == (2, 2)
    assert sorted((r.line_number, r.field, r.reason) for r in result.run.rejects.all()) == [
        (2, "router_confidence", "must be a number from 0 to 1"),
        (4, "", "is JSON but not an object ({...})"),
    ]


@pytest.mark.django_db
def test_a_refused_connection_is_a_transient_failure():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = Source.objects.create(
        name="gone",
        kind=Source.Kind.HTTP,
        settings={"url": f"http://127.0.0.1:{port}/api", "timeout": 2},
        cursor={"watermark": "2026-01-01T00:00:00Z"},
    )

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "cannot connect" in result.run.error
    assert result.transient
    assert watermark(source) == "2026-01-01T00:00:00Z"


@pytest.mark.django_db
def test_a_next_link_to_another_server_is_refused(api):
    api.records = make_records(1, 4)
    source = http_source(api)
    api.base_url = "http://evil.example"  # the API's next links now point elsewhere

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "another server" in result.run.error
    assert result.run.created_count == 3
    assert len(api.requests) == 1


@pytest.mark.django_db
def test_bad_settings_end_in_a_failed_run_not_a_crash():
    source = Source.objects.create(name="nourl", kind=Source.Kind.HTTP, settings={})

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FAILED
    assert "settings.url must be an http(s) URL" in result.run.error

    file_source = Source.objects.create(name="a-file", kind=Source.Kind.FILE)
    with pytest.raises(SourceConfigError, match="only http and sql sources pull"):
        pull(source=file_source)


class CrashingConnector:
    """Pages of two records, then the worker dies (not a PullError: nothing catches it)."""

    kind = "responses"
    origin = "crash-test"

    def __init__(self, source: Source) -> None:
        pass

    def pages(self, watermark: Any):
        records = make_records(1, 4)
        yield Page(records[:2], records[1]["timestamp"])
        yield Page(records[2:], records[3]["timestamp"])
        raise RuntimeError("worker killed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("batch_size", "committed", "expected_watermark"),
    [
        (2, 4, "2026-01-01T10:04:00Z"),  # each page committed as it ends
        (3, 3, "2026-01-01T10:02:00Z"),  # page 2 only partly committed: not passed
    ],
)
def test_the_cursor_moves_only_past_committed_pages(
    monkeypatch, batch_size, committed, expected_watermark
):
    monkeypatch.setitem(connectors.CONNECTORS, Source.Kind.HTTP, CrashingConnector)
    source = Source.objects.create(name="crashy", kind=Source.Kind.HTTP)

    with pytest.raises(RuntimeError, match="worker killed"):
        pull(source=source, batch_size=batch_size)

    assert Response.objects.filter(source=source).count() == committed
    assert watermark(source) == expected_watermark
    run = IngestRun.objects.get(source=source)
    assert run.status == IngestRun.Status.FAILED
    assert "worker killed" in run.error


@pytest.mark.django_db
def test_the_pull_command_prints_counts_and_fails_loudly(api):
    api.records = make_records(1, 5)
    http_source(api)
    out = io.StringIO()

    call_command("pull", "support-bot", stdout=out)

    assert "5 new, 0 updated, 0 unchanged, 0 rejected" in out.getvalue()
    assert '"watermark": "2026-01-01T10:05:00Z"' in out.getvalue()

    api.fail_at = 0
    api.records += make_records(6, 1)
    with pytest.raises(CommandError, match="HTTP 500"):
        call_command("pull", "support-bot", stdout=io.StringIO())
    with pytest.raises(CommandError, match="there is no source 'nope'"):
        call_command("pull", "nope", stdout=io.StringIO())


@pytest.fixture
def eager_celery():
    """The tasks run in-process here, even where CI has a broker configured."""
    from reviewapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.mark.django_db
def test_the_beat_task_pulls_every_active_source_and_survives_a_broken_one(api, eager_celery):
    from reviewapp.responses.tasks import pull_all_sources, pull_source

    api.records = make_records(1, 4)
    good = http_source(api)
    broken = Source.objects.create(
        name="broken", kind=Source.Kind.HTTP, settings={"url": "http://127.0.0.1:9/x"}
    )
    idle = http_source(api, name="idle")
    idle.active = False
    idle.save()
    Source.objects.create(name="uploads", kind=Source.Kind.FILE)

    assert pull_all_sources() == [good.pk, broken.pk]

    assert Response.objects.filter(source=good).count() == 4
    assert IngestRun.objects.get(source=broken).status == IngestRun.Status.FAILED
    assert not IngestRun.objects.filter(source=idle).exists()

    # Idempotent: again, nothing new.
    again = pull_source(good.pk)
    assert (again["status"], again["created"], again["unchanged"]) == ("finished", 0, 0)
    assert pull_source(idle.pk)["skipped"]


@pytest.mark.django_db
def test_gzip_pages_are_unpacked(api):
    api.records, api.gzip = make_records(1, 7), True
    source = http_source(api)

    result = pull(source=source)

    assert result.run.status == IngestRun.Status.FINISHED, result.run.error
    assert result.run.created_count == 7


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_source_being_pulled_elsewhere_is_skipped_not_pulled_twice(api, eager_celery):
    """On PostgreSQL an advisory lock keeps two workers off one source's cursor."""
    import psycopg
    from django.db import connection

    from reviewapp.responses.tasks import pull_source

    require_postgres_database()
    api.records = make_records(1, 3)
    source = http_source(api)
    db = connection.settings_dict
    other_worker = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=db["NAME"],
        password=db["PASSWORD"] or None,
        autocommit=True,
    )
    with other_worker:
        other_worker.execute("SELECT pg_advisory_lock(%s, %s)", (0x4C54, source.pk))
        with pytest.raises(SourceBusy):
            pull(source=source)
        assert pull_source(source.pk)["skipped"] == "already being pulled"
        assert not api.requests
        other_worker.execute("SELECT pg_advisory_unlock(%s, %s)", (0x4C54, source.pk))

    assert pull(source=source).run.created_count == 3
