"""Django settings, read from the environment (and an optional `.env` file).

Every setting of the service is declared once, in `project/configuration.toml`, and
documented from there (docs/configuration.md, .env.example). Defaults are safe for a
local run; production must set SECRET_KEY (the process refuses to start without it
when DEBUG is off).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from project import configuration, routes

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Values already in the process environment win over the file.
environ.Env.read_env(BASE_DIR / ".env")

# Every setting declared in project/configuration.toml (name, type, default, doc, bounds;
# docs/configuration.md lists them), read once from the environment and bound here.
config = configuration.read(env)
globals().update(config)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789"
SECRET_KEY = config["SECRET_KEY"]
if not SECRET_KEY:
    if not config["DEBUG"]:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY
if len(SECRET_KEY.encode()) < 32:
    # HS256 keys shorter than the hash output are weak; PyJWT warns about them.
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 bytes long.")


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

DATABASES = {"default": environ.Env.db_url_config(config["DATABASE_URL"])}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", config["DATABASE_CONNECT_TIMEOUT"]
    )
    DATABASES["default"]["CONN_MAX_AGE"] = config["DATABASE_CONN_MAX_AGE"]
    # Django's backend with one change: a persistent connection is health-checked
    # (SELECT 1) only after sitting idle this long, not before every request.
    DATABASES["default"]["ENGINE"] = "project.postgresql"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"]["HEALTH_CHECK_AFTER_IDLE"] = config[
        "DATABASE_HEALTH_CHECK_AFTER_IDLE"
    ]
    # The hot paths' statements are prepared on each connection. Turn off behind a
    # pooler that cannot keep prepared statements (PgBouncer's transaction mode before
    # 1.21, or without max_prepared_statements).
    DATABASES["default"]["OPTIONS"]["PREPARED_STATEMENTS"] = config["DATABASE_PREPARED_STATEMENTS"]
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
if config["PASSWORD_HASHER"] not in _HASHERS:
    raise ImproperlyConfigured(f"PASSWORD_HASHER must be one of {', '.join(_HASHERS)}.")
PASSWORD_HASHERS = [_HASHERS[config["PASSWORD_HASHER"]]] + [
    path for name, path in _HASHERS.items() if name != config["PASSWORD_HASHER"]
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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Served by WhiteNoise from STATIC_ROOT (filled by `collectstatic`) when DEBUG is off.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Redis (project.redis_client, REDIS_URL) holds the shared counters and the status cache;
# without it, the counters live in the database. Django's own cache is not used.

# One JSON object per line with LOG_FORMAT=json; every line carries the request id,
# which is also sent back as the X-Request-ID response header.
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
            "formatter": "json" if config["LOG_FORMAT"] == "json" else "text",
        },
    },
    "root": {"handlers": ["console"], "level": config["LOG_LEVEL"]},
    "loggers": {
        # Django logs every 4xx with its path, which holds the full phone number; the
        # service logs each refusal itself, masked. Server errors are still logged.
        "django.request": {"level": "ERROR"},
        # A Host header outside ALLOWED_HOSTS is a client's mistake (or a scan), not a
        # fault: the 400 handler logs it at INFO instead of an ERROR with a traceback.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
    },
}

# --- What the registry's values become -------------------------------------------
# Every product setting is bound above from project/configuration.toml; here are the
# Django and library settings made from them.

# Numbers: how bare national numbers are read, and where codes may be texted.
PHONE_DEFAULT_REGION = config["PHONE_DEFAULT_REGION"].upper()
PHONENUMBER_DEFAULT_REGION = PHONE_DEFAULT_REGION
PHONENUMBER_DB_FORMAT = "E164"
OTP_ALLOWED_REGIONS = [region.upper() for region in config["OTP_ALLOWED_REGIONS"]]
SMS_MAX_PER_HOUR_BY_REGION = {
    region.upper(): int(limit) for region, limit in config["SMS_MAX_PER_HOUR_BY_REGION"].items()
}
# A literal "\n" in the variable is a line break.
SMS_OTP_TEMPLATE = config["SMS_OTP_TEMPLATE"].replace("\\n", "\n")

# Answers and SMS texts follow Accept-Language; without one, DEFAULT_LANGUAGE.
LANGUAGES = [("en", "English"), ("fa", "فارسی")]
LANGUAGE_CODE = config["DEFAULT_LANGUAGE"]
LOCALE_PATHS = [BASE_DIR / "locale"]

# HTTPS. TLS usually ends at the proxy, whose X-Forwarded-Proto is believed only when it
# comes from a peer in TRUSTED_PROXIES. Cookies (the admin's only) travel over HTTPS.
if config["TRUSTED_PROXIES"]:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Probes come straight to the process, over plain HTTP: they are never redirected.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|livez)$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not config["DEBUG"]

# Browser apps on other origins (django-cors-headers), CORS_ALLOWED_ORIGINS only. Only the
# routes marked `cross_origin` in project/routes.py answer cross-origin, and never with
# credentials: the API reads no cookies.
CORS_URLS_REGEX = routes.CORS_URLS_REGEX
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "accept-language", "x-challenge-token")
CORS_EXPOSE_HEADERS = ("Retry-After", "X-Request-ID", "Content-Language")
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 600

# Background work runs in `manage.py db_worker` when codes are sent in the background or
# webhooks are on; otherwise django-tasks runs a task at once, in the request.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend"
        if config["SMS_SEND_IN_BACKGROUND"] or config["WEBHOOK_ENDPOINTS"]
        else "django_tasks.backends.immediate.ImmediateBackend"
    }
}

# Tokens: django-graphql-jwt's settings, with this service's handlers plugged in
# (accounts/sessions/access_tokens.py makes and checks every access token).
GRAPHQL_JWT = {
    "JWT_ALGORITHM": config["JWT_ALGORITHM"],
    "JWT_SECRET_KEY": config["JWT_SECRET_KEY"] or SECRET_KEY,
    "JWT_VERIFY_EXPIRATION": True,
    "JWT_EXPIRATION_DELTA": timedelta(seconds=config["JWT_ACCESS_TOKEN_LIFETIME"]),
    "JWT_LONG_RUNNING_REFRESH_TOKEN": True,
    "JWT_REFRESH_EXPIRATION_DELTA": timedelta(seconds=config["JWT_REFRESH_TOKEN_LIFETIME"]),
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

# Request bodies larger than MAX_REQUEST_BODY_BYTES get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = config["MAX_REQUEST_BODY_BYTES"]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
