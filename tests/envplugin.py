"""Loaded by pytest before Django (``-p tests.envplugin``): defaults for a test run.

Tests run with DEBUG off, like production; only what a test client cannot do (HTTPS redirect,
secure cookies, the static manifest) is relaxed. Real values given by the caller win.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault(
    "DJANGO_SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH"
)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")
os.environ.setdefault("DJANGO_HSTS_SECONDS", "0")
os.environ.setdefault("DJANGO_STATIC_MANIFEST", "0")
os.environ.setdefault("DJANGO_FAST_PASSWORD_HASHER", "1")
os.environ.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Playwright's sync API runs an event loop in the test thread; the ORM calls made there are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Per-patient endpoint memo entries a test run leaves in the shared Redis expire within the hour (tests start each
# with a fresh namespace, so nothing of an earlier run is ever read).
os.environ.setdefault("ENDPOINT_MEMO_HOURS", "1")
