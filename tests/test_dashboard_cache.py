"""The dashboard's body is rendered once per snapshot, language and page (``endpoints.views._dashboard_body``):
a later view reads it from the shared cache, a new snapshot or another language renders it again, and with the
cache down every view renders it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from endpoints import services

pytestmark = pytest.mark.django_db

LISTING_TABLE = "endpoints_endpointlistingpage"


def _view(client: Client, **params: str) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("endpoints:dashboard"), params)
    assert response.status_code == 200
    return response.text, [q["sql"] for q in queries]


def _body(text: str) -> str:
    """The page from the headline to the end of the listing (the form tokens above it differ per response)."""
    return text[text.index('data-testid="headline"') : text.index('data-testid="listing"')]


@pytest.fixture
def study(coordinator: Any) -> None:
    from bench.synthetic import generate

    generate(3, user=coordinator, seed=11)


@pytest.fixture
def client(investigator: Any) -> Client:
    client = Client()
    client.force_login(investigator)
    return client


def test_a_second_view_reads_the_rendered_body_not_the_listing(study: None, client: Client) -> None:
    services.run_recompute(trigger="test")
    first, first_sql = _view(client)
    second, second_sql = _view(client)
    assert any(LISTING_TABLE in q for q in first_sql)
    assert not any(LISTING_TABLE in q for q in second_sql)
    assert _body(first) == _body(second) and 'data-testid="listing"' in second and "BN00003" in second


def test_a_new_snapshot_shows_at_once(study: None, client: Client, coordinator: Any) -> None:
    from bench.synthetic import generate

    services.run_recompute(trigger="test")
    before, _sql = _view(client)
    assert "BN00003" in before and "BX00001" not in before
    generate(1, user=coordinator, seed=12, prefix="BX")
    services.run_recompute(trigger="test")
    after, _sql = _view(client)
    assert "BX00001" in after


def test_each_language_has_its_own_body(study: None, client: Client, investigator: Any) -> None:
    services.run_recompute(trigger="test")
    english, _sql = _view(client)
    assert "Per-patient derivations" in english
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    chinese, _sql = _view(client)
    assert "Per-patient derivations" not in chinese and "BN00001" in chinese


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:8108/0",  # nothing listens there
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05},
        }
    }
)
def test_with_the_cache_down_every_view_renders_the_body(study: None, client: Client) -> None:
    services.run_recompute(trigger="test")
    for _ in range(2):
        text, sql = _view(client)
        assert any(LISTING_TABLE in q for q in sql) and "BN00002" in text
