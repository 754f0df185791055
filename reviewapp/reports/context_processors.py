"""Whether the menu shows the reports hub (what a report shows is still checked by its view)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .catalogue import reads_reports


def reports_menu(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"reads_reports": False}
    # Lazy: the query (for reviewers) runs only on pages that render the menu.
    return {"reads_reports": SimpleLazyObject(lambda: reads_reports(user=user))}
