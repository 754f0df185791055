"""Pull connectors: fetch what is new from an HTTP JSON API or an SQL database and feed it
through `ingest_records`, like every other ingest path.

A connector only talks to the foreign system: it turns the source's settings and its stored
watermark into a stream of `Page`s (a list of raw items and the highest watermark among them).
`pull` drives it: it numbers the items, hands them to `ingest_records`, and moves
`Source.cursor` forward page by page, in order, and only once the records of that page are
committed. A pull that fails or is killed therefore leaves the cursor at the last page that is
fully stored, and the next pull re-reads from there: re-read records are upserts and count as
"unchanged", so nothing is lost and nothing is doubled.

Both connectors rely on one contract of the foreign side, which they cannot check in full:
records come in increasing watermark order, and "after the watermark" is strict (`>`). Records
sharing the watermark value of a page boundary may then be skipped; a unique, increasing
watermark (an id, or a timestamp with enough resolution) avoids that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import Request, urlopen
from uuid import UUID

import msgspec
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from .models import IngestRun, Source
from .readers import FileError, RawRecord
from .records import JSON_FIELDS, MappingError, RecordError, lookup, validate_mapping
from .services import KINDS, ingest_records

logger = logging.getLogger(__name__)

PULL_KINDS = (Source.Kind.HTTP, Source.Kind.SQL)
# A page is parsed whole; past this it is refused rather than exhausting the worker's memory.
DEFAULT_MAX_PAGE_BYTES = 256 * 1024 * 1024
# Key space of the PostgreSQL advisory locks that keep two pulls of one source apart.
_LOCK_CLASS = 0x4C54  # "LT"


class PullError(FileError):
    """The source as a whole cannot be read (as far as it got): a sentence for a person.

    `transient` is true for what a retry may cure (refused connection, timeout, HTTP 5xx, a
    database restart) and false for what it will not (bad credentials, bad query, bad shape).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SourceConfigError(ValueError):
    """The source's settings cannot work: which one, and why."""


class SourceBusy(Exception):
    """Another pull of the same source is running; this one did nothing."""


@dataclass(slots=True)
class Page:
    items: list[Any]
    # The highest watermark among the items (JSON-compatible), None when they carry none.
    watermark: Any = None


@dataclass(slots=True)
class PullResult:
    run: IngestRun
    cursor: dict[str, Any]
    # The run failed for a reason a retry may cure (see PullError).
    transient: bool = False


def _secret(value: Any, name: str) -> Any:
    """Settings live in the database; "env:NAME" keeps a credential in the environment instead."""
    if isinstance(value, str) and value.startswith("env:"):
        variable = value[4:]
        if variable not in os.environ:
            raise SourceConfigError(f"{name} refers to the environment variable {variable}, unset")
        return os.environ[variable]
    return value


def watermark_key(value: Any) -> tuple[int, Any]:
    """Order watermarks of one field: numbers by value, ISO date-times as instants (so "Z" and
    "+00:00" compare right), other text as text."""
    if isinstance(value, bool):
        return (2, str(value))
    if isinstance(value, int | float | Decimal):
        return (0, float(value))
    if isinstance(value, datetime):
        return (1, (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    text = str(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return (2, text)
    return (1, (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _max_watermark(items: list[Any], path: str) -> Any:
    best, best_key = None, None
    for item in items:
        value = lookup(item, path) if isinstance(item, dict) else None
        if value is None or isinstance(value, dict | list):
            continue
        key = watermark_key(value)
        if best_key is None or key > best_key:
            best, best_key = value, key
    return best


def _record_kind(settings: dict[str, Any]) -> str:
    kind = settings.get("kind", "responses")
    if kind not in KINDS:
        raise SourceConfigError(f"settings.kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return str(kind)


def _timeout(settings: dict[str, Any]) -> float:
    timeout = settings.get("timeout", django_settings.LONGTAIL["HTTP_PULL_TIMEOUT_SECONDS"])
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise SourceConfigError(
            f"settings.timeout must be a positive number of seconds, not {timeout!r}"
        )
    return float(timeout)


def _default_watermark_field(source: Source, settings: dict[str, Any]) -> str:
    # The watermark is read from the foreign record, so follow the mapping of "timestamp".
    return str(
        settings.get("watermark_field") or (source.mapping or {}).get("timestamp") or "timestamp"
    )


class HttpConnector:
    """Pages of JSON from an HTTP API.

    settings: url, headers, records_path, next_path (a next-page URL, or a cursor token sent as
    `cursor_param`), watermark_param, watermark_field, params (fixed query parameters), kind,
    timeout (seconds, per socket operation), max_page_bytes.
    """

    def __init__(self, source: Source) -> None:
        settings = source.settings or {}
        self.url = str(settings.get("url") or "")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceConfigError(f"settings.url must be an http(s) URL, not {self.url!r}")
        headers = settings.get("headers") or {}
        if not isinstance(headers, dict):
            raise SourceConfigError("settings.headers must be an object of header: value")
        self.headers = {
            str(name): str(_secret(value, f"settings.headers.{name}"))
            for name, value in headers.items()
        }
        params = settings.get("params") or {}
        if not isinstance(params, dict):
            raise SourceConfigError("settings.params must be an object of name: value")
        self.params = {str(name): str(value) for name, value in params.items()}
        self.records_path = settings.get("records_path") or None
        self.next_path = settings.get("next_path") or None
        self.cursor_param = str(settings.get("cursor_param") or "cursor")
        self.watermark_param = settings.get("watermark_param") or None
        self.watermark_field = _default_watermark_field(source, settings)
        self.kind = _record_kind(settings)
        self.timeout = _timeout(settings)
        self.max_page_bytes = int(settings.get("max_page_bytes") or DEFAULT_MAX_PAGE_BYTES)
        self.origin = _redacted(self.url)

    def _first_url(self, watermark: Any, token: Any = None) -> str:
        parts = urlsplit(self.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += list(self.params.items())
        if self.watermark_param and watermark is not None:
            query.append((str(self.watermark_param), str(watermark)))
        if token is not None:
            query.append((self.cursor_param, str(token)))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _next_url(self, current: str, value: Any, watermark: Any) -> str:
        if isinstance(value, str) and ("://" in value or value.startswith(("/", "?"))):
            url = urljoin(current, value)
            # The next link gets our credentials: it must stay on the configured server.
            here, there = urlsplit(self.url), urlsplit(url)
            if (here.scheme, here.netloc) != (there.scheme, there.netloc):
                raise PullError(
                    f"the next-page link points to another server ({_redacted(url)}); "
                    f"refusing to send this source's credentials there"
                )
            return url
        if isinstance(value, str | int) and not isinstance(value, bool):
            return self._first_url(watermark, token=value)
        raise PullError(f"next_path {self.next_path!r} holds {value!r}, not a URL or a cursor")

    def pages(self, watermark: Any) -> Iterator[Page]:
        url = self._first_url(watermark)
        seen: set[str] = set()
        number = 0
        while True:
            number += 1
            if url in seen:
                raise PullError(f"page {number}: the API sent the same next page twice ({url})")
            seen.add(url)
            where = f"page {number} ({_redacted(url)})"
            body = self._fetch(url, where)
            try:
                document = msgspec.json.decode(body)
            except msgspec.DecodeError as exc:
                raise PullError(f"{where}: the response is not valid JSON ({exc})") from None
            items = self._records_of(document, where)
            yield Page(items, _max_watermark(items, self.watermark_field))
            following = lookup(document, self.next_path) if self.next_path else None
            if following in (None, "", False):
                return
            url = self._next_url(url, following, watermark)

    def _records_of(self, document: Any, where: str) -> list[Any]:
        if self.records_path:
            items = lookup(document, self.records_path)
            if not isinstance(items, list):
                raise PullError(
                    f"{where}: settings.records_path {self.records_path!r} does not lead to a "
                    f"list of records in the page (found {_shape(items)})"
                )
            return items
        if isinstance(document, list):
            return document
        if isinstance(document, dict):
            for key in ("records", "data"):
                items = document.get(key)
                if isinstance(items, list):
                    return items
        raise PullError(
            f"{where}: the page is {_shape(document)}, not a list of records nor an object with "
            f"a 'records' or 'data' list; set settings.records_path"
        )

    def _fetch(self, url: str, where: str) -> bytes:
        request = Request(url, headers={"Accept": "application/json", "Accept-Encoding": "gzip"})
        # Unredirected: a redirect to another host must not carry the Authorization header.
        for name, value in self.headers.items():
            request.add_unredirected_header(name, value)
        try:
            with urlopen(request, timeout=self.timeout) as response:
                body = response.read(self.max_page_bytes + 1)
                encoding = response.headers.get("Content-Encoding", "")
        except HTTPError as exc:
            detail = _snippet(exc)
            hint = ""
            if exc.code in (401, 403):
                hint = "; check the source's Authorization header (settings.headers)"
            raise PullError(
                f"{where}: the server answered HTTP {exc.code} {exc.reason}{detail}{hint}",
                transient=exc.code >= 500 or exc.code in (408, 429),
            ) from None
        except TimeoutError:
            raise PullError(
                f"{where}: no answer within the {self.timeout:g} s timeout", transient=True
            ) from None
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                message = f"no answer within the {self.timeout:g} s timeout"
            else:
                message = f"cannot connect ({reason})"
            raise PullError(f"{where}: {message}", transient=True) from None
        except (HTTPException, OSError) as exc:
            raise PullError(
                f"{where}: the connection broke ({exc.__class__.__name__}: {exc})", transient=True
            ) from None
        if len(body) > self.max_page_bytes:
            raise PullError(
                f"{where}: the page is larger than {self.max_page_bytes:,} bytes "
                f"(settings.max_page_bytes); ask the API for smaller pages"
            )
        if encoding.lower() == "gzip":
            # Bounded: a small compressed page must not unpack into gigabytes.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                body = inflater.decompress(body, self.max_page_bytes + 1)
            except zlib.error as exc:
                raise PullError(f"{where}: the gzip-compressed page is corrupt ({exc})") from None
            if len(body) > self.max_page_bytes:
                raise PullError(
                    f"{where}: the page unpacks to more than {self.max_page_bytes:,} bytes "
                    f"(settings.max_page_bytes); ask the API for smaller pages"
                )
            if not inflater.eof:
                raise PullError(f"{where}: the gzip-compressed page is cut off")
        return bytes(body)


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(map(str, value))[:8])
        return f"an object with keys [{keys}]"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _snippet(exc: HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", errors="replace").strip()
    except Exception:  # the body is a courtesy; its absence is not an error
        return ""
    return f": {text[:200]}" if text else ""


def _redacted(url: str) -> str:
    """A URL for messages and IngestRun.origin: no user info, no query (it may hold a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def translate_query(query: str) -> str:
    """Turn `:watermark` into psycopg's `%(watermark)s` placeholder, so the value is always
    sent as a bound parameter. Quoted text, quoted names and comments are left alone,
    `::type` casts too, and every literal `%` is doubled, as psycopg requires once a query
    has parameters."""
    out: list[str] = []
    i, n = 0, len(query)
    name = ":watermark"
    while i < n:
        char = query[i]
        if char in "'\"":
            j = i + 1
            while j < n:
                if query[j] == char:
                    if j + 1 < n and query[j + 1] == char:  # '' inside '...' is a quote
                        j += 2
                        continue
                    break
                j += 1
            out.append(query[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            j = n if j < 0 else j
            out.append(query[i:j].replace("%", "%%"))
            i = j
        elif query.startswith("/*", i):
            j = query.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(query[i:j].replace("%", "%%"))
            i = j
        elif query.startswith("::", i):
            out.append("::")
            i += 2
        elif query.startswith(name, i) and not (
            i + len(name) < n and (query[i + len(name)].isalnum() or query[i + len(name)] == "_")
        ):
            out.append("%(watermark)s")
            i += len(name)
        elif char == "%":
            out.append("%%")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _json_value(value: Any) -> Any:
    """A database value as JSON would carry it (records are validated as parsed JSON)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


class SqlConnector:
    """Batches of rows from a query run against another database with psycopg 3.

    settings: dsn, query (with `:watermark`, `ORDER BY` the watermark column and a `LIMIT`),
    watermark_field (a column of the result), initial_watermark (bound on the first pull, when
    there is no stored watermark; default NULL), json_columns (text columns holding JSON),
    kind, timeout (seconds: connect timeout and statement_timeout).
    """

    def __init__(self, source: Source) -> None:
        settings = source.settings or {}
        self.dsn = str(_secret(settings.get("dsn") or "", "settings.dsn"))
        if not self.dsn:
            raise SourceConfigError("settings.dsn is required (postgresql://user@host/db)")
        query = settings.get("query")
        if not isinstance(query, str) or not query.strip():
            raise SourceConfigError("settings.query is required")
        self.query = translate_query(query)
        if "%(watermark)s" not in self.query:
            raise SourceConfigError(
                "settings.query must select rows after :watermark "
                "(… WHERE updated_at > :watermark ORDER BY updated_at LIMIT 5000)"
            )
        self.watermark_field = _default_watermark_field(source, settings)
        self.initial_watermark = settings.get("initial_watermark")
        json_columns = settings.get("json_columns")
        self.json_columns = frozenset(json_columns if json_columns is not None else JSON_FIELDS)
        self.kind = _record_kind(settings)
        self.timeout = _timeout(settings)
        self.origin = "sql " + _redacted_dsn(self.dsn)

    def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(
                self.dsn,
                connect_timeout=max(1, round(self.timeout)),
                # Read-only: a pull must never be able to change the database it reads.
                options=(
                    f"-c statement_timeout={int(self.timeout * 1000)} "
                    "-c default_transaction_read_only=on"
                ),
                row_factory=dict_row,
                autocommit=True,
            )
        except psycopg.Error as exc:
            raise PullError(
                f"{self.origin}: cannot connect ({_pg_message(exc)})", transient=True
            ) from None
        return conn

    def pages(self, watermark: Any) -> Iterator[Page]:
        import psycopg

        bound = watermark if watermark is not None else self.initial_watermark
        previous_key = None
        number = 0
        with self._connect() as conn:
            while True:
                number += 1
                try:
                    with conn.cursor() as cursor:
                        cursor.execute(self.query, {"watermark": bound})
                        if cursor.description is None:
                            raise PullError(f"{self.origin}: the query returns no rows")
                        columns = [column.name for column in cursor.description]
                        rows = cursor.fetchall()
                except psycopg.Error as exc:
                    transient = isinstance(exc, psycopg.OperationalError) and not isinstance(
                        exc, psycopg.errors.QueryCanceled
                    )
                    raise PullError(
                        f"{self.origin}: batch {number}: the query failed ({_pg_message(exc)})",
                        transient=transient,
                    ) from None
                if not rows:
                    return
                if self.watermark_field not in columns:
                    raise PullError(
                        f"{self.origin}: the query has no column {self.watermark_field!r} "
                        f"(settings.watermark_field); it has {', '.join(columns)}"
                    )
                values = [row[self.watermark_field] for row in rows]
                if any(value is None for value in values):
                    raise PullError(
                        f"{self.origin}: batch {number}: some rows have no "
                        f"{self.watermark_field}; the query must exclude them"
                    )
                keys = [watermark_key(value) for value in values]
                if keys != sorted(keys):
                    raise PullError(
                        f"{self.origin}: batch {number}: rows are not in {self.watermark_field} "
                        f"order; the query must ORDER BY {self.watermark_field}"
                    )
                if previous_key is not None and keys[-1] <= previous_key:
                    raise PullError(
                        f"{self.origin}: batch {number}: the watermark did not move past "
                        f"{_json_value(values[-1])!r}; the query must select rows with "
                        f"{self.watermark_field} > :watermark"
                    )
                previous_key = keys[-1]
                bound = values[-1]
                yield Page([self._item(row) for row in rows], _json_value(values[-1]))

    def _item(self, row: dict[str, Any]) -> dict[str, Any]:
        item = {}
        for column, value in row.items():
            if column in self.json_columns and isinstance(value, str):
                # Not JSON: left as text, and validation rejects the record naming the field.
                with contextlib.suppress(msgspec.DecodeError):
                    value = msgspec.json.decode(value)
            item[column] = _json_value(value)
        return item


def _pg_message(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return primary or str(exc).strip().splitlines()[0]


def _redacted_dsn(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except Exception:  # a malformed DSN fails at connect with psycopg's own message
        return "(unparsable dsn)"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


CONNECTORS: dict[Any, type[HttpConnector] | type[SqlConnector]] = {
    Source.Kind.HTTP: HttpConnector,
    Source.Kind.SQL: SqlConnector,
}


@dataclass
class _Progress:
    """Numbers the items of the pages and moves the cursor past each page once it is stored.

    "Stored" is read, not assumed: `ingest_records` adds a batch's counts to its run in the
    same transaction as the batch, so created + updated + unchanged + rejected on the run is
    the number of records committed, in order.
    """

    source: Source
    origin: str
    first_run_pk: int
    watermark: Any
    yielded: int = 0
    run_pk: int | None = None
    error: PullError | None = None
    pending: deque[tuple[int, Any]] = field(default_factory=deque)

    def records(self, pages: Iterator[Page]) -> Iterator[RawRecord]:
        try:
            for page in pages:
                for item in page.items:
                    self.yielded += 1
                    if isinstance(item, dict):
                        raw = msgspec.json.encode(item).decode()
                        yield RawRecord(self.yielded, item, raw)
                    else:
                        yield RawRecord(
                            self.yielded,
                            None,
                            msgspec.json.encode(item).decode()[:10_000],
                            RecordError("", "is JSON but not an object ({...})"),
                        )
                self.pending.append((self.yielded, page.watermark))
                self.settle(self._committed())
        except PullError as exc:
            self.error = exc
            raise

    def _committed(self) -> int:
        if self.run_pk is None:
            # ingest_records created its run before asking for the first record.
            self.run_pk = (
                IngestRun.objects.filter(
                    source=self.source, origin=self.origin[:1000], pk__gt=self.first_run_pk
                )
                .order_by("pk")
                .values_list("pk", flat=True)
                .first()
            )
        counts = IngestRun.objects.filter(pk=self.run_pk).values_list(
            "created_count", "updated_count", "unchanged_count", "rejected_count"
        )
        return sum(counts.first() or (0,))

    def settle(self, committed: int) -> None:
        moved = False
        while self.pending and self.pending[0][0] <= committed:
            _, watermark = self.pending.popleft()
            if watermark is not None and (
                self.watermark is None or watermark_key(watermark) > watermark_key(self.watermark)
            ):
                self.watermark = watermark
                moved = True
        if moved:
            cursor = {**(self.source.cursor or {}), "watermark": self.watermark}
            Source.objects.filter(pk=self.source.pk).update(cursor=cursor)
            self.source.cursor = cursor


class _SourceLock:
    """Two pulls of one source would race on its cursor. On PostgreSQL a session advisory lock
    keeps them apart across workers; SQLite is the single-process default, where it is moot."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.held = False

    def __enter__(self) -> _SourceLock:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, self.source.pk])
                self.held = bool(cursor.fetchone()[0])
            if not self.held:
                raise SourceBusy(f"source {self.source.name!r} is already being pulled")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, self.source.pk])


def pull(*, source: Source, user: Any = None, batch_size: int | None = None) -> PullResult:
    """Fetch what is new from an http or sql source, ingest it and move its cursor.

    Raises `SourceBusy` when another pull of the source is running. Everything else that goes
    wrong (bad settings, unreachable server, bad page, failed query) ends in a failed run with
    the reason in `run.error`, the cursor at the last fully stored page.
    """
    if source.kind not in CONNECTORS:
        raise SourceConfigError(
            f"source {source.name!r} is a {source.kind} source; only http and sql sources pull"
        )
    with _SourceLock(source):
        source.refresh_from_db()
        try:
            validate_mapping(source.mapping)
            connector = CONNECTORS[source.kind](source)
        except (SourceConfigError, MappingError) as exc:
            run = IngestRun.objects.create(
                source=source,
                kind=_record_kind_or_default(source),
                origin=f"{source.kind} pull",
                started_by=user if getattr(user, "is_authenticated", False) else None,
                status=IngestRun.Status.FAILED,
                error=f"source {source.name!r}: {exc}",
                finished_at=timezone.now(),
                duration_seconds=0.0,
            )
            return PullResult(run, dict(source.cursor or {}))
        progress = _Progress(
            source=source,
            origin=connector.origin,
            first_run_pk=IngestRun.objects.aggregate(last=Max("pk"))["last"] or 0,
            watermark=(source.cursor or {}).get("watermark"),
        )
        run = ingest_records(
            source=source,
            kind=connector.kind,
            records=progress.records(connector.pages(progress.watermark)),
            user=user,
            origin=connector.origin,
            batch_size=batch_size,
        )
        # Finished or failed on a PullError, ingest_records has committed every record it got.
        progress.settle(
            run.created_count + run.updated_count + run.unchanged_count + run.rejected_count
        )
    transient = progress.error is not None and progress.error.transient
    return PullResult(run, dict(source.cursor or {}), transient)


def _record_kind_or_default(source: Source) -> str:
    kind = (source.settings or {}).get("kind", "responses")
    return kind if kind in KINDS else "responses"
