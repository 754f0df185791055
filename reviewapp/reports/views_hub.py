"""The reports hub (/reports/all/): every report the user may read, each with the one question
it answers. The menu's "Reports" opens it, so every report is two clicks from any page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from .catalogue import readable_pages
from .views import _signed_in


@_signed_in
@require_safe
def hub(request: HttpRequest) -> HttpResponse:
    pages = readable_pages(user=request.user)
    if not pages:
        raise PermissionDenied("Your role does not allow reports.")
    rows = [{"page": page, "url": reverse(page.url_name)} for page in pages]
    return render(request, "reports/hub.html", {"rows": rows})
