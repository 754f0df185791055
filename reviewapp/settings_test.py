"""Test settings: the real settings with a development secret and a fast password hasher.

The database and broker still come from the environment, so CI runs the same tests against
PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL) that a laptop runs against SQLite.
"""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tasks run in-process unless a test starts a real worker (tests/conftest.py: celery_worker),
# so that a task sent by one test is never left in a shared broker for another to pick up.
CELERY_TASK_ALWAYS_EAGER = True
