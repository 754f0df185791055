"""The reports hub and the menu: each role sees the reports it may read, one line each, and
nothing it may not; the menu links to the hub only for those who read reports."""

from __future__ import annotations

import re

import pytest

from reviewapp.review.models import PlanVersion

from .tiny_design import build

pytestmark = pytest.mark.django_db

PLAN_PAGES = [
    "/reports/",
    "/reports/summary/",
    "/reports/trends/",
    "/reports/agreement/",
    "/reports/shadow/",
    "/reports/cascade/",
]


def _hub_links(html: str) -> list[str]:
    hub = html[html.index('<ul class="hub">') :]
    hub = hub[: hub.index("</ul>")]
    return re.findall(r'<a href="([^"]+)"', hub)


def _menu(html: str) -> str:
    return html[html.index('<nav aria-label="Main">') : html.index("</nav>")]


@pytest.mark.parametrize("role", ["qa_lead", "viewer"])
def test_leads_and_viewers_see_every_report_with_its_question(client, role, request):
    client.force_login(request.getfixturevalue(role))
    response = client.get("/reports/all/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _hub_links(html) == [*PLAN_PAGES[:3], "/reports/alarms/", *PLAN_PAGES[3:], "/sources/"]
    assert "How often is each routing tier" in html  # each line says what it answers
    assert 'href="/reports/all/"' in _menu(html)
    for link in _hub_links(html):
        assert client.get(link).status_code == 200, link


def test_a_reviewer_sees_the_hub_only_when_a_plan_lets_reviewers_read_reports(client, reviewer):
    plan = build(reviewer=reviewer)
    client.force_login(reviewer)
    assert client.get("/reports/all/").status_code == 403
    assert 'href="/reports/all/"' not in _menu(client.get("/review/").content.decode())
    PlanVersion.objects.filter(plan=plan).update(reviewers_see_reports=True)
    response = client.get("/reports/all/")
    assert response.status_code == 200
    assert _hub_links(response.content.decode()) == PLAN_PAGES  # no alarms, no sources
    assert 'href="/reports/all/"' in _menu(client.get("/review/").content.decode())


def test_outsiders_get_403_and_anonymous_users_the_login_page(client, outsider):
    assert client.get("/reports/all/").status_code == 302
    client.force_login(outsider)
    assert client.get("/reports/all/").status_code == 403
    assert client.post("/reports/all/").status_code == 405  # read-only
