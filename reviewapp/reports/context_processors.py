"""The open-alarm count every page shows in its menu (for the roles that may read alarms)."""

from __future__ import annotations

from django.http import HttpRequest

from .selectors import open_alarm_count


def open_alarms(request: HttpRequest) -> dict[str, object]:
    """`open_alarm_count`: alarms not closed, the number the alarms page lists by default;
    None for anonymous users and roles without the alarms page. Lazy: a page that does not
    print it runs no query."""
    from django.utils.functional import SimpleLazyObject

    user = getattr(request, "user", None)
    return {"open_alarm_count": SimpleLazyObject(lambda: open_alarm_count(user=user))}
