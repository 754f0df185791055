"""Queues from the QA lead's side: the build_queue command, the daily task, ad-hoc queues,
adjudication."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from reviewapp.responses.models import FeedbackEvent, Response
from reviewapp.review.models import Adjudication, Queue, QueueItem, Review, StratumCount
from reviewapp.review.services import item_claim, queue_build, review_submit

from .conftest import DAY, EXPECTED_N


def run(*args: str) -> str:
    out = StringIO()
    call_command("build_queue", *args, stdout=out)
    return out.getvalue()


def test_build_queue_prints_the_queue_and_its_strata(plan):
    out = run("--plan", plan.name, "--date", "2025-03-10", "--seed", "7")
    assert "Built queue" in out and "population 550, size 60, seed 7" in out
    for key, population in EXPECTED_N.items():
        assert any(line.split()[:2] == [key, str(population)] for line in out.splitlines())
    queue = Queue.objects.get(plan=plan, day=DAY)
    assert queue.seed == 7 and queue.plan_version == plan.current_version


def test_build_queue_twice_changes_nothing(plan):
    run("--plan", plan.name, "--date", "2025-03-10")
    counts = (Queue.objects.count(), QueueItem.objects.count(), StratumCount.objects.count())
    out = run("--plan", plan.name, "--date", "2025-03-10", "--seed", "99")
    assert "Already built" in out
    assert (Queue.objects.count(), QueueItem.objects.count(), StratumCount.objects.count()) == (
        counts
    )


def test_build_queue_defaults_to_yesterday_and_builds_nothing_without_traffic(plan):
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    with pytest.raises(CommandError, match=f"No traffic .* on {yesterday:%Y-%m-%d}"):
        run("--plan", plan.name)
    assert not Queue.objects.exists()


def test_the_build_button_on_a_day_without_traffic_says_so_and_builds_nothing(
    client, qa_lead, plan
):
    client.force_login(qa_lead)
    response = client.post(
        reverse("review:plan-build", kwargs={"name": plan.name}),
        {"day": "2025-03-01", "seed": ""},
        follow=True,
    )
    assert "No traffic in plan" in response.content.decode()
    assert "on 2025-03-01" in response.content.decode()
    assert not Queue.objects.exists() and not StratumCount.objects.exists()


def test_the_daily_task_skips_a_day_without_traffic(plan):
    from reviewapp.review.tasks import build_plan_queue

    result = build_plan_queue.apply(args=(plan.pk, "2025-03-01")).get()
    assert result["plan"] == plan.pk and "No traffic" in result["skipped"]
    assert not Queue.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--plan", "nope"), "No plan named 'nope'"),
        (("--plan", "support-daily", "--date", "2025-13-01"), "is not a date"),
        (("--plan", "support-daily", "--date", "2999-01-01"), "in the future"),
    ],
)
def test_build_queue_says_what_is_wrong(plan, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Queue.objects.exists()


def test_an_adhoc_queue_is_marked_non_probability(client, qa_lead, plan, traffic):
    now = timezone.now()
    recent = list(Response.objects.filter(source=traffic).order_by("pk")[:3])
    for n, response in enumerate(recent):
        FeedbackEvent.objects.create(
            source=traffic,
            external_id=f"fb{n}",
            response_external_id=response.external_id,
            response=response,
            timestamp=now - dt.timedelta(days=2),
            kind="thumbs_down",
            content_hash=f"{n:032x}",
        )
    FeedbackEvent.objects.create(  # too old for "last 7 days"
        source=traffic,
        external_id="old",
        response_external_id="r-x",
        response=Response.objects.order_by("-pk").first(),
        timestamp=now - dt.timedelta(days=30),
        kind="thumbs_down",
        content_hash="f" * 32,
    )
    client.force_login(qa_lead)
    response = client.post(
        reverse("review:plan-adhoc", kwargs={"name": plan.name}),
        {"kind": "thumbs_down", "days": "7", "name": ""},
        follow=True,
    )
    queue = Queue.objects.get(kind=Queue.Kind.ADHOC)
    assert queue.size == 3 and queue.name == "Thumbs-down received, last 7 days"
    assert set(queue.items.values_list("response_id", flat=True)) == {r.pk for r in recent}
    assert not queue.items.filter(inclusion_probability__isnull=False).exists()
    assert not queue.strata.exists()
    html = response.content.decode()
    assert "non-probability" in html and "never fed to estimates" in html


def _disputed_item(plan, reviewers):
    queue, _ = queue_build(plan=plan, day=DAY)
    item = queue.items.filter(required_reviews=2).first()
    for user, verdict in zip(reviewers, ["correct", "incorrect"], strict=True):
        claimed = None
        while claimed != item:  # reviewers pass over single items until they hold ours
            claimed = item_claim(queue=queue, reviewer=user)
            if claimed != item:
                review_submit(item=claimed, reviewer=user, verdict="correct")
        review_submit(item=item, reviewer=user, verdict=verdict)
    return item


def test_adjudication_lists_disagreements_and_keeps_both_verdicts(
    client, qa_lead, plan, reviewer, django_user_model
):
    second = django_user_model.objects.create_user(username="sam", password="x")
    item = _disputed_item(plan, [reviewer, second])
    client.force_login(qa_lead)
    page = client.get(reverse("review:adjudication"))
    assert [i.pk for i in page.context["items"]] == [item.pk]
    html = page.content.decode()
    assert "rita" in html and "sam" in html
    detail = client.get(reverse("review:plan", kwargs={"name": plan.name}))
    assert detail.context["queues"][0].adjudication_needed == 1

    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": item.pk}),
        {"verdict": "partial", "gold": "on", "comment": "half right"},
        follow=True,
    )
    assert "Adjudicated item" in response.content.decode()
    adjudication = Adjudication.objects.get(item=item)
    assert adjudication.verdict == "partial" and adjudication.is_gold
    assert adjudication.adjudicator == qa_lead
    assert sorted(Review.objects.filter(item=item).values_list("verdict", flat=True)) == [
        "correct",
        "incorrect",
    ]
    assert client.get(reverse("review:adjudication")).context["items"] == []


def test_adjudication_needs_a_verdict(client, qa_lead, plan, reviewer, django_user_model):
    second = django_user_model.objects.create_user(username="sam", password="x")
    item = _disputed_item(plan, [reviewer, second])
    client.force_login(qa_lead)
    client.post(reverse("review:adjudicate", kwargs={"item_id": item.pk}), {"verdict": "meh"})
    assert not Adjudication.objects.exists()
