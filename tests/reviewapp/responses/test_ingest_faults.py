"""The fault file: ~2,000 JSONL lines with 1 % mixed faults, through `manage.py ingest`.

Every good record is stored exactly; every bad one is quarantined with its line, field and a
reason a person can act on; a second ingest of the same file changes nothing.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from reviewapp.responses.models import IngestRun, RejectedRecord, Response, Source

from .ingest_helpers import response_record, write_jsonl

LINES = 2_000


def _fault(kind: str, i: int) -> tuple[object, str, str]:
    """(the line, the field the reject must name, a piece of its reason)."""
    good = response_record(i)
    if kind == "missing id":
        del good["id"]
        return good, "id", "is required but missing"
    if kind == "bad timestamp":
        return {**good, "timestamp": "31/01/2026 12:00"}, "timestamp", "RFC 3339"
    if kind == "confidence 1.7":
        return {**good, "router_confidence": 1.7}, "router_confidence", "from 0 to 1"
    if kind == "truncated line":
        text = json.dumps(good)
        return text[: len(text) // 2], "", "cut off"
    if kind == "wrong embedding dimension":
        return {**good, "embedding": [0.1] * 5}, "embedding", "has 5 numbers"
    if kind == "empty query":
        return {**good, "query": ""}, "query", "must not be empty"
    if kind == "null tier":
        return {**good, "tier": None}, "tier", "got null"
    raise AssertionError(kind)


FAULTS = [
    "missing id",
    "bad timestamp",
    "confidence 1.7",
    "truncated line",
    "wrong embedding dimension",
    "empty query",
    "null tier",
]


@pytest.fixture
def fault_file(tmp_path):
    """Returns (path, good records by line, expected rejects by line)."""
    rng = random.Random(20260131)
    # 1 % of the lines, never the first few (the first embedding fixes the source's dimension).
    bad_lines = sorted(rng.sample(range(10, LINES + 1), LINES // 100))
    lines: list[object] = []
    good: dict[int, dict] = {}
    expected: dict[int, tuple[str, str]] = {}
    for line_number in range(1, LINES + 1):
        if line_number in bad_lines:
            kind = FAULTS[bad_lines.index(line_number) % len(FAULTS)]
            line, field, reason = _fault(kind, line_number)
            expected[line_number] = (field, reason)
        else:
            line = response_record(line_number, extra_field={"n": line_number})
            good[line_number] = line
        lines.append(line)
    return write_jsonl(tmp_path / "faults.jsonl", lines), good, expected


def _ingest(path, source="faults") -> str:
    out = StringIO()
    call_command("ingest", str(path), "--source", source, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_fault_file_stores_every_good_record_and_quarantines_every_bad_one(fault_file):
    path, good, expected = fault_file
    assert len(expected) == LINES // 100 and len(good) == LINES - LINES // 100

    output = _ingest(path)

    assert f"{len(good)} new, 0 updated, 0 unchanged, {len(expected)} rejected" in output
    assert "python manage.py quarantine --run" in output
    source = Source.objects.get(name="faults")
    assert source.embedding_dim == 8
    stored = {r.external_id: r for r in Response.objects.filter(source=source)}
    assert set(stored) == {record["id"] for record in good.values()}

    # A few records field by field: what went in is what is stored.
    for line_number in [1, *random.Random(7).sample(sorted(good), 5), max(good)]:
        record, row = good[line_number], stored[good[line_number]["id"]]
        assert row.timestamp == datetime.fromisoformat(record["timestamp"]).astimezone(UTC)
        assert row.query == record["query"]
        assert row.response == record["response"]
        assert (row.tier, row.model, row.router_label, row.segment) == (
            record["tier"],
            record["model"],
            record["router_label"],
            record["segment"],
        )
        assert row.router_confidence == record["router_confidence"]
        assert row.cost_usd == record["cost_usd"]
        assert row.self_confidence is None and row.escalated is None
        np.testing.assert_array_equal(
            row.embedding_vector, np.asarray(record["embedding"], dtype=np.float32)
        )
        # The field the schema does not know is kept, not dropped.
        assert row.metadata == {"extra_field": {"n": line_number}}

    run = IngestRun.objects.get(source=source)
    assert run.status == IngestRun.Status.FINISHED
    assert (run.created_count, run.updated_count, run.unchanged_count, run.rejected_count) == (
        len(good),
        0,
        0,
        len(expected),
    )
    rejects = {r.line_number: r for r in RejectedRecord.objects.filter(run=run)}
    assert set(rejects) == set(expected)
    for line_number, (field, reason) in expected.items():
        reject = rejects[line_number]
        assert reject.field == field, (line_number, reject.field, reject.reason)
        assert reason in reject.reason, (line_number, reject.reason)
        # The raw line is kept so a person can find and fix it.
        assert reject.raw.startswith("{"), reject.raw


@pytest.mark.django_db
def test_second_ingest_of_the_fault_file_changes_nothing(fault_file):
    path, good, expected = fault_file
    _ingest(path)
    before = dict(Response.objects.values_list("external_id", "updated_at"))
    pks = dict(Response.objects.values_list("external_id", "pk"))

    output = _ingest(path)

    assert f"0 new, 0 updated, {len(good)} unchanged, {len(expected)} rejected" in output
    assert Response.objects.count() == len(good)
    assert dict(Response.objects.values_list("external_id", "updated_at")) == before
    assert dict(Response.objects.values_list("external_id", "pk")) == pks
    second = IngestRun.objects.order_by("-pk").first()
    assert (second.created_count, second.updated_count, second.unchanged_count) == (
        0,
        0,
        len(good),
    )
    assert set(second.rejects.values_list("line_number", flat=True)) == set(expected)


@pytest.mark.django_db
def test_quarantine_lists_line_field_and_reason(fault_file):
    path, _, expected = fault_file
    _ingest(path)
    run = IngestRun.objects.get()
    out = StringIO()

    call_command("quarantine", "--run", str(run.pk), "--limit", "1000", stdout=out)

    listing = out.getvalue()
    for line_number, (field, reason) in expected.items():
        where = f"run {run.pk} line {line_number}:" + (f" {field}:" if field else "")
        matching = [row for row in listing.splitlines() if row.startswith(where + " ")]
        assert len(matching) == 1, (where, listing[:2000])
        assert reason in matching[0]


@pytest.mark.django_db
def test_quarantine_of_an_unknown_run_is_a_clear_error():
    with pytest.raises(CommandError, match="there is no ingest run 987654"):
        call_command("quarantine", "--run", "987654", stdout=StringIO())


@pytest.mark.django_db
def test_quarantine_without_rejects_says_so():
    out = StringIO()
    call_command("quarantine", stdout=out)
    assert "no rejected records" in out.getvalue()


@pytest.mark.django_db
def test_quarantine_says_when_its_list_is_cut(fault_file):
    path, _, expected = fault_file
    _ingest(path)
    out = StringIO()
    call_command("quarantine", "--limit", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("run ") for line in lines) == 2
    assert lines[-1].startswith(f"showed 2 of {len(expected)} rejected records")
    full = StringIO()
    call_command("quarantine", "--limit", str(len(expected)), stdout=full)
    assert "showed" not in full.getvalue()
