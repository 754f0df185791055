"""A record re-sent with a different router confidence is scored again: its uncertainty (and
OOD distance) follow the new values instead of keeping the ones of the record it replaced.
An unchanged re-send is not scored again."""

from __future__ import annotations

import pytest

from reviewapp.responses.models import Response, Source
from reviewapp.responses.readers import RawRecord
from reviewapp.responses.scoring import responses_score
from reviewapp.responses.services import ingest_records
from tests.reviewapp.responses.ingest_helpers import response_record

pytestmark = pytest.mark.django_db


def _ingest(source: Source, records: list[dict]) -> None:
    ingest_records(
        source=source,
        kind="responses",
        records=[RawRecord(line, record) for line, record in enumerate(records, 1)],
    )


def test_a_changed_record_is_scored_again_and_an_unchanged_one_is_not():
    source = Source.objects.create(name="rescore")
    _ingest(source, [response_record(i, router_confidence=0.9) for i in range(1, 4)])
    assert responses_score(source_id=source.pk) == 3
    first = {r.external_id: r for r in Response.objects.filter(source=source)}
    assert {round(r.uncertainty, 6) for r in first.values()} == {0.1}

    # Record 1 comes back with a lower confidence; record 2 comes back unchanged.
    _ingest(
        source,
        [response_record(1, router_confidence=0.55), response_record(2, router_confidence=0.9)],
    )
    assert responses_score(source_id=source.pk) == 1

    now = {r.external_id: r for r in Response.objects.filter(source=source)}
    changed, same = response_record(1)["id"], response_record(2)["id"]
    assert now[changed].uncertainty == pytest.approx(0.45)
    assert now[changed].scored_at > first[changed].scored_at
    assert now[same].scored_at == first[same].scored_at
