from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from .health import health


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and broker are reachable, 503 naming what is not."""
    healthy, checks = health()
    return JsonResponse(checks, status=200 if healthy else 503)


def live(request: HttpRequest) -> HttpResponse:
    """Liveness, no dependency touched: the load benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")
