"""Personas (one logged-in client per role, plus an outsider) and shared fixtures."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

ROLES = ["coordinator", "investigator", "data_manager", "monitor"]


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_worklist_count():
    """Each test's database starts over (rollback) but the cache does not: forget cached worklist counts and every
    patient's cached fragments (a patient of this test may have the id of one of an earlier test or run)."""
    from sabr_trial.generation import bump_for
    from visits.selectors import bump_generation

    bump_generation()
    bump_for(None)


@pytest.fixture(autouse=True)
def _no_transaction_state_of_earlier_tests():
    """A test's transaction is rolled back, never committed: the outbox delivery and the generation bump it
    registered stay pending in this thread and the next test's first transaction would inherit them (their message
    ids, their patients), so a query count would depend on the tests run before. Each test starts without them."""
    from sabr_trial import generation, outbox

    outbox.forget_pending()
    generation.forget_pending()


@pytest.fixture(autouse=True)
def _session_touched_once(monkeypatch):
    """The idle timeout moves a session's expiry once a minute (``IdleSessionMiddleware``): a test that compares the
    queries of two requests minutes apart would count that write in one of them. Tests move it only once per timeout
    (``tests/test_auth.py`` checks the real interval)."""
    from sabr_trial.middleware import IdleSessionMiddleware

    monkeypatch.setattr(IdleSessionMiddleware, "TOUCH_SECONDS", 10**9)
    monkeypatch.setattr(IdleSessionMiddleware, "TOUCHES_PER_TIMEOUT", 1)


@pytest.fixture(autouse=True)
def _fresh_access_cache():
    """Each test's database starts over (rollback, user ids reused across runs) but the cache does not: a new
    access generation, so no user's cached roles and permissions outlive the test that cached them."""
    from sabr_trial.authcache import _bump_now

    _bump_now()


@pytest.fixture(autouse=True)
def _fresh_endpoint_memo():
    """Tests that patch the derivation must see it run: each test starts with an empty per-patient memo, and with no
    recompute marked as scheduled by an earlier test (the debounce key lives in the shared cache)."""
    from django.core.cache import cache

    from endpoints import incremental
    from endpoints.services import _SCHEDULED_KEY

    incremental.clear()
    cache.delete(_SCHEDULED_KEY)


@pytest.fixture(autouse=True)
def _site_language():
    """Each test starts and ends in the site's language: a test that signs in a Chinese-speaking user must not leave
    Chinese active for the messages of the next test run in the same thread."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def coordinator(db):
    return UserFactory(username="coord", role="coordinator")


@pytest.fixture
def investigator(db):
    return UserFactory(username="inv", role="investigator", first_name="Ines", last_name="Investigator")


@pytest.fixture
def data_manager(db):
    return UserFactory(username="dm", role="data_manager")


@pytest.fixture
def monitor(db):
    return UserFactory(username="mon", role="monitor")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def personas(coordinator, investigator, data_manager, monitor, outsider):
    return {
        "coordinator": coordinator,
        "investigator": investigator,
        "data_manager": data_manager,
        "monitor": monitor,
        "outsider": outsider,
    }


@pytest.fixture
def as_coordinator(coordinator):
    return _client_for(coordinator)


@pytest.fixture
def as_investigator(investigator):
    return _client_for(investigator)


@pytest.fixture
def as_data_manager(data_manager):
    return _client_for(data_manager)


@pytest.fixture
def as_monitor(monitor):
    return _client_for(monitor)


@pytest.fixture
def as_outsider(outsider):
    return _client_for(outsider)


@pytest.fixture
def password():
    return PASSWORD


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.fixture
def tasks_in_process(settings):
    """Run Celery tasks in the test process even when CI sets a broker (no worker consumes the queue here).

    The real-worker path is covered by tests/test_celery_worker.py and tests/test_endpoints_worker.py.
    """
    from sabr_trial.celery import app

    # Read Celery's value before overriding Django's: the first read of app.conf loads it from Django's settings,
    # so reading it after the override saved True as "previous" and left every later test eager (the CI run of
    # a81b507 then ran each save's recompute in the web process: 10 snapshots for 10 saves).
    previous = app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
