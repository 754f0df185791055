"""The one settings module: everything that varies between machines comes from the environment.

Tests use the same module (pytest sets DJANGO_SETTINGS_MODULE to it); the environment decides
the database and broker, so the same tests run on SQLite at a desk and on PostgreSQL in CI.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or default
    if value is None:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the development default; set a real one.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Login rate limiting: lock a username+IP pair after repeated wrong passwords.
    "axes",
    "drf_spectacular",
    "django_htmx",
    "template_partials",
    "reviewapp.responses",
    "reviewapp.review",
    "reviewapp.reports",
    "reviewapp.api",
    "reviewapp.ops",
]

MIDDLEWARE = [
    # First: every later middleware's log lines (and error responses) carry the request id.
    "reviewapp.ops.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out username+IP before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# Per username and IP together: one attacker cannot lock a colleague out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# Content-Security-Policy on every response (django-csp): answers and queries are attacker-
# controlled text, so even if escaping ever failed, no inline script, inline style, plugin, foreign
# form target or framing would run. Pages therefore load scripts and styles from static files only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

ROOT_URLCONF = "reviewapp.urls"
WSGI_APPLICATION = "reviewapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reviewapp.review.context_processors.roles",
                "reviewapp.reports.context_processors.reports_menu",
                "reviewapp.reports.context_processors.open_alarms",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'longtail.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A review tool has concurrent writers (ingest, reviewers); WAL and a busy timeout keep
    # SQLite usable for the embedded default.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Celery: without a broker URL tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == ""
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "pull-sources": {
        "task": "reviewapp.responses.tasks.pull_all_sources",
        "schedule": env_int("PULL_INTERVAL_SECONDS", 300),
    },
    # Each active plan's queue for the previous UTC day; idempotent, so a rerun is harmless.
    "build-daily-queues": {
        "task": "reviewapp.review.tasks.build_daily_queues",
        "schedule": crontab(hour=1, minute=0),
    },
    # Quality alarms for today and yesterday of every active plan; idempotent.
    "compute-recent-alarms": {
        "task": "reviewapp.reports.tasks.compute_recent_alarms",
        "schedule": crontab(minute=15),
    },
    # Redact texts older than LONGTAIL_RETENTION_DAYS (a no-op when unset); idempotent.
    "apply-retention": {
        "task": "reviewapp.ops.tasks.apply_retention",
        "schedule": crontab(hour=3, minute=30),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Hashed keys (reviewapp/api/models.py ApiToken), never DRF's clear-text authtoken.
        "reviewapp.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "reviewapp.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Longtail API",
    "DESCRIPTION": "Ingest production responses, review them, read per-tier accuracy.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components (e.g. PlanCreateRequest), so that what the API
    # refuses is in the schema: a CharField that may not be blank has minLength 1 there, and
    # read-only fields are left out, without claiming the same of the answers.
    "COMPONENT_SPLIT_REQUEST": True,
    # What Django's converters match: <int:> is [0-9]+ (a negative id never reaches a view),
    # <slug:> is [-a-zA-Z0-9_]+ (a plan name with a space is not a plan URL).
    "PATH_CONVERTER_OVERRIDES": {
        "int": {"type": "integer", "minimum": 0},
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    },
}

# Alarm e-mails; the console backend prints them until a real one is configured.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "longtail@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)

# A push request is parsed whole; 10,000 records with 384-dim embeddings is ~90 MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 128 * 1024 * 1024)

LONGTAIL = {
    # Per request of POST /api/v1/responses/ and /feedback/.
    "PUSH_MAX_RECORDS": env_int("LONGTAIL_PUSH_MAX_RECORDS", 10_000),
    # One record (a JSONL line or CSV row) longer than this is rejected, not parsed.
    "MAX_RECORD_BYTES": env_int("LONGTAIL_MAX_RECORD_BYTES", 2 * 1024 * 1024),
    "INGEST_BATCH_SIZE": env_int("LONGTAIL_INGEST_BATCH_SIZE", 5_000),
    "HTTP_PULL_TIMEOUT_SECONDS": env_int("LONGTAIL_HTTP_PULL_TIMEOUT_SECONDS", 30),
    # Alarms (reviewapp/reports/services.py): who hears of a new one, and how the CUSUM is set.
    "ALARM_EMAILS": env_list("LONGTAIL_ALARM_EMAILS", []),
    "ALARM_WEBHOOK_URL": os.environ.get("LONGTAIL_ALARM_WEBHOOK_URL", ""),
    "ALARM_WEBHOOK_TIMEOUT_SECONDS": env_int("LONGTAIL_ALARM_WEBHOOK_TIMEOUT_SECONDS", 10),
    "ALARM_MAX_RETRIES": env_int("LONGTAIL_ALARM_MAX_RETRIES", 5),
    "ALARM_RETRY_BASE_SECONDS": env_int("LONGTAIL_ALARM_RETRY_BASE_SECONDS", 30),
    # A plan without a baseline set on the alarms page uses its first this-many queue days.
    "ALARM_BASELINE_DAYS": env_int("LONGTAIL_ALARM_BASELINE_DAYS", 14),
    # The promise: at most ALARM_FALSE_ALARMS_PER_QUARTER false quality alarms per plan per
    # quarter (91 days) in ALARM_QUARTER_SHARE of stable quarters; all of a plan's CUSUM charts
    # are calibrated together for it (sampling.monitor.calibrate_plan, ALARM_CUSUM_RUNS
    # simulated quarters, the true in-control rates drawn from their baseline posterior).
    "ALARM_FALSE_ALARMS_PER_QUARTER": env_int("LONGTAIL_ALARM_FALSE_ALARMS_PER_QUARTER", 1),
    "ALARM_QUARTER_SHARE": float(os.environ.get("LONGTAIL_ALARM_QUARTER_SHARE", "0.95")),
    "ALARM_CUSUM_RUNS": env_int("LONGTAIL_ALARM_CUSUM_RUNS", 500),
    # Below target alarms when this interval of the trailing 7 days lies under the target
    # (checked daily on overlapping windows: 95 % would alarm on a tier sitting at target).
    "ALARM_BELOW_TARGET_CONFIDENCE": float(
        os.environ.get("LONGTAIL_ALARM_BELOW_TARGET_CONFIDENCE", "0.999")
    ),
    # Neyman allocation and the planner count the reviews of this many past days in full (older
    # ones weigh at most 20 reviews per stratum: sampling.allocation.neyman_history); 0 = all.
    "NEYMAN_WINDOW_DAYS": env_int("LONGTAIL_NEYMAN_WINDOW_DAYS", 14),
    # Response texts older than this many days are redacted (manage.py apply_retention and a
    # daily beat task); 0 or unset keeps them forever.
    "RETENTION_DAYS": env_int("LONGTAIL_RETENTION_DAYS", 0) or None,
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request_id, path,
# user_id, status, duration_ms, task_id) for a log collector; plain text otherwise.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "reviewapp.ops.logs.PlainFormatter"},
        "json": {"()": "reviewapp.ops.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes.apps announces its version at INFO on every start, management commands included:
    # noise on a command's stderr, which should speak only when something is wrong.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}
