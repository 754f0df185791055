"""Agreement, reviewers, failure tags, shadow comparison and cascade advice pages on a
hand-made set of reviews (tests/reviewapp/reports/quality_factory.py), with the figures worked
out by hand; CSV = table; permissions.

Design: stratum 0 cheap|low (N 80, 4 reviewed, w = 20), stratum 1 cheap|high (N 20, 4
reviewed, w = 5), stratum 2 capable (N 100, 4 reviewed, w = 25).
Item scores: a0 1, a1 0 (adjudicated), a2 1, a3 1 -> 0.75; b0 0, b1 0, b2 1, b3 1 -> 0.5;
cheap = 0.8·0.75 + 0.2·0.5 = 0.70; capable c0..c2 1, c3 0 -> 0.75.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from reviewapp.reports.selectors_quality import (
    agreement_report,
    cascade_report,
    shadow_outcomes,
    shadow_report,
)

from .quality_factory import DAY, NEXT, build_quality_plan

WINDOW = {"plan": "qa", "start": DAY.isoformat(), "end": NEXT.isoformat()}


@pytest.fixture
def plan(reviewer, qa_lead):
    return build_quality_plan(reviewer, qa_lead)


def _csv_rows(response):
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _row(table, *key):
    return next(r for r in table.rows if tuple(r[: len(key)]) == key)


def test_kappa_alpha_and_reviewers_by_hand(plan):
    report = agreement_report(plan=plan, start=DAY, end=NEXT)
    # Overlap: a0 (c, c), a1 (c, i), b0 (i, i), b1 (i, i) by ann and rita. Table (rows ann):
    # ann c: rita c 1; ann i: rita c 1, rita i 2 -> p_o = 3/4; ann (1/4, 3/4), rita (2/4, 2/4);
    # p_e = 1/4·2/4 + 3/4·2/4 = 1/2; κ = (3/4 − 1/2)/(1/2) = 0.5.
    assert report.overlap_items == 4
    assert _row(report.pairs, "ann", "rita")[2:6] == ["4", "75.0", "50.0", "0.500"]
    # Alpha: coincidences o_cc 2, o_ci = o_ic 1, o_ii 4; n_c 3, n_i 5, n 8:
    # α = 1 − 7·2/(2·3·5) = 0.533, nominal and ordinal alike (only c vs i disagreements).
    assert _row(report.alpha, "nominal")[1:4] == ["4", "8", "0.533"]
    assert _row(report.alpha, "ordinal")[3] == "0.533"
    # Per reviewer: rita 11 real reviews, median 4 s. Adjudicated items: a1 (incorrect; rita
    # said correct, ann incorrect) and a0, c3 (their gold adjudications: correct, incorrect):
    # rita 1 of 2, ann 2 of 2, ben 1 of 1. Gold copies: rita gave a0 (gold correct) 1 and c3
    # (gold incorrect) 0.5 -> Se 100 %, Sp 50 %; ann 0.5 and 0 -> Se 50 %, Sp 100 %.
    assert _row(report.reviewers, "rita") == [
        "rita",
        "11",
        "1",
        "11.0",
        "4.0",
        "2",
        "50.0",
        "1",
        "100.0",
        "1",
        "50.0",
    ]
    assert _row(report.reviewers, "ann")[1:] == [
        "4",
        "1",
        "4.0",
        "9.0",
        "2",
        "100.0",
        "1",
        "50.0",
        "1",
        "100.0",
    ]
    assert _row(report.reviewers, "ben")[1:7] == ["1", "1", "1.0", "9.0", "1", "100.0"]


def test_rogan_gladen_beside_the_raw_accuracy(plan):
    report = agreement_report(plan=plan, start=DAY, end=NEXT)
    # Pooled over gold reviews: Se = mean(1, 0.5) = 0.75, Sp = 1 − mean(0.5, 0) = 0.75.
    assert (report.pooled_se, report.pooled_sp) == (0.75, 0.75)
    # cheap: (0.70 + 0.75 − 1)/(0.75 + 0.75 − 1) = 0.9; capable: (0.75 − 0.25)/0.5 = 1.0.
    cheap = _row(report.correction, "cheap")
    assert cheap[2] == "70.0" and cheap[5:8] == ["75.0", "75.0", "90.0"]
    assert _row(report.correction, "capable")[7] == "100.0"
    # Se and Sp each rest on 2 gold reviews, shown beside the interval; their Wilson intervals
    # reach below Se + Sp = 1, so the corrected interval honestly spans everything.
    assert cheap[8:11] == ["0.0", "100.0", "2 / 2"]


def test_failure_tags_weighted_by_inverse_inclusion_probability(plan):
    report = agreement_report(plan=plan, start=DAY, end=NEXT)
    # "wrong intent": a1 has it in 1 of 2 reviews (0.5), b0 in 2 of 2 (1.0).
    # Stratum 0: (0 + 0.5 + 0 + 0)/4 = 0.125; stratum 1: (1 + 0 + 0 + 0)/4 = 0.25;
    # share of cheap traffic = 0.8·0.125 + 0.2·0.25 = 0.15 (2 items tagged, unweighted).
    assert _row(report.tags, "cheap", "wrong intent")[2:5] == ["8", "2", "15.0"]
    # "=tone" on b1 in 1 of 2 reviews: 0.2·(0.5/4) = 0.025.
    assert _row(report.tags, "cheap", "=tone")[3:5] == ["1", "2.5"]
    assert not [r for r in report.tags.rows if r[0] == "capable"]


def test_shadow_preference_is_mapped_through_the_served_side():
    assert shadow_outcomes("A", "A") == "served"
    assert shadow_outcomes("B", "A") == "shadow"
    assert shadow_outcomes("A", "B") == "shadow"
    assert shadow_outcomes("tie", "B") == "tie"
    assert shadow_outcomes("", "A") == ""


def test_shadow_rate_per_tier_by_hand(plan):
    report = shadow_report(plan=plan, start=DAY, end=NEXT)
    # a3 (served B, said A: shadow, w 20), b2 (served A, said B: shadow, w 5), b3 (served B,
    # said B: served, w 5); a2 a tie (w 20). Ties excluded: (20 + 5)/(20 + 5 + 5) = 83.3 %
    # (the unweighted 2/3 is not it); tie share 20/(20 + 20 + 5 + 5) = 40 %.
    row = _row(report.table, "cheap")
    assert row[1:6] == ["4", "2", "1", "1", "83.3"]
    assert float(row[6]) < 83.3 < float(row[7])
    assert row[8] == "40.0"
    assert [r[0] for r in report.table.rows] == ["cheap"]


def test_cascade_rows_by_hand(plan):
    report = cascade_report(plan=plan, start=DAY, end=NEXT)
    assert (report.cheap, report.capable, report.target) == ("cheap", "capable", 0.9)
    rows = {r[0]: r for r in report.table.rows}
    # t = 0: today's cheap tier, 70 %, cost 0.001.
    assert rows["0.00"][1:3] == ["0.0", "70.0"] and rows["0.00"][5] == "0.00100"
    # t = 0.35 escalates a1 (0.2), b0, b1 (0.3) at the capable 0.75:
    # stratum 0 (1 + 0.75 + 1 + 1)/4 = 0.9375, stratum 1 (0.75 + 0.75 + 1 + 1)/4 = 0.875;
    # 0.8·0.9375 + 0.2·0.875 = 0.925; share 0.8·1/4 + 0.2·2/4 = 0.3; cost 0.001 + 0.3·0.004.
    assert rows["0.35"][1:3] == ["30.0", "92.5"] and rows["0.35"][5] == "0.00220"
    # Eight reviewed answers cannot put a lower bound above 0.9: no recommendation.
    assert report.recommended is None and rows["0.35"][6] == "no"


def test_cascade_empty_state_without_self_confidence(plan, qa_lead, client):
    from reviewapp.responses.models import Response

    Response.objects.update(self_confidence=None)
    client.force_login(qa_lead)
    response = client.get(reverse("reports:cascade"), WINDOW)
    assert response.status_code == 200
    assert "carries a self_confidence" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("pairs", "pairs"),
        ("alpha", "alpha"),
        ("reviewers", "reviewers"),
        ("correction", "correction"),
        ("tags", "tags"),
    ],
)
def test_agreement_csv_is_the_table(plan, viewer, client, name, table):
    client.force_login(viewer)
    page = client.get(reverse("reports:agreement"), WINDOW)
    assert page.status_code == 200
    shown = getattr(page.context["report"], table)
    rows = _csv_rows(
        client.get(reverse("reports:agreement"), {**WINDOW, "format": "csv", "table": name})
    )
    assert rows[0] == shown.columns  # the header first
    # The "=tone" tag is neutralised in the file, the only difference from the page.
    assert [[c.removeprefix("'") for c in r] for r in rows[1:]] == shown.rows


def test_shadow_and_cascade_csv_are_the_tables(plan, viewer, client):
    client.force_login(viewer)
    for view in ("reports:shadow", "reports:cascade"):
        page = client.get(reverse(view), WINDOW)
        assert page.status_code == 200
        rows = _csv_rows(client.get(reverse(view), {**WINDOW, "format": "csv"}))
        assert rows == [
            page.context["report"].table.columns,
            *page.context["report"].table.rows,
        ]


def test_pages_render_and_escape(plan, qa_lead, client):
    client.force_login(qa_lead)
    for view in ("reports:agreement", "reports:shadow", "reports:cascade"):
        html = client.get(reverse(view), WINDOW).content.decode()
        assert "<script>alert" not in html
    html = client.get(reverse("reports:agreement"), WINDOW).content.decode()
    assert "Cohen" in html and "0.533" in html and reverse("reports:regression") in html


def test_empty_window_is_a_clear_empty_state(plan, viewer, client):
    client.force_login(viewer)
    query = {"plan": "qa", "start": "2024-01-01", "end": "2024-01-02"}
    html = client.get(reverse("reports:agreement"), query).content.decode()
    assert "No overlap item in the window" in html and "No review in the window" in html
    assert "no shadow answer" in client.get(
        reverse("reports:shadow"), query
    ).content.decode().replace("has a shadow answer", "no shadow answer")
    assert client.get(reverse("reports:cascade"), query).status_code == 200


# --------------------------------------------------------------------------- permissions

PAGES = ("reports:agreement", "reports:shadow", "reports:cascade")


@pytest.mark.parametrize("view", PAGES)
def test_viewer_reads_reviewer_and_outsider_do_not(plan, viewer, reviewer, outsider, client, view):
    client.force_login(viewer)
    assert client.get(reverse(view), WINDOW).status_code == 200
    assert client.post(reverse(view), WINDOW).status_code == 405
    client.force_login(reviewer)
    assert client.get(reverse(view), WINDOW).status_code == 403
    client.force_login(outsider)
    assert client.get(reverse(view), WINDOW).status_code == 403
    client.logout()
    response = client.get(reverse(view), WINDOW)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_reviewer_reads_when_the_plan_allows(reviewer, qa_lead, client):
    build_quality_plan(reviewer, qa_lead, see_reports=True)
    client.force_login(reviewer)
    for view in PAGES:
        assert client.get(reverse(view), WINDOW).status_code == 200


def test_regression_download_is_for_qa_leads(plan, qa_lead, viewer, outsider, client):
    import zipfile

    client.force_login(qa_lead)
    response = client.get(reverse("reports:regression"), {"plan": "qa", "days": 2})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["capable.jsonl", "cheap.jsonl", "manifest.json"]
    for user in (viewer, outsider):
        client.force_login(user)
        assert client.get(reverse("reports:regression"), {"plan": "qa"}).status_code == 403


def test_report_agreement_command(plan):
    import json

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "report",
        "agreement",
        "--plan",
        "qa",
        "--start",
        DAY.isoformat(),
        "--end",
        NEXT.isoformat(),
        stdout=out,
    )
    text = out.getvalue()
    assert "Krippendorff's alpha (ordinal)" in text and "ann + rita" in text and "0.500" in text
    out = io.StringIO()
    call_command(
        "report",
        "agreement",
        "--plan",
        "qa",
        "--start",
        DAY.isoformat(),
        "--end",
        NEXT.isoformat(),
        "--format",
        "json",
        stdout=out,
    )
    rows = json.loads(out.getvalue())["agreement"]
    assert rows[0]["measure"] == "alpha_nominal" and rows[0]["value"] == pytest.approx(8 / 15)
