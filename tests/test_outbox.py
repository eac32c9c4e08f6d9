"""The outbox (sabr_trial.outbox): after-commit work is a row written with the change, delivered after the commit,
kept when delivery fails (a real refused connection, no fake), delivered by the sweep, never reaching the response."""

from __future__ import annotations

import datetime
import socket

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from adverse_events.models import AdverseEvent
from adverse_events.services import SAE_NOTIFY_TOPIC
from sabr_trial import outbox
from sabr_trial.models import OutboxMessage
from sabr_trial.services import CRF_CHANGED_TOPIC, EDIT_CHECKS_TOPIC
from tests.factories import RegisteredPatientFactory, UserFactory
from tests.factories_adverse_events import HYPERTENSION, ae_payload, ensure_ctcae_terms

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local TCP port nobody listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sae_scene(coordinator, tasks_in_process):
    ensure_ctcae_terms()
    UserFactory(username="pi-outbox", role="investigator", email="pi@example.org")
    return RegisteredPatientFactory()


def post_sae(client, patient):
    now = timezone.localtime()
    return client.post(
        reverse("crf_create", args=[patient.pk, "adverse-event"]),
        ae_payload(
            ctcae_term=str(HYPERTENSION),
            grade="3",
            serious="Y",
            aeshosp="Y",
            awareness_at=(now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            onset_date=(now.date() - datetime.timedelta(days=2)).isoformat(),
        ),
    )


def test_a_save_records_its_work_and_delivers_it_after_commit(
    as_coordinator, sae_scene, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sae(as_coordinator, sae_scene)
    assert response.status_code == 302
    rows = OutboxMessage.objects.order_by("pk")
    assert {r.topic for r in rows} == {EDIT_CHECKS_TOPIC, CRF_CHANGED_TOPIC, SAE_NOTIFY_TOPIC}
    assert all(r.sent_at is not None and r.attempts == 1 and r.last_error == "" for r in rows)
    assert len(mail.outbox) == 1


def test_mail_server_down_keeps_the_sae_message_and_the_sweep_sends_it_once(
    as_coordinator, sae_scene, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sae(as_coordinator, sae_scene)
    assert response.status_code == 302  # the SAE is saved and the coordinator is not shown a 500
    assert AdverseEvent.objects.filter(serious="Y").count() == 1
    pending = OutboxMessage.objects.get(topic=SAE_NOTIFY_TOPIC)
    assert (
        pending.sent_at is None
        and "ConnectionRefused" in pending.last_error
        and pending.claimed_until is None
    )

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.sweep().sent == 0  # younger than the grace period: left to the request that wrote it
    OutboxMessage.objects.update(created_at=timezone.now() - outbox.SWEEP_GRACE * 2)
    assert outbox.sweep().sent == 1
    assert outbox.sweep().sent == 0
    assert len(mail.outbox) == 1 and "New SAE" in mail.outbox[0].subject
    assert OutboxMessage.objects.get(topic=SAE_NOTIFY_TOPIC).attempts == 2


def test_work_of_a_rolled_back_savepoint_is_neither_recorded_nor_delivered(
    coordinator, tasks_in_process, django_capture_on_commit_callbacks
):
    patient = RegisteredPatientFactory()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key="kept")
        try:
            with transaction.atomic():
                outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key="dropped")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert [(m.key, m.sent_at is not None) for m in OutboxMessage.objects.all()] == [("kept", True)]


def test_once_per_key_per_atomic_block(coordinator, tasks_in_process):
    patient = RegisteredPatientFactory()
    with transaction.atomic():
        for _ in range(3):
            outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key=str(patient.pk), once=True)
    assert OutboxMessage.objects.count() == 1


def test_a_bulk_batch_keeps_its_messages_for_one_insert_once_per_key_and_drops_a_rolled_back_one(
    coordinator, tasks_in_process, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """In a bulk batch (the importer) a message waits for the batch's insert with the time it was recorded; ``once``
    asks no query while the earlier message waits; a savepoint that raises drops its message, so a later record
    under its key is written; every message written is delivered after the commit by its id."""
    from sabr_trial import pipeline
    from sabr_trial.services import savepoint, write_pending

    patient = RegisteredPatientFactory()
    with (
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
        pipeline.batch(bulk=True),
    ):
        before = timezone.now()
        with django_assert_num_queries(0):
            for _ in range(3):
                outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key="kept", once=True)
        try:
            with savepoint():
                outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key="again", once=True)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key="again", once=True)
        assert OutboxMessage.objects.count() == 0  # waiting for the batch's insert
        write_pending()
        # written: once asks the database again, as outside a batch
        outbox.record(EDIT_CHECKS_TOPIC, {"patient_id": patient.pk}, key="kept", once=True)
        write_pending()
    rows = list(OutboxMessage.objects.order_by("pk"))
    assert [(m.key, m.sent_at is not None) for m in rows] == [("kept", True), ("again", True)]
    assert before <= rows[0].created_at <= rows[1].created_at


def test_a_message_held_by_a_live_deliverer_is_not_taken_twice(coordinator, tasks_in_process):
    patient = RegisteredPatientFactory()
    OutboxMessage.objects.all().delete()
    message = OutboxMessage.objects.create(
        topic=EDIT_CHECKS_TOPIC,
        payload={"patient_id": patient.pk},
        created_at=timezone.now(),
        claimed_until=timezone.now() + outbox.LEASE,
    )
    OutboxMessage.objects.update(created_at=timezone.now() - outbox.SWEEP_GRACE * 2)
    assert outbox.sweep().skipped == 1
    # The holder died: once its lease has run out, the sweep takes the message.
    OutboxMessage.objects.filter(pk=message.pk).update(
        claimed_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert outbox.sweep().sent == 1


def test_unknown_topic_is_a_bug_not_a_silent_drop(db):
    with pytest.raises(KeyError), transaction.atomic():
        outbox.record("no.such.topic", {})
