"""Production settings pass `manage.py check --deploy` and really send secure cookies and headers.

Each check runs in a subprocess with a production environment (DEBUG off, a real 50+ character
secret, a real host), because settings are read once per process and the test process runs
the test settings.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing of the test run's own configuration leaks into "production".
        if not key.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_", "AXES_"))
        and key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="reviewapp.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = production_env(tmp_path)
    assert len(env["SECRET_KEY"]) >= 50
    result = run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_development_secret_is_refused_in_production(tmp_path):
    env = production_env(tmp_path, SECRET_KEY="dev-only-insecure-key-do-not-use-in-production")
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/login/", HTTP_HOST="example.org")
page = client.get("/login/", HTTP_HOST="example.org", secure=True)
csrf = page.cookies["csrftoken"]
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "status": page.status_code,
    "hsts": page.get("Strict-Transport-Security"),
    "frame": page.get("X-Frame-Options"),
    "nosniff": page.get("X-Content-Type-Options"),
    "referrer": page.get("Referrer-Policy"),
    "coop": page.get("Cross-Origin-Opener-Policy"),
    "csrf_secure": bool(csrf["secure"]),
    "csrf_samesite": csrf["samesite"],
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "evil_host": client.get("/login/", HTTP_HOST="evil.example", secure=True).status_code,
}))
"""


def test_production_answers_carry_secure_cookies_and_headers(tmp_path):
    result = run(["-c", PROBE], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # Plain HTTP is redirected to HTTPS before any page is served.
    assert seen["plain_status"] == 301
    assert seen["plain_location"] == "https://example.org/login/"
    assert seen["status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["frame"] == "DENY"
    assert seen["nosniff"] == "nosniff"
    assert seen["referrer"] == "same-origin"
    assert seen["coop"] == "same-origin"
    assert seen["csrf_secure"] is True and seen["csrf_samesite"] == "Lax"
    assert seen["session_secure"] is True and seen["session_httponly"] is True
    # A Host header outside ALLOWED_HOSTS is refused.
    assert seen["evil_host"] == 400
