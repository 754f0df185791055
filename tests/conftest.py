"""Shared fixtures: the four people every permission test talks about, and the services.

Services (PostgreSQL, Redis) are real. Where a test needs one that is not there, it skips on a
developer's machine and FAILS in CI (CI=true): CI must never pass by skipping.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get(
    "LONGTAIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("LONGTAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_service(name: str, url: str) -> None:
    """Skip (locally) or fail (CI) unless `url`'s host:port accepts a connection."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {parsed.hostname}:{parsed.port} ({exc})"
        if IN_CI:
            pytest.fail(message + " — CI needs it", pytrace=False)
        pytest.skip(message)


def require_postgres_database() -> None:
    """For tests of the PostgreSQL-only paths (COPY upsert, skip-locked claims)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        message = "this test needs DATABASE_URL to point at PostgreSQL"
        if IN_CI:
            pytest.fail(message + " — CI runs on PostgreSQL", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def pg_admin_url() -> str:
    require_service("PostgreSQL", PG_ADMIN_URL)
    return PG_ADMIN_URL


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_URL)
    return REDIS_URL


def _user(django_user_model, username: str, role: str | None):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=username, password="pass-" + username)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def reviewer(db, django_user_model):
    return _user(django_user_model, "rita", "reviewer")


@pytest.fixture
def qa_lead(db, django_user_model):
    return _user(django_user_model, "quinn", "qa_lead")


@pytest.fixture
def viewer(db, django_user_model):
    return _user(django_user_model, "vera", "viewer")


@pytest.fixture
def outsider(db, django_user_model):
    return _user(django_user_model, "otto", None)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def token_client(qa_lead):
    """An API client authenticated by a real token, as an integrator would be."""
    from rest_framework.test import APIClient

    from reviewapp.api.tokens import token_create

    client = APIClient()
    _, key = token_create(user=qa_lead, name="test")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def celery_worker(redis_url, transactional_db):
    """A real Celery worker thread consuming from Redis (db 15), for task tests. The test's
    database writes must be committed for the worker to see them (transactional_db)."""
    from celery.contrib.testing.worker import start_worker

    # The worker is another thread with its own connection: against pytest-django's in-memory
    # SQLite (shared cache, table locks that ignore the busy timeout) it is flaky; against
    # PostgreSQL it is what production runs.
    require_postgres_database()

    from reviewapp.celery import app

    previous = dict(app.conf)
    # A queue of this test run's own, so that a worker of another run sharing the Redis server
    # (a developer running two suites at once) never takes this run's tasks.
    queue_name = f"longtail-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    app.conf.update(
        broker_url=redis_url,
        result_backend=redis_url,
        task_always_eager=False,
        broker_connection_retry_on_startup=True,
        task_default_queue=queue_name,
    )
    restored = ("broker_url", "result_backend", "task_always_eager", "task_default_queue")

    def forget_backend() -> None:
        # Celery caches the result backend it built from the settings of the moment (disabled,
        # when an eager test touched it first); drop it so the Redis backend is built now.
        app._backend_cache = None
        app._local.__dict__.pop("backend", None)

    forget_backend()
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[queue_name]
        ) as worker:
            yield worker
    finally:
        app.conf.update({key: previous[key] for key in restored})
        forget_backend()


# Browser tests: ONE Playwright (and Chromium) per session, shared by every test module.
# Two sync Playwright instances alive in one thread fail ("Sync API inside the asyncio loop"),
# so modules use these fixtures by name and never alias them.
CHROMIUM = os.environ.get("LONGTAIL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_browser():
    """A headless Chromium for the session (Debian's binary; Playwright never downloads one)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " — CI needs it", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still
    # plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser):
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
