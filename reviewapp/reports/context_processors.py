"""What every page's menu needs from the reports app: whether it shows the reports hub, and
the open-alarm count (what a report shows is still checked by its view)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .catalogue import reads_reports
from .selectors import open_alarm_count


def reports_menu(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"reads_reports": False}
    # Lazy: the query (for reviewers) runs only on pages that render the menu.
    return {"reads_reports": SimpleLazyObject(lambda: reads_reports(user=user))}


def open_alarms(request: HttpRequest) -> dict[str, object]:
    """`open_alarm_count`: alarms not closed, the number the alarms page lists by default;
    None for anonymous users and roles without the alarms page. Lazy: a page that does not
    print it runs no query."""
    user = getattr(request, "user", None)
    return {"open_alarm_count": SimpleLazyObject(lambda: open_alarm_count(user=user))}
