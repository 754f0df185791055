"""Sending the same thing twice never makes two of it: responses update in place by id,
feedback without an id is identified by its content, reference records by their content."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from reviewapp.responses.models import (
    FeedbackEvent,
    IngestRun,
    ReferenceRecord,
    ReferenceSet,
    Response,
)

from .ingest_helpers import response_record, write_jsonl


def _ingest(path, *args: str, source: str = "prod") -> str:
    out = StringIO()
    call_command("ingest", str(path), "--source", source, *args, stdout=out)
    return out.getvalue()


# Real commits: PostgreSQL's now() is the start of the transaction, and pytest-django's
# wrapping transaction would make both ingests one instant.
@pytest.mark.django_db(transaction=True)
def test_a_newer_copy_of_a_record_updates_it_in_place(tmp_path):
    records = [response_record(i) for i in range(10)]
    _ingest(write_jsonl(tmp_path / "day.jsonl", records))
    before = {r.external_id: r for r in Response.objects.all()}
    time.sleep(0.01)  # so a rewritten updated_at is a different instant

    records[4] = {**records[4], "response": "A corrected answer."}
    output = _ingest(write_jsonl(tmp_path / "day-fixed.jsonl", records))

    assert "0 new, 1 updated, 9 unchanged, 0 rejected" in output
    after = {r.external_id: r for r in Response.objects.all()}
    assert set(after) == set(before)
    changed = after["r-000004"]
    assert changed.pk == before["r-000004"].pk
    assert changed.response == "A corrected answer."
    assert changed.ingested_at == before["r-000004"].ingested_at
    assert changed.updated_at > before["r-000004"].updated_at
    for external_id, row in after.items():
        if external_id != "r-000004":
            assert row.updated_at == before[external_id].updated_at
            assert row.content_hash == before[external_id].content_hash


@pytest.mark.django_db
def test_the_same_id_in_another_source_is_another_record(tmp_path):
    path = write_jsonl(tmp_path / "day.jsonl", [response_record(1)])

    _ingest(path, source="eu")
    _ingest(path, source="us")

    assert Response.objects.filter(external_id="r-000001").count() == 2


@pytest.mark.django_db
def test_a_changed_optional_field_and_a_removed_one_count_as_updates(tmp_path):
    _ingest(write_jsonl(tmp_path / "a.jsonl", [response_record(1), response_record(2)]))
    second = response_record(2)
    del second["embedding"]

    output = _ingest(
        write_jsonl(tmp_path / "b.jsonl", [response_record(1, router_confidence=0.33), second])
    )

    assert "0 new, 2 updated, 0 unchanged" in output
    assert Response.objects.get(external_id="r-000001").router_confidence == 0.33
    assert Response.objects.get(external_id="r-000002").embedding is None


def _feedback(response_id: str, kind: str, minute: int, **extra) -> dict:
    return {
        "response_id": response_id,
        "timestamp": f"2026-01-02T10:{minute:02d}:00Z",
        "kind": kind,
        **extra,
    }


@pytest.mark.django_db
def test_feedback_before_its_response_is_kept_and_joined_when_it_arrives(tmp_path):
    feedback = write_jsonl(
        tmp_path / "feedback.jsonl",
        [
            _feedback("r-000001", "thumbs_down", 1, comment="wrong date"),
            _feedback("r-000002", "handoff", 2),
            _feedback("r-999999", "thumbs_up", 3),
            _feedback("r-000001", "thumbs_up", 4, id="evt-4"),
        ],
    )

    output = _ingest(feedback, "--kind", "feedback")

    assert "(feedback): 4 new, 0 updated, 0 unchanged, 0 rejected" in output
    assert FeedbackEvent.objects.filter(response__isnull=True).count() == 4

    _ingest(write_jsonl(tmp_path / "day.jsonl", [response_record(1), response_record(2)]))

    joined = {
        (e.response_external_id, e.kind): e.response.external_id if e.response else None
        for e in FeedbackEvent.objects.select_related("response")
    }
    assert joined == {
        ("r-000001", "thumbs_down"): "r-000001",
        ("r-000001", "thumbs_up"): "r-000001",
        ("r-000002", "handoff"): "r-000002",
        # Its response has still not arrived: kept, waiting.
        ("r-999999", "thumbs_up"): None,
    }
    assert FeedbackEvent.objects.get(external_id="evt-4").response.external_id == "r-000001"


@pytest.mark.django_db
def test_feedback_after_its_response_is_joined_at_once(tmp_path):
    _ingest(write_jsonl(tmp_path / "day.jsonl", [response_record(1)]))

    _ingest(
        write_jsonl(tmp_path / "fb.jsonl", [_feedback("r-000001", "thumbs_up", 1)]),
        "--kind",
        "feedback",
    )

    assert FeedbackEvent.objects.get().response == Response.objects.get()


@pytest.mark.django_db
def test_resending_feedback_without_an_id_is_a_no_op(tmp_path):
    events = [_feedback(f"r-{i:06d}", "thumbs_down", i % 60) for i in range(20)]
    path = write_jsonl(tmp_path / "feedback.jsonl", events)
    _ingest(path, "--kind", "feedback")
    before = dict(FeedbackEvent.objects.values_list("external_id", "pk"))

    output = _ingest(path, "--kind", "feedback")

    assert "0 new, 0 updated, 20 unchanged, 0 rejected" in output
    assert dict(FeedbackEvent.objects.values_list("external_id", "pk")) == before
    assert all(external_id.startswith("content:") for external_id in before)


@pytest.mark.django_db
def test_two_different_events_without_id_are_two_events(tmp_path):
    path = write_jsonl(
        tmp_path / "feedback.jsonl",
        [
            _feedback("r-000001", "thumbs_down", 1),
            _feedback("r-000001", "thumbs_down", 1, comment="still wrong"),
            _feedback("r-000001", "thumbs_down", 2),
        ],
    )

    assert "3 new" in _ingest(path, "--kind", "feedback")


@pytest.mark.django_db
def test_feedback_with_an_id_and_new_content_is_updated(tmp_path):
    _ingest(
        write_jsonl(tmp_path / "a.jsonl", [_feedback("r-000001", "thumbs_down", 1, id="e1")]),
        "--kind",
        "feedback",
    )

    output = _ingest(
        write_jsonl(
            tmp_path / "b.jsonl",
            [_feedback("r-000001", "thumbs_down", 1, id="e1", comment="added later")],
        ),
        "--kind",
        "feedback",
    )

    assert "0 new, 1 updated, 0 unchanged" in output
    assert FeedbackEvent.objects.get().comment == "added later"


@pytest.mark.django_db
def test_bad_feedback_is_quarantined(tmp_path):
    path = write_jsonl(
        tmp_path / "feedback.jsonl",
        [
            _feedback("r-000001", "thumbs_sideways", 1),
            _feedback("", "thumbs_up", 1),
            {"response_id": "r-000001", "kind": "handoff"},
            _feedback("r-000001", "handoff", 1, query="not a feedback field"),
        ],
    )

    output = _ingest(path, "--kind", "feedback")

    assert "0 new, 0 updated, 0 unchanged, 4 rejected" in output
    rejects = {r.line_number: (r.field, r.reason) for r in IngestRun.objects.get().rejects.all()}
    assert rejects[1][0] == "kind" and "not one of the allowed values" in rejects[1][1]
    assert rejects[2] == ("response_id", "must not be empty")
    assert rejects[3] == ("timestamp", "is required but missing")
    assert rejects[4] == ("query", "is not a field of this record")


def _reference(i: int) -> dict:
    return {
        "query": f"training query {i}",
        "router_label": "simple" if i % 2 else "complex",
        "router_confidence": round(0.6 + (i % 40) / 100, 2),
        "embedding": [round(((i * 5 + k) % 11) / 11, 4) for k in range(6)],
    }


@pytest.mark.django_db
def test_reference_ingest_creates_the_set_and_reingest_adds_nothing(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [_reference(i) for i in range(200)])

    first = _ingest(path, "--kind", "reference", source="router-train-v3")
    second = _ingest(path, "--kind", "reference", source="router-train-v3")

    assert "(reference): 200 new, 0 updated, 0 unchanged, 0 rejected" in first
    assert "(reference): 0 new, 0 updated, 200 unchanged, 0 rejected" in second
    reference_set = ReferenceSet.objects.get(name="router-train-v3")
    assert reference_set.embedding_dim == 6
    assert reference_set.records.count() == 200
    record = reference_set.records.get(query="training query 7")
    assert (record.router_label, record.router_confidence) == ("simple", 0.67)
    assert ReferenceRecord.objects.count() == 200
    # A reference ingest does not create responses.
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_reference_records_must_share_one_embedding_dimension(tmp_path):
    records = [_reference(1), {**_reference(2), "embedding": [0.1, 0.2, 0.3]}, {"query": " "}]
    path = write_jsonl(tmp_path / "train.jsonl", records)

    output = _ingest(path, "--kind", "reference", source="ref")

    assert "1 new, 0 updated, 0 unchanged, 2 rejected" in output
    rejects = {r.line_number: (r.field, r.reason) for r in IngestRun.objects.get().rejects.all()}
    assert rejects == {
        2: ("embedding", "has 3 numbers; this reference set's embeddings have 6"),
        3: ("query", "must not be blank"),
    }


@pytest.mark.django_db
def test_reference_records_are_identified_by_content(tmp_path):
    base = _reference(1)
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [base, base, {**base, "router_confidence": 0.5}, json.loads(json.dumps(base))],
    )

    output = _ingest(path, "--kind", "reference", source="ref")

    # The exact duplicates collapse into one record; the changed confidence is another record.
    assert ReferenceRecord.objects.count() == 2
    assert "2 new" in output
