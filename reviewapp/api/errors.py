"""The site's 404 handler: JSON under /api/, Django's HTML page everywhere else.

A URL the API's routes do not match (a negative id, which `<int:>` refuses; a plan name with a
space, which `<slug:>` refuses) never reaches a DRF view, so DRF cannot answer it in JSON; an
API client would get the HTML page instead. Used as `handler404` (reviewapp/urls.py), which
Django calls when DEBUG is off; with DEBUG on it shows its technical page as it always does.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        # The same body as DRF's own 404s ({"detail": ...}); the path is not echoed back.
        return JsonResponse({"detail": "There is no such API URL."}, status=404)
    return defaults.page_not_found(request, exception)
