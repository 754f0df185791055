"""Writes for the responses app. Every ingest path (file, REST push, HTTP pull, SQL pull) goes
through `ingest_records`, so validation, quarantine, idempotency and counts are the same
everywhere.

Idempotency: records are upserted by (source, external id) and carry a digest of their
validated content, so a re-sent identical record is counted "unchanged" and touches nothing,
and a changed one updates the row in place (its reviews, which point at the row, stay). Each
batch commits on its own with its rejects and counts, so an ingest killed half-way and run again
ends with exactly the file's records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import logging
import math
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import (
    FeedbackEvent,
    IngestRun,
    ReferenceRecord,
    ReferenceSet,
    RejectedRecord,
    Response,
    Source,
)
from .readers import FileError, RawRecord, open_input, raw_text_of, read_csv, read_jsonl
from .records import (
    FeedbackRecord,
    MappingError,
    RecordError,
    ReferenceRecordIn,
    ResponseRecord,
    apply_mapping,
    validate,
    validate_mapping,
)

logger = logging.getLogger(__name__)

KINDS = ("responses", "feedback", "reference")

# The columns of a response row, in the order rows are built, staged and upserted.
RESPONSE_COLUMNS = (
    "source_id",
    "external_id",
    "timestamp",
    "query",
    "response",
    "tier",
    "model",
    "router_label",
    "router_confidence",
    "self_confidence",
    "escalated",
    "auto_score",
    "embedding",
    "conversation_id",
    "user_id",
    "segment",
    "cost_usd",
    "latency_ms",
    "shadow_model",
    "shadow_response",
    "metadata",
    "content_hash",
)
_UPDATABLE_RESPONSE_COLUMNS = RESPONSE_COLUMNS[2:]
# PostgreSQL types of those columns, for COPY in binary format: psycopg then packs each row in
# C, about half the client CPU of text COPY. `metadata` travels as bytea-typed bytes that are
# already jsonb's binary form (a version byte, 1, then the JSON text); see _write_postgres.
_RESPONSE_COPY_TYPES = (
    "int8",  # source_id
    "text",  # external_id
    "timestamptz",
    "text",  # query
    "text",  # response
    "text",  # tier
    "text",  # model
    "text",  # router_label
    "float8",
    "float8",
    "bool",
    "float8",
    "bytea",  # embedding
    "text",  # conversation_id
    "text",  # user_id
    "text",  # segment
    "float8",
    "float8",
    "text",  # shadow_model
    "text",  # shadow_response
    "bytea",  # metadata, as jsonb's binary form
    "text",  # content_hash
)
_METADATA_INDEX = RESPONSE_COLUMNS.index("metadata")
_JSON_ENCODER = msgspec.json.Encoder()


def _digest(value: Any) -> str:
    return hashlib.blake2b(msgspec.msgpack.encode(value), digest_size=16).hexdigest()


_FLOAT32_PACKERS: dict[int, struct.Struct] = {}


def embedding_bytes(values: list[float]) -> bytes:
    """Embeddings are stored as little-endian float32: 4 bytes a dimension."""
    # struct packs a list of floats about three times faster than numpy converts it. What it
    # refuses (a finite float64 beyond float32's range) `validate` rejects; numpy is a guard.
    packer = _FLOAT32_PACKERS.get(len(values))
    if packer is None:
        packer = _FLOAT32_PACKERS.setdefault(len(values), struct.Struct(f"<{len(values)}f"))
    try:
        return packer.pack(*values)
    except (OverflowError, struct.error):
        return np.asarray(values, dtype="<f4").tobytes()


def _storable_text(text: str) -> str:
    """A quarantine entry quotes what was wrong, and that may be a NUL or a lone surrogate (an
    unknown field named "\\udb84"): escape them so the reject itself can always be stored."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


# Metadata is JSON of any shape, but past some depth Python's own JSON code (Django reading the
# column back, the API writing it out) runs out of stack. No real record comes near this.
MAX_METADATA_DEPTH = 100


def _check_storable(record: msgspec.Struct) -> None:
    """Reject, with a reason, what a column cannot hold as it is, instead of failing the whole
    batch or storing something else: PostgreSQL text cannot hold NUL, UTF-8 cannot hold lone
    surrogates ("\\ud800" in JSON), JSON cannot hold NaN or infinity (it would be written as
    null), and metadata nested past MAX_METADATA_DEPTH could not be read back."""
    # Per record, the texts are checked at once, joined by a newline (which cannot make or
    # hide a NUL or a lone surrogate); only a record that fails (or that the fast path cannot
    # handle) goes through the field-by-field walk that names the field.
    with contextlib.suppress(Exception):
        if _storable_at_once(record):
            return
    _check_storable_fields(record)


def _storable_at_once(record: msgspec.Struct) -> bool:
    texts = []
    for value in msgspec.structs.astuple(record):
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            encoded = _JSON_ENCODER.encode(value).decode()  # raises on a lone surrogate
            # JSON writes a NUL as \u0000 and NaN or infinity as null, but a text may say
            # "\u0000" and a value may be null: those records take the walk, which tells them
            # apart. The brackets bound the depth from above.
            if (
                "\\u0000" in encoded
                or "null" in encoded
                or encoded.count("{") + encoded.count("[") > MAX_METADATA_DEPTH
            ):
                return False
            texts.append(encoded)
        elif isinstance(value, msgspec.Struct):  # the shadow answer
            texts.append(value.response)  # type: ignore[attr-defined]
            texts.append(value.model or "")  # type: ignore[attr-defined]
    text = "\n".join(texts)
    if "\x00" in text:
        return False
    if not text.isascii():
        text.encode("utf-8")  # raises on a lone surrogate
    return True


def _check_storable_fields(record: msgspec.Struct) -> None:
    for name in record.__struct_fields__:
        value = getattr(record, name)
        if isinstance(value, str):
            problem = _text_problem(value)
        elif isinstance(value, dict):
            problem = _json_problem(value)
        elif name == "shadow" and value is not None:
            problem = _text_problem(value.response) or _text_problem(value.model or "")
        else:
            continue
        if problem:
            raise RecordError(name, problem)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character, which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an invalid Unicode character"
    return None


def _json_problem(value: Any) -> str | None:
    """What in a JSON value cannot be stored as it is. Walked with a list, not recursion: the
    value may be nested deeper than Python's stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_METADATA_DEPTH:
                return f"is nested more than {MAX_METADATA_DEPTH} levels deep"
            if isinstance(item, list):
                stack.extend((inner, depth + 1) for inner in item)
                continue
            for key, inner in item.items():
                if isinstance(key, str) and (problem := _text_problem(key)):
                    return problem
                stack.append((inner, depth + 1))
        elif isinstance(item, str):
            if problem := _text_problem(item):
                return problem
        elif isinstance(item, float) and not math.isfinite(item):
            return "contains NaN or an infinite number, which JSON cannot hold"
    return None


@dataclass(slots=True)
class _Batch:
    records: list[tuple[int | None, msgspec.Struct, RawRecord]]
    rejects: list[RejectedRecord]


class _Writer:
    """Writes one kind of record; `write` returns (created, updated) and the rest is unchanged."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def check(self, record: msgspec.Struct) -> None:  # pragma: no cover - overridden
        pass

    def write(self, records: list[msgspec.Struct]) -> tuple[int, int]:
        raise NotImplementedError

    def finish(self) -> None:
        pass


class _ResponseWriter(_Writer):
    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self.embedding_dim = source.embedding_dim
        self._staged = False

    def check(self, record: msgspec.Struct) -> None:
        assert isinstance(record, ResponseRecord)
        if record.embedding is not None:
            dim = len(record.embedding)
            if self.embedding_dim is None:
                self.embedding_dim = dim
            elif dim != self.embedding_dim:
                raise RecordError(
                    "embedding",
                    f"has {dim} numbers; this source's embeddings have {self.embedding_dim}",
                )

    def _row(self, record: ResponseRecord) -> tuple[Any, ...]:
        shadow = record.shadow
        values = (
            self.source.pk,
            record.id,
            record.timestamp,
            record.query,
            record.response,
            record.tier,
            record.model or "",
            record.router_label or "",
            record.router_confidence,
            record.self_confidence,
            record.escalated,
            record.auto_score,
            embedding_bytes(record.embedding) if record.embedding is not None else None,
            record.conversation_id or "",
            record.user_id or "",
            record.segment or "",
            record.cost_usd,
            record.latency_ms,
            (shadow.model or "") if shadow else "",
            shadow.response if shadow else None,
            _JSON_ENCODER.encode(record.metadata or {}).decode(),
        )
        return (*values, _digest(values[1:]))

    def write(self, records: list[msgspec.Struct]) -> tuple[int, int]:
        if self.embedding_dim != self.source.embedding_dim:
            Source.objects.filter(pk=self.source.pk, embedding_dim__isnull=True).update(
                embedding_dim=self.embedding_dim
            )
            self.source.embedding_dim = self.embedding_dim
        # A batch may carry one id twice: the later line wins, as it would across batches.
        latest = {record.id: record for record in records}.values()  # type: ignore[attr-defined]
        # Rows are made as COPY sends them, so PostgreSQL stages one part while the next is built.
        rows = map(self._row, latest)  # type: ignore[arg-type]
        if connection.vendor == "postgresql":
            return self._write_postgres(rows)
        return self._write_batched(list(rows))

    def _write_postgres(self, rows: Iterable[tuple[Any, ...]]) -> tuple[int, int]:
        """COPY into a temporary staging table, then one INSERT ... ON CONFLICT upsert."""
        columns = ", ".join(RESPONSE_COLUMNS)
        raw = connection.connection
        with raw.cursor() as cursor:
            if not self._staged:
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS longtail_response_stage "
                    f"ON COMMIT DELETE ROWS AS SELECT {columns} FROM responses_response "
                    "WITH NO DATA"
                )
                self._staged = True
            copy_sql = f"COPY longtail_response_stage ({columns}) FROM STDIN (FORMAT BINARY)"
            metadata = _METADATA_INDEX
            with cursor.copy(copy_sql) as copy:
                copy.set_types(_RESPONSE_COPY_TYPES)
                write_row = copy.write_row
                for row in rows:
                    write_row(
                        (*row[:metadata], b"\x01" + row[metadata].encode(), *row[metadata + 1 :])
                    )
            assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATABLE_RESPONSE_COLUMNS)
            # In key order: the upsert locks each existing row it meets and waits for any other
            # transaction inserting the same key, so two pushes sharing ids in different orders
            # would each hold a key the other waits for (a deadlock; seen with 4 parallel
            # pushes). Taken in one order by everyone, the first to a key simply goes first.
            # A changed record is scored again (scored_at NULL): its uncertainty and OOD distance
            # come from its new confidence and text, not the ones it replaced.
            cursor.execute(
                f"""
                WITH upserted AS (
                    INSERT INTO responses_response ({columns}, ingested_at, updated_at)
                    SELECT {columns}, now(), now() FROM longtail_response_stage
                    ORDER BY external_id
                    ON CONFLICT (source_id, external_id) DO UPDATE
                        SET {assignments}, updated_at = now(), scored_at = NULL
                        WHERE responses_response.content_hash <> EXCLUDED.content_hash
                    RETURNING (xmax = 0) AS created
                )
                SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created)
                FROM upserted
                """
            )
            created, updated = cursor.fetchone()
            cursor.execute("TRUNCATE longtail_response_stage")
        return created, updated

    def _write_batched(self, rows: list[tuple[Any, ...]]) -> tuple[int, int]:
        existing = dict(
            Response.objects.filter(
                source=self.source, external_id__in=[row[1] for row in rows]
            ).values_list("external_id", "content_hash")
        )
        # Key order, as on PostgreSQL: concurrent batches lock shared keys in the same order.
        changed = sorted(
            (row for row in rows if existing.get(row[1]) != row[-1]), key=lambda row: row[1]
        )
        objects = []
        for row in changed:
            fields = dict(zip(RESPONSE_COLUMNS, row, strict=True))
            fields["metadata"] = msgspec.json.decode(fields["metadata"])
            objects.append(Response(**fields))
        Response.objects.bulk_create(
            objects,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["source", "external_id"],
            # scored_at goes back to NULL (the new objects carry none): a changed record is
            # scored again, its uncertainty and OOD distance from its new confidence and text.
            update_fields=[*(c for c in _UPDATABLE_RESPONSE_COLUMNS), "updated_at", "scored_at"],
        )
        created = sum(1 for row in changed if row[1] not in existing)
        return created, len(changed) - created

    def finish(self) -> None:
        feedback_join(source=self.source)


class _FeedbackWriter(_Writer):
    def write(self, records: list[msgspec.Struct]) -> tuple[int, int]:
        events: dict[str, FeedbackEvent] = {}
        for record in records:
            assert isinstance(record, FeedbackRecord)
            values = (record.response_id, record.timestamp, record.kind, record.comment or "")
            digest = _digest(values)
            external_id = record.id or f"content:{digest}"
            events[external_id] = FeedbackEvent(
                source=self.source,
                external_id=external_id,
                response_external_id=record.response_id,
                timestamp=record.timestamp,
                kind=record.kind,
                comment=record.comment or "",
                content_hash=digest,
            )
        existing = dict(
            FeedbackEvent.objects.filter(source=self.source, external_id__in=events).values_list(
                "external_id", "content_hash"
            )
        )
        # Key order: concurrent pushes sharing event ids lock them in one order (no deadlock).
        changed = sorted(
            (e for e in events.values() if existing.get(e.external_id) != e.content_hash),
            key=lambda e: e.external_id,
        )
        FeedbackEvent.objects.bulk_create(
            changed,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["source", "external_id"],
            update_fields=["response_external_id", "timestamp", "kind", "comment", "content_hash"],
        )
        created = sum(1 for e in changed if e.external_id not in existing)
        return created, len(changed) - created

    def finish(self) -> None:
        feedback_join(source=self.source)


class _ReferenceWriter(_Writer):
    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self.reference_set, _ = ReferenceSet.objects.get_or_create(
            name=source.name, defaults={"source": source}
        )
        self.embedding_dim = self.reference_set.embedding_dim

    def check(self, record: msgspec.Struct) -> None:
        assert isinstance(record, ReferenceRecordIn)
        if record.embedding is not None:
            dim = len(record.embedding)
            if self.embedding_dim is None:
                self.embedding_dim = dim
            elif dim != self.embedding_dim:
                raise RecordError(
                    "embedding",
                    f"has {dim} numbers; this reference set's embeddings have {self.embedding_dim}",
                )

    def write(self, records: list[msgspec.Struct]) -> tuple[int, int]:
        if self.embedding_dim != self.reference_set.embedding_dim:
            self.reference_set.embedding_dim = self.embedding_dim
            self.reference_set.save(update_fields=["embedding_dim"])
        rows: dict[str, ReferenceRecord] = {}
        for record in records:
            assert isinstance(record, ReferenceRecordIn)
            embedding = embedding_bytes(record.embedding) if record.embedding else None
            values = (record.query, record.router_label or "", record.router_confidence, embedding)
            digest = _digest(values)
            rows[digest] = ReferenceRecord(
                reference_set=self.reference_set,
                query=record.query,
                router_label=record.router_label or "",
                router_confidence=record.router_confidence,
                embedding=embedding,
                content_hash=digest,
            )
        existing = set(
            ReferenceRecord.objects.filter(
                reference_set=self.reference_set, content_hash__in=rows
            ).values_list("content_hash", flat=True)
        )
        # Key order (the unique key is the digest): no deadlock between concurrent loads.
        new = [row for digest, row in sorted(rows.items()) if digest not in existing]
        ReferenceRecord.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
        return len(new), 0


_WRITERS: dict[str, type[_Writer]] = {
    "responses": _ResponseWriter,
    "feedback": _FeedbackWriter,
    "reference": _ReferenceWriter,
}


def feedback_join(*, source: Source) -> int:
    """Attach feedback that arrived before its response; returns how many were joined."""
    pending = FeedbackEvent.objects.filter(source=source, response__isnull=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE responses_feedbackevent AS f SET response_id = r.id
                FROM responses_response AS r
                WHERE f.source_id = %s AND f.response_id IS NULL
                  AND r.source_id = f.source_id AND r.external_id = f.response_external_id
                """,
                [source.pk],
            )
            return cursor.rowcount
    from django.db.models import OuterRef, Subquery

    match = Response.objects.filter(source=source, external_id=OuterRef("response_external_id"))
    return pending.filter(response_external_id__in=match.values("external_id")).update(
        response=Subquery(match.values("pk")[:1])
    )


def merged_mapping(*, source: Source, mapping: Any = None) -> dict[str, str]:
    """The source's stored mapping overlaid with the caller's. Either one invalid raises
    `MappingError` before anything is read or stored: a mapping that cannot be applied would
    otherwise fail (or quietly misread) every record."""
    merged: dict[str, str] = {}
    if source.mapping is not None and source.mapping != {}:
        try:
            merged.update(validate_mapping(source.mapping))
        except MappingError as exc:
            raise MappingError(f"source {source.name!r}: {exc}") from None
    if mapping is not None:
        merged.update(validate_mapping(mapping))
    return merged


def source_get_or_create(*, name: str, kind: str = Source.Kind.FILE) -> Source:
    source, _ = Source.objects.get_or_create(name=name, defaults={"kind": kind})
    return source


def ingest_records(
    *,
    source: Source,
    kind: str,
    records: Iterable[RawRecord],
    mapping: dict[str, str] | None = None,
    user: Any = None,
    origin: str = "",
    batch_size: int | None = None,
) -> IngestRun:
    """Validate, quarantine and upsert a stream of raw records; return the finished run.

    A problem with the stream as a whole (`FileError`) ends the run as failed with the reason
    in `run.error`; every batch before it stays committed.
    """
    if kind not in _WRITERS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    batch_size = batch_size or settings.LONGTAIL["INGEST_BATCH_SIZE"]
    mapping = merged_mapping(source=source, mapping=mapping)
    run = IngestRun.objects.create(
        source=source,
        kind=kind,
        origin=origin[:1000],
        started_by=user if getattr(user, "is_authenticated", False) else None,
    )
    writer = _WRITERS[kind](source)
    started = time.perf_counter()
    batch = _Batch([], [])

    def flush() -> None:
        if not batch.records and not batch.rejects:
            return
        with transaction.atomic():
            created, updated = (
                writer.write([record for _, record, _ in batch.records])
                if batch.records
                else (0, 0)
            )
            RejectedRecord.objects.bulk_create(batch.rejects, batch_size=500)
            IngestRun.objects.filter(pk=run.pk).update(
                created_count=F("created_count") + created,
                updated_count=F("updated_count") + updated,
                unchanged_count=F("unchanged_count") + len(batch.records) - created - updated,
                rejected_count=F("rejected_count") + len(batch.rejects),
            )
        batch.records.clear()
        batch.rejects.clear()

    def reject(raw: RawRecord, error: RecordError) -> None:
        batch.rejects.append(
            RejectedRecord(
                run=run,
                line_number=raw.line_number,
                raw=_storable_text(raw_text_of(raw)),
                field=_storable_text(error.field)[:255],
                reason=_storable_text(error.reason),
            )
        )

    status, error_text = IngestRun.Status.FINISHED, ""
    # The loop makes many short-lived objects and no cycles worth chasing: cyclic garbage
    # collection was 10-45 % of its CPU. Reference counting still frees each batch.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for raw in records:
            if raw.error is not None or raw.data is None:
                reject(raw, raw.error or RecordError("", "empty record"))
            else:
                try:
                    record = validate(
                        kind, apply_mapping(raw.data, mapping), strict=not raw.lenient_types
                    )
                    _check_storable(record)
                    writer.check(record)
                except RecordError as exc:
                    reject(raw, exc)
                else:
                    batch.records.append((raw.line_number, record, raw))
            if len(batch.records) + len(batch.rejects) >= batch_size:
                flush()
        flush()
        writer.finish()
    except FileError as exc:
        flush()
        writer.finish()
        status, error_text = IngestRun.Status.FAILED, str(exc)
    except BaseException as exc:
        try:
            IngestRun.objects.filter(pk=run.pk).update(
                status=IngestRun.Status.FAILED,
                error=f"stopped: {exc.__class__.__name__}: {exc}"[:5000],
                finished_at=timezone.now(),
                duration_seconds=time.perf_counter() - started,
            )
        except DatabaseError:
            # The database itself went away (restart, failover): the run stays "running" and
            # the caller hears of the first error, not of this echo of it.
            logger.warning("ingest run %s: could not record its failure", run.pk)
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    IngestRun.objects.filter(pk=run.pk).update(
        status=status,
        error=error_text,
        finished_at=timezone.now(),
        duration_seconds=time.perf_counter() - started,
    )
    run.refresh_from_db()
    if kind == "responses" and run.created_count + run.updated_count:
        # Stratification needs uncertainty and OOD scores: score the new rows once committed.
        from .tasks import score_source

        transaction.on_commit(lambda: score_source.delay(source.pk))
        # Drift alarms for every day the run wrote (a minute's margin for database clock skew).
        from reviewapp.reports.tasks import compute_drift_alarms_after_ingest

        since = (run.started_at - dt.timedelta(minutes=1)).isoformat()
        transaction.on_commit(lambda: compute_drift_alarms_after_ingest.delay(source.pk, since))
    logger.info(
        "ingest run %s into %s: %s new, %s updated, %s unchanged, %s rejected",
        run.pk,
        source.name,
        run.created_count,
        run.updated_count,
        run.unchanged_count,
        run.rejected_count,
    )
    return run


def ingest_path(
    *,
    path: str,
    source: Source,
    kind: str,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    user: Any = None,
    on_bytes: Callable[[int], None] | None = None,
) -> IngestRun:
    """Ingest a JSONL or CSV file ('.gz' and '-' for stdin work). The format is taken from
    `fmt`, else from the file name (CSV for '.csv' / '.csv.gz', JSONL otherwise)."""
    name = path[:-3] if path.endswith(".gz") else path
    fmt = fmt or ("csv" if name.endswith(".csv") else "jsonl")
    max_bytes = settings.LONGTAIL["MAX_RECORD_BYTES"]
    merged = merged_mapping(source=source, mapping=mapping)
    try:
        stream, _ = open_input(path)
    except FileError as exc:
        return _failed_run(source=source, kind=kind, origin=path, user=user, error=str(exc))
    with stream:
        if fmt == "csv":
            records = read_csv(
                stream, kind=kind, mapping=merged, max_bytes=max_bytes, on_bytes=on_bytes
            )
        else:
            records = read_jsonl(stream, max_bytes=max_bytes, on_bytes=on_bytes)
        return ingest_records(
            source=source, kind=kind, records=records, mapping=mapping, user=user, origin=path
        )


def _failed_run(*, source: Source, kind: str, origin: str, user: Any, error: str) -> IngestRun:
    return IngestRun.objects.create(
        source=source,
        kind=kind,
        origin=origin,
        started_by=user if getattr(user, "is_authenticated", False) else None,
        status=IngestRun.Status.FAILED,
        error=error,
        finished_at=timezone.now(),
        duration_seconds=0.0,
    )


def source_pull(*, source: Source, user: Any = None, batch_size: int | None = None) -> Any:
    """Pull what is new from an http or sql source (responses/connectors.py) and return its
    `PullResult` (the run, the cursor after it, whether a retry may help). Raises `SourceBusy`
    when the source is already being pulled."""
    # Imported here: the connectors feed their records back through ingest_records above.
    from .connectors import pull

    return pull(source=source, user=user, batch_size=batch_size)
