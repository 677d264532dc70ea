"""Settings: embedded defaults that need no variables; production reads the environment.

Embedded defaults (a first run on any machine): SQLite file under ``var/``, the in-memory channel
layer, one process. Production sets ``KAIBIAO_ENV=production`` plus ``DATABASE_URL`` (PostgreSQL),
``REDIS_URL``, ``SECRET_KEY`` and ``ALLOWED_HOSTS``; the checks in ``config/checks.py`` refuse unsafe
combinations (see docs/operations.md).
"""

import json
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from common.env import env_bool, env_int, env_list, env_str
from config import limits

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("KAIBIAO_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_str("KAIBIAO_ENV", "embedded") == "production"

# The embedded default secret is public by construction; config.checks refuses it in production.
EMBEDDED_SECRET_KEY = "embedded-default-secret-key-not-for-production-0123456789-abcdefghij"
SECRET_KEY = env_str("SECRET_KEY", EMBEDDED_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "config.apps.ConfigAppConfig",
    "accounts",
    "audit",
    "bidding",
    "evaluation",
    "collusion",
    "award",
    "exchange",
    "realtime",
    "documents",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",  # every response, the error pages too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "frontend.middleware.PlatformErrorMiddleware",
    # Budgets of failed sign-ins per account and per address, checked before the form is.
    "accounts.throttle.SignInThrottleMiddleware",
    # Last, as django-axes requires: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context.catalogue",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
_sqlite_default = f"sqlite:///{VAR_DIR / 'kaibiao.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", _sqlite_default), conn_max_age=0),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Several threads (sync_to_async) write: wait for the lock instead of failing at once.
    # BEGIN IMMEDIATE: a transaction takes the write lock up front, so two writers queue instead of
    # one failing when it upgrades its read lock (the audit head is read, then written).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
else:
    # Name the test database explicitly: a forked live server must find the same one.
    DATABASES["default"]["TEST"] = {"NAME": "test_" + DATABASES["default"]["NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # redis-py's async pool defaults to 100 connections: a burst of handshakes above it
            # fails with MaxConnectionsError, so size it explicitly.
            "CONFIG": {"hosts": [{"address": REDIS_URL,
                                  "max_connections": env_int("REDIS_MAX_CONNECTIONS", 1000)}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Accounts and sign-in ----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_IPWARE_PROXY_COUNT = env_int("PROXY_COUNT", 0)
AXES_VERBOSE = False
# Beyond the (account, address) lockout above: budgets of failed sign-ins per account over every
# address and per address over every account (accounts/throttle.py, docs/operations.md).
LOGIN_ACCOUNT_FAILURES = env_int("LOGIN_ACCOUNT_FAILURES", 20)
LOGIN_ACCOUNT_FAILURES_PER_HOUR = env_int("LOGIN_ACCOUNT_FAILURES_PER_HOUR", 60)
LOGIN_ADDRESS_FAILURES = env_int("LOGIN_ADDRESS_FAILURES", 100)
LOGIN_ADDRESS_FAILURES_PER_HOUR = env_int("LOGIN_ADDRESS_FAILURES_PER_HOUR", 600)
# Token buckets shared by the workers through Redis when REDIS_URL is set (common/ratelimit.py).
RATE_LIMIT_REDIS_PREFIX = env_str("RATE_LIMIT_REDIS_PREFIX", "kaibiao:rl:")
# A socket ticket (POST /api/v1/realtime/token) opens one WebSocket within this many seconds.
SOCKET_TOKEN_SECONDS = env_int("SOCKET_TOKEN_SECONDS", 60)

LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:home"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # Behind the TLS-terminating proxy the deployment guide describes.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The health probe comes from inside the cluster over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Language and time -------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"  # shown to users as Beijing time; stored in UTC

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if PRODUCTION else
                    "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Embedded defaults serve static files straight from the apps, no collectstatic step needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Platform ----------------------------------------------------------------------------------
PLATFORM_NAME = env_str("PLATFORM_NAME", "公共资源交易中心 · 不见面开标与远程异地评标平台")
# Where sealed envelopes and other durable files live (fsync'd before a receipt is issued).
STORAGE_DIR = Path(env_str("KAIBIAO_STORAGE_DIR", str(VAR_DIR / "storage")))
# The platform's Ed25519 signing key (receipts, audit checkpoints). Embedded default: generated
# into var/ on first use; production: a path to a PEM file provisioned by the operator.
PLATFORM_SIGNING_KEY_FILE = Path(env_str("PLATFORM_SIGNING_KEY_FILE", str(VAR_DIR / "platform-signing-key.pem")))
AUDIT_ORIGIN = env_str("AUDIT_ORIGIN", "kaibiao.local/audit")
# The same Ed25519 key on a PKCS#11 token (an HSM) instead of the file: an RFC 7512 URI
# "pkcs11:token=<label>;object=<key label>?module-path=<module .so>", the user PIN in the
# environment variable PLATFORM_SIGNING_KEY_PIN (docs/cryptography.md). Empty: the file above.
PLATFORM_SIGNING_KEY_PKCS11 = env_str("PLATFORM_SIGNING_KEY_PKCS11", "")
# That key's public half, pinned: 64 hex digits (its RFC 8032 encoding, as `manage.py shell -c "from
# audit.keys import platform_signing_key; from crypto.signing import public_key_bytes;
# print(public_key_bytes(platform_signing_key()).hex())"` prints it). A key that is not it — a token
# swapped for another under the same labels, a replaced file — never signs (signing_unavailable).
# Required in production with PLATFORM_SIGNING_KEY_PKCS11 (kaibiao.E012).
PLATFORM_SIGNING_PUBLIC_KEY = env_str("PLATFORM_SIGNING_PUBLIC_KEY", "")
# The platform's SM2 signing key (the gm suite, docs/cryptography.md): it signs the receipts of gm
# tenders and, with AUDIT_CHECKPOINT_SM2, every checkpoint a second time (a second signature line).
# Embedded default: generated into var/ on first use; production: provisioned by the operator.
PLATFORM_SM2_SIGNING_KEY_FILE = Path(env_str("PLATFORM_SM2_SIGNING_KEY_FILE",
                                             str(VAR_DIR / "platform-sm2-signing-key.pem")))
AUDIT_CHECKPOINT_SM2 = env_bool("AUDIT_CHECKPOINT_SM2", False)
# When audit entries get their index (docs/audit.md): "batched" queues them in the caller's
# transaction and a sequencer indexes committed ones in batches (with concurrent writers, 1.6-2.9x
# the append rate); "immediate" indexes them under the head lock in the caller's transaction.
# SQLite: always immediate.
AUDIT_SEQUENCING = env_str("AUDIT_SEQUENCING", "batched" if PRODUCTION else "immediate")
# Batched mode: the least time between the starts of two batches of one process's sequencer — under
# a steady stream each batch collects the entries committed meanwhile; adds at most this to the lag.
AUDIT_SEQUENCER_INTERVAL_MS = env_int("AUDIT_SEQUENCER_INTERVAL_MS", 10)
# Seconds between the ticker's incremental checks of the log (audit/integrity.py).
AUDIT_CHECK_INTERVAL = env_int("AUDIT_CHECK_INTERVAL", 10)
# Witnesses that cosign checkpoints (docs/audit.md): comma-separated "<witness vkey> <URL prefix>"
# items; a checkpoint with fewer than AUDIT_WITNESS_QUORUM cosignatures AUDIT_WITNESS_GRACE seconds
# after it was issued raises a console alert.
AUDIT_WITNESSES = env_list("AUDIT_WITNESSES", [])
AUDIT_WITNESS_QUORUM = env_int("AUDIT_WITNESS_QUORUM", len(AUDIT_WITNESSES))
AUDIT_WITNESS_GRACE = env_int("AUDIT_WITNESS_GRACE", 60)
# An RFC 3161 time-stamping authority for checkpoints (docs/audit.md): its URL, and a PEM file of
# the root certificates its replies must chain to (required with the URL).
AUDIT_TSA_URL = env_str("AUDIT_TSA_URL", "")
AUDIT_TSA_ROOTS = env_str("AUDIT_TSA_ROOTS", "")
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS", [])
# The bearer token Prometheus scrapes /metrics with (docs/operations.md, "Metrics"); empty: /metrics
# answers 404. Multiprocess aggregation is on when PROMETHEUS_MULTIPROC_DIR is set.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Time --------------------------------------------------------------------------------------
# Deadlines are the server's clock: beyond this offset from its time source (chrony), or when the
# system says it is not synchronised, the ticker applies no deadline (docs/operations.md, "Time").
CLOCK_MAX_OFFSET_MS = env_int("CLOCK_MAX_OFFSET_MS", 500)
CLOCK_PROBE_SECONDS = env_int("CLOCK_PROBE_SECONDS", 10)  # how long one reading of the clock's state holds

# --- Realtime ----------------------------------------------------------------------------------
# The WebSocket room protocol (docs/protocol.md). Every value can be set from the environment.
RT_REDIS_PREFIX = env_str("RT_REDIS_PREFIX", "kaibiao:rt:")
RT_RATE_PER_SECOND = float(env_int("RT_RATE_PER_SECOND", 20))  # frames per user, all sockets together
RT_RATE_BURST = env_int("RT_RATE_BURST", 40)
RT_ANON_HANDSHAKES_PER_MINUTE = env_int("RT_ANON_HANDSHAKES_PER_MINUTE", 60)  # per address
RT_ANON_HANDSHAKE_BURST = env_int("RT_ANON_HANDSHAKE_BURST", 30)
RT_MAX_BACKLOG_BYTES = env_int("RT_MAX_BACKLOG_BYTES", 4 * 1024 * 1024)  # then resync + close 4409
RT_MAX_REPLAY = env_int("RT_MAX_REPLAY", 1000)  # more missing events than this: a snapshot
RT_REPAIR_BATCH = env_int("RT_REPAIR_BATCH", 500)
RT_REORDER_WAIT_SECONDS = env_int("RT_REORDER_WAIT_MS", 50) / 1000
RT_POLL_SECONDS = env_int("RT_POLL_MS", 1000) / 1000  # hubs check the rooms' heads in the database
RT_HEARTBEAT_SECONDS = env_int("RT_HEARTBEAT_SECONDS", 20)
RT_CLIENT_IDLE_SECONDS = env_int("RT_CLIENT_IDLE_SECONDS", 75)  # nothing received: close 4408
RT_PRESENCE_STALE_SECONDS = env_int("RT_PRESENCE_STALE_SECONDS", 60)
RT_PRESENCE_DEBOUNCE_SECONDS = env_int("RT_PRESENCE_DEBOUNCE_MS", 500) / 1000
RT_ROOM_GRACE_SECONDS = env_int("RT_ROOM_GRACE_SECONDS", 30)  # keep an empty room subscribed
# >0: own ORM threads with persistent connections (joins, event writes, handshakes in a storm)
RT_DB_THREADS = env_int("RT_DB_THREADS", 4 if PRODUCTION else 0)
RT_DEMO_ROOMS = env_bool("RT_DEMO_ROOMS", not PRODUCTION)
RT_TICKER_SECONDS = env_int("RT_TICKER_MS", 500) / 1000
# Garbage-collector tuning of worker processes (realtime.gc_tuning.tune_gc): off in tests by default.
RT_GC_TUNING = env_bool("RT_GC_TUNING", PRODUCTION)
RT_GC_GEN0 = env_int("RT_GC_GEN0", 50_000)

# --- Media (docs/media.md) ---------------------------------------------------------------------
# The SFU (Janus) the venues and halls use. Without MEDIA_JANUS_WS the pages say "video unavailable"
# and `media.token` answers `media_unavailable`; everything else works.
MEDIA_JANUS_WS = env_str("MEDIA_JANUS_WS", "")  # the browsers' WebSocket URL (also in connect-src)
MEDIA_JANUS_API = env_str("MEDIA_JANUS_API", "http://127.0.0.1:8088/janus")  # the platform's calls
MEDIA_TOKEN_SECRET = env_str("MEDIA_TOKEN_SECRET", "")  # Janus's token_auth_secret (HMAC)
MEDIA_ADMIN_KEY = env_str("MEDIA_ADMIN_KEY", "")  # the VideoRoom's admin_key (room creation)
MEDIA_ROOM_SECRET = env_str("MEDIA_ROOM_SECRET", "")  # each room's secret (destroy, moderate)
MEDIA_TOKEN_SECONDS = env_int("MEDIA_TOKEN_SECONDS", 120)  # a room token: join within this
MEDIA_PATROL_SECONDS = env_int("MEDIA_PATROL_SECONDS", 10)  # unauthorised senders out, segments sealed
MEDIA_SESSION_SECONDS = env_int("MEDIA_SESSION_SECONDS", 10 * 3600)  # a Janus session token
MEDIA_TURN_URLS = env_list("MEDIA_TURN_URLS", [])  # turn:host:3478?transport=udp, …
MEDIA_TURN_SECRET = env_str("MEDIA_TURN_SECRET", "")  # coturn's static-auth-secret
MEDIA_EVENTS_URL = env_str("MEDIA_EVENTS_URL", "")  # where Janus posts VideoRoom events (this /media/events)
MEDIA_EVENTS_SECRET = env_str("MEDIA_EVENTS_SECRET", "")  # their Basic password; empty: endpoint off
MEDIA_RECORDINGS_DIR = Path(env_str("MEDIA_RECORDINGS_DIR", str(VAR_DIR / "recordings")))

# --- Sealed bids -------------------------------------------------------------------------------
# The platform CA that certifies bidder keys (ECDSA P-256, PEM). Embedded default: created under
# var/ on first use; production: provisioned by the operator (the platform refuses to start
# issuing without it). Optional password in PLATFORM_CA_KEY_PASSWORD.
PLATFORM_CA_KEY_FILE = Path(env_str("PLATFORM_CA_KEY_FILE", str(VAR_DIR / "platform-ca-key.pem")))
# The SM2 CA of the gm suite (docs/envelope.md, Appendix D); its root is kept beside it (.crt.pem).
PLATFORM_SM2_CA_KEY_FILE = Path(env_str("PLATFORM_SM2_CA_KEY_FILE", str(VAR_DIR / "platform-sm2-ca-key.pem")))
BIDDER_CERT_VALIDITY_DAYS = env_int("BIDDER_CERT_VALIDITY_DAYS", 365)
# Request body limits (config/limits.py, enforced as the body arrives): one PATCH of a resumable
# upload (so a worker's memory per upload is bounded by it, not by the bid's size), and every
# other body. Django's own in-memory ceiling is the same small limit.
BID_UPLOAD_MAX_CHUNK_BYTES = limits.BID_UPLOAD_MAX_CHUNK_BYTES
JSON_BODY_MAX_BYTES = limits.JSON_BODY_MAX_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = JSON_BODY_MAX_BYTES
# How long a PATCH that starts where the body before it will end (a client sending its next body
# while the server writes the previous one) waits for that one; 0 turns the waiting off (every
# PATCH must then start at the durable offset). Milliseconds.
BID_UPLOAD_NEXT_WAIT_SECONDS = env_int("BID_UPLOAD_NEXT_WAIT_MS", 5_000) / 1000
# How often the ticker tries again to complete a bid whose receipt could not be signed (a pending
# completion, bidding/pending.py; docs/envelope.md). Seconds.
BID_PENDING_RETRY_SECONDS = env_int("BID_PENDING_RETRY_SECONDS", 30)

# --- Collusion analysis (docs/collusion.md) ----------------------------------------------------
# Which signals run and their thresholds, as a JSON object; unknown keys stop the start.
try:
    COLLUSION = json.loads(env_str("COLLUSION_SETTINGS", "{}"))
except ValueError as exc:
    raise ImproperlyConfigured(f"COLLUSION_SETTINGS is not JSON: {exc}") from None

# --- After the evaluation (docs/award.md) and data exchange (docs/data-exchange.md) ------------
# The candidates' publicity lasts at least 3 days and objections are answered within 3 days
# (实施条例 54): a deployment may ask for longer, never shorter.
AWARD_PUBLICITY_MIN_DAYS = env_int("AWARD_PUBLICITY_MIN_DAYS", 3)
AWARD_ANSWER_DAYS = env_int("AWARD_ANSWER_DAYS", 3)
if AWARD_PUBLICITY_MIN_DAYS < 3:
    raise ImproperlyConfigured("AWARD_PUBLICITY_MIN_DAYS is at least 3 (实施条例 54)")
if not 1 <= AWARD_ANSWER_DAYS <= 3:
    raise ImproperlyConfigured("AWARD_ANSWER_DAYS is 1 to 3 (实施条例 54)")
# The OCDS ocid prefix this platform publishes under: "ocds-" and the 6 letters or digits the OCDS
# helpdesk registered for it (docs/data-exchange.md, "The ocid prefix"). The default is a placeholder
# a production server refuses (config.checks, kaibiao.E011); a malformed one stops the settings.
OCDS_PLACEHOLDER_PREFIX = "ocds-kb0000"
OCDS_PREFIX = env_str("OCDS_PREFIX", OCDS_PLACEHOLDER_PREFIX)
if not re.fullmatch(r"ocds-[a-z0-9]{6}", OCDS_PREFIX):
    raise ImproperlyConfigured(f"OCDS_PREFIX {OCDS_PREFIX!r} is not an ocid prefix: 'ocds-' and 6 lower-case "
                               "letters or digits, as registered with the OCDS helpdesk")
OCDS_PUBLISHER = env_str("OCDS_PUBLISHER", "公共资源交易中心")
OCDS_BULK_URI = env_str("OCDS_BULK_URI", "https://kaibiao.local/ocds/records.json")  # where the bulk file is served
# Where the outbox pushes events: a JSON list of {"name": ..., "url": ...}; its own Ed25519 key.
try:
    EXCHANGE_ENDPOINTS = json.loads(env_str("EXCHANGE_ENDPOINTS", "[]"))
except ValueError as exc:
    raise ImproperlyConfigured(f"EXCHANGE_ENDPOINTS is not JSON: {exc}") from None
if not isinstance(EXCHANGE_ENDPOINTS, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("url"), str)
        and e["url"].startswith(("http://", "https://")) for e in EXCHANGE_ENDPOINTS):
    raise ImproperlyConfigured('EXCHANGE_ENDPOINTS is a list of {"name": ..., "url": "http(s)://..."}')
# The trading systems whose announcements are accepted (docs/data-exchange.md, "Inbound"): a JSON list
# of {"name": <the body's "source" and the signature's keyid>, "public_key": <base64 of the raw 32-byte
# Ed25519 key>}. Empty (the default): every inbound announcement is refused.
try:
    EXCHANGE_INBOUND_SOURCES = json.loads(env_str("EXCHANGE_INBOUND_SOURCES", "[]"))
except ValueError as exc:
    raise ImproperlyConfigured(f"EXCHANGE_INBOUND_SOURCES is not JSON: {exc}") from None


def _inbound_source_ok(s) -> bool:
    import base64
    import binascii
    import re

    if not (isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("public_key"), str)
            and re.fullmatch(r"[A-Za-z0-9._:-]{1,60}", s["name"])):
        return False
    try:
        return len(base64.b64decode(s["public_key"], validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


if not isinstance(EXCHANGE_INBOUND_SOURCES, list) or not all(map(_inbound_source_ok, EXCHANGE_INBOUND_SOURCES)) \
        or len({s["name"] for s in EXCHANGE_INBOUND_SOURCES}) != len(EXCHANGE_INBOUND_SOURCES):
    raise ImproperlyConfigured('EXCHANGE_INBOUND_SOURCES is a list of {"name": "<1-60 of A-Z a-z 0-9 . _ : ->", '
                               '"public_key": "<base64 of a 32-byte Ed25519 key>"}, each name once')
EXCHANGE_INBOUND_MAX_AGE_SECONDS = env_int("EXCHANGE_INBOUND_MAX_AGE_SECONDS", 300)  # a signature's freshness
EXCHANGE_SIGNING_KEY_FILE = Path(env_str("EXCHANGE_SIGNING_KEY_FILE", str(VAR_DIR / "exchange-signing-key.pem")))
EXCHANGE_MAX_ATTEMPTS = env_int("EXCHANGE_MAX_ATTEMPTS", 8)
EXCHANGE_TIMEOUT_SECONDS = env_int("EXCHANGE_TIMEOUT_SECONDS", 10)
EXCHANGE_BACKOFF_MS = env_int("EXCHANGE_BACKOFF_MS", 1000)  # the first retry's wait; doubles each time

# --- Frontend ----------------------------------------------------------------------------------
# Test-only pages (the browser crypto self-test at /_test/crypto/) for the Playwright suite in
# tests/e2e/. Served only when DEBUG is on or this is set. They hold no data, only static code.
E2E_TEST_PAGES = env_bool("E2E_TEST_PAGES", False)
