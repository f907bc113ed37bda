"""Settings, read from the environment.

With no DATABASE_URL the app uses a SQLite file in the checkout; with no REDIS_URL
Celery runs tasks eagerly in-process. With both set it is the real stack. Tests
override in one place: tests/conftest.py.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc


DEBUG = env_bool("DJANGO_DEBUG", default=False)

# Fail closed: with DEBUG off (production, the default) the app refuses to start without
# its own secret key and host names. Only DJANGO_DEBUG=1 (``make run``) falls back to
# development values that must never serve real traffic.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production needs its own random key of 50 or more "
            "characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'; "
            "for local development set DJANGO_DEBUG=1 instead."
        )
    # Reached only with DEBUG on (bandit B105 / ruff S105 reviewed: a development value).
    SECRET_KEY = "dev-only-insecure-key-never-used-with-debug-off"  # noqa: S105  # nosec B105
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS is not set. Give the host names this service answers to, "
            "comma-separated (e.g. devices.example.police.uk); for local development set "
            "DJANGO_DEBUG=1 instead."
        )
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
# Rotation: the previous key(s), comma-separated, still verify existing sessions and
# signed links until they expire (README "Security").
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "simple_history",
    "axes",
    "csp",
    "core",
    "accounts",
    "devices",
    "refresh",
    "procurement",
    "disposals",
    "reports",
    "workspace",
    "api",
    "demo",
]

# Widgets render through the project's templates too (core.forms.GovukDateInput).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response; request.csp_nonce for inline scripts.
    "csp.middleware.CSPMiddleware",
    # The database away: 503 with Retry-After, never a 500 (core/availability.py). Here,
    # outside the session and auth middlewares, so their database errors are caught too.
    "core.availability.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, so they see who is signed in (and, for the API, the
    # token's user DRF sets on the request while the view runs).
    "core.middleware.NoStoreForSignedInMiddleware",
    "core.middleware.SecurityEventMiddleware",
    "api.middleware.ApiErrorMiddleware",
    # After ApiErrorMiddleware, so a view's database error is a 503 before it is a 500.
    "core.availability.DatabaseUnavailableViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "config.navigation.navigation",
            ],
        },
    },
]

# Persistent connections (DATABASE_CONN_MAX_AGE seconds), checked before each request
# reuses one, so a connection PostgreSQL ended (a restart, pg_terminate_backend) is
# replaced instead of failing the request. Each gunicorn thread, Celery pool process and
# beat holds at most one: README "Operations" (Connection budget) adds them up.
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# With the database away, pages and the API answer 503 with this Retry-After (seconds).
DATABASE_UNAVAILABLE_RETRY_AFTER = env_int("DATABASE_UNAVAILABLE_RETRY_AFTER", 10)
# PostgreSQL connections kept free of the app for administration, migrations and
# monitoring: the connection budget must leave this many of max_connections.
DATABASE_CONNECTION_HEADROOM = env_int("DATABASE_CONNECTION_HEADROOM", 10)
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if not IS_POSTGRES:
    # SQLite: wait for a lock rather than fail, so eager tasks and the dev server coexist.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Lock an account after repeated failed logins (django-axes).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A GOV.UK page explaining the lock, instead of axes' bare text response.
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static_build"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the finders too, so the dev server, live-server tests and
# gunicorn behave the same; collectstatic fills STATIC_ROOT for production.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("FILE_STORAGE", "django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Mail (stewardship reports to unit leads, schedules): SMTP from the environment. The
# console backend (mail printed, never sent) only ever with DEBUG on.
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and not os.environ.get("DJANGO_EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587 if env_bool("DJANGO_EMAIL_USE_TLS", True) else 25)
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
# STARTTLS by default; DJANGO_EMAIL_USE_SSL for implicit TLS (port 465) instead.
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True) and not EMAIL_USE_SSL
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get(
    "DJANGO_DEFAULT_FROM_EMAIL", os.environ.get("DEFAULT_FROM_EMAIL", "device-refresh@localhost")
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# --- Celery: the broker, acknowledgement, time limits, run leases and the reaper -------
# README "Operations" (Broker; Leases and the reaper) explains each choice.
# The broker, first set wins: CELERY_BROKER_URL (production: RabbitMQ with durable
# queues, amqp://user:password@host:5672/vhost), BROKER_URL (the name other tools use),
# REDIS_URL (Redis as broker: development and CI; give it append-only persistence if it
# ever carries production work). None set: no worker, tasks run in this process.
# Redis (REDIS_URL) is the cache and the result store whichever broker carries the tasks.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = (
    os.environ.get("CELERY_BROKER_URL", "").strip()
    or os.environ.get("BROKER_URL", "").strip()
    or REDIS_URL
)
TASKS_HAVE_BROKER = bool(CELERY_BROKER_URL)
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not TASKS_HAVE_BROKER
CELERY_TASK_EAGER_PROPAGATES = True
# Without a broker, browser imports and report runs go to a small thread pool of the web
# process (core/background.py) so the page answers at once; on by default only for local
# development (DJANGO_DEBUG=1, no broker); otherwise such tasks run inline, as in tests.
TASKS_IN_THREADS = env_bool("DJANGO_TASKS_IN_THREADS", DEBUG and not TASKS_HAVE_BROKER)
TASKS_THREADS = env_int("DJANGO_TASKS_THREADS", 2)
# Every task is safe to run twice (report and import runs are claimed by compare-and-swap
# on their row, outbox rows likewise; the purge and the eligibility recompute are
# idempotent), so a message is acknowledged only when its task has finished, and one
# whose worker died (kill -9, OOM) goes back to the queue instead of being lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker that loses the broker connection stops its late-acknowledged tasks: the broker
# hands their messages to another worker, and the run rows keep the two from both working.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# One message at a time per process: nothing waits, unacknowledged, behind a long task.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The longest task is a 1,000,000-row import (about a minute on the benchmark machine);
# the limits leave room for a slow day and stop a task that hangs.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
# Redis as broker redelivers an unacknowledged message after the visibility timeout:
# longer than the longest task, or a running task would be handed out twice. RabbitMQ
# needs none (it redelivers when the worker's connection drops) and confirms each publish.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * CELERY_TASK_TIME_LIMIT}
elif CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Durable queue, persistent messages (Celery's defaults, stated): a broker restart keeps them.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Leases (core/leases.py): a worker holds a running report run, import run or outbox
# delivery for RUN_LEASE_SECONDS and renews it every third of that while it works. A
# lease that lapses means the worker died: a redelivered task or the reaper takes over.
RUN_LEASE_SECONDS = env_int("RUN_LEASE_SECONDS", 90)
# A queued row nobody has claimed this long lost its message (a broker restart, a purge):
# the reaper sends the wake-up again.
RUN_QUEUED_STALE_SECONDS = env_int("RUN_QUEUED_STALE_SECONDS", 300)
# A run, import or e-mail tried this many times is failed with the reason, not retried.
RUN_MAX_ATTEMPTS = env_int("RUN_MAX_ATTEMPTS", 5)
# Celery's retry of a failed report or e-mail: exponential from this many seconds.
RUN_RETRY_BACKOFF_SECONDS = env_int("RUN_RETRY_BACKOFF_SECONDS", 30)
RUN_REAPER_INTERVAL_SECONDS = env_int("RUN_REAPER_INTERVAL_SECONDS", 60)
# The reapers wait their turn in the queue behind long tasks. For prompt recovery under a
# backlog, give them a queue of their own (CELERY_REAPER_QUEUE=housekeeping) and a worker
# process that consumes it (celery -A config worker -Q housekeeping -c 1).
CELERY_TASK_ROUTES = {
    "*.tasks.*_reap_task": {
        "queue": os.environ.get("CELERY_REAPER_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
    }
}
# Installed into django_celery_beat's tables by the DatabaseScheduler when beat starts.
CELERY_BEAT_SCHEDULE = {
    "Reap stranded report runs and notifications": {
        "task": "reports.tasks.report_runs_reap_task",
        "schedule": float(RUN_REAPER_INTERVAL_SECONDS),
    },
    "Reap stranded import runs": {
        "task": "devices.tasks.import_runs_reap_task",
        "schedule": float(RUN_REAPER_INTERVAL_SECONDS),
    },
}

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that is down or unreachable fails fast (the throttle then counts
            # in-process: api/throttling.py) instead of holding the request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    # django-filter, refusing unknown parameters and unseen business units first (api/filters.py).
    "DEFAULT_FILTER_BACKENDS": ["api.filters.KnownParametersFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # JSON bounded in depth, with no lone surrogates or NULs (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("API_RATE_LIMIT", "600/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Tokens expire only when created with --expires-in; a token is revoked by deleting it.
# bandit B105 takes the key TOKEN_TTL for a password; it is knox's expiry setting.
REST_KNOX = {"TOKEN_TTL": None, "AUTO_REFRESH": False}  # nosec B105

SPECTACULAR_SETTINGS = {
    "TITLE": "Device refresh tracker API",
    "DESCRIPTION": "Integration API for ITSM and device-management tools.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema names every endpoint and field: signed-in users (session or token) only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the error answers it can give (api.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_error_responses",
    ],
    # Choice sets sharing a field name across apps get stable, readable names.
    "ENUM_NAME_OVERRIDES": {
        "PurchaseOrderStatusEnum": "procurement.models.PurchaseOrder.Status",
        "ApprovalRecordKindEnum": "procurement.models.ApprovalRecord.Kind",
        "DeviceStatusEnum": "devices.models.Device.Status",
        "ReportRunKindEnum": "reports.models.ReportRun.Kind",
        "ReportRunStatusEnum": "reports.models.ReportRun.Status",
    },
}

# Disposals: records are never deleted; they are kept at least this many years after a
# device is disposed (a retention policy applied by an audited archive, never a cascade).
DISPOSALS_RETENTION_YEARS = int(os.environ.get("DISPOSALS_RETENTION_YEARS", "7"))
# The largest partner certificate (PDF, PNG or JPEG) a consignment accepts.
DISPOSALS_CERTIFICATE_MAX_BYTES = int(
    os.environ.get("DISPOSALS_CERTIFICATE_MAX_BYTES", str(10 * 1024 * 1024))
)
# Disposals' API: its route and override-review choice sets get stable schema names
# (procurement has "route" choices of its own).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "DisposalRouteEnum": "disposals.models.Route",
        "RouteOverrideOutcomeEnum": "disposals.models.RouteOverrideSignOff.Outcome",
    }
)

# Reports: a unit's XLSX/CSV lists every device in its subtree up to this many devices;
# above it, only the devices the unit holds directly (each sub-unit's report lists its own).
REPORTS_MAX_DEVICE_ROWS = int(os.environ.get("REPORTS_MAX_DEVICE_ROWS", "100000"))
# The first month a report may be asked for ("YYYY-MM"): before the estate's first
# records, so every real month is allowed and a typo such as 0001-01 is refused.
REPORTS_FIRST_PERIOD = os.environ.get("REPORTS_FIRST_PERIOD", "2000-01")
# A deployed device unseen for this many days at a period's end is idle (reclaim).
REPORTS_IDLE_DAYS = env_int("REPORTS_IDLE_DAYS", 90)
# PostgreSQL work_mem for the figures' whole-estate scans (SET LOCAL per report).
REPORTS_WORK_MEM = os.environ.get("REPORTS_WORK_MEM", "128MB")
# Read the figures over two connections in one snapshot: measured slower at 1,000,000
# devices on two cores (bench/RESULTS.md), so off unless switched on.
REPORTS_CONCURRENT_FIGURES = env_bool("REPORTS_CONCURRENT_FIGURES", False)

# --- Estate import and bulk upsert limits ---------------------------------------------
# Checked before a file is parsed (devices/importing/limits.py), from the upload form,
# the import_estate command and the import task alike; a file past one is refused with a
# message naming the limit (form error, exit status 2) and nothing is written.
# The largest import file accepted: a 1,000,000-row CSV of every column is about 150 MB.
IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("IMPORT_MAX_UPLOAD_BYTES", str(256 * 1024 * 1024)))
# The most data rows one file may hold (the benchmark imports 1,000,000).
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "1000000"))
# An XLSX is a zip: the sum of its members' uncompressed sizes, and any one member, read
# from the zip directory before openpyxl opens it. openpyxl holds the shared strings in
# memory whole (a 158 KB file holding one 150 MB string cost a worker 1.77 GB), so this
# stays well below what a worker can afford; 100 MB is an XLSX of about 200,000 rows.
IMPORT_MAX_XLSX_EXPANDED_BYTES = int(
    os.environ.get("IMPORT_MAX_XLSX_EXPANDED_BYTES", str(100 * 1024 * 1024))
)
# Devices per POST /api/v1/devices/bulk/ (a larger request is a 400 naming the limit).
API_BULK_MAX_ITEMS = int(os.environ.get("API_BULK_MAX_ITEMS", "5000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # One JSON object per line: time, event, user, ip, path, outcome, detail.
        "security_json": {"()": "core.security_log.JsonLineFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "security": {"class": "logging.StreamHandler", "formatter": "security_json"}
        if not os.environ.get("SECURITY_LOG_FILE")
        else {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": os.environ["SECURITY_LOG_FILE"],
            "formatter": "security_json",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Security events (core/security_log.py) go to their own handler only, so a log
        # shipper can take them whole and they are not mixed into the application log.
        "security": {"handlers": ["security"], "level": "INFO", "propagate": False},
    },
}

# --- Transport and browser security --------------------------------------------------
# Production (DEBUG off) is HTTPS only. Behind a proxy that terminates TLS, set
# DJANGO_SECURE_PROXY_SSL_HEADER (e.g. "HTTP_X_FORWARDED_PROTO=https") so Django knows
# the request was secure; only if the proxy itself redirects plain HTTP may
# DJANGO_SECURE_SSL_REDIRECT=0 switch Django's own redirect off.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
_proxy_ssl_header = os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl_header:
    _header, _sep, _value = _proxy_ssl_header.partition("=")
    if not (_sep and _header.strip().startswith("HTTP_") and _value.strip()):
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must read HEADER=value with a WSGI header name, "
            f"e.g. HTTP_X_FORWARDED_PROTO=https, not {_proxy_ssl_header!r}."
        )
    SECURE_PROXY_SSL_HEADER = (_header.strip(), _value.strip())
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading binds the whole domain to HTTPS in every browser for good: only on request.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# Forms post the token from the page; no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A working day; a shared or unattended machine is signed out overnight.
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_COOKIE_AGE", 8 * 3600)
# The preload warning (security.W021) is the deploy check asking for something we leave
# off on purpose (above); silence exactly that one, and only while preload is off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Content-Security-Policy (django-csp 4): no inline script runs unless it carries this
# response's nonce (templates: nonce="{{ request.csp_nonce }}"), no eval, no plug-ins,
# nothing from other origins (GOV.UK Frontend, MOJ Frontend, Chart.js, htmx and Swagger
# UI are served from our static files). No 'unsafe-inline' anywhere.
CSP_INLINE_STYLE_HASHES = [
    # drf-spectacular's swagger_ui.html: its <style> block (box-sizing, background).
    "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # Style attributes need 'unsafe-hashes' to be matched by hash (CSP level 3); only
        # the exact styles listed above are allowed, nothing else inline.
        "style-src": [SELF, UNSAFE_HASHES, *CSP_INLINE_STYLE_HASHES],
        # data: for the empty favicon and the images Swagger UI and GOV.UK CSS inline.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
