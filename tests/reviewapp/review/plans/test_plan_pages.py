"""The QA lead's plan pages: who may see them, the form's errors, the preview, versions."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from reviewapp.review.models import Plan, PlanVersion, Queue
from reviewapp.review.services import queue_build

from .conftest import DAY, EXPECTED_N

PAGES = [
    ("get", "review:plans", {}),
    ("get", "review:plan-new", {}),
    ("post", "review:plan-preview", {}),
    ("get", "review:plan", {"name": "support-daily"}),
    ("get", "review:plan-edit", {"name": "support-daily"}),
    ("post", "review:plan-build", {"name": "support-daily"}),
    ("post", "review:plan-adhoc", {"name": "support-daily"}),
    ("get", "review:adjudication", {}),
    ("post", "review:adjudicate", {"item_id": 1}),
]


def form_data(source, **overrides):
    data = {
        "name": "cheap-watch",
        "sources": [source.pk],
        "dimensions": ["tier", "uncertainty", "ood"],
        "uncertainty_cuts": "0.3",
        "ood_cuts": "",
        "daily_budget": "60",
        "allocation": "neyman",
        "stratum_min": "5",
        "stratum_max": "",
        "manual_quotas": "",
        "oversampling": "tier=cheap&uncertainty=high: 3",
        "overlap_share": "0.1",
        "gold_share": "0",
        "targets": "cheap: 0.93\ncapable: 0.97",
        "blind": "on",
        "failure_tags": "wrong intent\nfactual error",
        "action": "save",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("method", "url_name", "kwargs"), PAGES)
@pytest.mark.parametrize("who", ["viewer", "reviewer", "outsider"])
def test_it_forbids_everyone_but_qa_leads(client, request, method, url_name, kwargs, who):
    client.force_login(request.getfixturevalue(who))
    response = getattr(client, method)(reverse(url_name, kwargs=kwargs))
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url_name", "kwargs"), PAGES)
def test_it_sends_anonymous_users_to_login(client, db, method, url_name, kwargs):
    response = getattr(client, method)(reverse(url_name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_plans_with_version_and_last_queue(client, qa_lead, plan):
    queue_build(plan=plan, day=DAY)
    client.force_login(qa_lead)
    response = client.get(reverse("review:plans"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "support-daily" in html and "v1" in html and "2025-03-10" in html
    assert "0 / " in html  # nothing reviewed yet


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"stratum_min": "1"}, "stratum_min", "at least 2"),
        ({"uncertainty_cuts": "0.5, 0.2"}, "uncertainty_cuts", "ascending"),
        ({"uncertainty_cuts": "0.2, lots"}, "uncertainty_cuts", "not a number"),
        ({"oversampling": "tier=cheap 3"}, "oversampling", "key: value"),
        ({"targets": "cheap: 150"}, "targets", "between 0 and 100 %"),
        ({"targets": "Cheap: 93"}, "targets", "No traffic of tier Cheap"),
        ({"oversampling": "tier=cheap&band=high: 3"}, "oversampling", "dimensions are tier, "),
        ({"oversampling": "cheap|high: 3"}, "oversampling", "one value per dimension"),
        ({"oversampling": "tier=Cheap: 3"}, "oversampling", "tiers are capable, cheap"),
        ({"planner_tier": "Cheap", "action": "preview"}, "planner_tier", "valid choice"),
        ({"overlap_share": "0.9"}, "overlap_share", "between 0 and 0.5"),
        ({"dimensions": []}, "dimensions", "choose from"),
        ({"sources": []}, "sources", "required"),
        ({"stratum_max": "3"}, "stratum_max", "stratum_min"),
        # Past what the column holds: an overflow when saved, until refused here.
        ({"daily_budget": "22051533205"}, "daily_budget", "at most 2,147,483,647"),
        ({"name": "preview"}, "name", "page names"),
        ({"name": "not a slug"}, "name", "letters"),
    ],
)
def test_it_puts_each_error_under_its_field(client, qa_lead, traffic, overrides, field, message):
    client.force_login(qa_lead)
    response = client.post(reverse("review:plan-new"), form_data(traffic, **overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert not Plan.objects.filter(name="cheap-watch").exists()


def test_it_creates_a_plan_as_version_1(client, qa_lead, reviewer, traffic):
    client.force_login(qa_lead)
    data = form_data(traffic, reviewers=[reviewer.pk])
    response = client.post(reverse("review:plan-new"), data)
    assert response.status_code == 302
    plan = Plan.objects.get(name="cheap-watch")
    assert response["Location"] == reverse("review:plan", kwargs={"name": "cheap-watch"})
    version = plan.current_version
    assert version.number == 1
    assert version.oversampling == {"tier=cheap&uncertainty=high": 3.0}
    assert version.targets == {"cheap": 0.93, "capable": 0.97}
    assert version.failure_tags == ["wrong intent", "factual error"]
    assert version.blind is True
    assert list(version.sources.all()) == [traffic]
    assert list(plan.reviewers.all()) == [reviewer]


def test_it_refuses_a_second_plan_of_the_same_name(client, qa_lead, plan, traffic):
    client.force_login(qa_lead)
    response = client.post(reverse("review:plan-new"), form_data(traffic, name=plan.name))
    assert "name" in response.context["form"].errors
    assert plan.versions.count() == 1


def test_the_preview_shows_the_days_strata_and_allocates_the_budget(client, qa_lead, traffic):
    client.force_login(qa_lead)
    response = client.post(reverse("review:plan-new"), form_data(traffic, action="preview"))
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.day == DAY  # the latest day with traffic, and the page says which
    assert "2025-03-10" in response.content.decode()
    assert {row["key"]: row["population"] for row in preview.strata} == EXPECTED_N
    assert sum(row["quota"] for row in preview.strata) == 60 == preview.allocated
    for row in preview.strata:
        assert row["pi"] == pytest.approx(row["quota"] / row["population"])
        assert 5 <= row["quota"] <= row["population"]
    tiers = {row["tier"]: row for row in preview.tiers}
    assert tiers["cheap"]["population"] == 370 and tiers["capable"]["population"] == 180
    assert 0 < tiers["cheap"]["half_width"] < 0.5
    assert tiers["cheap"]["target"] == 0.93
    assert not Plan.objects.exists()  # a preview saves nothing


def test_the_htmx_preview_returns_only_the_fragment(client, qa_lead, traffic):
    client.force_login(qa_lead)
    response = client.post(
        reverse("review:plan-preview"),
        form_data(traffic, action="preview"),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="preview"')
    assert "<html" not in html
    assert 'data-key="cheap|high|in"' in html


def test_the_preview_says_which_field_is_wrong_and_marks_it(client, qa_lead, traffic):
    client.force_login(qa_lead)
    response = client.post(
        reverse("review:plan-preview"), form_data(traffic, stratum_min="0"), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "Fix the fields marked in red" in html
    # The list beside the preview links to the field ...
    assert '<a href="#field-stratum_min">Per-stratum minimum</a>: At least 2' in html
    # ... and the fields come back out of band (htmx swaps them in), the wrong one marked.
    assert '<div class="plan-grid" id="plan-fields" hx-swap-oob="true">' in html
    marked = html[html.index('id="field-stratum_min"') - 40 : html.index('id="field-stratum_min"')]
    assert "has-error" in marked
    assert 'id="error-stratum_min"' in html


def test_targets_are_percent_and_show_as_percent(client, qa_lead, traffic):
    client.force_login(qa_lead)
    client.post(reverse("review:plan-new"), form_data(traffic, targets="cheap: 93\ncapable: 0.97"))
    plan = Plan.objects.get(name="cheap-watch")
    assert plan.current_version.targets == {"cheap": 0.93, "capable": 0.97}
    page = client.get(reverse("review:plan-edit", kwargs={"name": plan.name}))
    assert page.context["form"].initial["targets"] == "cheap: 93\ncapable: 97"


def test_the_planner_names_the_maximum_when_it_binds(client, qa_lead, traffic):
    client.force_login(qa_lead)
    response = client.post(
        reverse("review:plan-new"),
        form_data(
            traffic,
            action="preview",
            oversampling="",
            stratum_max="10",
            planner_tier="cheap",
            planner_points="1",
        ),
    )
    planner = response.context["preview"].planner
    assert not planner["feasible"] and planner["binding"] == "maximum"
    html = response.content.decode()
    assert "The per-stratum maximum binds" in html and "census" not in html
    assert f"± {planner['half_width_points']:.1f} points" in html  # points in, points out
    # Without the maximum a census would meet any target (no sampling error left): the plan's
    # daily budget is what binds, or nothing does.
    for points, binding, words in (
        ("1", "budget", "The daily budget binds"),
        ("40", "", "is enough"),
    ):
        response = client.post(
            reverse("review:plan-new"),
            form_data(
                traffic,
                action="preview",
                oversampling="",
                planner_tier="cheap",
                planner_points=points,
            ),
        )
        assert response.context["preview"].planner["binding"] == binding
        assert words in response.content.decode()


def test_the_planner_proposes_a_budget_that_meets_the_target(client, qa_lead, traffic):
    from sampling.allocation import allocate, expected_half_width
    from sampling.estimate import beta_posterior_variance

    client.force_login(qa_lead)
    response = client.post(
        reverse("review:plan-new"),
        form_data(
            traffic, action="preview", oversampling="", planner_tier="cheap", planner_points="8"
        ),
    )
    planner = response.context["preview"].planner
    assert planner["feasible"] and planner["achieved"] <= 0.08
    budget = planner["budget"]
    assert f'id="planner-budget">{budget}<' in response.content.decode()
    # One fewer review would miss the target: the planner's budget is the smallest.
    strata = response.context["preview"].strata
    N = np.array([row["population"] for row in strata])
    cheap = np.array([row["labels"]["tier"] == "cheap" for row in strata])
    s2 = beta_posterior_variance(np.zeros(len(N)), np.zeros(len(N)))
    smaller = allocate(
        N,
        budget - 1,
        method="neyman",
        successes=np.zeros(len(N)),
        failures=np.zeros(len(N)),
        floor=5,
    )
    assert expected_half_width(N, smaller.n, s2, cheap) > 0.08


def test_editing_makes_version_2_and_old_queues_keep_version_1(client, qa_lead, plan, traffic):
    old_queue, _ = queue_build(plan=plan, day=DAY)
    client.force_login(qa_lead)
    page = client.get(reverse("review:plan-edit", kwargs={"name": plan.name}))
    assert page.context["form"].initial["daily_budget"] == 60
    response = client.post(
        reverse("review:plan-edit", kwargs={"name": plan.name}),
        form_data(traffic, name="ignored", daily_budget="80"),
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.current_version.number == 2 and plan.current_version.daily_budget == 80
    assert plan.name == "support-daily"
    old_queue.refresh_from_db()
    assert old_queue.plan_version.number == 1 and old_queue.plan_version.daily_budget == 60
    detail = client.get(reverse("review:plan", kwargs={"name": plan.name})).content.decode()
    assert "v1" in detail and "v2" in detail
    assert PlanVersion.objects.filter(plan=plan).count() == 2


def test_building_from_the_page_twice_says_already_built(client, qa_lead, plan):
    client.force_login(qa_lead)
    url = reverse("review:plan-build", kwargs={"name": plan.name})
    first = client.post(url, {"day": "2025-03-10"}, follow=True)
    assert "Built the queue for 2025-03-10" in first.content.decode()
    queue = Queue.objects.get(plan=plan)
    items = queue.items.count()
    assert items == 60
    second = client.post(url, {"day": "2025-03-10"}, follow=True)
    assert "already built" in second.content.decode()
    assert Queue.objects.filter(plan=plan).count() == 1
    assert queue.items.count() == items


def test_building_a_future_day_is_refused(client, qa_lead, plan):
    client.force_login(qa_lead)
    url = reverse("review:plan-build", kwargs={"name": plan.name})
    response = client.post(url, {"day": "2999-01-01"}, follow=True)
    assert "has happened" in response.content.decode()
    assert not Queue.objects.exists()
