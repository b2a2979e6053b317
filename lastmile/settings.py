"""Settings, read from the environment (django-environ).

Every knob an operator turns is an environment variable (optionally in a ``.env`` file at the
repository root). Without ``DATABASE_URL`` the app runs on an SQLite file in ``var/``; without
``REDIS_URL`` Celery tasks run in-process, so the demo needs no server at all.
"""

import datetime as dt
import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core --------------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A development key is only acceptable while DEBUG is on; production must bring its own.
_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off. "
            "Set it to a long random string (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'`)."
        )
    SECRET_KEY = _DEV_SECRET_KEY
# Earlier secret keys (comma-separated, newest first), still accepted while a rotation is under
# way: sessions, signed links (sign-up confirmation, password reset) and IBANs stored under the
# keys derived from them (workforce/crypto.py) keep working. Put the old key here when setting a
# new DJANGO_SECRET_KEY; remove it once links have expired and rotate_field_keys has run.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "lastmile.core.apps.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Third party
    "axes",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "csp",  # its system checks catch a malformed CONTENT_SECURITY_POLICY
    # Ours: the project's core domain, one Django app per concern.
    "lastmile.core",
    "lastmile.accounts",
    "lastmile.hubs",
    "lastmile.partners",
    "lastmile.orders",
    "lastmile.dispatch",
    # Top-level apps of the wider product.
    "fleet",
    "workforce",
    # The project's cross-app commands (seed_demo); it imports every app, none imports it.
    "lastmile.project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Refuses an oversized body (REQUEST_MAX_BODY_BYTES) before anything reads it.
    "lastmile.core.limits.RequestBodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lastmile.urls"
WSGI_APPLICATION = "lastmile.wsgi.application"

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
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'lastmile.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The demo's web process and in-process tasks share one file: wait for a lock rather than
    # failing with "database is locked", and take the write lock up front.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "admin:login"

# --- Sign-in protection ------------------------------------------------------------------------

# django-axes checks every sign-in (back-office and courier portal) before the password does;
# it needs the request, so code calling ``authenticate()`` must pass one.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# This many failed sign-ins for one username from one IP address lock that pair out for the
# cool-off (counted from the last failure). Admins unlock early in the admin's "Access
# attempts" (delete the row) or with ``manage.py axes_reset_username <name>``.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A success clears the pair's failures; tries while locked out neither count nor extend it,
# so the time the lockout page gives is the time it ends.
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "lastmile.core.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "lastmile.core.clientip.client_ip"
# Sign-in records (axes' AccessLog: every sign-in with IP address and browser; AccessFailureLog:
# every failed one) are personal data kept only this long; core.prune_access_logs deletes older
# ones nightly.
AXES_LOG_RETENTION_DAYS = env.int("AXES_LOG_RETENTION_DAYS", default=90)
# Behind a reverse proxy, REMOTE_ADDR is the proxy's: read the client's address from
# X-Forwarded-For instead, only the entry our proxies appended (TRUSTED_PROXY_COUNT of them in
# front of the app). Off by default: anyone can send that header to an app not behind a proxy.
USE_X_FORWARDED_HEADERS = env.bool("USE_X_FORWARDED_HEADERS", default=False)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
# Courier portal forms that send mail (sign-up, resend the confirmation, password reset), each
# counted per client IP and per email address; "count/period" with s, m, h or d (e.g. "5/15m").
PORTAL_RATE_PER_IP = env.str("PORTAL_RATE_PER_IP", default="20/h")
PORTAL_RATE_PER_ADDRESS = env.str("PORTAL_RATE_PER_ADDRESS", default="5/h")
# django-ratelimit keys "ip" through the same resolver, should a view use its decorator.
RATELIMIT_IP_META_KEY = AXES_CLIENT_IP_CALLABLE

# --- Internationalisation and time -------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
# The back-office's display zone; every hub also carries its own zone for its service day.
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
# Phone numbers typed without a country code are read in this region; all are stored E.164.
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="DE")
PHONENUMBER_DB_FORMAT = "E164"
USE_TZ = True

# --- Email ------------------------------------------------------------------------------------

# ``smtp+tls://user:password@host:587``; the default prints mails to the console (demo).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS, …
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Last-mile back-office <noreply@lastmile.invalid>"
)
# Absolute base for links in emails and messages (verification links, tracking pages).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Static and uploaded files -----------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=VAR_DIR / "static")
# Uploads (proofs of delivery, courier documents) live outside the web root and are served
# only through views that check who is asking.
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Request and upload limits. Any body larger than REQUEST_MAX_BODY_BYTES is refused with a 413
# from its Content-Length before anything reads it (core.limits); the largest legitimate body
# is an order file (20 MB) with its form. Set it to the proxy's client_max_body_size or below.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=21 * 1024 * 1024)
# Non-file request data (JSON, form fields) held in memory; a bigger body is a 413 problem.
# A full telematics batch (1,000 pings) is about 200 kB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Uploaded files above this size are streamed to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Fields and files one request may carry (admin list actions post one field per row).
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=1000)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=10)

# --- Security (production) ---------------------------------------------------------------------

# Set only when the app runs behind a reverse proxy that terminates TLS and overwrites the
# X-Forwarded-* headers it receives from clients. Off, those headers are ignored: anyone can
# send "X-Forwarded-Proto: https" straight to the app, and trusting it would make plain-HTTP
# requests look secure. (django-axes reads the same switch for the client's address.)
USE_X_FORWARDED_HEADERS = env.bool("USE_X_FORWARDED_HEADERS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if USE_X_FORWARDED_HEADERS else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /healthz answers load balancers over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Cache, Redis and Celery -------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without Redis every task runs in-process at the call site, so the demo works with no broker.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Planning is CPU-bound and long; notifications are many and I/O-bound; everything else is
# "default". Separate queues let each get its own workers.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("planning"), Queue("notifications"), Queue("default"))
CELERY_TASK_ROUTES = {
    "routing.*": {"queue": "planning"},
    "dispatch.plan*": {"queue": "planning"},
    "dispatch.replan*": {"queue": "planning"},
    "fleet.plan_*": {"queue": "planning"},
    "notifications.*": {"queue": "notifications"},
    "webhooks.*": {"queue": "notifications"},
}
# A task is acknowledged only once it finished, and re-queued if its worker dies, so no work is
# lost; tasks are written to be idempotent for that reason. One message at a time per process
# keeps long planning runs from hoarding short ones.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
# With late acks Redis re-delivers unacknowledged messages after this; it must exceed the
# longest task, or a long planning run would be started twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 10 * 60}
CELERY_WORKER_SEND_TASK_EVENTS = True
# Leases on background work (plans, re-plans, charging plans; lastmile/core/leases.py): a run
# renews its lease while it works, and a lease not renewed for TASK_LEASE_S means its worker
# died (killed, out of memory, host lost), so the run may be taken over. It must exceed the
# longest pause between two heartbeats (a charging solve has none: 20 s).
TASK_LEASE_S = env.int("TASK_LEASE_S", default=120)
# A run whose worker was lost is restarted until it was started this many times in all; then
# it fails with that reason instead of being retried forever.
TASK_MAX_ATTEMPTS = env.int("TASK_MAX_ATTEMPTS", default=3)
# Work still waiting for a worker this long after its task was sent (a message lost in a
# broker restart) is sent again by the sweepers; a late duplicate finds nothing to do.
TASK_RESEND_AFTER_S = env.int("TASK_RESEND_AFTER_S", default=60)
CELERY_BEAT_SCHEDULE = {
    f"heartbeat-{queue}": {
        "task": "core.queue_heartbeat",
        "schedule": 60.0,
        "args": (queue,),
        "options": {"queue": queue, "expires": 55},
    }
    for queue in ("planning", "notifications", "default")
}
# Raw telematics pings past their retention go at night, when ingest is quiet.
CELERY_BEAT_SCHEDULE["fleet-prune-pings"] = {
    "task": "fleet.prune_pings",
    "schedule": crontab(hour=3, minute=30),
}
# Sign-in records past AXES_LOG_RETENTION_DAYS go at night, like the pings.
CELERY_BEAT_SCHEDULE["core-prune-access-logs"] = {
    "task": "core.prune_access_logs",
    "schedule": crontab(hour=3, minute=45),
}
# Workforce: expired courier documents are flagged daily (06:15); completed stops become ledger
# entries every 15 minutes; the last pay week is closed on Monday mornings. All idempotent.
CELERY_BEAT_SCHEDULE.update(
    {
        "workforce-flag-expired-documents": {
            "task": "workforce.flag_expired_documents",
            "schedule": crontab(hour=6, minute=15),
        },
        "workforce-accrue-earnings": {
            "task": "workforce.accrue_earnings",
            "schedule": crontab(minute="*/15"),
        },
        "workforce-close-payout-week": {
            "task": "workforce.close_payout_week",
            "schedule": crontab(day_of_week="mon", hour=3, minute=0),
        },
        # Catches a Monday close whose message or worker was lost (a no-op once closed).
        "workforce-close-overdue-payout-week": {
            "task": "workforce.close_overdue_payout_week",
            "schedule": crontab(minute=20),
        },
    }
)
# Dispatch: tomorrow's routes for every active hub, planned at 22:00 once the day's orders are in.
# Tomorrow is planned for every hub at this hour (CELERY_TIMEZONE); the catch-up at :30 and
# the next hour plans the hubs a lost nightly message missed.
DISPATCH_NIGHTLY_PLAN_HOUR = env.int("DISPATCH_NIGHTLY_PLAN_HOUR", default=22)
if not 0 <= DISPATCH_NIGHTLY_PLAN_HOUR <= 22:
    raise ImproperlyConfigured("DISPATCH_NIGHTLY_PLAN_HOUR must be 0-22 (its catch-up runs after).")
CELERY_BEAT_SCHEDULE["dispatch-plan-tomorrow"] = {
    "task": "dispatch.plan_tomorrow",
    "schedule": crontab(hour=DISPATCH_NIGHTLY_PLAN_HOUR, minute=0),
}
CELERY_BEAT_SCHEDULE["dispatch-plan-tomorrow-catch-up"] = {
    "task": "dispatch.plan_tomorrow_catch_up",
    "schedule": crontab(
        hour=f"{DISPATCH_NIGHTLY_PLAN_HOUR},{DISPATCH_NIGHTLY_PLAN_HOUR + 1}", minute="30"
    ),
}
# Published days of today are watched for new and cancelled orders each minute (debounced).
CELERY_BEAT_SCHEDULE["dispatch-replan-watch"] = {
    "task": "dispatch.watch_live_days",
    "schedule": 60.0,
}
# Lost planning work (see TASK_LEASE_S): queued plans and re-plans sent again, running ones whose
# worker died restarted or given up; the same for charging plans.
CELERY_BEAT_SCHEDULE["dispatch-sweep-runs"] = {
    "task": "dispatch.sweep_runs",
    "schedule": 60.0,
    "options": {"expires": 55},
}
CELERY_BEAT_SCHEDULE["fleet-sweep-charging-plans"] = {
    "task": "fleet.sweep_charging_plans",
    "schedule": 60.0,
    "options": {"expires": 55},
}
CELERY_BEAT_SCHEDULE["dispatch-expire-offers"] = {
    "task": "dispatch.expire_offers",
    "schedule": 60.0,
    "options": {"expires": 55},
}

# --- API ---------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "lastmile.core.api.exception_handler",
    # Requests per credential (``lastmile.core.throttles``): "count/period", period one of
    # second, minute, hour, day. Past it the API answers 429 with Retry-After.
    "DEFAULT_THROTTLE_RATES": {
        # per courier on the driver API (route reads, stop updates)
        "driver": env.str("API_RATE_DRIVER", default="120/minute"),
        # per telematics device on ping ingest (each request a batch)
        "telematics": env.str("API_RATE_TELEMATICS", default="60/minute"),
    },
    # DRF's parsers read the stream directly; these refuse a body over
    # DATA_UPLOAD_MAX_MEMORY_SIZE (413) before parsing it.
    "DEFAULT_PARSER_CLASSES": [
        "lastmile.core.limits.LimitedJSONParser",
        "lastmile.core.limits.LimitedFormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Last-mile back-office API",
    "DESCRIPTION": (
        "The driver API (a courier's routes and stop updates) and the fleet API (telematics "
        "ingest for devices; vehicles, charging sessions and charging plans for staff). "
        "The partner order API and webhooks are planned, not available yet.\n\n"
        "Every error is a problem+json body (the `Problem` schema) with a stable `code` to "
        "branch on. Each operation's error responses list the codes it can give, with their "
        "meaning; they come from the `ErrorCode` enums (`lastmile/core/errors.py` and each "
        "app's `errors.py`), whose values never change."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Workforce (couriers and payouts) -----------------------------------------------------------

# Couriers accept this version of the terms; a new version asks everyone again.
WORKFORCE_TERMS_VERSION = env.str("WORKFORCE_TERMS_VERSION", default="2026-01")
# Fernet keys (comma-separated, newest first) that encrypt couriers' IBANs: the first encrypts,
# all decrypt; put a new key first, run `manage.py rotate_field_keys`, then drop the old one.
# Required with DEBUG off (system check workforce.E001); in debug a key derived from
# SECRET_KEY is used when none is set.
WORKFORCE_FIELD_ENCRYPTION_KEYS = env.list("WORKFORCE_FIELD_ENCRYPTION_KEYS", default=[])
# Also read values written under the keys derived from SECRET_KEY / SECRET_KEY_FALLBACKS (data
# stored before explicit keys were set). Turn off once rotate_field_keys has moved everything.
WORKFORCE_FIELD_ENCRYPTION_DERIVED_FALLBACK = env.bool(
    "WORKFORCE_FIELD_ENCRYPTION_DERIVED_FALLBACK", default=True
)
# Four eyes on payouts: whoever approved a batch (or released its account hold) cannot export
# it. Turn off only where one person runs the finances alone.
WORKFORCE_PAYOUT_FOUR_EYES = env.bool("WORKFORCE_PAYOUT_FOUR_EYES", default=True)
WORKFORCE_PAYOUT_CURRENCY = "EUR"  # SEPA transfers are in euro
# The account payouts are paid from (the debtor of the SEPA file). The demo uses a test IBAN.
WORKFORCE_SEPA_DEBTOR_NAME = env.str(
    "WORKFORCE_SEPA_DEBTOR_NAME", default="Lastmile Demo GmbH" if DEBUG else ""
)
WORKFORCE_SEPA_DEBTOR_IBAN = env.str(
    "WORKFORCE_SEPA_DEBTOR_IBAN", default="DE02120300000000202051" if DEBUG else ""
)
WORKFORCE_SEPA_DEBTOR_BIC = env.str(
    "WORKFORCE_SEPA_DEBTOR_BIC", default="BYLADEM1001" if DEBUG else ""
)

# --- Maps --------------------------------------------------------------------------------------

MAP_TILES_URL = env.str("MAP_TILES_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILES_ATTRIBUTION = env.str(
    "MAP_TILES_ATTRIBUTION", default="&copy; OpenStreetMap contributors"
)
LEAFLET_CONFIG = {
    "TILES": [("Map", MAP_TILES_URL, {"attribution": MAP_TILES_ATTRIBUTION, "maxZoom": 19})],
    "DEFAULT_CENTER": (
        env.float("MAP_CENTER_LAT", default=52.52),
        env.float("MAP_CENTER_LNG", default=13.405),
    ),
    "DEFAULT_ZOOM": env.int("MAP_DEFAULT_ZOOM", default=11),
    "RESET_VIEW": False,
}

# --- Content Security Policy (django-csp) -------------------------------------------------------


def _tile_source(url: str) -> str:
    """The origin map tiles load from, as a CSP source; ``{s}`` subdomains become ``*``."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return SELF  # a relative tile URL is served by this site
    return f"{parts.scheme}://{re.sub(r'{[^}]*}', '*', parts.netloc)}"


# Every page says where its content may come from. Scripts only from our own static files
# (or an inline script carrying this response's nonce, ``request.csp_nonce``; none needs one
# today): no 'unsafe-inline', so markup slipped into a page cannot run script. Inline styles
# stay allowed: the admin and our templates use style attributes, and styles run no code.
# Images come from here, data: URIs (Swagger UI's icons) and the map tile server.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", _tile_source(MAP_TILES_URL)],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Where browsers post violation reports (e.g. a Sentry CSP endpoint); empty: none are sent.
# (Not named CSP_REPORT_URI: django-csp 4 refuses to start with its old 3.x setting names.)
_csp_report_uri = env.str("DJANGO_CSP_REPORT_URI", default="")
if _csp_report_uri:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [_csp_report_uri]

# --- Orders: plausibility of imported and created orders ---------------------------------------

# Each check is "error" (the order is refused), "warning" (a dispatcher confirms it before it
# is written) or "off"; "check=level" pairs override the defaults (see
# lastmile/orders/plausibility.py): past_date=error, far_ahead=warning, capacity=error,
# radius=warning, window=warning.
ORDER_CHECK_LEVELS = env.dict("ORDER_CHECK_LEVELS", default={})
# A delivery date more than this many days after the hub's today is implausible.
ORDER_MAX_DAYS_AHEAD = env.int("ORDER_MAX_DAYS_AHEAD", default=60)
# Addresses farther than this from their hub (great circle) are outside its service area.
ORDER_SERVICE_RADIUS_KM = env.float("ORDER_SERVICE_RADIUS_KM", default=30.0)
# Delivery windows longer than this many hours, or shorter than this many minutes.
ORDER_WINDOW_MAX_H = env.float("ORDER_WINDOW_MAX_H", default=12.0)
ORDER_WINDOW_MIN_MIN = env.int("ORDER_WINDOW_MIN_MIN", default=30)

# --- Fleet -------------------------------------------------------------------------------------

# Raw telematics pings older than this are deleted by ``fleet.prune_pings`` (nightly); each
# vehicle's last known position and state of charge are kept regardless.
FLEET_PING_RETENTION_DAYS = env.int("FLEET_PING_RETENTION_DAYS", default=90)
# CO2 of grid electricity for electric vehicles' emissions, g/kWh (the German mix of 2023 was
# about 380 by the Umweltbundesamt's estimate). Combustion vans carry their own g/km.
FLEET_GRID_CO2_G_PER_KWH = env.int("FLEET_GRID_CO2_G_PER_KWH", default=380)
# Share of grid energy that reaches the battery (charger and battery losses), %.
FLEET_CHARGING_EFFICIENCY_PCT = env.int("FLEET_CHARGING_EFFICIENCY_PCT", default=90)
# Energy kept in reserve, % of the usable battery: routing plans with the battery minus this,
# and charging adds it on top of a route's energy need.
FLEET_ENERGY_RESERVE_PCT = env.int("FLEET_ENERGY_RESERVE_PCT", default=10)

# --- Dispatch ----------------------------------------------------------------------------------

# How long the engine searches per hub and day, seconds (the best plan found by then is kept).
DISPATCH_TIME_LIMIT_S = env.float("DISPATCH_TIME_LIMIT_S", default=30.0)
# An OSRM-compatible server for road distances and times; empty: great-circle estimates.
DISPATCH_OSRM_URL = env.str("DISPATCH_OSRM_URL", default="")
DISPATCH_OSRM_TIMEOUT_S = env.float("DISPATCH_OSRM_TIMEOUT_S", default=10.0)
# Vehicles' shift (hub-local "HH:MM-HH:MM") on a day the hub has no opening hours.
DISPATCH_DEFAULT_SHIFT = env.str("DISPATCH_DEFAULT_SHIFT", default="08:00-18:00")
# Profiles that go out several times a day, reloading at the hub in between (cargo bikes).
DISPATCH_MULTI_TRIP_PROFILES = env.list("DISPATCH_MULTI_TRIP_PROFILES", default=["cargo_bike"])
DISPATCH_MAX_TRIPS = env.int("DISPATCH_MAX_TRIPS", default=3)
DISPATCH_RELOAD_S = env.int("DISPATCH_RELOAD_S", default=600)
# Drivers' breaks by working-time rule: "after=total" steps, hub-local durations "H:MM": after
# more than 6 h of work 30 min of breaks, after more than 9 h 45 min in all (Germany,
# ArbZG §4), with no more than DISPATCH_BREAK_MAX_WORK_IN_ROW of work without a break.
# Empty or "off" plans no breaks (drivers whose contracts handle it elsewhere).
DISPATCH_BREAK_RULE = env.str("DISPATCH_BREAK_RULE", default="6:00=0:30,9:00=0:45")
DISPATCH_BREAK_MAX_WORK_IN_ROW = env.str("DISPATCH_BREAK_MAX_WORK_IN_ROW", default="6:00")
# The arrival window promised to each customer when a plan is published, seconds.
DISPATCH_ETA_WINDOW_S = env.int("DISPATCH_ETA_WINDOW_S", default=3600)
# How long a crowd courier has to accept a route offer before it goes to the next, seconds.
DISPATCH_OFFER_TTL_S = env.int("DISPATCH_OFFER_TTL_S", default=15 * 60)
# Re-planning a published day: triggers within the debounce join one run; the engine gets
# this long; a stop changes route only when that saves more than the move cost (objective
# units: metres under the distance objective, minor currency units under the cost one).
DISPATCH_REPLAN_DEBOUNCE_S = env.int("DISPATCH_REPLAN_DEBOUNCE_S", default=60)
DISPATCH_REPLAN_TIME_LIMIT_S = env.float("DISPATCH_REPLAN_TIME_LIMIT_S", default=10.0)
DISPATCH_REPLAN_MOVE_COST = env.int("DISPATCH_REPLAN_MOVE_COST", default=2000)
# A stop whose ETA passes its window's end by more than this triggers a re-plan, seconds.
DISPATCH_LATE_REPLAN_S = env.int("DISPATCH_LATE_REPLAN_S", default=15 * 60)
# A telematics fix (position, state of charge) older than this is not used to re-plan.
DISPATCH_POSITION_MAX_AGE_S = env.int("DISPATCH_POSITION_MAX_AGE_S", default=10 * 60)
# Failures worth another try the same day (the parcel stays on the vehicle), how long after
# the failed attempt, and how many attempts a day an order gets at most.
DISPATCH_RETRY_SAME_DAY_REASONS = env.list(
    "DISPATCH_RETRY_SAME_DAY_REASONS", default=["recipient_absent", "access_denied"]
)
DISPATCH_RETRY_AFTER_S = env.int("DISPATCH_RETRY_AFTER_S", default=3600)
DISPATCH_MAX_ATTEMPTS_PER_DAY = env.int("DISPATCH_MAX_ATTEMPTS_PER_DAY", default=2)
# A customer hears of a new ETA window after a re-plan only if it shifted at least this much.
DISPATCH_ETA_CHANGE_MIN_S = env.int("DISPATCH_ETA_CHANGE_MIN_S", default=10 * 60)

# --- Logging -----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
