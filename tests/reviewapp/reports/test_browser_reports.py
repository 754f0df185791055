"""The tier report and the trend charts in headless Chromium: the table and every chart render
(Chart.js draws each canvas), a drift day's histograms load into the page, the weekly toggle
works, and the browser logs no error. Screenshots go to docs/screenshots/ under
`make screenshots` (linked from README.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from reviewapp.responses.models import (
    FeedbackEvent,
    ReferenceRecord,
    ReferenceSet,
    Response,
    Source,
)
from reviewapp.review.models import Queue, QueueItem, Review, StratumCount
from reviewapp.review.services import plan_save
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.browser
FIRST = dt.date(2025, 3, 3)
DAYS = 21
# (tier, band): population per day, reviews per day, true accuracy on day 0 and on the last day.
STRATA = {
    ("cheap", "low"): (600, 10, 0.97, 0.96),
    ("cheap", "high"): (150, 10, 0.92, 0.55),
    ("capable", "low"): (250, 8, 0.96, 0.96),
    ("capable", "high"): (80, 8, 0.90, 0.88),
}
PER_TIER_DAY = 300  # production answers with a router confidence per tier and day


def _scenario(reviewer) -> str:
    """Three weeks of a two-tier plan: the cheap tier's uncertain edge degrades and its router
    confidence drifts down from the second week; some thumbs-down and handoffs."""
    rng = np.random.default_rng(7)
    source = Source.objects.create(name="browser-seed")
    version = plan_save(
        name="browser-seed",
        config={"daily_budget": 36, "targets": {"cheap": 0.9, "capable": 0.9}},
        sources=[source],
        reviewers=[reviewer],
    )
    reference = ReferenceSet.objects.create(name="browser-ref", source=source)
    ReferenceRecord.objects.bulk_create(
        ReferenceRecord(
            reference_set=reference,
            query=f"r{i}",
            router_label=label,
            router_confidence=float(v),
            content_hash=f"{label}{i}",
        )
        for label, (a, b) in (("simple", (8, 2)), ("complex", (6, 3)))
        for i, v in enumerate(rng.beta(a, b, 1500))
    )
    responses = []
    for d in range(DAYS):
        day = FIRST + dt.timedelta(days=d)
        shift = max(0, d - 7) / (DAYS - 8)
        for tier, label, (a, b) in (("cheap", "simple", (8, 2)), ("capable", "complex", (6, 3))):
            values = rng.beta(a, b, PER_TIER_DAY)
            if tier == "cheap":
                values = values * (1 - 0.05 * shift)
            for i, v in enumerate(values):
                responses.append(
                    Response(
                        source=source,
                        external_id=f"{day}-{tier}-{i}",
                        timestamp=dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
                        + dt.timedelta(minutes=2 * i),
                        query=f"q{i}",
                        response=f"a{i}",
                        tier=tier,
                        router_label=label,
                        router_confidence=float(v),
                        content_hash=f"{d}{tier}{i}",
                    )
                )
    Response.objects.bulk_create(responses)
    by_key = {r.external_id: r for r in Response.objects.filter(source=source)}
    feedback = []
    for d in range(DAYS):
        day = FIRST + dt.timedelta(days=d)
        queue = Queue.objects.create(
            plan=version.plan, plan_version=version, day=day, population=1080, size=36
        )
        used = {"cheap": 0, "capable": 0}
        for (tier, band), (population, n, p0, p1) in STRATA.items():
            stratum = StratumCount.objects.create(
                queue=queue,
                key=f"{tier}|{band}",
                tier=tier,
                uncertainty_band=band,
                ood_band="in",
                population=population,
                quota=n,
            )
            p = p0 + (p1 - p0) * max(0, d - 7) / (DAYS - 8)
            for _ in range(n):
                response = by_key[f"{day}-{tier}-{used[tier]}"]
                used[tier] += 1
                item = QueueItem.objects.create(
                    queue=queue,
                    response=response,
                    stratum=stratum,
                    inclusion_probability=n / population,
                    review_count=1,
                )
                Review.objects.create(
                    item=item,
                    reviewer=reviewer,
                    verdict="correct" if rng.random() < p else "incorrect",
                )
        for tier, rate in (("cheap", 0.02 + 0.02 * max(0, d - 7) / 13), ("capable", 0.015)):
            for i in range(PER_TIER_DAY):
                if rng.random() < rate:
                    response = by_key[f"{day}-{tier}-{i}"]
                    kind = "handoff" if rng.random() < 0.6 else "thumbs_down"
                    feedback.append(
                        FeedbackEvent(
                            source=source,
                            external_id=f"f-{response.external_id}",
                            response_external_id=response.external_id,
                            response=response,
                            timestamp=response.timestamp + dt.timedelta(minutes=2),
                            kind=kind,
                            content_hash=f"f{response.pk}",
                        )
                    )
    FeedbackEvent.objects.bulk_create(feedback)
    try:
        from reviewapp.reports.models import Alarm
    except ImportError:
        pass
    else:
        Alarm.objects.create(
            plan=version.plan,
            tier="cheap",
            kind=Alarm.Kind.CUSUM,
            level=Alarm.Level.ALERT,
            day=FIRST + dt.timedelta(days=15),
            evidence={},
        )
    return version.plan.name


def _watch(page) -> list[str]:
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and "favicon" not in (message.location or {}).get("url", ""):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _all_drawn(page) -> None:
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('canvas[data-chart]')];"
        " return c.length > 0 && c.every(x => x.dataset.drawn === 'true'); }"
    )


def test_tier_report_and_trend_charts_render(
    transactional_db, live_server, page, qa_lead, reviewer
):
    plan = _scenario(reviewer)
    errors = _watch(page)
    window = f"plan={plan}&start={FIRST}&end={FIRST + dt.timedelta(days=DAYS - 1)}"

    page.goto(f"{live_server.url}/reports/?{window}")
    page.fill("input[name=username]", qa_lead.username)
    page.fill("input[name=password]", f"pass-{qa_lead.username}")
    page.keyboard.press("Enter")
    page.wait_for_selector("table.report tbody tr")
    assert page.locator("table.report tbody tr").count() == 2  # cheap, capable
    save_screenshot(page, "tier-report")

    page.goto(f"{live_server.url}/reports/trends/?{window}")
    _all_drawn(page)
    kinds = page.eval_on_selector_all("canvas[data-chart]", "c => c.map(x => x.dataset.chart)")
    assert sorted(kinds) == ["accuracy", "accuracy", "drift", "feedback", "feedback"]
    # Chart.js painted something: a drawn canvas has non-blank pixels.
    assert page.evaluate(
        "() => { const c = document.querySelector('canvas[data-chart=accuracy]');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }"
    )
    save_screenshot(page, "trends")

    # A drift day's histograms load into the page (htmx) and are drawn.
    page.locator("#drift-table a").last.click()
    page.wait_for_selector("#histogram canvas[data-chart=histogram][data-drawn=true]")
    assert page.url.startswith(f"{live_server.url}/reports/trends/?")  # stayed on the page

    # The weekly toggle.
    page.select_option("select[name=period]", "week")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**period=week**")
    _all_drawn(page)
    assert "2025-W10" in page.inner_text("#accuracy table")

    # Print media: the charts and tables stay, the filters go.
    page.emulate_media(media="print")
    assert page.is_visible("canvas[data-chart=drift]")
    assert not page.is_visible("form.filters")
    assert errors == []
