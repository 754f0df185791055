"""The tier report page: numbers on a hand-made design, drill-downs, the long tail, status and
alarms, the empty states, the form's errors and who may read it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from .tiny_design import DAY, build, html_table

pytestmark = pytest.mark.django_db

WINDOW = {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-04"}


@pytest.fixture
def tiny(db, reviewer):
    """The hand-made design of tiny_design.py (plan "tiny")."""
    return build(reviewer=reviewer)


def hand_wilson(p: float, V: float, n: int, H: int) -> tuple[float, float, float]:
    """Wilson on n* = p(1−p)/V with a t quantile on n − H df; returns (low, high, n*)."""
    n_star = p * (1 - p) / V
    q = stats.t.ppf(0.975, n - H)
    denom = 1 + q * q / n_star
    centre = (p + q * q / (2 * n_star)) / denom
    half = q * np.sqrt(p * (1 - p) / n_star + q * q / (4 * n_star**2)) / denom
    return centre - half, centre + half, n_star


def by_key(rows: list[list[str]], width: int = 1) -> dict[tuple[str, ...], dict[str, str]]:
    header, *body = rows
    return {tuple(r[:width]): dict(zip(header, r, strict=True)) for r in body}


def test_the_numbers_equal_the_hand_computed_stratified_estimate(client, viewer, tiny):
    client.force_login(viewer)
    response = client.get("/reports/", WINDOW)
    assert response.status_code == 200
    rows = by_key(html_table(response.content))
    cheap = rows[("cheap",)]
    # p̂ = Σ W_h p̂_h = 0.8·0.75 + 0.2·0.5; V̂ = Σ W_h²(1 − n_h/N_h) s_h²/n_h.
    p = 0.8 * 0.75 + 0.2 * 0.5
    V = 0.8**2 * (1 - 4 / 80) * 0.25 / 4 + 0.2**2 * (1 - 5 / 20) * 0.25 / 5
    low, high, n_star = hand_wilson(p, V, n=9, H=2)
    assert cheap["Accuracy (%)"] == "70.0"  # not the naive 61.1 of the nine reviews
    assert cheap["95% CI low (%)"] == f"{100 * low:.1f}"
    assert cheap["95% CI high (%)"] == f"{100 * high:.1f}"
    assert cheap["Design effect"] == f"{9 / n_star:.2f}"
    assert cheap["Responses"] == "100"
    assert cheap["Reviews"] == "9"
    assert cheap["Share of traffic (%)"] == "66.7"
    assert cheap["Wrong answers per day"] == "30.0"  # 100 × (1 − 0.70) / 1 day
    assert cheap["Cost per answer (USD)"] == "0.0120"  # (80·0.01 + 20·0.02) / 100
    assert cheap["Target (%)"] == "90.0"
    # Nine reviews leave the interval wide: its top is above the 90 % target, so "ok".
    assert high > 0.9
    assert cheap["Status"] == "ok"
    capable = rows[("capable",)]
    assert capable["Reviews"] == "0"
    assert capable["Accuracy (%)"] == ""
    assert capable["Status"] == "no reviews"
    assert "PPI accuracy (%)" not in cheap  # no automatic judge: no PPI column


def test_drill_down_by_uncertainty_band_and_full_stratum(client, qa_lead, tiny):
    client.force_login(qa_lead)
    rows = by_key(html_table(client.get("/reports/", {**WINDOW, "by": "uncertainty"}).content), 2)
    assert rows[("cheap", "low")]["Accuracy (%)"] == "75.0"
    assert rows[("cheap", "high")]["Accuracy (%)"] == "50.0"
    assert rows[("cheap", "low")]["Share of traffic (%)"] == "53.3"  # 80 / 150
    stratum = html_table(client.get("/reports/", {**WINDOW, "by": "stratum"}).content)
    assert stratum[0][:4] == ["Tier", "Uncertainty band", "OOD band", "Segment"]
    assert len(stratum) == 1 + 3


def test_the_long_tail_sits_beside_the_easy_centre(client, viewer, tiny):
    client.force_login(viewer)
    response = client.get("/reports/", {**WINDOW, "by": "longtail"})
    rows = by_key(html_table(response.content), 2)
    assert rows[("cheap", "easy centre")]["Accuracy (%)"] == "75.0"
    assert rows[("cheap", "high uncertainty")]["Accuracy (%)"] == "50.0"
    assert rows[("cheap", "long tail")]["Accuracy (%)"] == "50.0"
    assert ("cheap", "out of distribution") not in rows  # no such stratum in the design


def test_an_open_quality_alarm_marks_the_tier(client, viewer, tiny):
    from reviewapp.reports.models import Alarm

    Alarm.objects.create(plan=tiny, tier="cheap", kind="cusum", level="alert", day=DAY)
    client.force_login(viewer)
    rows = by_key(html_table(client.get("/reports/", WINDOW).content))
    assert rows[("cheap",)]["Status"] == "alarm"
    Alarm.objects.update(status="closed")
    rows = by_key(html_table(client.get("/reports/", WINDOW).content))
    assert rows[("cheap",)]["Status"] == "ok"


def test_the_default_window_ends_on_the_latest_queue(client, viewer, tiny, reviewer):
    build(reviewer=reviewer, day=DAY + dt.timedelta(days=20))
    client.force_login(viewer)
    response = client.get("/reports/")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.cleaned_data["end"] == DAY + dt.timedelta(days=20)
    assert form.cleaned_data["start"] == DAY + dt.timedelta(days=7)
    assert by_key(html_table(response.content))[("cheap",)]["Responses"] == "100"


def test_the_default_window_ends_on_the_latest_queue_with_reviews(client, viewer, tiny, reviewer):
    """A queue built later but not reviewed (yet, or ever: an empty day) leaves the landing page
    on the last window that has reviews instead of "no estimate"."""
    from reviewapp.review.models import Queue

    build(reviewer=reviewer, day=DAY + dt.timedelta(days=20))
    Queue.objects.create(
        plan=tiny,
        plan_version=tiny.current_version,
        day=DAY + dt.timedelta(days=21),
        population=0,
        size=0,
    )
    client.force_login(viewer)
    for page in ("/reports/", "/reports/summary/"):
        form = client.get(page).context["form"]
        assert form.cleaned_data["end"] == DAY + dt.timedelta(days=20), page
    from reviewapp.review.models import Review

    Review.objects.all().delete()
    # Without any review at all, the latest queue it is.
    form = client.get("/reports/").context["form"]
    assert form.cleaned_data["end"] == DAY + dt.timedelta(days=21)


def test_an_empty_window_shows_the_empty_state(client, viewer, tiny):
    client.force_login(viewer)
    response = client.get("/reports/", {**WINDOW, "start": "2024-01-01", "end": "2024-01-14"})
    assert response.status_code == 200
    assert b"No queue of this plan in the window" in response.content
    assert b"<table" not in response.content


def test_no_plan_shows_the_empty_state(client, viewer):
    client.force_login(viewer)
    response = client.get("/reports/")
    assert response.status_code == 200
    assert b"No plan yet" in response.content


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2025-03-10", "end": "2025-03-01"}, b"The window ends before it starts."),
        ({"start": "2024-01-01", "end": "2025-03-04"}, b"at most 366 days"),
        ({"start": "yesterday"}, b"Enter a valid date."),
        ({"method": "bootstrap"}, b"Select a valid choice."),
        ({"plan": "no-such-plan"}, b"Select a valid choice."),
    ],
)
def test_bad_parameters_are_form_errors_not_crashes(client, viewer, tiny, params, message):
    client.force_login(viewer)
    response = client.get("/reports/", {**WINDOW, **params})
    assert response.status_code == 200
    assert message in response.content
    assert b"<table" not in response.content


def test_anonymous_is_sent_to_login(client, tiny):
    for url in ("/reports/", "/reports/summary/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_outsider_gets_403(client, outsider, tiny):
    client.force_login(outsider)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/summary/").status_code == 403
    assert client.get("/reports/", {**WINDOW, "format": "csv"}).status_code == 403


def test_reviewers_see_reports_only_when_the_plan_allows(client, reviewer, tiny):
    from reviewapp.review.services import plan_save

    client.force_login(reviewer)
    assert client.get("/reports/", WINDOW).status_code == 403
    assert client.get("/reports/", {**WINDOW, "format": "csv"}).status_code == 403
    assert b'href="/reports/"' not in client.get("/review/").content
    plan_save(
        name="tiny",
        config={"targets": {"cheap": 0.9}, "reviewers_see_reports": True},
        sources=list(tiny.current_version.sources.all()),
    )
    response = client.get("/reports/", WINDOW)
    assert response.status_code == 200
    assert by_key(html_table(response.content))[("cheap",)]["Accuracy (%)"] == "70.0"
    assert client.get("/reports/summary/", WINDOW).status_code == 200


def test_a_reviewer_not_on_the_plan_is_refused_even_when_it_allows(client, django_user_model, tiny):
    from django.contrib.auth.models import Group

    from reviewapp.review.services import plan_save

    plan_save(
        name="tiny",
        config={"reviewers_see_reports": True},
        sources=list(tiny.current_version.sources.all()),
    )
    other = django_user_model.objects.create_user(username="remy")
    other.groups.add(Group.objects.get_or_create(name="reviewer")[0])
    client.force_login(other)
    assert client.get("/reports/", WINDOW).status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_viewers_change_nothing(client, viewer, tiny, method):
    client.force_login(viewer)
    for url in ("/reports/", "/reports/summary/"):
        assert getattr(client, method)(url).status_code == 405


def test_korn_graubard_is_wider_than_wilson_here(client, viewer, tiny):
    client.force_login(viewer)
    wilson = by_key(html_table(client.get("/reports/", WINDOW).content))[("cheap",)]
    kg = by_key(html_table(client.get("/reports/", {**WINDOW, "method": "korn-graubard"}).content))[
        ("cheap",)
    ]
    assert wilson["Accuracy (%)"] == kg["Accuracy (%)"]
    assert float(kg["95% CI low (%)"]) <= float(wilson["95% CI low (%)"])
    assert float(kg["95% CI high (%)"]) >= float(wilson["95% CI high (%)"])


def test_the_leadership_summary(client, viewer, tiny, reviewer):
    from reviewapp.reports.models import Alarm

    # The previous window of the same length (one day): cheap at 100 %.
    build(
        reviewer=reviewer,
        day=DAY - dt.timedelta(days=1),
        strata=[("cheap", "low", "", 100, ["correct"] * 3, 0.01)],
    )
    Alarm.objects.create(plan=tiny, tier="cheap", kind="below_target", level="alert", day=DAY)
    client.force_login(viewer)
    response = client.get("/reports/summary/", {**WINDOW, "cost_per_wrong": "12.50"})
    assert response.status_code == 200
    rows = by_key(html_table(response.content))
    cheap = rows[("cheap",)]
    assert cheap["Accuracy (%)"] == "70.0"
    assert cheap["Previous window accuracy (%)"] == "100.0"
    assert cheap["Trend"] == "▼"
    assert cheap["Change (points)"] == "-30.0"
    assert cheap["Status"] == "alarm"
    assert cheap["Cost of quality per day"] == "375.00"  # 30 wrong × 12.50
    assert b"Below target" in response.content  # the open alarm is listed
    assert b"@media print" not in response.content  # print rules live in the stylesheet
    bad = client.get("/reports/summary/", {**WINDOW, "cost_per_wrong": "-3"})
    assert b"greater than or equal to 0" in bad.content
