"""`--mapping`: foreign records (an observability platform's trace export, a legacy CSV) renamed
into ours by the example mappings in docs/mappings/, and bad mapping files refused clearly."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from reviewapp.responses.models import IngestRun, RejectedRecord, Response
from reviewapp.responses.records import apply_mapping, lookup, validate_mapping

from .ingest_helpers import write_jsonl

MAPPINGS = Path(__file__).resolve().parents[3] / "docs" / "mappings"
LANGFUSE = MAPPINGS / "langfuse-trace-export.json"
LEGACY_CSV = MAPPINGS / "csv-legacy-export.json"


def langfuse_trace(i: int, **overrides) -> dict:
    """A trace as Langfuse exports it: chat messages in, assistant message out, our routing
    decision in the trace metadata."""
    trace = {
        "id": f"trace-{i}",
        "timestamp": "2026-01-05T10:00:00.123Z",
        "name": "support-chat",
        "input": {
            "messages": [
                {"role": "system", "content": "You are the billing assistant."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": f"Where is invoice {i}?"},
            ]
        },
        "output": {"role": "assistant", "content": f"Invoice {i} is under Billing."},
        "sessionId": f"session-{i // 2}",
        "userId": "user-7",
        "metadata": {
            "tier": "cheap",
            "model": "small-v2",
            "router_label": "simple",
            "router_confidence": 0.91,
            "experiment": "b",
        },
        "tags": ["prod"],
        "latency": 1.25,
        "totalCost": 0.0004,
    }
    trace.update(overrides)
    return trace


def _ingest(path, *args: str, source: str = "mapped") -> str:
    out = StringIO()
    call_command("ingest", str(path), "--source", source, *args, stdout=out)
    return out.getvalue()


def test_the_example_mappings_are_valid():
    for path in sorted(MAPPINGS.glob("*.json")):
        validate_mapping(json.loads(path.read_text()))
    assert {LANGFUSE, LEGACY_CSV} <= set(MAPPINGS.glob("*.json"))
    assert (MAPPINGS / "README.md").is_file()


@pytest.mark.django_db
def test_a_langfuse_trace_export_lands_in_the_right_fields(tmp_path):
    path = write_jsonl(
        tmp_path / "traces.jsonl",
        [
            langfuse_trace(1),
            langfuse_trace(2, metadata={"tier": "capable", "model": "large-v1"}),
            langfuse_trace(3, metadata={"model": "small-v2"}),
        ],
    )

    output = _ingest(path, "--mapping", str(LANGFUSE))

    assert "2 new, 0 updated, 0 unchanged, 1 rejected" in output
    row = Response.objects.get(external_id="trace-1")
    assert row.timestamp == datetime(2026, 1, 5, 10, 0, 0, 123_000, tzinfo=UTC)
    # The last message of the conversation: a negative step indexes from the end.
    assert row.query == "Where is invoice 1?"
    assert row.response == "Invoice 1 is under Billing."
    assert (row.tier, row.model, row.router_label, row.router_confidence) == (
        "cheap",
        "small-v2",
        "simple",
        0.91,
    )
    assert (row.conversation_id, row.user_id, row.cost_usd) == ("session-0", "user-7", 0.0004)
    # Everything not consumed by a top-level path is kept under metadata, nothing dropped.
    assert row.metadata["tags"] == ["prod"]
    assert row.metadata["latency"] == 1.25
    assert row.metadata["name"] == "support-chat"
    assert row.metadata["experiment"] == "b"
    assert row.metadata["input"]["messages"][0]["content"] == "You are the billing assistant."
    for consumed in ("id", "timestamp", "sessionId", "userId", "totalCost"):
        assert consumed not in row.metadata

    assert Response.objects.get(external_id="trace-2").tier == "capable"
    # A path that leads nowhere leaves the field missing, and a required one is rejected.
    reject = RejectedRecord.objects.get()
    assert (reject.line_number, reject.field, reject.reason) == (
        3,
        "tier",
        "is required but missing",
    )


@pytest.mark.django_db
def test_a_legacy_csv_with_other_column_names_is_mapped(tmp_path):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "request_id",
            "created_at",
            "user_message",
            "bot_reply",
            "route",
            "route_score",
            "model_name",
            "session",
            "query_vector",
            "tier",
            "channel",
        ]
    )
    writer.writerow(
        [
            "L-1",
            "2025-12-30 08:15:00",
            "Cancel my plan",
            "Done.",
            "cheap",
            "0.64",
            "small-v1",
            "S1",
            "[0.5, 0.25]",
            "IGNORED: the mapping reads tier from 'route'",
            "email",
        ]
    )
    path = tmp_path / "legacy.csv"
    path.write_bytes(out.getvalue().encode())

    output = _ingest(path, "--mapping", str(LEGACY_CSV))

    assert "1 new, 0 updated, 0 unchanged, 0 rejected" in output, output
    row = Response.objects.get()
    assert row.external_id == "L-1"
    assert row.timestamp == datetime(2025, 12, 30, 8, 15, tzinfo=UTC)
    assert (row.query, row.response, row.tier, row.model) == (
        "Cancel my plan",
        "Done.",
        "cheap",
        "small-v1",
    )
    assert row.router_confidence == 0.64
    assert row.conversation_id == "S1"
    np.testing.assert_array_equal(row.embedding_vector, np.asarray([0.5, 0.25], dtype="<f4"))
    assert row.metadata == {"channel": "email"}


@pytest.mark.django_db
def test_a_csv_missing_a_column_the_mapping_needs_names_it(tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes(
        b"request_id,created_at,user_message,bot_reply\nL-1,2025-12-30T08:00:00Z,a,b\n"
    )

    # The mapping supplies every required field, so the header passes; the row then lacks
    # what "route" would have given.
    _ingest(path, "--mapping", str(LEGACY_CSV))

    reject = RejectedRecord.objects.get()
    assert (reject.line_number, reject.field) == (2, "tier")


@pytest.mark.django_db
def test_a_source_keeps_its_mapping(tmp_path):
    from reviewapp.responses.services import source_get_or_create

    source = source_get_or_create(name="langfuse")
    source.mapping = json.loads(LANGFUSE.read_text())
    source.save(update_fields=["mapping"])
    path = write_jsonl(tmp_path / "traces.jsonl", [langfuse_trace(1)])

    assert "1 new" in _ingest(path, source="langfuse")
    assert Response.objects.get().query == "Where is invoice 1?"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('["id", "query"]', "must be a JSON object"),
        ('{"question": "input"}', "'question' is not a field"),
        ('{"query": ""}', "must be a dotted path"),
        ('{"query": "input."}', "must be a dotted path"),
        ('{"query": 3}', "must be a dotted path"),
        ('{"query": "input", ', "Expecting"),
    ],
)
def test_a_bad_mapping_file_is_a_clear_error_and_nothing_is_ingested(tmp_path, content, message):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(content)
    path = write_jsonl(tmp_path / "traces.jsonl", [langfuse_trace(1)])

    with pytest.raises(CommandError, match=rf"--mapping {mapping}: .*{message}"):
        _ingest(path, "--mapping", str(mapping))

    assert IngestRun.objects.count() == 0
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_mapping_file_is_a_clear_error(tmp_path):
    path = write_jsonl(tmp_path / "traces.jsonl", [langfuse_trace(1)])

    with pytest.raises(CommandError, match="No such file"):
        _ingest(path, "--mapping", str(tmp_path / "nope.json"))


def test_lookup_follows_dicts_and_list_indexes():
    record = {"a": {"b": [{"c": 1}, {"c": 2}]}, "s": "text"}
    assert lookup(record, "a.b.0.c") == 1
    assert lookup(record, "a.b.-1.c") == 2
    assert lookup(record, "a.b.5.c") is None
    assert lookup(record, "a.b.x") is None
    assert lookup(record, "s.deeper") is None
    assert lookup(record, "missing.path") is None


def test_apply_mapping_does_not_let_a_same_named_key_stand_in():
    # The source has its own "tier" key, but the mapping says tier comes from route.
    mapped = apply_mapping({"tier": "wrong", "q": "hi"}, {"tier": "route", "query": "q"})
    assert mapped == {"query": "hi"}
