"""`manage.py report tiers|strata [--plan] [--start] [--end] [--format table|csv|json]`."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from .tiny_design import build, csv_rows

pytestmark = pytest.mark.django_db

WINDOW = ["--plan", "tiny", "--start", "2025-03-04", "--end", "2025-03-04"]


@pytest.fixture
def tiny(db, reviewer):
    """The hand-made design of tiny_design.py (plan "tiny")."""
    return build(reviewer=reviewer)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("report", *args, stdout=out)
    return out.getvalue()


def test_tiers_as_a_table(tiny):
    text = run("tiers", *WINDOW)
    lines = text.splitlines()
    assert lines[0].startswith("Longtail tier report (Tier) · plan tiny")
    assert lines[1].split()[:2] == ["Tier", "Share"]
    cheap = next(line for line in lines if line.startswith("cheap"))
    assert "70.0" in cheap.split()


def test_csv_is_the_pages_csv(client, viewer, tiny):
    text = run("tiers", *WINDOW, "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    client.force_login(viewer)
    page_rows = csv_rows(
        client.get(
            "/reports/",
            {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-04", "format": "csv"},
        )
    )
    assert rows[0][0] == "Tier"  # the header first, as in the download
    assert rows == page_rows


def test_strata_and_json(tiny):
    body = json.loads(run("strata", *WINDOW, "--format", "json", "--method", "korn-graubard"))
    assert body["plan"] == "tiny"
    rows = {(r["tier"], r["uncertainty_band"]): r for r in body["strata"]}
    assert rows[("cheap", "low")]["accuracy"] == pytest.approx(0.75)
    assert rows[("cheap", "high")]["accuracy"] == pytest.approx(0.5)
    assert rows[("cheap", "low")]["method"] == "korn-graubard"
    assert rows[("capable", "low")]["accuracy"] is None


def test_defaults_pick_the_latest_window(tiny):
    assert "window 2025-02-19 to 2025-03-04" in run("tiers")


def test_an_empty_window_says_so(tiny):
    text = run("tiers", "--start", "2024-01-01", "--end", "2024-01-02")
    assert "No queue of this plan in the window" in text


def test_every_advertised_subcommand_answers(tiny):
    from reviewapp.reports.management.commands import report

    assert set(report.SUBCOMMANDS) == {"tiers", "strata", "drift", "agreement"}
    tiers = json.loads(run("tiers", *WINDOW, "--format", "json"))
    assert [r["tier"] for r in tiers["tiers"]] == ["capable", "cheap"]  # the API's key
    # The tiny design has no production answer with a router confidence: drift says so
    # instead of "not available yet".
    drift = run("drift", *WINDOW)
    assert "not available" not in drift
    assert "No production answer with a router confidence" in drift
    assert json.loads(run("drift", *WINDOW, "--format", "json"))["drift"] == []
