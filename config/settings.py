"""Settings, all read from the environment with safe defaults (SQLite, DEBUG off)."""

import os
import secrets
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
# A checkout keeps templates/ and static/ beside config/; the installed wheel ships them
# inside the config package (setup.py maps them there).
CHECKOUT = (BASE_DIR / "manage.py").exists()
SHIPPED_DIR = BASE_DIR if CHECKOUT else Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("APP_VAR_DIR", (BASE_DIR if CHECKOUT else Path.cwd()) / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def local_secret(filename: str, make: Callable[[], str]) -> str:
    """A secret generated once into an ignored file, for the embedded default set-up."""
    path = VAR_DIR / filename
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def new_rsa_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = env("DJANGO_SECRET_KEY") or local_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Secrets at rest: comma-separated Fernet keys, newest first (older keys still decrypt).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or [
    local_secret("field_encryption.key", new_fernet_key)
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "bootstrap",  # django-bootstrap-static: Bootstrap 5 from a wheel, no CDN
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "simple_history",
    "rest_framework",
    "drf_spectacular",
    "oauth2_provider",
    "huey.contrib.djhuey",
    "connections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "connections.middleware.RejectNulInQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SHIPPED_DIR / "templates"],
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

# Django's ModelBackend with the permission lookup in one query (connections/auth.py).
AUTHENTICATION_BACKENDS = ["connections.auth.ModelBackend"]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=int(env("DB_CONN_MAX_AGE", "0"))
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock at BEGIN so concurrent Updates queue instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # Tests use a file too (an in-memory shared-cache database locks tables instead of
    # waiting), one per process so that two test runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"email-connections-test-{os.getpid()}.sqlite3")
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: the console's queries read a page through an index; the planner's estimate for
    # the visibility probes passes JIT's threshold and compiling took 10x the query (bench/).
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"


def postgres_dsn(database: dict[str, Any]) -> str:
    """libpq connection string of a Django PostgreSQL database (its OPTIONS, less Django's own)."""
    from psycopg.conninfo import make_conninfo

    django_only = {"assume_role", "isolation_level", "pool", "server_side_binding"}
    params = {k: v for k, v in database.get("OPTIONS", {}).items() if k not in django_only}
    for key in ["NAME", "USER", "PASSWORD", "HOST", "PORT"]:
        if database.get(key):
            params["dbname" if key == "NAME" else key.lower()] = str(database[key])
    return make_conninfo(**params)


def huey_settings(database: dict[str, Any]) -> dict[str, Any]:
    """The background worker's queue: Redis with HUEY_REDIS_URL, else the PostgreSQL database
    itself (every app server and worker machine shares it), else a SQLite file in var/."""
    common = {
        "name": "email-connections",
        # Explicit, because djhuey's default is DEBUG: immediate mode runs jobs inline, in memory.
        "immediate": env_bool("HUEY_IMMEDIATE"),
        "utc": True,
        # `run_huey -w N` / `-k process` override these per worker process.
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
    if env("HUEY_REDIS_URL"):
        return common | {"huey_class": "huey.RedisHuey", "url": env("HUEY_REDIS_URL")}
    if database["ENGINE"].endswith(("postgresql", "postgis")):
        huey_class = "connections.worker_queue.PostgresHuey"  # creates its tables lazily
        return common | {"huey_class": huey_class, "dsn": postgres_dsn(database)}
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return common | {"huey_class": "huey.SqliteHuey", "filename": str(VAR_DIR / "huey.sqlite3")}


HUEY = huey_settings(DATABASES["default"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
FORMAT_MODULE_PATH = ["config.formats"]  # one date-time format, with the time zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT") or (BASE_DIR if CHECKOUT else VAR_DIR) / "staticfiles")
STATICFILES_DIRS = [SHIPPED_DIR / "static"]
# Production runs collectstatic once and serves hashed, compressed copies (far-future
# caching); without it WhiteNoise serves the files straight from the apps (tests, make run).
STATIC_COLLECTED = env_bool("DJANGO_STATIC_COLLECTED")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
if not STATIC_COLLECTED:
    # Files come from the apps then; STATIC_ROOT is only collectstatic's target, so its
    # absence (every `make run` in a checkout) is no news.
    warnings.filterwarnings("ignore", "No directory at: ", UserWarning)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

MESSAGE_TAGS = {40: "danger"}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS (production): HSTS, redirect to https, and the load balancer's X-Forwarded-Proto.
SECURE_HSTS_SECONDS = int(env("DJANGO_SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe it over plain http
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script or style anywhere: pages load app.css and static/connections/*.js only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# Test button: per-stage timeout, whole-test bound, extra CA bundle, and rate limit per user.
MAIL_TEST_TIMEOUT = float(env("MAIL_TEST_TIMEOUT", "10"))
MAIL_TEST_TOTAL_TIMEOUT = float(env("MAIL_TEST_TOTAL_TIMEOUT", "30"))
MAIL_TEST_CA_BUNDLE = env("MAIL_TEST_CA_BUNDLE")
MAIL_TEST_RATE = env("MAIL_TEST_RATE", "20/minute")

# Authorize: the Redirect URL is PUBLIC_BASE_URL + /oauth/callback/ (else built from the
# request); calls to providers are bounded; tokens are refreshed shortly before they expire
# and at least every OAUTH_REFRESH_MAX_AGE_DAYS (Microsoft drops refresh tokens unused 90 days).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL").rstrip("/")
OAUTH_HTTP_TIMEOUT = float(env("OAUTH_HTTP_TIMEOUT", "10"))
OAUTH_REFRESH_BEFORE_SECONDS = int(env("OAUTH_REFRESH_BEFORE_SECONDS", "600"))
OAUTH_REFRESH_MAX_AGE_DAYS = float(env("OAUTH_REFRESH_MAX_AGE_DAYS", "7"))

# Import (page, API, import_records): the largest export file accepted, in bytes.
IMPORT_MAX_BYTES = int(env("IMPORT_MAX_BYTES", str(10 * 1024 * 1024)))

# Notifications: attempts per mail through the System Connection, and the first retry's delay
# in seconds (doubled after each failed attempt).
NOTIFICATION_ATTEMPTS = int(env("NOTIFICATION_ATTEMPTS", "5"))
NOTIFICATION_RETRY_DELAY = int(env("NOTIFICATION_RETRY_DELAY", "60"))

REST_FRAMEWORK = {
    # Bearer tokens of our own OAuth server; client-credentials tokens act as the app's owner.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "connections.api.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["connections.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "connections.api.exceptions.handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Email Connections API",
    "DESCRIPTION": "Email Connections, Email Templates, OAuth Clients and Business Services, "
    "and the SMTP connections API of the automation manager (paths under /cam/). Every call "
    "needs `Authorization: Bearer <token>` from /o/token/ with the scope it names: read, "
    "write or test. Errors are JSON: {message, errors: {field: [problems]}}.",
    "VERSION": "1.0.0",
    # 3.1 (JSON Schema 2020-12) can say which parameters a name/value list must hold.
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "connections.api.schema.add_errors",
    ],
    "OAUTH2_FLOWS": ["clientCredentials", "authorizationCode"],
    "OAUTH2_AUTHORIZATION_URL": "/o/authorize/",
    "OAUTH2_TOKEN_URL": "/o/token/",
    "OAUTH2_REFRESH_URL": "/o/token/",
    # The docs page loads Swagger UI from this app (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "/api/docs/assets/swagger-ui-dist",
    "SWAGGER_UI_FAVICON_HREF": "/api/docs/assets/swagger-ui-dist/favicon-32x32.png",
    "REDOC_DIST": "/api/docs/assets/redoc",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "SWAGGER_UI_OAUTH2_CONFIG": {"usePkceWithAuthorizationCodeGrant": True},
    # Two choice sets share the field name "status": name each one.
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": "connections.models.EmailConnection.Status",
        "StageStatusEnum": ["ok", "failed", "skipped"],
        "RunStatusEnum": "connections.task_models.RunStatus",
        "CriterionOperatorEnum": "connections.tasks.monitor.Operator",
    },
}
OAUTH2_PROVIDER = {
    "SCOPES": {
        "read": "Read records",
        "write": "Create, change and delete records",
        "test": "Test connections",
        "openid": "Sign you in (OpenID Connect)",
        "email": "Your email address",
        "profile": "Your user name and full name",
        "introspection": "Check tokens (mail servers)",
    },
    "DEFAULT_SCOPES": ["read"],
    # OpenID Connect: ID tokens and /o/userinfo/ for the "Local test provider" of demo data
    # and tests, which stands in for Microsoft and Google; RS256-signed with this key.
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": env("OIDC_RSA_PRIVATE_KEY") or local_secret("oidc.key", new_rsa_key),
    "OAUTH2_VALIDATOR_CLASS": "connections.api.oauth_server.Validator",
    "PKCE_REQUIRED": True,
    # Access and refresh tokens are stored as SHA-256 checksums only, never as usable values.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
}

# RFC 9700 (OAuth 2.0 Security BCP): authorization code with PKCE S256 only, tokens only in
# the Authorization header, a replayed refresh token revokes its whole family, the `iss`
# authorization-response parameter, https redirect URIs (http only to loopback, allowed by
# connections.api.oauth_views). Each gate True also turns a regression into a check error.
OAUTH2_PROVIDER |= {
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "APPLICATION_ADMIN_CLASS": "connections.api.oauth_admin.ApplicationAdmin",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # oauthlib and requests-oauthlib log whole token exchanges at DEBUG: never below INFO.
    # (Every record is redacted anyway: connections/redaction.py.)
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # run_huey gives it a handler of its own (timestamps, -V, --logfile): not twice.
        "huey": {"propagate": False},
        "oauthlib": {"level": "INFO"},
        "requests_oauthlib": {"level": "INFO"},
    },
}
SIMPLE_HISTORY_REVERT_DISABLED = True  # Restore lives in the Versions tab, with its own permission
