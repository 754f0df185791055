"""What /healthz checks: the database answers, and the broker (when there is one) accepts a
connection. Each check returns "ok" or a short reason; nothing here raises."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

#: Seconds a health probe waits for the broker: a probe that hangs is worse than one that fails.
BROKER_TIMEOUT_SECONDS = 2.0


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not reachable" to a probe
        return f"error: {type(exc).__name__}"
    return "ok"


def broker_status() -> str:
    """ "eager" without a broker (tasks run in-process, nothing to reach)."""
    url = getattr(settings, "CELERY_BROKER_URL", "")
    if not url:
        return "eager"
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
            )
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def health() -> tuple[bool, dict[str, str]]:
    checks = {"database": database_status(), "broker": broker_status()}
    healthy = all(value in {"ok", "eager"} for value in checks.values())
    return healthy, checks
