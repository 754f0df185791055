"""The roles of DESIGN.md as Django groups. A rule about who may do what reads these names."""

from __future__ import annotations

REVIEWER = "reviewer"
QA_LEAD = "qa_lead"
VIEWER = "viewer"
ROLES = (REVIEWER, QA_LEAD, VIEWER)


def has_role(user: object, *roles: str) -> bool:
    """True for a superuser, or a user in any of `roles`."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name__in=roles).exists()  # type: ignore[attr-defined]
