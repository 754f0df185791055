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
    # Nine reviews leave the interval wide: it straddles the 90 % target, so "not yet known"
    # (not "ok": the estimate 70 % is far below the target, but the interval cannot tell).
    assert low < 0.9 < high
    assert cheap["Status"] == "not yet known"
    assert cheap["Open alarm"] == ""
    assert cheap["Uncovered share (%)"] == "0.0"  # always shown, 0 when every stratum is reviewed
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
    assert rows[("cheap",)]["Open alarm"] == "yes"
    assert rows[("cheap",)]["Status"] == "not yet known"  # the alarm is beside the status
    assert rows[("capable",)]["Open alarm"] == ""
    Alarm.objects.update(status="closed")
    rows = by_key(html_table(client.get("/reports/", WINDOW).content))
    assert rows[("cheap",)]["Open alarm"] == ""


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


def _summary_with_previous(client, viewer, reviewer, previous_reviews: int):
    """The summary of WINDOW when the day before had `previous_reviews` correct reviews of
    100 cheap responses (the previous window of the same length)."""
    build(
        reviewer=reviewer,
        day=DAY - dt.timedelta(days=1),
        strata=[("cheap", "low", "", 100, ["correct"] * previous_reviews, 0.01)],
    )
    client.force_login(viewer)
    response = client.get("/reports/summary/", {**WINDOW, "cost_per_wrong": "12.50"})
    assert response.status_code == 200
    return response, by_key(html_table(response.content))


def _mover(now, before):
    """Newcombe's hybrid-score (MOVER) interval of now − before, by hand from the intervals."""
    d = now.estimate - before.estimate
    low = d - np.sqrt((now.estimate - now.ci_low) ** 2 + (before.ci_high - before.estimate) ** 2)
    high = d + np.sqrt((now.ci_high - now.estimate) ** 2 + (before.estimate - before.ci_low) ** 2)
    return low, high


def _estimates(previous_reviews: int):
    from sampling.estimate import stratified_estimate

    now = stratified_estimate([80, 20], [0] * 4 + [1] * 5, [1, 1, 1, 0, 1, 0, 0, 1, 0.5])
    before = stratified_estimate([100], [0] * previous_reviews, [1.0] * previous_reviews)
    return now, before


def test_the_leadership_summary(client, viewer, tiny, reviewer):
    from reviewapp.reports.models import Alarm

    Alarm.objects.create(plan=tiny, tier="cheap", kind="below_target", level="alert", day=DAY)
    # The previous window: cheap at 100 % from only 3 reviews, so its interval is wide.
    response, rows = _summary_with_previous(client, viewer, reviewer, 3)
    cheap = rows[("cheap",)]
    assert cheap["Accuracy (%)"] == "70.0"
    assert cheap["Previous window accuracy (%)"] == "100.0"
    assert cheap["Change (points)"] == "-30.0"
    # 30 points down, but the change's interval holds 0: within noise, so no arrow.
    low, high = _mover(*_estimates(3))
    assert low < 0 < high
    assert cheap["Change 95% CI low (points)"] == f"{100 * low:+.1f}"
    assert cheap["Change 95% CI high (points)"] == f"{100 * high:+.1f}"
    assert cheap["Trend"] == ""
    assert cheap["Status"] == "not yet known"
    assert cheap["Open alarm"] == "yes"
    assert cheap["Uncovered share (%)"] == "0.0"
    assert cheap["Cost of quality per day"] == "375.00"  # 30 wrong × 12.50
    assert rows[("capable",)]["Trend"] == rows[("capable",)]["Change (points)"] == ""
    assert b"Below target" in response.content  # the open alarm is listed
    assert b"@media print" not in response.content  # print rules live in the stylesheet
    bad = client.get("/reports/summary/", {**WINDOW, "cost_per_wrong": "-3"})
    assert b"greater than or equal to 0" in bad.content


def test_a_fall_beyond_noise_gets_its_arrow(client, viewer, tiny, reviewer):
    # 40 of 40 correct the day before: that interval is narrow enough for the fall to show.
    _, rows = _summary_with_previous(client, viewer, reviewer, 40)
    low, high = _mover(*_estimates(40))
    assert high < 0
    cheap = rows[("cheap",)]
    assert cheap["Trend"] == "▼"
    assert cheap["Change (points)"] == "-30.0"
    assert cheap["Change 95% CI high (points)"] == f"{100 * high:+.1f}"


def test_without_a_cost_the_cost_cells_are_empty_not_zero(client, viewer, tiny):
    client.force_login(viewer)
    response = client.get("/reports/summary/", WINDOW)
    cheap = by_key(html_table(response.content))[("cheap",)]
    assert cheap["Cost of quality per day"] == cheap["Cost of quality in window"] == ""
    assert cheap["Wrong answers per day"] == "30.0"
    assert b"cost of quality per day" not in response.content


def test_wrong_answers_per_day_count_only_the_reviewed_strata(client, viewer, db, reviewer):
    # 100 cheap responses with reviews (p̂ = 0.70) and 300 in a stratum nobody reviewed:
    # the estimate is about the 100, so are the wrong answers (30, not 400 × 0.3 = 120).
    build(
        reviewer=reviewer,
        strata=[
            ("cheap", "low", "", 80, ["correct", "correct", "correct", "incorrect"], 0.01),
            (
                "cheap",
                "high",
                "",
                20,
                ["correct", "incorrect", "incorrect", "correct", "partial"],
                0.02,
            ),
            ("cheap", "mid", "", 300, [], 0.01),
        ],
    )
    client.force_login(viewer)
    for url in ("/reports/", "/reports/summary/"):
        cheap = by_key(html_table(client.get(url, WINDOW).content))[("cheap",)]
        assert cheap["Accuracy (%)"] == "70.0"
        assert cheap["Uncovered share (%)"] == "75.0"  # 300 / 400
        assert cheap["Wrong answers per day"] == "30.0"


def test_the_tier_report_at_a_glance(client, viewer, tiny):
    from reviewapp.reports.tables import GLANCE_WIDTH

    client.force_login(viewer)
    response = client.get("/reports/", WINDOW)
    glance = {g.tier: g for g in response.context["report"].glance}
    p = 0.8 * 0.75 + 0.2 * 0.5
    V = 0.8**2 * (1 - 4 / 80) * 0.25 / 4 + 0.2**2 * (1 - 5 / 20) * 0.25 / 5
    low, high, _ = hand_wilson(p, V, n=9, H=2)
    cheap = glance["cheap"]
    assert cheap.sentence == (
        f"Between {100 * low:.0f} % and {100 * high:.0f} % of the cheap tier's answers are correct"
        " (95 % confidence); target 90 %: not yet known (more reviews will tell)."
    )
    assert cheap.status == "not yet known"
    # One scale for every tier: from the lowest interval end or target, rounded down to 5
    # points (25 % here), to 100 %.
    start = np.floor(20 * low) / 20
    assert cheap.x_low == pytest.approx(GLANCE_WIDTH * (low - start) / (1 - start), abs=0.05)
    assert cheap.x_target == pytest.approx(GLANCE_WIDTH * (0.9 - start) / (1 - start), abs=0.05)
    assert cheap.x_low < cheap.x_estimate < cheap.x_target < cheap.x_high
    capable = glance["capable"]
    assert capable.sentence == (
        "No review of the capable tier in this window, so its accuracy is unknown."
    )
    assert capable.x_low is None and capable.x_target == cheap.x_target
    assert b"Between " in response.content and b'class="glance card"' in response.content
    # The drill-downs have no glance block; the summary has the same one.
    assert not client.get("/reports/", {**WINDOW, "by": "stratum"}).context["report"].glance
    summary = client.get("/reports/summary/", WINDOW)
    assert [g.sentence for g in summary.context["report"].glance] == [
        g.sentence for g in response.context["report"].glance
    ]


def test_glance_sentences_say_what_is_left_out_and_when_there_is_no_target():
    from reviewapp.reports.selectors import DomainRow
    from reviewapp.reports.tables import glance_sentence

    def row(**kw):
        base = {
            "key": ("cheap",), "population": 400, "share": 1.0, "reviewed": 40,
            "accuracy": 0.955, "ci_low": 0.93, "ci_high": 0.97, "method": "wilson",
            "design_effect": 1.0, "uncovered_share": 0.25, "target": 0.93,
            "status": "meets target", "wrong_per_day": 1.0, "cost_per_answer": None,
        }  # fmt: skip
        return DomainRow(**{**base, **kw})

    assert glance_sentence(row()) == (
        "Between 93 % and 97 % of the cheap tier's answers are correct (95 % confidence), in"
        " the 75 % of its traffic with reviews (the other 25 % has none yet); target 93 %:"
        " meets target."
    )
    # A narrow interval keeps one decimal; no target says so.
    assert glance_sentence(row(ci_low=0.951, ci_high=0.962, uncovered_share=0.0, target=None)) == (
        "Between 95.1 % and 96.2 % of the cheap tier's answers are correct (95 % confidence);"
        " no target is set."
    )
    census = row(accuracy=0.97, ci_low=0.97, ci_high=0.97, uncovered_share=0.0, target=0.985,
                 status="below target")  # fmt: skip
    assert glance_sentence(census) == (
        "97.0 % of the cheap tier's answers are correct (every answer was reviewed);"
        " target 98.5 %: below target."
    )


def test_one_count_of_open_alarms_on_the_summary_the_menu_and_the_alarms_page(client, viewer, tiny):
    from reviewapp.reports.models import Alarm

    # The summary used to count only alarms raised on a day of its window: an alarm still
    # open from before it was on the alarms page but not in the summary's count.
    for days_before in range(12):
        Alarm.objects.create(
            plan=tiny,
            tier="cheap",
            kind="cusum",
            level="alert",
            day=DAY - dt.timedelta(days=days_before),
        )
    Alarm.objects.create(
        plan=tiny, tier="capable", kind="cusum", level="alert", day=DAY, status="closed"
    )
    client.force_login(viewer)
    summary = client.get("/reports/summary/", WINDOW)
    alarms_page = client.get("/reports/alarms/", {"plan": "tiny"})
    assert summary.context["alarm_count"] == len(alarms_page.context["rows"]) == 12
    assert len(summary.context["alarms"]) == 10  # the newest ten listed, the count is of all
    assert b"The 10 newest of 12 are listed here" in summary.content
    for page in (summary, alarms_page, client.get("/reports/", WINDOW)):
        assert b'id="open-alarms">Alarms (12 open)</a>' in page.content
    # The tier report marks only alarms raised on a day of its window.
    rows = by_key(html_table(client.get("/reports/", WINDOW).content))
    assert rows[("cheap",)]["Open alarm"] == "yes"
    assert rows[("capable",)]["Open alarm"] == ""  # closed


def test_reviewers_reading_reports_see_the_count_without_a_link_to_the_alarms_page(
    client, db, reviewer
):
    build(reviewer=reviewer, see_reports=True)
    client.force_login(reviewer)
    summary = client.get("/reports/summary/", WINDOW)
    assert summary.status_code == 200
    assert b"open-alarms" not in summary.content.replace(b"plan-open-alarms", b"")
    assert b"/reports/alarms/" not in summary.content
