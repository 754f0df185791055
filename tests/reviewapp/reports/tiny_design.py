"""A hand-made design for the tier-report tests: two strata of the cheap tier (N = 80 and 20)
and one unreviewed capable stratum, written straight to the database so every number can be
computed by hand.

Cheap, stratum "low": N = 80, 4 reviews (correct ×3, incorrect) → p̂ = 0.75, s² = 0.25.
Cheap, stratum "high": N = 20, 5 reviews (correct ×2, incorrect ×2, partial) → p̂ = 0.5,
s² = 0.25. Tier: p̂ = 0.8·0.75 + 0.2·0.5 = 0.70 (the naive mean of the 9 reviews is 0.611).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

DAY = dt.date(2025, 3, 4)
_counter = itertools.count()

STRATA = [
    # tier, uncertainty band, segment, population, verdicts, cost per answer
    ("cheap", "low", "", 80, ["correct", "correct", "correct", "incorrect"], 0.01),
    ("cheap", "high", "", 20, ["correct", "incorrect", "incorrect", "correct", "partial"], 0.02),
    ("capable", "low", "", 50, [], 0.04),
]


def build(
    *,
    name: str = "tiny",
    reviewer: Any,
    strata: list[tuple[str, str, str, int, list[str], float]] | None = None,
    day: dt.date = DAY,
    see_reports: bool = False,
    targets: dict[str, float] | None = None,
) -> Any:
    """The plan (created or given a new day), one probability queue on `day`, its strata,
    items and reviews by `reviewer`."""
    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Plan, Queue, QueueItem, Review, StratumCount
    from reviewapp.review.services import plan_save

    plan = Plan.objects.filter(name=name).first()
    if plan is None:
        source = Source.objects.create(name=f"src-{name}-{next(_counter)}")
        plan = plan_save(
            name=name,
            config={
                "targets": targets if targets is not None else {"cheap": 0.9, "capable": 0.9},
                "reviewers_see_reports": see_reports,
            },
            sources=[source],
            reviewers=[reviewer],
        ).plan
    version = plan.current_version
    source = version.sources.first()
    queue = Queue.objects.create(plan=plan, plan_version=version, day=day)
    for tier, band, segment, population, verdicts, cost in strata or STRATA:
        stratum = StratumCount.objects.create(
            queue=queue,
            key=f"{tier}|{band}|in|{segment}",
            tier=tier,
            uncertainty_band=band,
            ood_band="in",
            segment=segment,
            population=population,
            quota=len(verdicts),
            cost_sum=cost * population,
            cost_count=population,
        )
        for position, verdict in enumerate(verdicts):
            n = next(_counter)
            response = Response.objects.create(
                source=source,
                external_id=f"t{n}",
                timestamp=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
                query=f"q{n}",
                response=f"a{n}",
                tier=tier,
                model="m",
                content_hash=f"t{n}",
            )
            item = QueueItem.objects.create(
                queue=queue,
                response=response,
                stratum=stratum,
                inclusion_probability=len(verdicts) / population,
                review_count=1,
                position=position,
            )
            Review.objects.create(item=item, reviewer=reviewer, verdict=verdict)
    return plan


def html_table(content: bytes, index: int = 0) -> list[list[str]]:
    """The rows (header first) of the index-th <table> of a page, cell texts stripped."""
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables: list[list[list[str]]] = []
            self.cell: list[str] | None = None
            self.depth = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag == "table":
                self.tables.append([])
            elif tag == "tr" and self.tables:
                self.tables[-1].append([])
            elif tag in ("td", "th") and self.tables:
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None:
                self.tables[-1][-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    parser = Parser()
    parser.feed(content.decode())
    return parser.tables[index]


def csv_rows(response: Any) -> list[list[str]]:
    """The rows of a streamed CSV response, header first (BOM dropped)."""
    import csv
    import io

    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    return rows
