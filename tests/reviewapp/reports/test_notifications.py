"""Notifications of new alarms: e-mail through Django's mail backend (locmem in tests) and a
webhook POSTed to a real HTTP server on 127.0.0.1, retried when it answers 500."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from reviewapp.reports.models import Alarm
from reviewapp.reports.services import alarms_compute_quality

from .alarm_factory import START, add_day, flags, make_plan

pytestmark = pytest.mark.django_db


class _Hook:
    """A loopback HTTP server answering the given statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _raise_alarm(reviewer, callbacks) -> Alarm:
    plan = make_plan(name="plan-n", targets={"cheap": 0.95})
    add_day(plan, START, [("cheap", "low", 1000, flags(40, 10))], reviewer=reviewer)
    with callbacks(execute=True):
        (alarm,) = alarms_compute_quality(plan=plan, day=START)
    alarm.refresh_from_db()
    return alarm


@pytest.fixture
def notify_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LONGTAIL = {
        **settings.LONGTAIL,
        "ALARM_EMAILS": ["qa@example.com", "lead@example.com"],
        "ALARM_WEBHOOK_URL": "",
        "ALARM_RETRY_BASE_SECONDS": 0,
        "ALARM_WEBHOOK_TIMEOUT_SECONDS": 5,
    }
    return settings


def test_a_new_alarm_is_emailed_once(
    reviewer, notify_settings, mailoutbox, django_capture_on_commit_callbacks
):
    alarm = _raise_alarm(reviewer, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["qa@example.com", "lead@example.com"]
    assert "Below target" in message.subject and "plan plan-n" in message.subject
    assert "is below the target 95.0 %" in message.body
    assert alarm.notified_at is not None and alarm.notification_error == ""
    # Recomputing the same day finds the alarm: no second e-mail.
    with django_capture_on_commit_callbacks(execute=True):
        alarms_compute_quality(plan=alarm.plan, day=START)
    assert len(mailoutbox) == 1


def test_webhook_is_posted_and_retried_after_a_500(
    reviewer, notify_settings, mailoutbox, django_capture_on_commit_callbacks
):
    with _Hook([500]) as hook:
        notify_settings.LONGTAIL = {**notify_settings.LONGTAIL, "ALARM_WEBHOOK_URL": hook.url}
        alarm = _raise_alarm(reviewer, django_capture_on_commit_callbacks)
    assert len(hook.bodies) == 2  # the 500, then the retry that succeeded
    body = hook.bodies[-1]
    assert body["id"] == alarm.pk and body["kind"] == "below_target" and body["tier"] == "cheap"
    assert body["evidence"]["target"] == 0.95 and body["plan"] == "plan-n"
    assert "below the target" in body["summary"]
    assert alarm.notified_at is not None
    assert alarm.notification_error == ""  # the 500 was recorded, then cleared by the success


def test_webhook_that_keeps_failing_records_the_error_and_stops(
    reviewer, notify_settings, mailoutbox, django_capture_on_commit_callbacks
):
    from reviewapp.reports.tasks import MAX_RETRIES

    with _Hook([500] * 50) as hook:
        notify_settings.LONGTAIL = {**notify_settings.LONGTAIL, "ALARM_WEBHOOK_URL": hook.url}
        alarm = _raise_alarm(reviewer, django_capture_on_commit_callbacks)
    assert len(hook.bodies) == 1 + MAX_RETRIES
    assert alarm.notification_error == "webhook: HTTP 500 from the webhook"
    # The e-mail channel still went out, and the alarm itself stands.
    assert len(mailoutbox) == 1 and alarm.notified_at is not None
    assert Alarm.objects.count() == 1


def test_unreachable_webhook_does_not_block_the_computation(
    reviewer, notify_settings, mailoutbox, django_capture_on_commit_callbacks
):
    # A port nobody listens on: connection refused, retried, recorded.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notify_settings.LONGTAIL = {
        **notify_settings.LONGTAIL,
        "ALARM_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "ALARM_EMAILS": [],
    }
    alarm = _raise_alarm(reviewer, django_capture_on_commit_callbacks)
    assert alarm.notification_error.startswith("webhook: URLError")
    assert alarm.notified_at is None
    assert np.isfinite(alarm.evidence["ci_high"])
