"""Operators without the browser: roles and plan assignments, API tokens."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reviewapp.api.models import ApiToken
from reviewapp.api.tokens import token_authenticate
from reviewapp.review.models import Plan
from reviewapp.review.roles import has_role

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_grant_and_revoke_a_role_idempotently(outsider, django_user_model):
    assert run("roles", "grant", "otto", "viewer") == "otto now has the role viewer.\n"
    assert run("roles", "grant", "otto", "viewer") == "otto already has the role viewer.\n"
    assert has_role(django_user_model.objects.get(username="otto"), "viewer")
    assert "otto: roles viewer; reviews no plan" in run("roles", "show", "otto")
    assert run("roles", "revoke", "otto", "viewer") == "otto no longer has the role viewer.\n"
    assert run("roles", "revoke", "otto", "viewer") == "otto did not have the role viewer.\n"
    assert not has_role(django_user_model.objects.get(username="otto"), "viewer")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("roles", "grant", "nobody", "viewer"), "No user named 'nobody'"),
        (("roles", "grant", "otto", "boss"), "the roles are reviewer, qa_lead, viewer"),
        (("roles", "assign", "nope", "otto"), "No plan named 'nope'"),
        (("tokens", "list", "nobody"), "No user named 'nobody'"),
    ],
)
def test_bad_names_are_refused_with_the_valid_ones(outsider, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_assign_a_reviewer_to_a_plan(outsider, reviewer):
    plan = Plan.objects.create(name="billing")
    assert run("roles", "assign", "billing", "rita") == "rita now reviews plan billing.\n"
    assert run("roles", "assign", "billing", "rita") == "rita already reviews plan billing.\n"
    assert list(plan.reviewers.all()) == [reviewer]
    with pytest.raises(CommandError, match="neither the reviewer nor the qa_lead role"):
        run("roles", "assign", "billing", "otto")
    assert run("roles", "unassign", "billing", "rita") == "rita now does not review plan billing.\n"
    assert not plan.reviewers.exists()


def test_tokens_create_list_revoke(qa_lead):
    out = run("tokens", "create", "quinn", "vendor")
    key = out.splitlines()[1]
    token = ApiToken.objects.get()
    assert token_authenticate(key) == token and "cannot be shown again" in out
    # (token_authenticate above marked it used)
    assert f"{token.pk}  vendor  {token.key_prefix}…  active, last used " in run(
        "tokens", "list", "quinn"
    )
    assert (
        run("tokens", "revoke", "quinn", str(token.pk))
        == f"Token {token.pk} “vendor” is revoked.\n"
    )
    assert token_authenticate(key) is None
    with pytest.raises(CommandError, match="has no token 999"):
        run("tokens", "revoke", "quinn", "999")


def test_recompute_alarms_for_a_day_range(reviewer, settings):
    import datetime as dt

    from reviewapp.reports.models import Alarm

    from .reports.alarm_factory import START, add_day, flags, make_plan

    settings.LONGTAIL = {**settings.LONGTAIL, "ALARM_EMAILS": [], "ALARM_WEBHOOK_URL": ""}
    plan = make_plan(targets={"cheap": 0.95})
    for offset in range(2):  # two days where cheap is 75 % right, against a 95 % target
        add_day(
            plan,
            START + dt.timedelta(days=offset),
            [("cheap", "low", 1000, flags(40, 10))],
            reviewer=reviewer,
        )
    out = run("recompute_alarms", "--plan", plan.name, "--since", str(START), "--until", str(START))
    assert f"1 queue day(s), {START} to {START}" in out
    assert f"  {START}  cheap  " in out and "Below target" in out
    assert Alarm.objects.filter(kind="below_target").count() == 1
    # Again, over both days: the second day continues the first day's episode (one alarm per
    # episode), and the first day's alarm is refreshed, not doubled.
    run("recompute_alarms", "--plan", plan.name, "--since", str(START))
    alarms = Alarm.objects.filter(kind="below_target")
    assert [a.day for a in alarms] == [START]
    assert "nothing to compute" in run(
        "recompute_alarms", "--plan", plan.name, "--since", "2030-01-01"
    )
    with pytest.raises(CommandError, match="is after --until"):
        run(
            "recompute_alarms",
            "--plan",
            plan.name,
            "--since",
            "2025-03-05",
            "--until",
            "2025-03-01",
        )
