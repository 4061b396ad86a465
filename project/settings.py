"""Surge settings: 12-factor, read from the environment, with embedded development defaults.

Every variable is documented in README.md. `SURGE_ENV=production` turns off the development
conveniences (DEBUG, a generated SECRET_KEY) and refuses to start with a default secret.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from launcher.embedded import (
    DEFAULT_BUCKET,
    DEV_PROVIDER_API_KEY,
    DEV_PROVIDER_WEBHOOK_SECRET,
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    port_layout,
    var_dir,
)
from notifications.deliveries.vapid import generate_vapid_keys
from providers.conf import providers_from_json

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

SURGE_ENV = env.str("SURGE_ENV", default="development")
if SURGE_ENV not in ("development", "production"):
    raise ImproperlyConfigured("SURGE_ENV must be 'development' or 'production'")
PRODUCTION = SURGE_ENV == "production"
PORTS = port_layout()
VAR_DIR = var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
# `DEMO=1 make run` creates demo@surge.local with a password printed for anyone to read.
DEMO = env.bool("DEMO", default=False)
if PRODUCTION and DEMO:
    raise ImproperlyConfigured("DEMO=1 creates an account with a published password: it is "
                               "refused with SURGE_ENV=production")


def _development_secret_key() -> str:
    """Generated once into var/ so sessions survive restarts of a development checkout."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if PRODUCTION and (not SECRET_KEY or SECRET_KEY.startswith("django-insecure")
                   or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured("SURGE_ENV=production needs a SECRET_KEY of 32+ random characters")
SECRET_KEY = SECRET_KEY or _development_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else
                         ["127.0.0.1", "localhost", "[::1]", "testserver"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{PORTS.web}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us (no CDN)
    "csp",
    "django_q",
    "channels",
    "django_prometheus",
    "common",
    "accounts",
    "providers",
    "jobs",
    "notifications",
    "studio",
]

MIDDLEWARE = [
    # First and last: django-prometheus times every request (jobs/ops/metrics.py serves them).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "common.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "common.ratelimit.RateLimitedPagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "project.errors.FriendlyNotFoundMiddleware",  # Surge's 404 for pages in DEBUG too
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "project.urls"
# Threads per web process running Django for HTTP requests; each keeps one database connection.
WEB_THREADS = env.int("WEB_THREADS", default=4)
# ... and for reads (GET, HEAD, OPTIONS), so polls and pages never queue behind submissions.
WEB_READ_THREADS = env.int("WEB_READ_THREADS", default=2)
# ... and for the providers' webhooks, which free render slots: never behind submissions either.
WEB_WEBHOOK_THREADS = env.int("WEB_WEBHOOK_THREADS", default=2)
# Seconds a request may wait for a thread before it is answered 503 with Retry-After instead
# of being run late (0: wait however long). Well under a proxy's or a phone's timeout.
WEB_QUEUE_TIMEOUT = env.float("WEB_QUEUE_TIMEOUT", default=10.0)
if WEB_QUEUE_TIMEOUT < 0:
    raise ImproperlyConfigured("WEB_QUEUE_TIMEOUT must be 0 (no limit) or a number of seconds")
# The common submission (API token, selfie and style) answered from the event loop and written
# in batches by one thread per process (jobs/apis/intake.py); 0: every one through the view.
SUBMISSION_INTAKE = env.bool("SUBMISSION_INTAKE", default=True)
# The common status poll (API token, GET of one job) answered the same way, read in batches by
# one thread per process (jobs/apis/status_lane.py); 0: every poll through the view.
STATUS_LANE = env.bool("STATUS_LANE", default=True)
# The providers' webhooks about jobs we know, verified and received in batches by one thread
# per process, one write transaction a batch (jobs/webhook_lane.py); 0: each through the view.
WEBHOOK_LANE = env.bool("WEBHOOK_LANE", default=True)
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = None

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
                "studio.context_processors.notification_centre",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'surge.sqlite3'}")}
# django-q2 closes stale connections on every enqueue/dequeue; persistent ones keep it fast.
# Web requests run on a fixed pool of threads (WEB_THREADS), so a kept connection is reused.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg's pool: a process holds at most DB_POOL_SIZE connections whatever its thread
    # count, so many processes fit PostgreSQL's max_connections (100 by default).
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them instead
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": env.int("DB_POOL_SIZE", default=10), "timeout": 30}
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        # Parameters sent apart from the query, and a query run five times on a connection
        # prepared there: PostgreSQL stops parsing and planning it again (its CPU per
        # submission and status read down ~25-30 %, BENCHMARKS.md). Off (Django's client-side
        # binding) behind a pooler in transaction mode, which cannot keep prepared statements.
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
    # The same backend, with queries counted and timed for /metrics.
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite whose writers queue on a file lock rather than sleep in SQLite's busy handler.
    DATABASES["default"]["ENGINE"] = "common.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web and worker processes read while one of them writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory, so that worker processes started by the tests see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-surge.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, task broker, provider slots --------------------------------
REDIS_URL = env.str("REDIS_URL", default=f"redis://127.0.0.1:{PORTS.redis}/0")
# Every key this app writes starts with this, so several apps (or test runs) can share a Redis.
REDIS_PREFIX = env.str("SURGE_REDIS_PREFIX", default="surge")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
    }
}

CHANNEL_LAYERS = {
    "default": {
        # Pub/sub: a group is one Redis channel, so a message costs one PUBLISH however many
        # sockets receive it, and each socket process fans it out to its own sockets. Nothing
        # is stored: a socket that misses a message catches up from the job's timeline.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": f"{REDIS_PREFIX}:asgi",
        },
    }
}

Q_CLUSTER = {
    "name": REDIS_PREFIX,
    "redis": REDIS_URL,
    "workers": env.int("WORKER_PROCESSES", default=2),
    "timeout": env.int("TASK_TIMEOUT", default=120),
    "retry": env.int("TASK_TIMEOUT", default=120) + 60,  # must exceed timeout
    "max_attempts": 3,
    "save_limit": -1,  # keep failed tasks only: a row per success costs a write per task
    "ack_failures": True,
    "catch_up": False,
    "label": "Tasks",
}

# --- Media on S3 (SeaweedFS in development, AWS S3 in production) ----------------------------
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default=f"http://127.0.0.1:{PORTS.s3}")
S3_BUCKET = env.str("S3_BUCKET", default=DEFAULT_BUCKET)
S3_REGION = env.str("S3_REGION", default="us-east-1")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default=DEV_S3_ACCESS_KEY)
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default=DEV_S3_SECRET_KEY)
SIGNED_URL_SECONDS = env.int("SIGNED_URL_SECONDS", default=900)
# Largest request body the web server reads at all (a 10 MB selfie plus its multipart framing).
MAX_REQUEST_BODY_BYTES = 11 * 1024 * 1024
# Selfies are at most 10 MB: keep them in memory for Pillow rather than spooling to disk. The
# APIs refuse larger bodies by Content-Length (413) before parsing; non-file fields stay small.
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024 + 1
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": S3_ENDPOINT_URL or None,
            "region_name": S3_REGION,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": SIGNED_URL_SECONDS,
            "file_overwrite": False,
        },
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Accounts ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "landing"

# --- Who the client is, and the rate limits (common/ratelimit.py, counted in Redis) -----------
# Proxies in front of the app (nginx: 1). Only then is X-Forwarded-For read, and only the hop
# the outermost trusted proxy appended (common.ratelimit.client_ip; DRF's NUM_PROXIES below).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more")
# GET /metrics: a bearer token, or addresses/networks allowed without one; production needs one.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Failed sign-ins (API, pages, admin) per email and address, and per address whatever the email.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
# Sign-up attempts per address (API and page together).
SIGNUP_LIMIT = env.int("SIGNUP_LIMIT", default=30)
SIGNUP_WINDOW_SECONDS = env.int("SIGNUP_WINDOW_SECONDS", default=60 * 60)
# Password-reset requests per email address, and per client address.
PASSWORD_RESET_LIMIT = env.int("PASSWORD_RESET_LIMIT", default=3)
PASSWORD_RESET_ADDRESS_LIMIT = env.int("PASSWORD_RESET_ADDRESS_LIMIT", default=10)
PASSWORD_RESET_WINDOW_SECONDS = env.int("PASSWORD_RESET_WINDOW_SECONDS", default=60 * 60)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Surge <no-reply@surge.local>")

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: forms cannot carry nested objects or booleans; POST /selfies/ adds multipart.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Any DRF throttle identifies clients as common.ratelimit.client_ip does.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# API tokens: one per device (each sign-in), stored as a hash (django-rest-knox); they last
# until that device logs out, the password changes, or newer sign-ins push them out.
REST_KNOX = {"TOKEN_TTL": None, "AUTH_HEADER_PREFIX": "Token"}
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=20)
# Called on commit when credentials end, as hook(user_id=, session_key= | token_id= |
# keep_session_key=): how accounts/ closes the sockets that notifications/ holds.
SIGN_OUT_HOOKS = ["notifications.sockets.auth.on_sign_out"]
SPECTACULAR_SETTINGS = {
    "TITLE": "Surge API",
    "DESCRIPTION": "Turn a selfie into a short cinematic video. Every error body is "
                   '`{"message": str, "extra": {...}}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Providers --------------------------------------------------------------------------------
LOCAL_PROVIDER_URL = env.str("LOCAL_PROVIDER_URL",
                             default=f"http://127.0.0.1:{PORTS.local_provider}").rstrip("/")
LOCAL_PROVIDER_API_KEY = env.str("LOCAL_PROVIDER_API_KEY", default=DEV_PROVIDER_API_KEY)
LOCAL_PROVIDER_WEBHOOK_SECRET = env.str("LOCAL_PROVIDER_WEBHOOK_SECRET",
                                        default=DEV_PROVIDER_WEBHOOK_SECRET)


def _default_providers() -> dict[str, dict]:
    """Without PROVIDERS_JSON: the local provider that `make run` starts, in two dialects."""
    common = {
        "BACKEND": "local",
        "BASE_URL": LOCAL_PROVIDER_URL,
        "API_KEY": LOCAL_PROVIDER_API_KEY,
        "WEBHOOK_SECRET": LOCAL_PROVIDER_WEBHOOK_SECRET,
        "WEBHOOKS": True,
    }
    return {
        "local": {**common, "DIALECT": "replicate", "MODEL": "surge/cyberpunk-hero",
                  "PRIORITY": 10},
        "local-fal": {**common, "DIALECT": "fal", "MODEL": "surge/cyberpunk-hero",
                      "PRIORITY": 20},
    }


PROVIDERS = (providers_from_json(env.str("PROVIDERS_JSON"))
             if env.str("PROVIDERS_JSON", default="") else _default_providers())

# --- Jobs and dispatch ------------------------------------------------------------------------
MAX_ACTIVE_JOBS_PER_USER = env.int("MAX_ACTIVE_JOBS_PER_USER", default=20)
# Selfie uploads (multipart or upload slots) per user and window, and selfies a user may keep
# (unclaimed upload slots included).
SELFIE_UPLOAD_LIMIT = env.int("SELFIE_UPLOAD_LIMIT", default=20)
SELFIE_UPLOAD_WINDOW_SECONDS = env.int("SELFIE_UPLOAD_WINDOW_SECONDS", default=10 * 60)
MAX_SELFIES_PER_USER = env.int("MAX_SELFIES_PER_USER", default=200)
# Image memory the selfie decodes of one web process may hold together; more wait their turn.
SELFIE_DECODE_MEMORY_MB = env.int("SELFIE_DECODE_MEMORY_MB", default=256)
RECONCILE_INTERVAL = env.float("RECONCILE_INTERVAL", default=10.0)
POLL_AFTER = env.float("POLL_AFTER", default=30.0)
KEEP_WARM_IDLE = env.float("KEEP_WARM_IDLE", default=240.0)
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=3)
BREAKER_COOLDOWN_SECONDS = env.float("BREAKER_COOLDOWN_SECONDS", default=30.0)
STRANDED_AFTER = env.float("STRANDED_AFTER", default=120.0)
MAX_OUTPUT_BYTES = env.int("MAX_OUTPUT_BYTES", default=200 * 1024 * 1024)
OUTPUT_URL_ALLOWED_HOSTS = env.list("OUTPUT_URL_ALLOWED_HOSTS", default=[])
# A copied result must be a video within these (common/video_probe.py), or the job fails.
OUTPUT_MAX_SECONDS = env.float("OUTPUT_MAX_SECONDS", default=120.0)
OUTPUT_MAX_DIMENSION = env.int("OUTPUT_MAX_DIMENSION", default=4096)
# Run worker tasks (submissions, polls, copies, email, push) in the caller: tests, debugging.
TASKS_RUN_INLINE = env.bool("TASKS_RUN_INLINE", default=False)
# Called on commit after every job event as hook(job=, event=): how lower layers reach upper ones.
JOB_EVENT_HOOKS = [
    "jobs.dispatch.hooks.on_job_event",
    "jobs.eta.on_job_event",
    "notifications.sockets.queue_broadcast.on_job_event",
    "notifications.deliveries.services.on_job_event",
]
# At most one queue-position broadcast per this many seconds (notifications/sockets/queue_broadcast.py).
QUEUE_BROADCAST_INTERVAL = env.float("QUEUE_BROADCAST_INTERVAL", default=1.0)

# --- Notifications: email and Web Push ----------------------------------------------------------


def _development_vapid_keys() -> dict[str, str]:
    """Generated once into var/ (like SECRET_KEY) so browsers' push subscriptions stay valid."""
    path = VAR_DIR / "vapid.json"
    if not path.exists():
        path.write_text(json.dumps(generate_vapid_keys()))
        path.chmod(0o600)
    return json.loads(path.read_text())


VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="")
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
if not (VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY) and not PRODUCTION:
    _vapid = _development_vapid_keys()
    VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY = _vapid["public_key"], _vapid["private_key"]
# Without keys (production, unset) Web Push is off; in-app and email notifications still work.
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="mailto:admin@surge.local")
# Push endpoints must be https on public addresses (no SSRF). Development and tests only: these
# `host:port`s (a local push server) may be private or plain http.
PUSH_ALLOWED_PRIVATE_HOSTS = env.list("PUSH_ALLOWED_PRIVATE_HOSTS", default=[])
if PRODUCTION and PUSH_ALLOWED_PRIVATE_HOSTS:
    raise ImproperlyConfigured("PUSH_ALLOWED_PRIVATE_HOSTS is for development and tests only")

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Production is https only: plain http is redirected (health probes excepted: load balancers
# ask over http), and browsers are told never to use http again (HSTS, a year by default).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)


def _media_origin() -> str:
    """Where signed media URLs point (the S3 endpoint, path-style as boto3 signs them)."""
    if S3_ENDPOINT_URL:
        parts = urlsplit(S3_ENDPOINT_URL)
        return f"{parts.scheme}://{parts.netloc}"
    return ("https://s3.amazonaws.com" if S3_REGION == "us-east-1"
            else f"https://s3.{S3_REGION}.amazonaws.com")


MEDIA_ORIGIN = env.str("MEDIA_ORIGIN", default="") or _media_origin()
# Content-Security-Policy (django-csp): scripts and styles only from our own files (a nonce for
# the one page-specific <style>), media from the bucket, no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:", MEDIA_ORIGIN],
        "media-src": [SELF, "blob:", MEDIA_ORIGIN],
        "connect-src": [SELF, MEDIA_ORIGIN],  # 'self' covers our ws(s):; the bucket: Share
        "font-src": [SELF],
        "worker-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# JSON lines in production (one object per line, for a log pipeline), readable lines otherwise.
# Either way: request_id / job_id / provider / user_id context, and secrets redacted (common/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'plain', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "common.logs.ContextFilter"}},
    "formatters": {"plain": {"()": "common.logs.PlainFormatter"},
                   "json": {"()": "common.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
    },
}
