"""Who may do what through the API, each rule written once.

A rule is a plain function of the user (usable from views, templates and tests); the DRF
permission classes below only wrap them. Anonymous requests never reach a rule: DRF answers
401 with a `WWW-Authenticate: Token` header when no credentials came, 403 when the
authenticated user fails the rule.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from reviewapp.review.roles import user_groups

QA_LEAD_GROUP = "qa_lead"
VIEWER_GROUP = "viewer"
# An integrator's service account needs no group: this one permission lets it push.
PUSH_PERMISSION = "responses.add_response"
VIEW_RUNS_PERMISSION = "responses.view_ingestrun"


def _in_group(user: Any, *names: str) -> bool:
    return not user_groups(user).isdisjoint(names)


def may_push(user: Any) -> bool:
    """May push responses and feedback: superusers, staff, QA leads, or anyone granted
    `responses.add_response` (an integrator's account)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return (
        user.is_superuser
        or user.is_staff
        or _in_group(user, QA_LEAD_GROUP)
        or user.has_perm(PUSH_PERMISSION)
    )


def may_view_ingest_runs(user: Any) -> bool:
    """May read ingest runs and their quarantined records: whoever may push (an integrator
    must be able to see what was rejected), viewers, and anyone granted
    `responses.view_ingestrun`."""
    if may_push(user):
        return True
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return _in_group(user, VIEWER_GROUP) or user.has_perm(VIEW_RUNS_PERMISSION)


class CanPush(BasePermission):
    message = (
        "You may not push records: it takes the qa_lead group, staff status or the "
        f"'{PUSH_PERMISSION}' permission."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_push(request.user)


class CanViewIngestRuns(BasePermission):
    message = (
        "You may not read ingest runs: it takes the qa_lead or viewer group, staff status or "
        f"the '{VIEW_RUNS_PERMISSION}' permission."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_view_ingest_runs(request.user)
