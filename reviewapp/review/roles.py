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


def role_required(*roles: str):  # type: ignore[no-untyped-def]
    """View decorator: anonymous users go to the login page; signed-in users without one of
    `roles` get 403 (never data)."""
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    def decorator(view):  # type: ignore[no-untyped-def]
        @wraps(view)
        def wrapped(request, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
