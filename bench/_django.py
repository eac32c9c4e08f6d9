"""Django set-up shared by the benchmark scripts (run from the repository root or anywhere)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    """Configure Django like a production run (DEBUG off), without a broker, then import the apps."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sabr_trial.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault(
        "DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCD"
    )
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    for name in (
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_COOKIES",
        "DJANGO_HSTS_SECONDS",
        "DJANGO_STATIC_MANIFEST",
    ):
        os.environ.setdefault(name, "0")
    os.environ.setdefault("DJANGO_FAST_PASSWORD_HASHER", "1")
    os.environ["CELERY_BROKER_URL"] = ""  # the recompute runs in this process; the dashboard must not enqueue
    import django

    django.setup()


def bench_user(role: str = "investigator"):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, _ = get_user_model().objects.get_or_create(username=f"bench-{role}")
    user.groups.add(Group.objects.get(name=role))
    return user
