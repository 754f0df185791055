"""A QA lead, in headless Chromium, creates a plan, previews it, saves it and builds a queue;
a viewer cannot reach the plan pages."""

from __future__ import annotations

import pytest

from reviewapp.review.models import Plan, Queue
from tests.screenshots import save_screenshot

pytestmark = pytest.mark.browser


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pass-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_a_qa_lead_creates_previews_saves_and_builds(
    transactional_db, live_server, page, traffic, qa_lead, reviewer
):
    login(page, live_server.url, "quinn")
    page.goto(f"{live_server.url}/review/plans/new/")
    page.fill("input[name=name]", "browser-plan")
    page.check(f"input[name=sources][value='{traffic.pk}']")
    page.fill("input[name=uncertainty_cuts]", "0.3")
    page.fill("input[name=daily_budget]", "60")
    page.fill("textarea[name=oversampling]", "tier=cheap&uncertainty=high: 2")
    page.fill("textarea[name=targets]", "cheap: 0.93\ncapable: 0.97")
    page.check(f"input[name=reviewers][value='{reviewer.pk}']")
    page.select_option("select[name=planner_tier]", "cheap")
    page.fill("input[name=planner_points]", "8")
    url_before = page.url
    page.click("button[value=preview]")
    # htmx swaps the fragment in place: same URL, the numbers appear.
    page.wait_for_selector("#preview-allocated")
    assert page.url == url_before
    assert page.inner_text("#preview-allocated") == "60"
    assert "2025-03-10" in page.inner_text("#preview-day")
    assert page.locator("#preview-strata tbody tr").count() == 5
    assert int(page.inner_text("#planner-budget")) > 0
    page.locator("#preview").scroll_into_view_if_needed()
    save_screenshot(page, "plan-preview")
    assert not Plan.objects.exists()

    page.click("button[value=save]")
    page.wait_for_url(f"{live_server.url}/review/plans/browser-plan/")
    assert "Saved browser-plan v1" in page.content()

    page.fill("input[name=day]", "2025-03-10")
    page.click("#build-form button[type=submit]")
    page.wait_for_load_state()
    assert "Built the queue for 2025-03-10: 60 items from 550 responses" in page.content()
    queue = Queue.objects.get(plan__name="browser-plan")
    assert queue.size == 60 and queue.items.count() == 60
    assert page.locator("#queues tbody tr").count() == 1


def test_a_viewer_cannot_reach_the_plan_pages(transactional_db, live_server, page, viewer):
    login(page, live_server.url, "vera")
    for path in ("/review/plans/", "/review/plans/new/", "/review/adjudication/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path
