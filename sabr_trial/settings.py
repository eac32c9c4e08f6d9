"""Settings for the SABR-RCC trial EDC, read from the environment.

Every value a deployment may change is an environment variable read through the typed
helpers of ``sabr_trial.env``; the README's Configuration section lists them all.
Without any variable set, the app runs on the embedded default: SQLite under ``var/``
and Celery tasks executed in-process.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
import xstatic.pkg.bootstrap
from celery.schedules import crontab
from csp import constants as csp_constants
from django.utils.translation import gettext_lazy as _

from sabr_trial.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SABR_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)

if DEBUG:
    SECRET_KEY = env_str(
        "DJANGO_SECRET_KEY", "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
    )
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
else:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True)
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", required=True)
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfiguredEnv("DJANGO_SECRET_KEY must be at least 50 characters long.")

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "sabr_trial",
    "enrollment",
    "treatment",
    "assessments",
    "adverse_events",
    "endpoints",
    "visits",
    "reports",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "sabr_trial.middleware.IdleSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sabr_trial.middleware.HostileInputMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "sabr_trial.preferences.UserLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "sabr_trial.twofactor.TwoFactorRequiredMiddleware",
    "sabr_trial.middleware.StudyRoleRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sabr_trial.urls"
WSGI_APPLICATION = "sabr_trial.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sabr_trial.context_processors.study",
            ],
            # {{ moment|stamp }} on every page and PDF: site time zone, seconds, offset (sabr_trial/sitetime.py)
            # {{ rule|ruletext }}: rule texts stored as message ids, in the reader's language (ruletext/)
            "builtins": ["sabr_trial.templatetags.sitetime", "sabr_trial.templatetags.ruletext"],
        },
    },
    # A CRF form's fields, written in Python with the markup of crispy-bootstrap5's field.html (issue 20: the
    # template engine's per-node cost was most of a data-entry page). sabr_trial/formrender.py.
    {"BACKEND": "sabr_trial.formrender.PythonTemplates", "NAME": "python", "DIRS": [], "APP_DIRS": False},
]
# Django's form renderer with its common widget templates written in Python (same output; sabr_trial/formrender.py).
FORM_RENDERER = "sabr_trial.formrender.FastRenderer"

# Database: DATABASE_URL (PostgreSQL in production and CI); SQLite under var/ otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'sabr_trial.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialise writers, so select_for_update-style sequences stay gap-free.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by web and workers: recompute debounce), else in-process.
# Redis is an accelerator, not a dependency (issue 16): django-redis ignores (and logs) a refused or timed-out
# connection, so with Redis down every cache read is a miss and every write is dropped; pages and saves go on.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    _redis_timeout = env_int("REDIS_TIMEOUT_MS", 500, minimum=50) / 1000
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Keys are named after the database: two instances (a training copy, a test run) that share one Redis
            # never read each other's cached permissions or pages (a user id means another user in another database).
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "") or str(DATABASES["default"].get("NAME") or "sabr"),
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": _redis_timeout,
                "SOCKET_TIMEOUT": _redis_timeout,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "sabr_trial.cache"
else:
    # In-process (embedded default). Room for every patient's page fragments and counts: at Django's default of
    # 300 entries a study of 60 patients culled a third of the cache now and then, and a page computed again.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

# Authentication, lockout (django-axes) and sessions.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "sabr_trial.authcache.AccessBackend",  # ModelBackend with the permissions from the access cache
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
OTP_TOTP_ISSUER = "SABR-RCC EDC"  # the account's label in the authenticator app (sabr_trial.twofactor)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = (
    env_int("AXES_COOLOFF_HOURS", 0, minimum=0) or None
)  # None: locked until a data manager resets
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 403
AXES_VERBOSE = False
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
# An idle timeout: the age counts from the last request (to the minute: sabr_trial.middleware.IdleSessionMiddleware
# moves the expiry at most once a minute instead of writing the session on every request).
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Security: strict by default with DEBUG off; `manage.py check --deploy` reports nothing.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): the app loads nothing from another origin and runs no inline script or style
# (templates use static files; the API docs pages get a per-request nonce). A violation shows in the browser console.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Internationalisation: English and Simplified Chinese; each user's choice is kept (sabr_trial/preferences.py).
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")  # the site default, for users who chose none
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfiguredEnv(
        f"LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}, not {LANGUAGE_CODE!r}"
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["sabr_trial.formats"]  # ISO dates and '.' decimals in every language
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
# Study policy: a monitor may still source-data verify a form of a locked casebook (never under a study lock).
SDV_ON_LOCKED_CASEBOOK = env_bool("SDV_ON_LOCKED_CASEBOOK", False)
USE_I18N = True
USE_TZ = True

# Static files: Bootstrap from the xstatic-bootstrap package (no CDN), served by WhiteNoise.
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("DJANGO_STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not env_bool("DJANGO_STATIC_MANIFEST", not DEBUG)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: a broker URL runs tasks on workers; none runs them in-process (embedded default).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "nightly-endpoint-recompute": {
        "task": "endpoints.nightly_recompute",
        "schedule": crontab(hour=2, minute=0),
    },
    "nightly-edit-checks": {"task": "sabr_trial.nightly_edit_checks", "schedule": crontab(hour=1, minute=30)},
    # The outbox sweep (sabr_trial.outbox): pending after-commit work, a stale dashboard, builds whose worker died.
    "outbox-sweep": {
        "task": "sabr_trial.outbox_sweep",
        "schedule": env_int("OUTBOX_SWEEP_SECONDS", 30, minimum=1),
    },
}
# ENDPOINT_QUEUE: send the endpoint recompute to its own queue, consumed by one single-process worker
# (docker-compose.yml: worker-endpoints). Every run then lands in the process holding the previous run's per-patient
# memo, and report builds on the other worker never delay it. Empty: the default queue, as every other task.
ENDPOINT_QUEUE = env_str("ENDPOINT_QUEUE", "")
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = (
    {name: {"queue": ENDPOINT_QUEUE} for name in ("endpoints.recompute", "endpoints.nightly_recompute")}
    if ENDPOINT_QUEUE
    else {}
)

# E-mail: console in development; SMTP in production (EMAIL_URL-style variables).
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "sabr-edc@localhost")

# Trial identity (the study number prefix and the study id used in exports).
STUDY_ID = env_str("STUDY_ID", "SABR-RCC")
STUDY_TITLE = env_str(
    "STUDY_TITLE", "SABR to all metastases with axitinib and toripalimab in recurrent or metastatic RCC"
)
# The title in Chinese, shown to users reading in Chinese (pages and PDFs); exports keep STUDY_TITLE.
STUDY_TITLE_ZH_HANS = env_str(
    "STUDY_TITLE_ZH_HANS",
    "立体定向消融放疗（SABR）全部转移灶联合阿昔替尼和特瑞普利单抗治疗复发或转移性肾细胞癌",
)
STUDY_NUMBER_PREFIX = env_str("STUDY_NUMBER_PREFIX", "SR-")
PROTOCOL_VERSION = env_str("PROTOCOL_VERSION", "1.0")
# The site's country (ISO 3166-1 alpha-3, SDTM DM.COUNTRY) and the trial's registry number (SDTM TS REGID).
STUDY_COUNTRY = env_str("STUDY_COUNTRY", "CHN")
STUDY_REGISTRY_ID = env_str("STUDY_REGISTRY_ID", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Lockout is per account (the issue: "lock the account"); adding the IP address would lock a whole
# hospital behind one NAT address after 5 typos, so axes' W006 advice is declined on purpose.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

if env_bool("DJANGO_FAST_PASSWORD_HASHER", False):  # test runs only: PBKDF2 dominates fixture time
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

from api.conf import *  # noqa: E402,F403  (REST API settings, issue 10)
