"""Trends: accuracy per day and per week against hand-computed numbers on a tiny design (two
days, two strata a day), feedback rates per 1,000 answers, PSI of router confidence, who may
read the page, and the empty state."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import pytest
from scipy import stats

from reviewapp.reports import trends
from reviewapp.responses.models import (
    FeedbackEvent,
    ReferenceRecord,
    ReferenceSet,
    Response,
    Source,
)
from reviewapp.review.models import Queue, QueueItem, Review, StratumCount
from reviewapp.review.services import plan_save

DAY1 = dt.date(2025, 3, 4)  # Tuesday
DAY2 = dt.date(2025, 3, 5)  # Wednesday, the same ISO week (2025-W10)
URL = "/reports/trends/"
# Per day: stratum "low" N=100 with reviews 1,1,1,0 and stratum "high" N=50 with 1,0,1,0.
STRATA = {"low": (100, [1.0, 1.0, 1.0, 0.0]), "high": (50, [1.0, 0.0, 1.0, 0.0])}


def _at(day: dt.date, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(minutes=minute)


def _response(source: Source, key: str, day: dt.date, *, tier: str = "cheap", conf=None):
    return Response.objects.create(
        source=source,
        external_id=key,
        timestamp=_at(day),
        query=f"q {key}",
        response=f"a {key}",
        tier=tier,
        router_label="simple",
        router_confidence=conf,
        content_hash=key[:32],
    )


@pytest.fixture
def design(db, reviewer, qa_lead):
    """Plan 'tiny', tier cheap, two days; each day two strata with 4 reviews each."""
    source = Source.objects.create(name="src-tiny")
    version = plan_save(
        name="tiny",
        config={"daily_budget": 8, "targets": {"cheap": 0.9}},
        sources=[source],
        reviewers=[reviewer],
    )
    for day in (DAY1, DAY2):
        queue = Queue.objects.create(
            plan=version.plan, plan_version=version, day=day, population=150, size=8
        )
        for band, (population, scores) in STRATA.items():
            stratum = StratumCount.objects.create(
                queue=queue,
                key=f"cheap|{band}",
                tier="cheap",
                uncertainty_band=band,
                ood_band="in",
                population=population,
                quota=len(scores),
            )
            for i, score in enumerate(scores):
                response = _response(source, f"{day:%d}-{band}-{i}", day)
                item = QueueItem.objects.create(
                    queue=queue,
                    response=response,
                    stratum=stratum,
                    inclusion_probability=len(scores) / population,
                    review_count=1,
                    position=i,
                )
                Review.objects.create(
                    item=item,
                    reviewer=reviewer,
                    verdict="correct" if score == 1.0 else "incorrect",
                )
    return version.plan, source


def _hand_estimate(strata: list[tuple[int, list[float]]]) -> tuple[float, float, float]:
    """p̂ = Σ W_h p̂_h, V̂ = Σ W_h² (1 − n_h/N_h) s_h²/n_h, Wilson on n* = p̂(1−p̂)/V̂ with
    t quantile on df = n − H (DESIGN.md)."""
    total = sum(N for N, _ in strata)
    p = v = 0.0
    n = 0
    for N, scores in strata:
        nh = len(scores)
        mean = sum(scores) / nh
        s2 = sum((y - mean) ** 2 for y in scores) / (nh - 1)
        W = N / total
        p += W * mean
        v += W * W * (1 - nh / N) * s2 / nh
        n += nh
    n_eff = p * (1 - p) / v
    q = stats.t.ppf(0.975, n - len(strata))
    centre = (p + q * q / (2 * n_eff)) / (1 + q * q / n_eff)
    half = q * math.sqrt(p * (1 - p) / n_eff + q * q / (4 * n_eff**2)) / (1 + q * q / n_eff)
    return p, centre - half, centre + half


def test_daily_accuracy_matches_the_hand_computed_estimate(design):
    plan, _ = design
    points = trends.accuracy_series(plan=plan, start=DAY1, end=DAY2, period="day")
    assert [(p.tier, p.period, p.population, p.reviewed) for p in points] == [
        ("cheap", "2025-03-04", 150, 8),
        ("cheap", "2025-03-05", 150, 8),
    ]
    # p̂ = 100/150·0.75 + 50/150·0.5 = 2/3 (the raw mean of the 8 reviews would be 0.625).
    p, low, high = _hand_estimate(list(STRATA.values()))
    assert p == pytest.approx(2 / 3)
    for point in points:
        assert point.accuracy == pytest.approx(p)
        assert point.ci_low == pytest.approx(low, abs=1e-9)
        assert point.ci_high == pytest.approx(high, abs=1e-9)
        assert point.target == 0.9


# 12 strata whose populations/total sum to 0.9999999999999998 in floating point (see
# tests/sampling/test_estimate.py): an all-correct day used to show 0–100 %.
LOGNORMAL_POPULATIONS = [603, 917, 77, 309, 150, 336, 110, 408, 385, 295, 140, 269]


def test_an_all_correct_day_is_not_a_0_to_100_band(db, reviewer):
    source = Source.objects.create(name="src-edge")
    version = plan_save(
        name="edge", config={"daily_budget": 36}, sources=[source], reviewers=[reviewer]
    )
    total = sum(LOGNORMAL_POPULATIONS)
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=DAY1, population=total, size=36
    )
    for h, population in enumerate(LOGNORMAL_POPULATIONS):
        stratum = StratumCount.objects.create(
            queue=queue,
            key=f"cheap|b{h}",
            tier="cheap",
            uncertainty_band=f"b{h}",
            ood_band="in",
            population=population,
            quota=3,
        )
        for i in range(3):
            item = QueueItem.objects.create(
                queue=queue,
                response=_response(source, f"edge-{h}-{i}", DAY1),
                stratum=stratum,
                inclusion_probability=3 / population,
                review_count=1,
                position=3 * h + i,
            )
            Review.objects.create(item=item, reviewer=reviewer, verdict="correct")
    (point,) = trends.accuracy_series(plan=version.plan, start=DAY1, end=DAY1, period="day")
    # p̂ = 1 exactly; n* = Kish's size with fpc 1/Σ W_h²(1 − 3/N_h)/3; df = 36 − 12 = 24:
    # lower bound 1/(1 + t²/n*), upper bound 1.
    kish = 1 / sum((N / total) ** 2 * (1 - 3 / N) / 3 for N in LOGNORMAL_POPULATIONS)
    q = stats.t.ppf(0.975, 24)
    assert (point.reviewed, point.population) == (36, total)
    assert point.accuracy == 1.0
    assert point.ci_high == 1.0
    assert point.ci_low == pytest.approx(1 / (1 + q * q / kish), abs=1e-9)
    assert point.ci_low > 0.85


def test_weekly_accuracy_pools_the_days_strata(design):
    plan, _ = design
    (week,) = trends.accuracy_series(plan=plan, start=DAY1, end=DAY2, period="week")
    assert (week.period, week.first_day, week.last_day) == ("2025-W10", DAY1, DAY2)
    assert (week.population, week.reviewed) == (300, 16)
    p, low, high = _hand_estimate(list(STRATA.values()) * 2)
    assert week.accuracy == pytest.approx(p)
    assert (week.ci_low, week.ci_high) == (pytest.approx(low), pytest.approx(high))
    # Four strata and twice the reviews: a narrower interval than a single day's.
    (day,) = trends.accuracy_series(plan=plan, start=DAY1, end=DAY1)
    assert week.ci_high - week.ci_low < day.ci_high - day.ci_low


def test_weeks_are_iso_weeks_clipped_to_the_window():
    got = trends.periods(dt.date(2025, 3, 1), dt.date(2025, 3, 10), "week")
    assert [(p.label, p.first, p.last) for p in got] == [
        ("2025-W09", dt.date(2025, 3, 1), dt.date(2025, 3, 2)),
        ("2025-W10", dt.date(2025, 3, 3), dt.date(2025, 3, 9)),
        ("2025-W11", dt.date(2025, 3, 10), dt.date(2025, 3, 10)),
    ]


def _wilson(x: int, n: int) -> tuple[float, float]:
    z = stats.norm.ppf(0.975)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_feedback_rates_per_1000_answers_of_the_tier_and_day(design):
    plan, source = design
    day1 = Response.objects.filter(source=source, timestamp__date=DAY1).order_by("pk")
    other = Source.objects.create(name="src-other")
    outside = _response(other, "elsewhere", DAY1)
    events = [
        (day1[0], "thumbs_down"),
        (day1[0], "thumbs_down"),  # the same answer twice: one answer with a thumbs-down
        (day1[1], "thumbs_down"),
        (day1[2], "thumbs_down"),
        (day1[3], "handoff"),
        (day1[4], "thumbs_up"),  # not counted
        (outside, "thumbs_down"),  # another source: not the plan's traffic
    ]
    for i, (response, kind) in enumerate(events):
        FeedbackEvent.objects.create(
            source=response.source,
            external_id=f"f{i}",
            response_external_id=response.external_id,
            response=response,
            timestamp=_at(DAY1, 30),
            kind=kind,
            content_hash=f"f{i}",
        )
    first, second = trends.feedback_series(plan=plan, start=DAY1, end=DAY2)
    assert (first.tier, first.day, first.answers) == ("cheap", DAY1, 150)
    assert (first.thumbs_down, first.handoff) == (3, 1)
    assert first.thumbs_down_per_1000 == pytest.approx(20.0)  # 3 / 150 answers
    assert first.handoff_per_1000 == pytest.approx(1000 / 150)
    low, high = _wilson(3, 150)
    assert first.thumbs_down_low == pytest.approx(1000 * low)
    assert first.thumbs_down_high == pytest.approx(1000 * high)
    assert (second.day, second.thumbs_down, second.handoff) == (DAY2, 0, 0)
    assert second.thumbs_down_per_1000 == 0.0 and second.thumbs_down_low == 0.0
    assert second.thumbs_down_high == pytest.approx(1000 * _wilson(0, 150)[1])


def _reference(source: Source, values: list[float]) -> None:
    reference = ReferenceSet.objects.create(name="ref-tiny", source=source)
    ReferenceRecord.objects.bulk_create(
        ReferenceRecord(
            reference_set=reference,
            query=f"r{i}",
            router_label="simple",
            router_confidence=v,
            content_hash=f"r{i}",
        )
        for i, v in enumerate(values)
    )


def test_psi_is_zero_when_production_matches_the_reference_and_high_when_shifted(design):
    plan, source = design
    values = [0.5 + 0.5 * i / 199 for i in range(200)]
    _reference(source, values)
    # The design's answers carry no confidence; add a day of production like the reference
    # (DAY1) and one shifted down to low confidence (DAY2).
    for i, v in enumerate(values):
        _response(source, f"same-{i}", DAY1, conf=v)
        _response(source, f"shift-{i}", DAY2, conf=0.3 + 0.3 * v)
    same, shifted = trends.drift_series(plan=plan, start=DAY1, end=DAY2)
    assert (same.tier, same.day, same.production, same.reference) == ("cheap", DAY1, 200, 200)
    assert same.psi == pytest.approx(0.0, abs=1e-12) and same.psi_level == "ok"
    assert shifted.day == DAY2 and shifted.psi > 0.25 and shifted.psi_level == "alert"
    histogram = trends.drift_histogram(plan=plan, tier="cheap", day=DAY2)
    assert sum(histogram.reference_share) == pytest.approx(1.0)
    assert sum(histogram.production_share) == pytest.approx(1.0)
    assert histogram.point is not None and histogram.point.psi == pytest.approx(shifted.psi)


# --------------------------------------------------------------------------- the page


def test_qa_leads_and_viewers_read_the_page_and_its_csv(client, design, qa_lead, viewer):
    for user in (qa_lead, viewer):
        client.force_login(user)
        page = client.get(URL, {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-05"})
        assert page.status_code == 200
        html = page.content.decode()
        assert 'id="trend-data"' in html and 'data-chart="accuracy"' in html
        assert "<script>" not in html  # no inline script: data only, drawn by charts.js
        assert "66.7" in html  # the hand-computed 2/3, as the table prints it
        download = client.get(
            URL,
            {
                "plan": "tiny",
                "start": "2025-03-04",
                "end": "2025-03-05",
                "format": "csv",
                "table": "accuracy",
            },
        )
        assert download.status_code == 200
        body = b"".join(download.streaming_content).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(body)))
        table = page.context["accuracy_table"]
        assert rows[0] == table.columns and rows[1:] == table.rows  # the header first
        # Viewers change nothing: the page is read-only.
        assert client.post(URL).status_code == 405


def test_reviewers_only_when_the_plan_allows(client, design, reviewer):
    plan, source = design
    client.force_login(reviewer)
    assert client.get(URL).status_code == 403
    assert (
        client.get(
            URL + "drift/", {"plan": "tiny", "tier": "cheap", "day": "2025-03-04"}
        ).status_code
        == 403
    )
    plan_save(
        name="tiny",
        config={"daily_budget": 8, "reviewers_see_reports": True},
        sources=[source],
        reviewers=[reviewer],
    )
    assert client.get(URL).status_code == 200


def test_outsiders_get_403_and_anonymous_users_the_login_page(client, design, outsider):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_empty_window_and_no_plan_show_an_empty_state(client, db, qa_lead, design):
    client.force_login(qa_lead)
    page = client.get(URL, {"plan": "tiny", "start": "2024-01-01", "end": "2024-01-31"})
    assert page.status_code == 200
    assert 'id="trends-empty"' in page.content.decode()


def test_no_plan_at_all(client, db, viewer):
    client.force_login(viewer)
    page = client.get(URL)
    assert page.status_code == 200 and "No plan yet" in page.content.decode()


def test_drift_day_is_a_fragment_for_htmx_and_a_page_without(client, design, qa_lead):
    plan, source = design
    _reference(source, [0.5 + 0.005 * i for i in range(100)])
    for i in range(50):
        _response(source, f"p-{i}", DAY1, conf=0.6 + 0.005 * i)
    client.force_login(qa_lead)
    query = {
        "plan": "tiny",
        "start": "2025-03-04",
        "end": "2025-03-05",
        "tier": "cheap",
        "day": "2025-03-04",
    }
    page = client.get(URL + "drift/", query)
    assert page.status_code == 200 and "<html" in page.content.decode()
    fragment = client.get(URL + "drift/", query, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert 'id="histogram-data"' in html and 'data-chart="histogram"' in html
    assert client.get(URL + "drift/", {**query, "tier": "nope"}).status_code == 404
    # The trends page links every drift day, with the htmx attribute and a plain href.
    trends_page = client.get(URL, {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-05"})
    assert 'hx-get="/reports/trends/drift/?' in trends_page.content.decode()


def _point(reviewed: int, low: float, accuracy: float, target: float | None = 0.93):
    return trends.AccuracyPoint(
        tier="t",
        period="2025-W10",
        first_day=DAY1,
        last_day=DAY2,
        population=1000,
        reviewed=reviewed,
        accuracy=accuracy,
        ci_low=low,
        ci_high=min(1.0, accuracy + 0.05),
        target=target,
        alarms=0,
    )


def test_the_accuracy_axis_is_shared_and_ignores_sparse_points():
    points = [_point(50, 0.88, 0.92), _point(50, 0.712, 0.80), _point(5, 0.20, 0.60)]
    # The lowest well-estimated edge is 71.2 %: the axis starts at 70, whatever the sparse
    # point's interval edge (20 %); its estimate (60 %) would be drawn, so it counts.
    assert trends.accuracy_axis(points[:2]) == {"min": 70.0, "max": 100.0}
    assert trends.accuracy_axis(points) == {"min": 60.0, "max": 100.0}
    # Every point at 100 %: still a visible range, one step below the top.
    assert trends.accuracy_axis([_point(50, 1.0, 1.0, None)]) == {"min": 95.0, "max": 100.0}
    # Only sparse points: their estimates and the target set it, never their wide intervals.
    assert trends.accuracy_axis([_point(3, 0.31, 0.66)]) == {"min": 65.0, "max": 100.0}
    assert trends.accuracy_axis([]) == {"min": 0.0, "max": 100.0}


def test_points_with_few_reviews_are_flagged_sparse_and_weekly_is_the_default(
    client, design, qa_lead
):
    client.force_login(qa_lead)
    page = client.get(URL, {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-05"})
    assert page.context["period"] == "week"
    charts = page.context["charts"]
    (series,) = charts["accuracy"]
    assert series["labels"] == ["2025-W10"]
    assert series["reviews"] == [16] and series["sparse"] == [True]  # 8 reviews a day < 20
    assert charts["min_reviews"] == trends.MIN_REVIEWS_PER_POINT
    assert "too few for a useful interval" in page.content.decode()
    daily = client.get(
        URL, {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-05", "period": "day"}
    )
    assert daily.context["charts"]["accuracy"][0]["sparse"] == [True, True]
