"""`manage.py ingest` of CSV: every cell is text, nested fields are JSON text in a cell."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from reviewapp.responses.models import IngestRun, RejectedRecord, Response

HEADER = [
    "id",
    "timestamp",
    "query",
    "response",
    "tier",
    "router_confidence",
    "escalated",
    "latency_ms",
    "embedding",
    "shadow",
    "metadata",
    "region",
]


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _row(i: int, **cells: str) -> list[str]:
    values = {
        "id": f"c-{i}",
        "timestamp": "2026-02-03T04:05:06Z",
        "query": f"Why was I charged twice ({i})?",
        "response": "Refunds take 5 days.",
        "tier": "cheap",
        "router_confidence": "0.82",
        "escalated": "false",
        "latency_ms": "412",
        "embedding": "[0.25, -0.5, 1e-3]",
        "shadow": '{"model": "large-v1", "response": "It is a duplicate authorisation."}',
        "metadata": '{"plan": "pro"}',
        "region": "eu",
    }
    values.update(cells)
    return [values[name] for name in HEADER]


def _ingest(path, *args: str, source: str = "csv") -> str:
    out = StringIO()
    call_command("ingest", str(path), "--source", source, *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_csv_cells_are_converted_nested_json_parsed_and_extra_columns_kept(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        _csv(
            [
                _row(1),
                _row(2, router_confidence="", escalated="true", embedding="", shadow=""),
                _row(3, response="line one\nline two, with a comma"),
            ]
        )
    )

    output = _ingest(path)

    assert "3 new, 0 updated, 0 unchanged, 0 rejected" in output
    first = Response.objects.get(external_id="c-1")
    assert first.timestamp == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert first.router_confidence == 0.82
    assert first.escalated is False
    assert first.latency_ms == 412.0
    np.testing.assert_array_equal(
        first.embedding_vector, np.asarray([0.25, -0.5, 1e-3], dtype=np.float32)
    )
    assert (first.shadow_model, first.shadow_response) == (
        "large-v1",
        "It is a duplicate authorisation.",
    )
    # The column the schema does not know is kept under metadata, beside the given metadata.
    assert first.metadata == {"plan": "pro", "region": "eu"}

    second = Response.objects.get(external_id="c-2")
    # An empty cell is "not given".
    assert second.router_confidence is None and second.embedding is None
    assert second.escalated is True
    assert second.shadow_response is None

    third = Response.objects.get(external_id="c-3")
    assert third.response == "line one\nline two, with a comma"


@pytest.mark.django_db
def test_csv_bad_cells_are_rejected_with_field_and_reason(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        _csv(
            [
                _row(1),
                _row(2, router_confidence="high"),
                _row(3, embedding="[0.1, 0.2"),
                _row(4, escalated="maybe"),
                _row(5, latency_ms="inf"),
                _row(6, embedding="[0.1, 0.2]"),
                _row(7, query=""),
                _row(8, timestamp="2026-02-03"),
            ]
        )
    )

    output = _ingest(path)

    assert "1 new, 0 updated, 0 unchanged, 7 rejected" in output
    rejects = {r.line_number: (r.field, r.reason) for r in RejectedRecord.objects.all()}
    assert rejects == {
        3: ("router_confidence", "must be a number, got text"),
        4: ("embedding", "must be JSON text in a CSV cell"),
        5: ("escalated", "must be true or false, got text"),
        6: ("latency_ms", "must be a finite number"),
        7: ("embedding", "has 2 numbers; this source's embeddings have 3"),
        8: ("query", "is required but missing"),
        9: ("timestamp", "is not an RFC 3339 date-time (2026-01-31T12:00:00Z)"),
    }
    assert RejectedRecord.objects.get(line_number=3).raw.startswith("c-2,")


@pytest.mark.django_db
def test_a_row_with_more_cells_than_the_header_is_rejected(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(_csv([_row(1), [*_row(2), "surplus"]]))

    _ingest(path)

    reject = RejectedRecord.objects.get()
    assert (reject.line_number, reject.reason) == (
        3,
        "the row has more cells than the header has columns",
    )


@pytest.mark.django_db
def test_a_csv_missing_a_required_column_is_a_clear_error_and_nothing_is_ingested(tmp_path):
    header = [name for name in HEADER if name != "tier"]
    rows = [
        [cell for name, cell in zip(HEADER, _row(i), strict=True) if name != "tier"] for i in (1, 2)
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(_csv(rows, header=header))

    with pytest.raises(CommandError, match=r"lacks the required column\(s\) tier"):
        _ingest(path)

    assert Response.objects.count() == 0
    assert RejectedRecord.objects.count() == 0
    assert IngestRun.objects.get().status == IngestRun.Status.FAILED


@pytest.mark.django_db
def test_a_csv_row_that_is_not_utf8_is_rejected_with_its_column(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        _csv([_row(1, query="Caf\u00e9 menu?"), _row(2)]).replace("é".encode(), b"\xe9")
    )

    output = _ingest(path)

    assert "1 new, 0 updated, 0 unchanged, 1 rejected" in output
    reject = RejectedRecord.objects.get()
    assert (reject.line_number, reject.field) == (2, "query")
    assert reject.reason == "is not valid UTF-8 text (byte 0xE9); save the file as UTF-8"
    assert "Caf\ufffd menu?" in reject.raw


@pytest.mark.django_db
def test_a_csv_header_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        _csv([_row(1)], header=[*HEADER[:-1], "r\u00e9gion"]).replace("é".encode(), b"\xe9")
    )

    with pytest.raises(CommandError, match=r"the CSV header is not UTF-8 text \(byte 0xE9\)"):
        _ingest(path)

    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_a_csv_with_a_bad_byte_far_down_loses_only_that_row(tmp_path):
    rows = [_row(i) for i in range(2_000)]
    rows[1_500] = _row(1_500, query="Caf\u00e9 menu?")
    path = tmp_path / "export.csv"
    path.write_bytes(_csv(rows).replace("é".encode(), b"\xe9"))

    output = _ingest(path)

    assert "1999 new, 0 updated, 0 unchanged, 1 rejected" in output
    stored = set(Response.objects.values_list("external_id", flat=True))
    assert stored == {f"c-{i}" for i in range(2_000)} - {"c-1500"}
    assert RejectedRecord.objects.get().line_number == 1_502


@pytest.mark.django_db
def test_csv_gz_and_format_flag(tmp_path):
    gz = tmp_path / "export.csv.gz"
    gz.write_bytes(gzip.compress(_csv([_row(i) for i in range(20)])))
    odd_name = tmp_path / "export.txt"
    odd_name.write_bytes(_csv([_row(i) for i in range(20, 25)]))

    assert "20 new" in _ingest(gz)
    assert "5 new" in _ingest(odd_name, "--format", "csv")

    assert Response.objects.count() == 25


@pytest.mark.django_db
def test_reingesting_a_csv_is_unchanged(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(_csv([_row(i) for i in range(10)]))
    _ingest(path)

    assert "0 new, 0 updated, 10 unchanged, 0 rejected" in _ingest(path)
