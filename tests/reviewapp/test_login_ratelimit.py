"""Login attempts are rate-limited by django-axes: 5 wrong passwords for one username from one
IP lock that pair out for 15 minutes, even with the right password; the lock lifts afterwards."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def attempt(client, username: str, password: str, ip: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_settings_lock_after_5_failures_for_15_minutes_per_username_and_ip():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert dt.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_wrong_passwords_lock_the_account_then_the_right_one_is_refused(client, reviewer):
    answers = [attempt(client, "rita", f"wrong-{i}").status_code for i in range(6)]
    # Four failures re-show the form; the fifth reaches the limit and is answered by axes.
    assert answers == [200, 200, 200, 200, 429, 429]
    locked = attempt(client, "rita", "pass-rita")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # The lock is per username and IP: the same user from another address still gets in.
    assert attempt(client, "rita", "pass-rita", ip="198.51.100.9").status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, reviewer):
    for i in range(5):
        attempt(client, "rita", f"wrong-{i}")
    assert attempt(client, "rita", "pass-rita").status_code == 429
    # Fifteen minutes and a second pass: age the recorded failures instead of waiting.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - dt.timedelta(minutes=15, seconds=1)
    )
    answer = attempt(client, "rita", "pass-rita")
    assert answer.status_code == 302
    assert int(client.session["_auth_user_id"]) == reviewer.pk


def test_axes_reset_command_unlocks_at_once(client, reviewer):
    for i in range(5):
        attempt(client, "rita", f"wrong-{i}")
    assert attempt(client, "rita", "pass-rita").status_code == 429
    call_command("axes_reset_username", "rita")
    assert attempt(client, "rita", "pass-rita").status_code == 302


def test_a_success_before_the_limit_clears_the_failures(client, reviewer):
    for i in range(4):
        attempt(client, "rita", f"wrong-{i}")
    assert attempt(client, "rita", "pass-rita").status_code == 302
    client.logout()
    for i in range(4):
        assert attempt(client, "rita", f"again-{i}").status_code == 200


def test_force_login_is_not_rate_limited(client, reviewer):
    for i in range(6):
        attempt(client, "rita", f"wrong-{i}")
    client.force_login(reviewer)
    assert client.get("/review/").status_code == 200
