"""Django settings, read from the environment (and an optional `.env` file).

Every knob is listed in `.env.example` and in the README. Defaults are safe for a
local run; production must set SECRET_KEY (the process refuses to start without it
when DEBUG is off).
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from project import routes

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Values already in the process environment win over the file.
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY
if len(SECRET_KEY.encode()) < 32:
    # HS256 keys shorter than the hash output are weak; PyJWT warns about them.
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 bytes long.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver serves static files through WhiteNoise too, as production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "graphene_django",
    "phonenumber_field",
    "django_tasks",
    "django_tasks_db",
    "accounts",
    # The staff's doors: the admin's registrations and the manage.py commands.
    "backoffice",
]

MIDDLEWARE = [
    # First, so every answer (400, 413, 429, 503 included) carries the CORS headers.
    "project.middleware.CorsMiddleware",
    # Counts and times every request (by route name) when METRICS_ENABLED.
    "accounts.outbound.metrics.RequestMetricsMiddleware",
    "project.request_id.RequestIDMiddleware",
    # Before the size limit, so even a 413 answers in the request's language.
    "django.middleware.locale.LocaleMiddleware",
    "project.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Requests other sites' pages made a browser send, on the API's guarded routes.
    "project.middleware.CrossSiteMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# What API requests go through (see project/wsgi.py): no sessions, messages, auth, CSRF
# or static-file lookups, which only the admin and static files use, and lighter stand-ins
# for LocaleMiddleware (Accept-Language only) and CommonMiddleware (ALLOWED_HOSTS and
# Content-Length only).
# Middleware that has nothing to do (CORS with no allowed origin, metrics when off)
# leaves the chain at start-up.
API_MIDDLEWARE = [
    "project.middleware.CorsMiddleware",
    "accounts.outbound.metrics.RequestMetricsMiddleware",
    # Request id, language, security, body size, host check and Content-Length, in one layer.
    "project.middleware.ApiMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # templates/graphene/graphiql.html: GraphiQL from this server, not a CDN.
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Django's backend with one change: a persistent connection is health-checked
    # (SELECT 1) only after sitting idle this long, not before every request.
    DATABASES["default"]["ENGINE"] = "project.postgresql"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"]["HEALTH_CHECK_AFTER_IDLE"] = env.float(
        "DATABASE_HEALTH_CHECK_AFTER_IDLE", default=5.0
    )
    # The hot paths' statements are prepared on each connection. Turn off behind a
    # pooler that cannot keep prepared statements (PgBouncer's transaction mode before
    # 1.21, or without max_prepared_statements).
    DATABASES["default"]["OPTIONS"]["PREPARED_STATEMENTS"] = env.bool(
        "DATABASE_PREPARED_STATEMENTS", default=True
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several workers share one file: queue writers instead of failing with
    # "database is locked", and take the write lock when a transaction begins so an
    # OTP check-and-update never has to upgrade a read lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["backoffice.backends.PhoneNumberBackend"]

# The first hasher hashes new passwords; the others still verify old hashes, which are
# upgraded on the next successful login. PASSWORD_HASHER=pbkdf2 puts Django's PBKDF2
# first instead (for deployments that must use a FIPS-approved algorithm).
_HASHERS = {
    "argon2id": "accounts.identity.hashers.Argon2idPasswordHasher",
    "pbkdf2": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
}
PASSWORD_HASHER = env.str("PASSWORD_HASHER", default="argon2id")
if PASSWORD_HASHER not in _HASHERS:
    raise ImproperlyConfigured(f"PASSWORD_HASHER must be one of {', '.join(_HASHERS)}.")
PASSWORD_HASHERS = [_HASHERS[PASSWORD_HASHER]] + [
    path for name, path in _HASHERS.items() if name != PASSWORD_HASHER
]
PASSWORD_HASHERS += [
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # Also what keeps fixed passwords apart from one-time codes: a code is all digits.
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Served by WhiteNoise from STATIC_ROOT (filled by `collectstatic`) when DEBUG is off.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Redis (accounts.redis_client) holds the shared counters and the status cache; without
# it, the counters live in the database. Django's own cache is not used.
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=1.0)

# One JSON object per line with LOG_FORMAT=json; every line carries the request id,
# which is also sent back as the X-Request-ID response header.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "project.request_id.RequestIDFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "request_id", "message"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django logs every 4xx with its path, which holds the full phone number; the
        # service logs each refusal itself, masked. Server errors are still logged.
        "django.request": {"level": "ERROR"},
        # A Host header outside ALLOWED_HOSTS is a client's mistake (or a scan), not a
        # fault: the 400 handler logs it at INFO instead of an ERROR with a traceback.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
    },
}

# --- Product settings -------------------------------------------------------------

APP_NAME = env.str("APP_NAME", default="Accounts")

# Phone numbers: how bare national numbers are read, and where codes may be texted.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="IR").upper()

# Answers and SMS texts follow Accept-Language; without one, this language is used.
LANGUAGES = [("en", "English"), ("fa", "فارسی")]
LANGUAGE_CODE = env.str("DEFAULT_LANGUAGE", default="fa" if PHONE_DEFAULT_REGION == "IR" else "en")
LOCALE_PATHS = [BASE_DIR / "locale"]

OTP_ALLOWED_REGIONS = [r.upper() for r in env.list("OTP_ALLOWED_REGIONS", default=["IR"])]
PHONENUMBER_DEFAULT_REGION = PHONE_DEFAULT_REGION
PHONENUMBER_DB_FORMAT = "E164"

# One-time codes.
OTP_LENGTH = env.int("OTP_LENGTH", default=6)
OTP_TTL = env.int("OTP_TTL", default=120)
OTP_RESEND_COOLDOWN = env.int("OTP_RESEND_COOLDOWN", default=60)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
# Codes per number and client network in an hour (without a bot check each network has
# its own share, so nobody locks another network out); with a bot check, the codes per
# number before further sends need a passed check. OTP_MAX_SENDS_PER_HOUR_HARD: codes per
# number in any sliding hour, whatever passed; with OTP_MAX_ATTEMPTS, 50 guesses an hour.
OTP_MAX_SENDS_PER_HOUR = env.int("OTP_MAX_SENDS_PER_HOUR", default=5)
OTP_MAX_SENDS_PER_HOUR_HARD = env.int("OTP_MAX_SENDS_PER_HOUR_HARD", default=10)
# Number ranges (the first OTP_RANGE_DIGITS digits of the E.164 number) whose codes are
# not verified: with OTP_RANGE_MIN_SENDS sends in the last hour and a verified share
# under OTP_RANGE_MIN_VERIFIED, further sends there need a bot check (or are refused).
OTP_RANGE_DIGITS = env.int("OTP_RANGE_DIGITS", default=7)
OTP_RANGE_MIN_SENDS = env.int("OTP_RANGE_MIN_SENDS", default=20)
OTP_RANGE_MIN_VERIFIED = env.float("OTP_RANGE_MIN_VERIFIED", default=0.2)
# How long a dead challenge row is kept (an hour at least) before it is purged.
OTP_RETENTION = env.int("OTP_RETENTION", default=3600)

# Abuse limits, per client IP and overall (fixed one-hour windows).
OTP_SENDS_PER_IP_PER_HOUR = env.int("OTP_SENDS_PER_IP_PER_HOUR", default=20)
STATUS_LOOKUPS_PER_IP_PER_HOUR = env.int("STATUS_LOOKUPS_PER_IP_PER_HOUR", default=300)
LOGIN_FAILURES_PER_IP_PER_HOUR = env.int("LOGIN_FAILURES_PER_IP_PER_HOUR", default=100)
SMS_MAX_PER_HOUR = env.int("SMS_MAX_PER_HOUR", default=1000)
# The share of SMS_MAX_PER_HOUR only numbers that have an account may spend: a flood of
# sends to new numbers leaves returning users able to log in.
SMS_RESERVED_FOR_ACCOUNTS = env.float("SMS_RESERVED_FOR_ACCOUNTS", default=0.5)
# Per-country budgets on top, e.g. "IR=900,US=20" (ISO region codes; others: none).
SMS_MAX_PER_HOUR_BY_REGION = {
    region.upper(): int(limit)
    for region, limit in env.dict("SMS_MAX_PER_HOUR_BY_REGION", default={}).items()
}

# Bot checks (accounts.bot_check): none, turnstile, hcaptcha, recaptcha, or a class path.
BOT_CHECK_BACKEND = env.str("BOT_CHECK_BACKEND", default="none")
BOT_CHECK_SECRET = env.str("BOT_CHECK_SECRET", default="")
BOT_CHECK_SITE_KEY = env.str("BOT_CHECK_SITE_KEY", default="")
BOT_CHECK_VERIFY_URL = env.str("BOT_CHECK_VERIFY_URL", default="")  # empty: the provider's
# "always": every send needs a passed check; "risk": only a send a risk signal fires on
# (the number's share, the client network's sends, the number range's verified share).
BOT_CHECK_POLICY = env.str("BOT_CHECK_POLICY", default="risk")
# Sends one client network may make in an hour before its next needs a check ("risk").
BOT_CHECK_NETWORK_SENDS = env.int("BOT_CHECK_NETWORK_SENDS", default=3)
BOT_CHECK_MIN_SCORE = env.float("BOT_CHECK_MIN_SCORE", default=0.5)  # scored providers
BOT_CHECK_TIMEOUT = env.float("BOT_CHECK_TIMEOUT", default=5.0)
# Fixed-password guessing per account: lock after this many failures, doubling after.
PASSWORD_LOCKOUT_THRESHOLD = env.int("PASSWORD_LOCKOUT_THRESHOLD", default=10)
PASSWORD_LOCKOUT_SECONDS = env.int("PASSWORD_LOCKOUT_SECONDS", default=900)
PASSWORD_LOCKOUT_MAX_SECONDS = env.int("PASSWORD_LOCKOUT_MAX_SECONDS", default=24 * 3600)
# Where rate-limit counters live: "redis" (the default with REDIS_URL) or "database".
RATE_LIMIT_STORE = env.str("RATE_LIMIT_STORE", default="redis" if REDIS_URL else "database")
# How long a number's status (no account, account without / with a password) may be
# served from Redis, read in the same round trip as the per-IP counter. Sign-up,
# setPassword, deactivation, deletion and every other save of an account drop the
# entry once committed. 0 turns the cache off; it is off unless RATE_LIMIT_STORE=redis.
STATUS_CACHE_SECONDS = env.int("STATUS_CACHE_SECONDS", default=30)
# Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For and X-Forwarded-Proto
# are believed; from any other peer both headers are dropped. Empty: the client is the
# socket's peer. TRUSTED_PROXY_COUNT: how many of them append to X-Forwarded-For.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if TRUSTED_PROXIES else 0)
# Per-client limits count an IPv6 client under this prefix of its address (a line has a
# whole /64); an IPv4 client under its address.
IPV6_PREFIX_LENGTH = env.int("IPV6_PREFIX_LENGTH", default=64)

# HTTPS. TLS usually ends at the proxy, whose X-Forwarded-Proto is believed only when it
# comes from a peer in TRUSTED_PROXIES. Cookies (the admin's only) travel over HTTPS.
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Probes come straight to the process, over plain HTTP: they are never redirected.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|livez)$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Browser apps on other origins (django-cors-headers). Exact origins only, e.g.
# https://app.example.com; empty: no cross-origin access. Only the routes marked
# `cross_origin` in project/routes.py answer cross-origin, and never with credentials:
# the API reads no cookies.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = routes.CORS_URLS_REGEX
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "accept-language", "x-challenge-token")
CORS_EXPOSE_HEADERS = ("Retry-After", "X-Request-ID", "Content-Language")
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 600

# SMS delivery.
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(BASE_DIR / "sent_sms"))
# Empty: the built-in text, in the request's language. Placeholders: {app_name}, {code},
# {minutes}, {domain}, {android_hash}; a literal "\n" in the variable is a line break.
SMS_OTP_TEMPLATE = env.str("SMS_OTP_TEMPLATE", default="").replace("\\n", "\n")
# The site's domain for the SMS's last line, `@domain #code`, which browsers read
# (WebOTP) to fill the code in. Default: the first host name in
# ALLOWED_HOSTS; with none (only IPs or localhost) the last line is the code alone.
_DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")
OTP_WEBOTP_DOMAIN = env.str(
    "OTP_WEBOTP_DOMAIN",
    default=next((host for host in ALLOWED_HOSTS if _DOMAIN.fullmatch(host.lower())), ""),
)

# Android's SMS Retriever: the 11-character hash of the app's signing key, put in every
# SMS (see accounts.otp.message_for) so the app reads the code by itself.
OTP_ANDROID_APP_HASH = env.str("OTP_ANDROID_APP_HASH", default="")
# Numbers with a fixed code, for app-store review and end-to-end tests: "number:code"
# pairs, comma-separated. Nothing is texted to them; every other limit still applies.
OTP_TEST_NUMBERS = env.list("OTP_TEST_NUMBERS", default=[])

# Send codes from a worker (`manage.py db_worker`) instead of inside the request, so a
# slow provider never holds up sendOtp. Off: the request waits for the provider.
SMS_SEND_IN_BACKGROUND = env.bool("SMS_SEND_IN_BACKGROUND", default=False)

# Webhooks (Standard Webhooks; see docs/webhooks.md): the receivers' URLs, comma-separated,
# and the signing secret ("whsec_" and base64; several, comma-separated, while rotating).
# Events are written to an outbox in the change's transaction and sent by
# `manage.py db_worker`, retried with backoff for WEBHOOK_RETRY_FOR seconds.
WEBHOOK_ENDPOINTS = env.list("WEBHOOK_ENDPOINTS", default=[])
WEBHOOK_SECRET = env.list("WEBHOOK_SECRET", default=[])
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_FIRST_RETRY_DELAY = env.int("WEBHOOK_FIRST_RETRY_DELAY", default=5)
WEBHOOK_MAX_RETRY_DELAY = env.int("WEBHOOK_MAX_RETRY_DELAY", default=3600)
WEBHOOK_RETRY_FOR = env.int("WEBHOOK_RETRY_FOR", default=24 * 3600)
# Delivered and dead deliveries are kept this many days (purge_expired deletes them).
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)

# The stored audit trail (see docs/audit.md): kept this many days, deleted by
# purge_expired. Events are written in batches, at most AUDIT_FLUSH_SECONDS after they
# happen, by a thread of each process; 0 writes each one as it happens.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=90)
AUDIT_FLUSH_SECONDS = env.float("AUDIT_FLUSH_SECONDS", default=1.0)
AUDIT_BATCH_SIZE = env.int("AUDIT_BATCH_SIZE", default=500)

# Background work runs in `manage.py db_worker` when codes are sent in the background or
# webhooks are on; otherwise django-tasks runs a task at once, in the request.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend"
        if SMS_SEND_IN_BACKGROUND or WEBHOOK_ENDPOINTS
        else "django_tasks.backends.immediate.ImmediateBackend"
    }
}

# HTTP providers (kavenegar, twilio): seconds to connect and to wait for an answer, and
# how many times a timeout, refused connection or 5xx is tried again.
SMS_CONNECT_TIMEOUT = env.float("SMS_CONNECT_TIMEOUT", default=3.0)
SMS_READ_TIMEOUT = env.float("SMS_READ_TIMEOUT", default=5.0)
SMS_RETRIES = env.int("SMS_RETRIES", default=2)
KAVENEGAR_API_KEY = env.str("KAVENEGAR_API_KEY", default="")
KAVENEGAR_TEMPLATE = env.str("KAVENEGAR_TEMPLATE", default="")
KAVENEGAR_BASE_URL = env.str("KAVENEGAR_BASE_URL", default="https://api.kavenegar.com")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="https://api.twilio.com")

# Tokens: short-lived access JWTs, long-running rotating refresh tokens.
JWT_ACCESS_TOKEN_LIFETIME = env.int("JWT_ACCESS_TOKEN_LIFETIME", default=300)
JWT_REFRESH_TOKEN_LIFETIME = env.int("JWT_REFRESH_TOKEN_LIFETIME", default=30 * 24 * 3600)
# Seconds during which retrying one rotation returns the same new refresh token instead
# of being treated as theft.
JWT_REFRESH_TOKEN_REUSE_GRACE = env.int("JWT_REFRESH_TOKEN_REUSE_GRACE", default=5)

# Signing: HS256 with JWT_SECRET_KEY (the default), or ES256 / EdDSA / RS256 with the
# private keys in JWT_PRIVATE_KEYS_FILE (PEM, one or more: the first signs, all verify,
# and their public halves are served at /.well-known/jwks.json). See accounts/keys.py.
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="HS256")
JWT_PRIVATE_KEYS_FILE = env.str("JWT_PRIVATE_KEYS_FILE", default="")
# `iss` of every access token, checked on verify; `aud` is set and checked when given.
JWT_ISSUER = env.str(
    "JWT_ISSUER",
    default=next((h for h in ALLOWED_HOSTS if h and h[0] not in ".*"), "localhost"),
)
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="")
# Claims of the product's own in every access token: JWT_CLAIMS_HOOK is the dotted path of
# a function given the account and the session's method (accounts/claims.py), and
# JWT_CUSTOM_CLAIMS the names it may return (none of the service's own).
JWT_CLAIMS_HOOK = env.str("JWT_CLAIMS_HOOK", default="")
JWT_CUSTOM_CLAIMS = env.list("JWT_CUSTOM_CLAIMS", default=[])
# Access tokens that passed verification are remembered per process until they expire,
# at most this many (0: none), so a token presented again is not decoded again.
JWT_VERIFY_CACHE_SIZE = env.int("JWT_VERIFY_CACHE_SIZE", default=4096)

GRAPHQL_JWT = {
    "JWT_ALGORITHM": JWT_ALGORITHM,
    "JWT_SECRET_KEY": env.str("JWT_SECRET_KEY", default="") or SECRET_KEY,
    "JWT_VERIFY_EXPIRATION": True,
    "JWT_EXPIRATION_DELTA": timedelta(seconds=JWT_ACCESS_TOKEN_LIFETIME),
    "JWT_LONG_RUNNING_REFRESH_TOKEN": True,
    "JWT_REFRESH_EXPIRATION_DELTA": timedelta(seconds=JWT_REFRESH_TOKEN_LIFETIME),
    "JWT_REFRESH_TOKEN_MODEL": "accounts.RefreshToken",
    "JWT_REFRESH_TOKEN_N_BYTES": 32,
    "JWT_PAYLOAD_HANDLER": "accounts.sessions.access_tokens.jwt_payload",
    "JWT_ENCODE_HANDLER": "accounts.sessions.access_tokens.jwt_encode",
    "JWT_DECODE_HANDLER": "accounts.sessions.access_tokens.jwt_decode",
    "JWT_PAYLOAD_GET_USERNAME_HANDLER": "accounts.sessions.access_tokens.user_id_from_payload",
    "JWT_GET_USER_BY_NATURAL_KEY_HANDLER": "accounts.sessions.access_tokens.get_active_user",
}
if len(GRAPHQL_JWT["JWT_SECRET_KEY"].encode()) < 32:
    raise ImproperlyConfigured("JWT_SECRET_KEY must be at least 32 bytes long.")

GRAPHENE = {
    "SCHEMA": "schema.schema",
    "ATOMIC_MUTATIONS": False,
}
GRAPHIQL_ENABLED = env.bool("GRAPHIQL_ENABLED", default=DEBUG)
# GraphiQL needs introspection for its documentation, so enabling one enables both.
GRAPHQL_INTROSPECTION = env.bool("GRAPHQL_INTROSPECTION", default=GRAPHIQL_ENABLED)
# Caps on one GraphQL document, counted after fragments are expanded.
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=8)
GRAPHQL_MAX_FIELDS = env.int("GRAPHQL_MAX_FIELDS", default=32)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=8)
# Fields that send a code or check a secret (schema/validation.py) allowed in one document.
GRAPHQL_MAX_SENSITIVE_FIELDS = env.int("GRAPHQL_MAX_SENSITIVE_FIELDS", default=1)
# Introspection (when on) has caps of its own, sized for GraphiQL's query.
GRAPHQL_MAX_INTROSPECTION_FIELDS = env.int("GRAPHQL_MAX_INTROSPECTION_FIELDS", default=300)
GRAPHQL_MAX_INTROSPECTION_DEPTH = env.int("GRAPHQL_MAX_INTROSPECTION_DEPTH", default=16)
# Refused before parsing (characters) and while parsing (tokens, and comments apart):
# parsing and validating a new document cost up to about 65 us a token. The largest
# operation a client of this schema needs has about 50 tokens; GraphiQL's introspection
# query has about 190.
GRAPHQL_MAX_DOCUMENT_LENGTH = env.int("GRAPHQL_MAX_DOCUMENT_LENGTH", default=8192)
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=400 if GRAPHQL_INTROSPECTION else 64)
# What each process keeps of the documents it parsed (schema/documents.py), in bytes.
GRAPHQL_DOCUMENT_CACHE_BYTES = env.int("GRAPHQL_DOCUMENT_CACHE_BYTES", default=8 * 1024 * 1024)

# Prometheus metrics at /metrics (off by default); with a token, scrapers must send
# `Authorization: Bearer <token>`. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (made and
# emptied by gunicorn.conf.py when unset) adds up the numbers of every worker.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Request bodies larger than this get 413.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
