"""`manage.py ingest` of JSONL files, one fault at a time, and the input forms (.gz, stdin)."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from reviewapp.responses.models import IngestRun, RejectedRecord, Response

from .ingest_helpers import SubprocessDatabase, response_record, write_jsonl


def _ingest(path, *args: str, source: str = "files") -> str:
    out = StringIO()
    call_command("ingest", str(path), "--source", source, *args, stdout=out)
    return out.getvalue()


def _rejects() -> dict[int | None, RejectedRecord]:
    return {r.line_number: r for r in RejectedRecord.objects.all()}


def _stored_ids() -> set[str]:
    return set(Response.objects.values_list("external_id", flat=True))


@pytest.mark.django_db
def test_a_line_that_is_not_json_is_rejected_and_the_rest_stored(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl", [response_record(1), "id=2 query=hello", response_record(3)]
    )

    output = _ingest(path)

    assert "2 new, 0 updated, 0 unchanged, 1 rejected" in output
    assert _stored_ids() == {"r-000001", "r-000003"}
    reject = _rejects()[2]
    assert reject.field == "" and reject.reason.startswith("is not valid JSON")
    assert reject.raw == "id=2 query=hello\n"


@pytest.mark.django_db
def test_a_line_cut_off_mid_json_says_it_is_cut_off(tmp_path):
    text = json.dumps(response_record(2))
    path = write_jsonl(tmp_path / "a.jsonl", [response_record(1), text[:40]])

    _ingest(path)

    assert _rejects()[2].reason == "is not valid JSON (the line is cut off)"


@pytest.mark.django_db
def test_json_that_is_a_list_not_an_object_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [[response_record(1)], response_record(2)])

    output = _ingest(path)

    assert "1 new, 0 updated, 0 unchanged, 1 rejected" in output
    assert _stored_ids() == {"r-000002"}
    assert "not an object" in _rejects()[1].reason


@pytest.mark.django_db
def test_blank_lines_are_skipped_and_line_numbers_stay_the_files(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl", [response_record(1), "", "   ", response_record(4, tier="")]
    )

    output = _ingest(path)

    assert "1 new, 0 updated, 0 unchanged, 1 rejected" in output
    assert set(_rejects()) == {4}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["empty.jsonl", "empty.csv", "empty.jsonl.gz"])
def test_an_empty_file_is_a_clear_error(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(b""))
    else:
        path.write_bytes(b"")

    with pytest.raises(CommandError, match="the file is empty"):
        _ingest(path)

    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.FAILED and "empty" in run.error
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _ingest(tmp_path / "nowhere.jsonl")


@pytest.mark.django_db
def test_the_source_is_named_after_the_file_by_default(tmp_path):
    path = tmp_path / "prod export 2026-01-05.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(response_record(1)).encode() + b"\n"))
    out = StringIO()

    call_command("ingest", str(path), stdout=out)

    assert "into source 'prod-export-2026-01-05'" in out.getvalue()
    assert Response.objects.get().source.name == "prod-export-2026-01-05"


@pytest.mark.django_db
def test_gz_input_is_decompressed(tmp_path):
    lines = "".join(json.dumps(response_record(i)) + "\n" for i in range(300))
    path = tmp_path / "day.jsonl.gz"
    path.write_bytes(gzip.compress(lines.encode()))

    output = _ingest(path)

    assert "300 new, 0 updated, 0 unchanged, 0 rejected" in output
    assert Response.objects.get(external_id="r-000299").query == response_record(299)["query"]


@pytest.mark.django_db
def test_a_truncated_gz_keeps_the_records_before_the_cut_and_says_so(tmp_path):
    records = [response_record(i) for i in range(4_000)]
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(CommandError) as caught:
        _ingest(path)

    message = str(caught.value)
    assert "truncated or corrupt" in message and "run again with a complete file" in message
    lines_read = int(re.search(r"after line (\d+)", message).group(1))
    assert 0 < lines_read < len(records)
    # Exactly the complete lines before the cut are stored, and nothing is rejected for it.
    assert _stored_ids() == {r["id"] for r in records[:lines_read]}
    run = IngestRun.objects.get()
    assert run.status == IngestRun.Status.FAILED
    assert (run.created_count, run.rejected_count) == (lines_read, 0)


@pytest.mark.django_db
def test_a_50_mb_line_is_rejected_with_its_length_and_skipped_in_chunks(tmp_path):
    path = tmp_path / "huge.jsonl"
    huge_query = "x" * (50 * 1024 * 1024)
    huge_line = json.dumps(response_record(2, query=huge_query)).encode()
    write_jsonl(path, [response_record(1), huge_line, response_record(3)])
    limit = 2 * 1024 * 1024

    tracemalloc.start()
    try:
        with override_settings(LONGTAIL={**_longtail_settings(), "MAX_RECORD_BYTES": limit}):
            output = _ingest(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "2 new, 0 updated, 0 unchanged, 1 rejected" in output
    assert _stored_ids() == {"r-000001", "r-000003"}
    reject = _rejects()[2]
    assert reject.reason == f"the line is {len(huge_line) + 1:,} bytes; the limit is {limit:,}"
    # Its head is kept, to recognise it by, not the 50 MB.
    assert reject.raw.startswith('{"id": "r-000002"') and len(reject.raw) == 10_000
    # Reading the line whole would take 50 MB at least; the reader holds at most the limit
    # and a 1 MB chunk at a time.
    assert peak < 12 * 1024 * 1024, f"peak Python memory {peak / 2**20:.1f} MB"


def _longtail_settings() -> dict:
    from django.conf import settings

    return dict(settings.LONGTAIL)


@pytest.mark.django_db
def test_a_line_that_is_not_utf8_is_rejected_not_a_crash(tmp_path):
    bad = json.dumps(response_record(2, query="caf\u00e9")).encode().replace(b"\\u00e9", b"\xe9")
    path = write_jsonl(tmp_path / "latin1.jsonl", [response_record(1), bad, response_record(3)])

    output = _ingest(path)

    assert "2 new, 0 updated, 0 unchanged, 1 rejected" in output
    reject = _rejects()[2]
    assert "not valid UTF-8" in reject.reason
    assert reject.raw.startswith('{"id": "r-000002"')


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["query", "response", "tier"])
def test_a_nul_character_is_rejected_with_a_reason(tmp_path, field):
    record = response_record(2)
    record[field] = record[field][:3] + "\u0000" + record[field][3:]
    path = write_jsonl(tmp_path / "nul.jsonl", [response_record(1), record])
    assert b"\\u0000" in path.read_bytes()

    output = _ingest(path)

    assert "1 new, 0 updated, 0 unchanged, 1 rejected" in output
    reject = _rejects()[2]
    assert reject.field == field
    assert reject.reason == "contains a NUL character, which cannot be stored"


@pytest.mark.django_db
def test_a_nul_character_inside_metadata_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "nul.jsonl", [response_record(1, note="a\u0000b")])

    _ingest(path)

    assert _rejects()[1].field == "metadata"
    assert Response.objects.count() == 0


@pytest.mark.django_db
def test_unknown_top_level_fields_are_kept_under_metadata(tmp_path):
    record = response_record(
        1, metadata={"plan": "pro"}, experiment="b", tags=["a", "b"], trace={"span": 3}
    )
    path = write_jsonl(tmp_path / "a.jsonl", [record])

    _ingest(path)

    assert Response.objects.get().metadata == {
        "plan": "pro",
        "experiment": "b",
        "tags": ["a", "b"],
        "trace": {"span": 3},
    }


@pytest.mark.django_db
def test_metadata_that_is_not_an_object_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [response_record(1, metadata=[1, 2], extra=1)])

    _ingest(path)

    reject = _rejects()[1]
    assert (reject.field, reject.reason) == ("metadata", "must be an object")


@pytest.mark.django_db
def test_timestamps_without_offset_are_utc_and_offsets_are_converted(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            response_record(1, timestamp="2026-03-01T09:30:00"),
            response_record(2, timestamp="2026-03-01T09:30:00+02:00"),
            response_record(3, timestamp="2026-03-01T09:30:00.250Z"),
        ],
    )

    _ingest(path)

    stamps = dict(Response.objects.values_list("external_id", "timestamp"))
    assert stamps["r-000001"] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert stamps["r-000002"] == datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert stamps["r-000002"] == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert stamps["r-000003"] == datetime(2026, 3, 1, 9, 30, 0, 250_000, tzinfo=UTC)


@pytest.mark.django_db
def test_stdin_is_read_when_the_path_is_a_dash(monkeypatch):
    lines = "".join(json.dumps(response_record(i)) + "\n" for i in range(5)).encode()
    # A real text stream over bytes, with .buffer, as sys.stdin is.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines)))
    out = StringIO()

    call_command("ingest", "-", stdout=out)

    assert "into source 'stdin'" in out.getvalue()
    assert "5 new, 0 updated, 0 unchanged, 0 rejected" in out.getvalue()
    assert IngestRun.objects.get().origin == "-"


@pytest.mark.django_db(transaction=True)
def test_stdin_piped_into_a_real_manage_py_process(tmp_path):
    database = SubprocessDatabase(tmp_path)
    lines = "".join(json.dumps(response_record(i)) + "\n" for i in range(50))
    lines += '{"id": "broken"\n'

    result = database.manage("ingest", "-", "--source", "piped", stdin=lines.encode())

    assert result.returncode == 0, result.stderr
    assert "50 new, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    assert database.query(
        "SELECT count(*) FROM responses_response r JOIN responses_source s"
        " ON s.id = r.source_id WHERE s.name = ?",
        ("piped",),
    ) == [(50,)]


@pytest.mark.django_db(transaction=True)
def test_a_truncated_gz_in_a_real_process_ends_with_a_message_not_a_traceback(tmp_path):
    database = SubprocessDatabase(tmp_path)
    lines = "".join(json.dumps(response_record(i)) + "\n" for i in range(3000))
    data = gzip.compress(lines.encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])

    result = database.manage("ingest", str(path), "--source", "cut")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "CommandError: the compressed file is truncated or corrupt" in result.stderr
    assert "new, 0 updated" in result.stdout
    (stored,) = database.query("SELECT count(*) FROM responses_response")[0]
    assert 0 < stored < 3000


@pytest.mark.django_db
def test_the_same_id_twice_in_one_file_keeps_the_later_line(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [response_record(1, response="first"), response_record(1, response="second")],
    )

    _ingest(path)

    assert list(Response.objects.values_list("response", flat=True)) == ["second"]
