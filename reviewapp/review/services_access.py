"""Who may do what, changed from the command line (`manage.py roles`): roles are Django groups
(roles.py), plan assignments the plan's reviewers. Each function changes one thing, is
idempotent, and says whether anything changed."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from .models import Plan
from .roles import QA_LEAD, REVIEWER, ROLES


class AccessError(ValueError):
    """A request naming an unknown user, role or plan: the sentence names the valid ones."""


def user_named(username: str) -> Any:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise AccessError(f"No user named {username!r}.")
    return user


def _role_group(role: str) -> Group:
    if role not in ROLES:
        raise AccessError(f"No role {role!r}; the roles are {', '.join(ROLES)}.")
    return Group.objects.get_or_create(name=role)[0]


def role_grant(*, user: Any, role: str) -> bool:
    """Give `user` the role; True when they did not have it."""
    group = _role_group(role)
    if user.groups.filter(pk=group.pk).exists():
        return False
    user.groups.add(group)
    return True


def role_revoke(*, user: Any, role: str) -> bool:
    """Take the role from `user`; True when they had it."""
    group = _role_group(role)
    if not user.groups.filter(pk=group.pk).exists():
        return False
    user.groups.remove(group)
    return True


def plan_named(name: str) -> Plan:
    plan = Plan.objects.filter(name=name).first()
    if plan is None:
        names = ", ".join(Plan.objects.order_by("name").values_list("name", flat=True))
        raise AccessError(f"No plan named {name!r} (plans: {names or 'none yet'}).")
    return plan


def plan_assign(*, plan: Plan, user: Any, assigned: bool) -> bool:
    """Assign `user` to review `plan` (or take them off it); True when that changed anything.
    Assigning someone without the reviewer or QA lead role is refused: they could not open
    the queue."""
    reviews = user.is_superuser or user.groups.filter(name__in=(REVIEWER, QA_LEAD)).exists()
    if assigned and not reviews:
        raise AccessError(
            f"{user.get_username()} has neither the reviewer nor the qa_lead role: "
            f"grant one first (roles grant {user.get_username()} reviewer)."
        )
    present = plan.reviewers.filter(pk=user.pk).exists()
    if assigned == present:
        return False
    if assigned:
        plan.reviewers.add(user)
    else:
        plan.reviewers.remove(user)
    return True
