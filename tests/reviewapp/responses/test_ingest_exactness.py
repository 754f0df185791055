"""What the ingest fuzz (test_ingest_fuzz.py) found, one case each: records that were stored as
something else, that stopped the whole ingest with an exception, or that were rejected naming
the wrong field or in a library's words; and mappings that failed only once records flowed.
Each record is now stored exactly or rejected with its field and a reason."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from io import StringIO

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from reviewapp.responses.connectors import pull
from reviewapp.responses.models import FeedbackEvent, IngestRun, RejectedRecord, Response, Source
from reviewapp.responses.readers import RawRecord
from reviewapp.responses.records import MappingError
from reviewapp.responses.services import ingest_path, ingest_records

from .ingest_helpers import write_jsonl

pytestmark = pytest.mark.django_db

GOOD = {"timestamp": "2026-01-05T10:00:00Z", "query": "q", "response": "a", "tier": "cheap"}
EVENT = {"response_id": "r1", "timestamp": "2026-01-05T10:00:00Z", "kind": "thumbs_up"}


def _ingest(records: list[dict], *, kind: str = "responses", **options) -> IngestRun:
    """Records as a connector or the REST push hands them over: parsed objects."""
    source, _ = Source.objects.get_or_create(name="exact")
    run = ingest_records(
        source=source,
        kind=kind,
        records=(RawRecord(i, record, "") for i, record in enumerate(records, start=1)),
        **options,
    )
    run.refresh_from_db()
    assert run.status == IngestRun.Status.FINISHED, run.error
    return run


def _rejects(run: IngestRun) -> list[tuple[int, str, str]]:
    rows = RejectedRecord.objects.filter(run=run).order_by("line_number")
    return list(rows.values_list("line_number", "field", "reason"))


def _stored(external_id: str) -> Response:
    return Response.objects.get(external_id=external_id)


def test_a_timestamp_outside_years_1_to_9999_in_utc_is_rejected_not_an_exception():
    # Valid RFC 3339, but in UTC the first is in year 0 and the second in year 10000: the
    # conversion raised OverflowError, which stopped the ingest (and every record after it).
    run = _ingest(
        [
            {**GOOD, "id": "a", "timestamp": "0001-01-01T00:30:00+01:00"},
            {**GOOD, "id": "b", "timestamp": "9999-12-31T23:30:00-01:00"},
            {**GOOD, "id": "c", "timestamp": "0001-01-01T00:30:00-01:00"},
        ]
    )
    reason = "is outside the years 1 to 9999 in UTC"
    assert _rejects(run) == [(1, "timestamp", reason), (2, "timestamp", reason)]
    assert _stored("c").timestamp == datetime(1, 1, 1, 1, 30, tzinfo=UTC)


def test_text_that_spells_a_nul_escape_is_stored_and_a_real_nul_is_not():
    # The six characters \u0000 were taken for a NUL and the record rejected.
    answer = "End a C string with '\\u0000'."
    run = _ingest(
        [
            {**GOOD, "id": "a", "response": answer, "metadata": {"escape": "\\u0000"}},
            {**GOOD, "id": "b", "metadata": {"nul": "a\x00b"}},
        ]
    )
    assert _rejects(run) == [(2, "metadata", "contains a NUL character, which cannot be stored")]
    stored = _stored("a")
    assert (stored.response, stored.metadata) == (answer, {"escape": "\\u0000"})


def test_a_top_level_field_also_in_metadata_must_hold_the_same_value():
    # The top-level value was silently replaced by the metadata one.
    run = _ingest(
        [
            {**GOOD, "id": "a", "team": "billing", "metadata": {"team": "search"}},
            {**GOOD, "id": "b", "flag": True, "metadata": {"flag": 1}},  # true is not 1
            {**GOOD, "id": "c", "team": "billing", "metadata": {"team": "billing", "x": 1}},
        ]
    )
    reason = "is also a key of metadata, with a different value; one of them would be lost"
    assert _rejects(run) == [(1, "team", reason), (2, "flag", reason)]
    assert _stored("c").metadata == {"team": "billing", "x": 1}


def test_unknown_keys_of_a_shadow_answer_are_kept_in_metadata():
    # They were dropped without a word.
    shadow = {"response": "The capable answer.", "model": "large-v1", "latency_ms": 900}
    run = _ingest(
        [
            {**GOOD, "id": "a", "shadow": shadow, "metadata": {"team": "billing"}},
            {**GOOD, "id": "b", "shadow": shadow, "metadata": {"shadow": "elsewhere"}},
        ]
    )
    assert [(line, field) for line, field, _ in _rejects(run)] == [(2, "shadow")]
    stored = _stored("a")
    assert (stored.shadow_response, stored.shadow_model) == ("The capable answer.", "large-v1")
    assert stored.metadata == {"team": "billing", "shadow": {"latency_ms": 900}}


def test_an_embedding_number_beyond_float32_is_rejected_not_stored_as_infinity():
    # 1e39 is finite, so it passed the finite check, and float32 made it infinity.
    run = _ingest(
        [
            {**GOOD, "id": "a", "embedding": [1e39, 0.5]},
            {**GOOD, "id": "b", "embedding": [-3.5e38, 0.5]},
            {**GOOD, "id": "c", "embedding": [3.4028235e38, -0.5]},  # rounds to float32's max
        ]
    )
    assert [(line, field) for line, field, _ in _rejects(run)] == [
        (1, "embedding"),
        (2, "embedding"),
    ]
    vector = _stored("c").embedding_vector
    assert np.isfinite(vector).all()
    assert vector[0] == np.finfo(np.float32).max


def test_nan_or_infinity_in_metadata_is_rejected_not_stored_as_null():
    # JSON has no NaN: it was written as null. Connectors (a SQL float column) can send one.
    run = _ingest(
        [
            {**GOOD, "id": "a", "score": math.nan},
            {**GOOD, "id": "b", "metadata": {"x": [1, {"y": -math.inf}]}},
            {**GOOD, "id": "c", "metadata": {"x": None}},
        ]
    )
    reason = "contains NaN or an infinite number, which JSON cannot hold"
    assert _rejects(run) == [(1, "metadata", reason), (2, "metadata", reason)]
    assert _stored("c").metadata == {"x": None}


def test_a_lone_surrogate_in_a_metadata_key_is_rejected_not_an_exception():
    # Encoding the key raised UnicodeEncodeError, which stopped the ingest.
    run = _ingest(
        [
            {**GOOD, "id": "a", "metadata": {"\udfff": 1}},
            {**GOOD, "id": "b", "\ud800x": 1},
            {**GOOD, "id": "c"},
        ]
    )
    reason = "contains an invalid Unicode character"
    assert _rejects(run) == [(1, "metadata", reason), (2, "metadata", reason)]
    assert Response.objects.filter(external_id="c").exists()


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_metadata_nested_past_100_levels_is_rejected():
    # Far past Python's recursion limit, encoding raised RecursionError and stopped the ingest;
    # below it, the row was stored but could fail to load again.
    run = _ingest(
        [
            {**GOOD, "id": "a", "metadata": {"deep": _nested(99)}},  # 100 levels with metadata
            {**GOOD, "id": "b", "metadata": {"deep": _nested(100)}},
            {**GOOD, "id": "c", "metadata": {"deep": _nested(5000)}},
        ]
    )
    reason = "is nested more than 100 levels deep"
    assert _rejects(run) == [(2, "metadata", reason), (3, "metadata", reason)]
    assert _stored("a").metadata == {"deep": _nested(99)}


def test_a_jsonl_line_nested_too_deeply_to_decode_is_rejected_alone(tmp_path):
    # msgspec raised RecursionError, which the reader let through: the file stopped there.
    deep = b'{"id": "deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    path = write_jsonl(tmp_path / "deep.jsonl", [deep, {**GOOD, "id": "after"}])
    run = ingest_path(path=str(path), source=Source.objects.create(name="deep"), kind="responses")
    assert run.status == IngestRun.Status.FINISHED
    [(line, field, reason)] = _rejects(run)
    assert (line, field) == (1, "")
    assert "nested too deeply" in reason
    assert Response.objects.filter(external_id="after").exists()


def test_a_pushed_body_nested_too_deeply_is_a_400(token_client):
    # The list splitter raised RecursionError: a 500.
    body = "[" + '{"id": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}]"
    answer = token_client.post(
        "/api/v1/responses/?source=push", data=body, content_type="application/json"
    )
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["detail"]
    assert not IngestRun.objects.exists()


def test_an_unknown_feedback_field_is_named_as_sent():
    # "" gave an empty field and msgspec's own message; "a`b" was named "a"; a null one was
    # dropped while any other value was rejected.
    run = _ingest(
        [{**EVENT, "": 1}, {**EVENT, "a`b": 1}, {**EVENT, "note": None}, EVENT],
        kind="feedback",
    )
    reason = "is not a field of this record"
    assert _rejects(run) == [(1, '""', reason), (2, "a`b", reason), (3, "note", reason)]
    assert FeedbackEvent.objects.count() == 1


def test_a_wrong_type_is_said_in_words():
    run = _ingest([{**GOOD, "id": "a", "router_confidence": True}])
    assert _rejects(run) == [(1, "router_confidence", "must be a number, got true or false")]


# Mappings: refused before a run exists, wherever they come from.


def test_an_invalid_mapping_is_refused_before_anything_is_stored():
    source = Source.objects.create(name="mapped")
    with pytest.raises(MappingError, match="the path for 'tier' must be a dotted path"):
        ingest_records(
            source=source,
            kind="responses",
            records=iter([RawRecord(1, {**GOOD, "id": "a"}, "")]),
            mapping={"tier": 5},
        )
    source.mapping = ["tier", "route"]
    source.save()
    with pytest.raises(MappingError, match="source 'mapped': a mapping must be a JSON object"):
        ingest_records(
            source=source, kind="responses", records=iter([RawRecord(1, {**GOOD, "id": "a"}, "")])
        )
    assert not IngestRun.objects.exists()
    assert not Response.objects.exists()


def test_a_source_with_an_invalid_mapping_cannot_be_saved_from_a_form():
    source = Source(name="mapped", mapping={"question": "q"})
    with pytest.raises(ValidationError) as refused:
        source.full_clean()
    assert refused.value.message_dict["mapping"] == [
        "mapping: 'question' is not a field of any record kind"
    ]


def test_the_ingest_command_names_a_source_mapping_it_cannot_apply(tmp_path):
    Source.objects.create(name="legacy", mapping={"id": ""})
    path = write_jsonl(tmp_path / "legacy.jsonl", [{**GOOD, "id": "a"}])
    with pytest.raises(CommandError, match="source 'legacy': mapping: the path for 'id'"):
        call_command("ingest", str(path), "--source", "legacy", stdout=StringIO())
    assert not IngestRun.objects.exists()


def test_a_pull_with_an_invalid_mapping_ends_in_a_failed_run_with_the_reason():
    source = Source.objects.create(
        name="warehouse",
        kind=Source.Kind.HTTP,
        settings={"url": "http://127.0.0.1:9/never-called"},
        mapping={"tier": ".route"},
    )
    result = pull(source=source)
    assert result.run.status == IngestRun.Status.FAILED
    assert "the path for 'tier' must be a dotted path" in result.run.error
    assert json.dumps(source.cursor) == "{}"
