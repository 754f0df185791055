"""The roles of DESIGN.md as Django groups. A rule about who may do what reads these names."""

from __future__ import annotations

REVIEWER = "reviewer"
QA_LEAD = "qa_lead"
VIEWER = "viewer"
ROLES = (REVIEWER, QA_LEAD, VIEWER)


# Where user_groups() keeps a user's group names for the rest of the request, as Django's
# ModelBackend keeps permissions in user._perm_cache.
_CACHE_ATTRIBUTE = "_longtail_group_names"


def user_groups(user: object) -> frozenset[str]:
    """The names of the user's groups, read once per user object: a request asks several times
    (the view's role check, the queue's access rule, the navigation) and one query answers
    them all. A request loads its user afresh, so a change of groups shows on the next one."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        setattr(user, _CACHE_ATTRIBUTE, cached)
    return cached


def has_role(user: object, *roles: str) -> bool:
    """True for a superuser, or a user in any of `roles`."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return not user_groups(user).isdisjoint(roles)


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
