"""The signed-in user's roles, for navigation (what a page shows is still checked by its view)."""

from __future__ import annotations

from django.http import HttpRequest

from .roles import ROLES, user_groups


def roles(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": frozenset()}
    if user.is_superuser:
        return {"user_roles": frozenset(ROLES)}
    return {"user_roles": user_groups(user)}
