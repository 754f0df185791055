"""The longest stratum key fits its column: a 64-character tier and a 128-character segment
made only of '|' and '\\' (escaped to twice their length in the key), with unknown bands."""

from __future__ import annotations

import datetime as dt

import pytest

from reviewapp.responses.models import Response, Source
from reviewapp.review.models import StratumCount
from reviewapp.review.services import plan_save, queue_build

DAY = dt.date(2025, 3, 4)


@pytest.mark.django_db
def test_a_queue_builds_with_the_longest_escaped_stratum_key():
    source = Source.objects.create(name="long-keys")
    start = dt.datetime.combine(DAY, dt.time(8), tzinfo=dt.UTC)
    Response.objects.bulk_create(
        Response(
            source=source,
            external_id=f"k{i}",
            timestamp=start + dt.timedelta(seconds=i),
            query="q",
            response="a",
            tier="|" * 64,
            segment="\\" * 128,
            content_hash=f"h{i}",
        )
        for i in range(10)
    )
    version = plan_save(
        name="long-keys",
        config={"dimensions": ["tier", "uncertainty", "ood", "segment"], "daily_budget": 4},
        sources=[source],
    )

    queue, created = queue_build(plan=version.plan, day=DAY)

    assert created and queue.size == 4
    (stratum,) = StratumCount.objects.filter(queue=queue)
    assert len(stratum.key) > 400  # the old column's limit
    assert (stratum.tier, stratum.segment, stratum.population) == ("|" * 64, "\\" * 128, 10)
