"""Every page, as every role, in headless Chromium at a laptop's 1,280 × 800 and a phone's
390 × 844: no console error, no page wider than the window (wide tables scroll in their own
frame), and every report the role may read reachable from the menu in at most two clicks.
Then the QA lead's "Build queue" on a day without traffic: nothing is built, the page says
why, and the landing page still shows the last window with reviews."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

import pytest

from reviewapp.review.models import Plan, PlanVersion, Queue, Review
from tests.screenshots import save_screenshot

from .reports.test_browser_reports import DAYS, FIRST, _scenario, _watch

pytestmark = pytest.mark.browser

VIEWPORTS = {"laptop": (1280, 800), "phone": (390, 844)}
PLAN_REPORTS = {
    "/reports/",
    "/reports/summary/",
    "/reports/trends/",
    "/reports/agreement/",
    "/reports/shadow/",
    "/reports/cascade/",
}
# What each role may read, written out here (not read from the app's catalogue) so that a page
# dropped from the menu or the hub fails the test.
REPORTS = {
    "rita": PLAN_REPORTS,  # the plan lets its reviewers see reports
    "quinn": PLAN_REPORTS | {"/reports/alarms/", "/sources/"},
    "vera": PLAN_REPORTS | {"/reports/alarms/", "/sources/"},
}

# Document-level horizontal overflow: the page scrolls sideways (a frame that scrolls inside
# the page does not count).
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _pages(plan: str, review_id: int, queue_id: int) -> dict[str, list[str]]:
    last = FIRST + dt.timedelta(days=DAYS - 1)
    window = f"plan={plan}&start={FIRST}&end={last}"
    reports = [
        "/reports/all/",
        "/reports/",
        f"/reports/?{window}&by=uncertainty",
        f"/reports/?{window}&by=stratum",
        f"/reports/?{window}&by=longtail",
        "/reports/summary/",
        "/reports/trends/",
        f"/reports/trends/?{window}&period=week",
        f"/reports/trends/?{window}&period=day",
        "/reports/agreement/",
        "/reports/shadow/",
        "/reports/cascade/",
    ]
    lead_only = ["/reports/alarms/", "/reports/alarms/?status=all", "/sources/"]
    reviewing = ["/review/", f"/review/queues/{queue_id}/", "/review/history/"]
    account = ["/account/tokens/"]
    return {
        "rita": [*reviewing, f"/review/history/{review_id}/", *reports, *account],
        "quinn": reviewing
        + reports
        + lead_only
        + [
            "/review/plans/",
            "/review/plans/new/",
            f"/review/plans/{plan}/",
            f"/review/plans/{plan}/edit/",
            "/review/adjudication/",
        ]
        + account,
        "vera": reports + lead_only + account,
    }


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pass-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _links(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "as => as.map(a => a.href)")


def _within_two_clicks(page, base: str) -> set[str]:
    """Paths reachable from the landing page's menu: the menu's links, and the links in the
    content of each page they open."""
    page.goto(f"{base}/")
    menu = [h for h in _links(page, "header nav a[href]") if h.startswith(base)]
    reached = {urlparse(h).path for h in menu}
    for href in menu:
        page.goto(href)
        reached |= {urlparse(h).path for h in _links(page, "main a[href]") if h.startswith(base)}
    return reached


@pytest.fixture
def walk_data(transactional_db, qa_lead, viewer, reviewer):
    name = _scenario(reviewer)
    PlanVersion.objects.filter(plan__name=name).update(reviewers_see_reports=True)
    review = Review.objects.filter(reviewer=reviewer).order_by("-pk").first()
    return name, review


def test_every_page_for_every_role_fits_and_logs_no_error(
    live_server, chromium_browser, walk_data, qa_lead, viewer, reviewer
):
    plan, review = walk_data
    pages = _pages(plan, review.pk, review.item.queue_id)
    problems: list[str] = []
    visited = 0
    for username in ("rita", "quinn", "vera"):
        for device, (width, height) in VIEWPORTS.items():
            context = chromium_browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(20_000)
            errors = _watch(page)
            try:
                _login(page, live_server.url, username)
                if device == "laptop":
                    reached = _within_two_clicks(page, live_server.url)
                    missing = REPORTS[username] - reached
                    if missing:
                        problems.append(f"{username}: not within two clicks: {sorted(missing)}")
                for path in pages[username]:
                    response = page.goto(live_server.url + path)
                    page.wait_for_load_state("load")
                    visited += 1
                    if response is None or response.status != 200:
                        status = response.status if response else "none"
                        problems.append(f"{username} {device} {path}: HTTP {status}")
                    overflow = page.evaluate(OVERFLOW)
                    if overflow > 0:
                        problems.append(f"{username} {device} {path}: {overflow}px too wide")
                    if errors:
                        problems.append(f"{username} {device} {path}: console {errors[:]}")
                        errors.clear()
                    if username == "quinn":
                        _maybe_screenshot(page, path, device)
            finally:
                context.close()
    assert visited == 2 * sum(len(p) for p in pages.values())
    assert problems == [], "\n".join(problems)


SCREENSHOTS = {
    "/reports/": "tier-report",
    "/reports/summary/": "summary",
    "/reports/trends/": "trends",
}


def _maybe_screenshot(page, path: str, device: str) -> None:
    name = SCREENSHOTS.get(path)
    if name:
        save_screenshot(page, name if device == "laptop" else f"{name}-phone")


def test_build_queue_on_an_empty_day_builds_nothing_and_keeps_the_reports(
    live_server, page, walk_data, qa_lead
):
    plan, _ = walk_data
    queues = Queue.objects.count()
    last = FIRST + dt.timedelta(days=DAYS - 1)
    errors = _watch(page)
    _login(page, live_server.url, qa_lead.username)
    page.goto(f"{live_server.url}/review/plans/{plan}/")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    # The pre-filled day is yesterday: the scenario has no traffic then.
    assert page.input_value("#build-form input[name=day]") == f"{yesterday}"
    assert page.inner_text("#latest-traffic-day") == f"{last}"  # named beside the button
    page.click("#build-form button[type=submit]")
    page.wait_for_load_state()
    message = page.inner_text("[role=status]")
    assert "No traffic" in message and f"{yesterday}" in message and "no queue" in message
    assert Queue.objects.count() == queues
    assert not Queue.objects.filter(day=yesterday).exists()

    page.goto(f"{live_server.url}/")
    assert urlparse(page.url).path == "/reports/"
    assert page.input_value("form.filters input[name=end]") == f"{last}"
    assert "No queue of this plan in the window" not in page.content()
    assert page.locator("table.report tbody tr").count() >= 2  # cheap, capable
    assert Plan.objects.get(name=plan).queues.count() == queues
    assert errors == []
