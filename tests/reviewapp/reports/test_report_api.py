"""GET /api/v1/reports/tiers/: the tier report as JSON, with the pages' permissions."""

from __future__ import annotations

import pytest

from .tiny_design import build

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/tiers/"
WINDOW = {"plan": "tiny", "start": "2025-03-04", "end": "2025-03-04"}


@pytest.fixture
def tiny(db, reviewer):
    """The hand-made design of tiny_design.py (plan "tiny")."""
    return build(reviewer=reviewer)


def test_per_tier_numbers(api_client, viewer, tiny):
    api_client.force_authenticate(viewer)
    answer = api_client.get(URL, WINDOW)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["plan"], body["start"], body["end"], body["method"]) == (
        "tiny",
        "2025-03-04",
        "2025-03-04",
        "wilson",
    )
    tiers = {t["tier"]: t for t in body["tiers"]}
    cheap = tiers["cheap"]
    assert cheap["population"] == 100
    assert cheap["reviewed"] == 9
    assert cheap["accuracy"] == pytest.approx(0.8 * 0.75 + 0.2 * 0.5)
    assert cheap["ci_low"] < 0.7 < cheap["ci_high"]
    assert cheap["method"] == "wilson"
    assert cheap["target"] == 0.9
    assert cheap["status"] == "not yet known"  # the interval straddles the 90 % target
    assert cheap["open_alarm"] is False
    assert cheap["uncovered_share"] == 0.0
    assert cheap["design_effect"] > 0
    assert cheap["wrong_per_day"] == pytest.approx(30.0)
    assert cheap["cost_per_answer"] == pytest.approx(0.012)
    capable = tiers["capable"]
    assert capable["reviewed"] == 0
    assert capable["accuracy"] is None
    assert capable["status"] == "no reviews"


def test_it_agrees_with_the_page(api_client, client, viewer, tiny):
    from .tiny_design import html_table

    api_client.force_authenticate(viewer)
    client.force_login(viewer)
    params = {**WINDOW, "method": "korn-graubard"}
    api = {t["tier"]: t for t in api_client.get(URL, params).json()["tiers"]}
    header, *rows = html_table(client.get("/reports/", params).content)
    for row in rows:
        shown = dict(zip(header, row, strict=True))
        tier = api[shown["Tier"]]
        assert tier["method"] == "korn-graubard"
        if tier["accuracy"] is not None:
            assert shown["95% CI low (%)"] == f"{100 * tier['ci_low']:.1f}"
            assert shown["95% CI high (%)"] == f"{100 * tier['ci_high']:.1f}"


def test_defaults_and_empty_answers(api_client, viewer, tiny):
    api_client.force_authenticate(viewer)
    body = api_client.get(URL).json()
    assert body["plan"] == "tiny"
    assert body["end"] == "2025-03-04"
    assert body["start"] == "2025-02-19"
    empty = api_client.get(URL, {**WINDOW, "start": "2024-01-01", "end": "2024-01-02"}).json()
    assert empty["tiers"] == []


def test_no_plan_is_an_empty_list(api_client, viewer):
    api_client.force_authenticate(viewer)
    answer = api_client.get(URL)
    assert answer.status_code == 200
    assert answer.json()["tiers"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2025-03-10", "end": "2025-03-01"}, "end"),
        ({"method": "bootstrap"}, "method"),
        ({"start": "nope"}, "start"),
        ({"plan": "no-such-plan"}, "plan"),
    ],
)
def test_bad_parameters_are_400(api_client, viewer, tiny, params, field):
    api_client.force_authenticate(viewer)
    answer = api_client.get(URL, {**WINDOW, **params})
    assert answer.status_code == 400
    assert field in answer.json()


def test_anonymous_gets_401(api_client, tiny):
    assert api_client.get(URL).status_code == 401


def test_outsider_gets_403(api_client, outsider, tiny):
    api_client.force_authenticate(outsider)
    assert api_client.get(URL).status_code == 403


def test_a_token_works(token_client, tiny):
    assert token_client.get(URL, WINDOW).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_read_only(api_client, viewer, tiny, method):
    api_client.force_authenticate(viewer)
    assert getattr(api_client, method)(URL).status_code == 405


def test_reviewers_only_when_the_plan_allows(api_client, reviewer, tiny):
    from reviewapp.review.services import plan_save

    api_client.force_authenticate(reviewer)
    assert api_client.get(URL, WINDOW).status_code == 403
    plan_save(
        name="tiny",
        config={"targets": {"cheap": 0.9}, "reviewers_see_reports": True},
        sources=list(tiny.current_version.sources.all()),
    )
    answer = api_client.get(URL, WINDOW)
    assert answer.status_code == 200
    assert {t["tier"] for t in answer.json()["tiers"]} == {"cheap", "capable"}


def test_documented_in_the_schema(api_client):
    document = api_client.get("/api/schema/", {"format": "json"}).json()
    operation = document["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"plan", "start", "end", "method"}
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    row = document["components"]["schemas"]["TierRow"]["properties"]
    assert {"tier", "population", "reviewed", "accuracy", "ci_low", "ci_high", "method"} <= set(row)
    assert {"design_effect", "target", "status"} <= set(row)
