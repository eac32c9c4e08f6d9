"""The write pipeline's batch entry (WRITE-PIPELINE.md, used by ``import_study``): inside ``pipeline.batch()`` every
save passes every rule and leaves its own history row, and the follow-ups (stage 8) are queued once per key and run
by ``flush_batch``: a SABR target is re-derived once for all its fractions, with the same values as one save at a
time and a history row naming the cause."""

from __future__ import annotations

import datetime

import pytest

from sabr_trial import pipeline
from sabr_trial.crf import CrfStatus
from sabr_trial.models import CrfLocked
from sabr_trial.services import crf_create, crf_lock, flush_batch
from tests.factories_treatment import SabrFractionFactory, SabrTargetFactory
from treatment.models import SabrFraction

pytestmark = pytest.mark.django_db


def _fractions(target, user, days=(0, 2, 4)):
    start = target.course.simulation_date + datetime.timedelta(days=5)
    for number, day in enumerate(days, start=1):
        crf_create(
            model=SabrFraction,
            patient=target.patient,
            acting_user=user,
            status=CrfStatus.SUBMITTED,
            data={
                "target": target,
                "fraction_number": number,
                "fraction_date": start + datetime.timedelta(days=day),
                "delivered": "Y",
                "dose_delivered_gy": target.dose_per_fraction_gy,
            },
        )


def _derived(target):
    target.refresh_from_db()
    target.course.refresh_from_db()
    return (
        target.first_fraction_date,
        target.last_fraction_date,
        target.bed10_delivered_gy,
        target.course.start_date,
        target.course.completion_date,
    )


def test_a_batch_re_derives_a_target_once_with_the_values_of_single_saves(coordinator):
    single = SabrTargetFactory()
    _fractions(single, coordinator)
    batched = SabrTargetFactory()
    with pipeline.batch() as queue:
        _fractions(batched, coordinator)
        assert batched.first_fraction_date is None and _derived(batched)[0] is None  # queued, not run
        ran = flush_batch(queue)
    # one target refresh, one re-derivation of the patient's AEs, one outbox record and one casebook-signature
    # void for the patient: not three of each
    assert ran == 4
    assert _derived(batched)[:3] == _derived(single)[:3] and _derived(batched)[0] is not None
    assert _derived(batched)[3:] == (batched.first_fraction_date, batched.last_fraction_date)
    for fraction in SabrFraction.objects.filter(target=batched):
        (entry,) = fraction.history.all()
        assert (entry.history_user, entry.history_change_reason) == (coordinator, "Created")
    reasons = list(batched.history.values_list("history_change_reason", flat=True))
    assert reasons.count("Recomputed after SABR fraction v1 changed") == 1
    assert batched.history.latest("history_id").history_user == coordinator


def test_a_refused_follow_up_is_reported_with_the_tag_of_the_save_that_queued_it(coordinator, data_manager):
    target = SabrTargetFactory(status=CrfStatus.SUBMITTED)
    refused = []
    with pipeline.batch() as queue:
        with pipeline.tagged(("sabr-fraction.csv", 7, "SR-001")):
            SabrFractionFactory(target=target)
        crf_lock(instance=target, acting_user=data_manager, reason="frozen")
        flush_batch(queue, on_error=lambda tag, exc: refused.append((tag, str(exc))))
    assert [tag for tag, _message in refused] == [("sabr-fraction.csv", 7, "SR-001")]
    assert "is locked" in refused[0][1]


def test_without_an_error_handler_a_refused_follow_up_is_raised(coordinator, data_manager):
    target = SabrTargetFactory(status=CrfStatus.SUBMITTED)
    with pipeline.batch() as queue:
        SabrFractionFactory(target=target)
        crf_lock(instance=target, acting_user=data_manager, reason="frozen")
        with pytest.raises(CrfLocked) as caught:
            flush_batch(queue)
    assert "is locked" in str(caught.value)


def test_outside_a_batch_follow_ups_run_at_once(coordinator):
    target = SabrTargetFactory()
    SabrFractionFactory(target=target)
    assert _derived(target)[0] == target.course.simulation_date + datetime.timedelta(days=5)
    assert pipeline.current_batch() is None


def test_a_batch_reads_another_forms_rows_once_until_it_writes_that_form(coordinator):
    """``pipeline.batch_read``: the AE rules' exposure is read once per patient for a whole batch, and read again
    after the batch saves a treatment row (which moves it); outside a batch every read asks the database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from adverse_events.exposure import exposure_for
    from adverse_events.safety import Agent

    target = SabrTargetFactory()
    patient = target.patient
    with CaptureQueriesContext(connection) as outside:
        exposure_for(patient)
        exposure_for(patient)
    with pipeline.batch():
        with CaptureQueriesContext(connection) as first:
            before = exposure_for(patient)
        with CaptureQueriesContext(connection) as kept:
            assert exposure_for(patient) == before
        _fractions(target, coordinator, days=(0,))
        after = exposure_for(patient)
    assert len(outside) == 2 * len(first) > 0 and len(kept) == 0
    assert before.first_dose[Agent.SABR] is None and after.first_dose[Agent.SABR] is not None


def test_a_refusal_in_a_batch_forgets_the_reads_it_kept(coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from enrollment.selectors import death_date

    patient = SabrTargetFactory().patient
    with pipeline.batch():
        death_date(patient)
        pipeline.forget_reads()
        with CaptureQueriesContext(connection) as again:
            death_date(patient)
    assert len(again) == 1
