"""Every CSV export read back as a spreadsheet, pandas or Python's `csv` module would: the
header is the first row (no title line), every number is a number, an unknown value is an
empty cell, and the file is UTF-8 with a byte-order mark (for Excel)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse

from .quality_factory import DAY, NEXT, build_quality_plan
from .tiny_design import build

pytestmark = pytest.mark.django_db

WINDOW = {"plan": "qa", "start": DAY.isoformat(), "end": NEXT.isoformat()}
#: Text a reader might take for a number that is not one: a quoted number ("'+0.5", what the
#: formula guard used to write), a Unicode minus, a percent sign or a thousands separator.
NUMBER_LIKE = re.compile(r"'?[+\-−]?[\d,]*\.?\d+(e[+-]?\d+)?\s*%?")
TINY_DAY = {"plan": "tiny", "start": DAY.isoformat(), "end": DAY.isoformat()}
UNKNOWN_AS_TEXT = {"nan", "NaN", "None", "null", "inf", "-inf", "—", "n/a"}


def _exports() -> dict[str, tuple[str, dict[str, str]]]:
    return {
        **{
            f"tiers by {by}": (reverse("reports:tiers"), {"by": by})
            for by in ("tier", "uncertainty", "ood", "segment", "stratum", "longtail")
        },
        "summary": (reverse("reports:summary"), {}),
        "summary with a cost": (reverse("reports:summary"), {"cost_per_wrong": "2.5"}),
        # tiny_design's plan, one day against the day before: the change columns are filled.
        "summary day over day": (reverse("reports:summary"), TINY_DAY),
        **{
            f"trends {t}": (reverse("reports:trends"), {"table": t})
            for t in ("accuracy", "feedback", "drift")
        },
        "weekly trends": (reverse("reports:trends"), {"table": "accuracy", "period": "week"}),
        **{
            f"agreement {t}": (reverse("reports:agreement"), {"table": t})
            for t in ("pairs", "alpha", "reviewers", "correction", "tags")
        },
        "shadow": (reverse("reports:shadow"), {}),
        "cascade": (reverse("reports:cascade"), {}),
    }


def _read(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # UTF-8 with BOM, kept for Excel
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.fixture
def exports(client, reviewer, qa_lead):
    from reviewapp.reports.services import alarms_compute_quality_all

    plan = build_quality_plan(reviewer, qa_lead)
    alarms_compute_quality_all(plan=plan)
    build(reviewer=reviewer)
    yesterday = DAY - dt.timedelta(days=1)
    build(
        reviewer=reviewer, day=yesterday, strata=[("cheap", "low", "", 100, ["correct"] * 40, 0.01)]
    )
    client.force_login(qa_lead)
    files = {}
    for name, (path, extra) in _exports().items():
        page = client.get(path, {**WINDOW, **extra})
        assert page.status_code == 200, name
        files[name] = (page, _read(client.get(path, {**WINDOW, **extra, "format": "csv"})))
    alarms_page = client.get(reverse("reports:alarms"), {"status": "all"})
    alarms_csv = _read(client.get(reverse("reports:alarms"), {"status": "all", "format": "csv"}))
    files["alarms"] = (alarms_page, alarms_csv)
    return files


def test_every_export_reads_back_header_first_with_numbers_as_numbers(exports):
    assert len(exports) == 21
    checked_numbers = 0
    for name, (_page, rows) in exports.items():
        header, *body = rows
        # The first row is the header: the page's column names, no "# Longtail …" title.
        assert not any(row and row[0].startswith("#") for row in rows), name
        assert header and all(header), name
        assert all(len(row) == len(header) for row in body), name
        for row in body:
            for column, cell in zip(header, row, strict=True):
                # Every cell that reads like a number is one, as float() (and a spreadsheet)
                # parses it; unknown values are empty cells, not "nan" or "0.00".
                if NUMBER_LIKE.fullmatch(cell):
                    assert _is_number(cell), (name, column, cell)
                    checked_numbers += 1
                assert cell not in UNKNOWN_AS_TEXT, (name, column, cell)
    assert checked_numbers > 200  # the files are not empty


def test_the_numeric_columns_of_the_tables_parse_as_numbers(exports):
    # Tables that mark their numeric columns (the tier report, summary): every non-empty
    # cell of such a column is a number.
    for name in ("tiers by tier", "tiers by stratum", "tiers by longtail", "summary"):
        page, rows = exports[name]
        table = page.context["table"] if name == "summary" else page.context["report"].table
        assert rows[0] == table.columns
        assert table.numeric, name
        for row in rows[1:]:
            for i in table.numeric:
                assert row[i] == "" or _is_number(row[i]), (name, table.columns[i], row[i])


def test_changes_and_costs_in_the_summary(exports):
    _, rows = exports["summary day over day"]
    header, *body = rows
    changes = []
    for row in body:
        record = dict(zip(header, row, strict=True))
        # Signed changes stay numbers ("+0.5", "-1.2"), never quoted into text.
        for column in (
            "Change (points)",
            "Change 95% CI low (points)",
            "Change 95% CI high (points)",
        ):
            assert record[column] == "" or _is_number(record[column]), record
            changes.append(record[column])
        # No cost per wrong answer entered: the cost is unknown, so empty (not "0.00").
        assert record["Cost of quality per day"] == record["Cost of quality in window"] == ""
    assert "-30.0" in changes  # tiny's cheap tier: 100 % the day before, 70 % on the day
    _, costed = exports["summary with a cost"]
    header, *body = costed
    costs = [dict(zip(header, r, strict=True))["Cost of quality per day"] for r in body]
    assert costs and all(_is_number(c) for c in costs if c)


def test_the_file_name_carries_plan_window_and_method(client, reviewer, qa_lead):
    build_quality_plan(reviewer, qa_lead)
    client.force_login(qa_lead)
    download = client.get(reverse("reports:summary"), {**WINDOW, "format": "csv"})
    assert (
        f'filename="longtail-summary-qa-{DAY:%Y-%m-%d}_{NEXT:%Y-%m-%d}-wilson-'
        in download["Content-Disposition"]
    )
