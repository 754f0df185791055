"""Give every request an id (the caller's X-Request-ID when it is sane, else a new one), put
it in the log context and on the response, and log one line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from .logs import LogContext, current

logger = logging.getLogger("reviewapp.request")

# A caller's id is echoed into headers and logs: only a short, plain token is accepted, so a
# hostile value can neither inject header lines nor forge log fields.
_VALID_ID = re.compile(r"[A-Za-z0-9\-_.]{1,64}")
HEADER = "X-Request-ID"


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    if _VALID_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _loaded_user(request: HttpRequest) -> object | None:
    """request.user if it is loaded (DRF sets a real user; AuthenticationMiddleware sets a lazy
    one that loads on first use); None when it was never asked for."""
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:  # type: ignore[attr-defined]
        return None
    return user


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        context = LogContext(request_id=request_id, path=request.path)
        token = current.set(context)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            # The user is known only after authentication (session or DRF token) has run. Only
            # a user something already loaded is read: asking the lazy request.user would read
            # the session and the user (two queries) for a view that never needed them, such
            # as the /healthz/live baseline.
            user = _loaded_user(request)
            if user is not None and getattr(user, "is_authenticated", False):
                context.user_id = user.pk
            response[HEADER] = request_id
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            current.reset(token)
