"""The write pipeline's batch entry (WRITE-PIPELINE.md, used by ``import_study``): inside ``pipeline.batch()`` every
save passes every rule and leaves its own history row, and the follow-ups (stage 8) are queued once per key and run
by ``flush_batch``: a SABR target is re-derived once for all its fractions, with the same values as one save at a
time and a history row naming the cause."""

from __future__ import annotations

import contextlib
import datetime

import pytest

from sabr_trial import pipeline
from sabr_trial.crf import CrfStatus
from sabr_trial.models import CrfLocked
from sabr_trial.services import crf_create, crf_lock, flush_batch
from tests.factories_treatment import SabrFractionFactory, SabrTargetFactory
from treatment.models import SabrFraction

pytestmark = pytest.mark.django_db


def _fractions(target, user, days=(0, 2, 4), first=1):
    start = target.course.simulation_date + datetime.timedelta(days=5)
    for number, day in enumerate(days, start=first):
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


def _trail(target):
    """The history rows of the target's fractions and their audit events, without ids and times."""
    from django.contrib.contenttypes.models import ContentType

    from sabr_trial.models import AuditEvent

    fractions = SabrFraction.objects.filter(target=target).order_by("pk")
    skip = {
        "history_id",
        "history_date",
        "id",
        "created_at",
        "updated_at",
        "submitted_at",
        "target_id",
        "patient_id",
    }
    history = [
        {k: v for k, v in row.items() if k not in skip}
        for row in SabrFraction.history.filter(target_id=target.pk).order_by("history_id").values()
    ]
    events = list(
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(SabrFraction),
            object_id__in=[f.pk for f in fractions],
        )
        .order_by("id")
        .values_list("action", "crf_version", "description", "reason", "user")
    )
    return history, events


def test_a_bulk_batch_writes_the_same_history_rows_and_audit_events_as_single_saves(coordinator):
    """``batch(bulk=True)`` (the importer): each new row's history row and audit event are built at its save and
    written with one insert per table when the batch flushes, with the same values, user, reason and type, each
    with its own time, in the order of the saves."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sabr_trial.models import AuditEvent

    single = SabrTargetFactory()
    _fractions(single, coordinator)
    batched = SabrTargetFactory()
    with pipeline.batch(bulk=True) as queue:
        with CaptureQueriesContext(connection) as saves:
            _fractions(batched, coordinator)
        assert not SabrFraction.history.filter(target_id=batched.pk).exists()  # waiting for the bulk insert
        flush_batch(queue)
    inserts = [q["sql"] for q in saves.captured_queries if q["sql"].startswith("INSERT")]
    assert inserts and all('"treatment_sabrfraction"' in sql for sql in inserts)  # the rows alone, one by one
    assert _trail(batched) == _trail(single) and len(_trail(batched)[0]) == 3
    history = list(SabrFraction.history.filter(target_id=batched.pk).order_by("history_id"))
    assert [h.history_type for h in history] == ["+"] * 3
    assert [h.history_date for h in history] == sorted(h.history_date for h in history)
    events = AuditEvent.objects.filter(object_id__in=[h.id for h in history], action="create").order_by("id")
    times = [e.at for e in events]
    assert len(times) == 3 and times == sorted(times) and times[0] < times[-1]  # each its own time


def test_a_bulk_batch_drops_the_rows_of_a_refused_savepoint(coordinator):
    from sabr_trial import services

    target = SabrTargetFactory()
    with pipeline.batch(bulk=True) as queue:
        _fractions(target, coordinator, days=(0,))
        with pytest.raises(RuntimeError), services.savepoint():
            _fractions(target, coordinator, days=(2,), first=2)
            raise RuntimeError("refused after the save")
        flush_batch(queue)
    assert SabrFraction.objects.filter(target=target).count() == 1
    assert SabrFraction.history.filter(target_id=target.pk).count() == 1


def test_a_bulk_batch_closed_with_rows_not_written_is_an_error(coordinator):
    target = SabrTargetFactory()
    with pytest.raises(RuntimeError, match="not written"), pipeline.batch(bulk=True):
        _fractions(target, coordinator, days=(0,))


def test_a_single_history_row_inside_a_bulk_batch_lets_the_waiting_ones_go_first(coordinator, data_manager):
    """A row changed one by one inside a bulk batch (a lock, an update) writes its history row after the waiting
    ones of its table, so history ids keep the order of the events."""
    target = SabrTargetFactory()
    with pipeline.batch(bulk=True) as queue:
        _fractions(target, coordinator, days=(0,))
        fraction = SabrFraction.objects.get(target=target)
        crf_lock(instance=fraction, acting_user=data_manager, reason="frozen")
        flush_batch(queue)
    assert list(fraction.history.order_by("history_id").values_list("history_type", flat=True)) == ["+", "~"]


def test_a_batch_reads_a_targets_fractions_once_and_sees_each_new_one(coordinator):
    """``pipeline.batch_rows``: the EC-FX-1 rule and the unique constraint of the next fraction see the fractions
    saved before it in the batch without asking the database again, and a duplicate is still refused with the
    rule's and the constraint's words."""
    from django.core.exceptions import ValidationError
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    target = SabrTargetFactory()
    with pipeline.batch(bulk=True) as queue:
        _fractions(target, coordinator, days=(0,))
        with CaptureQueriesContext(connection) as second:
            _fractions(target, coordinator, days=(2,), first=2)
        assert not [
            q
            for q in second.captured_queries
            if '"treatment_sabrfraction"' in q["sql"].split("WHERE")[0] and q["sql"].startswith("SELECT")
        ]
        with pytest.raises(ValidationError) as refused:
            _fractions(target, coordinator, days=(4,), first=2)
        flush_batch(queue)
    assert "Fraction 2 of this target is already recorded (EC-FX-1)." in str(refused.value)
    assert SabrFraction.objects.filter(target=target).count() == 2


def test_a_batch_carries_its_kept_reads_into_the_next_one(coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from enrollment.selectors import death_date

    patient = SabrTargetFactory().patient
    with pipeline.batch() as first:
        death_date(patient)
    with pipeline.batch(carry=first), CaptureQueriesContext(connection) as carried:
        death_date(patient)
    with pipeline.batch(), CaptureQueriesContext(connection) as fresh:
        death_date(patient)
    assert len(carried) == 0 and len(fresh) == 1


def test_a_flush_without_savepoints_still_reports_a_refused_follow_up(coordinator, data_manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    target = SabrTargetFactory(status=CrfStatus.SUBMITTED)
    refused = []
    with pipeline.batch(bulk=True) as queue:
        with pipeline.tagged(("sabr-fraction.csv", 7, "SR-001")):
            SabrFractionFactory(target=target)
        crf_lock(instance=target, acting_user=data_manager, reason="frozen")
        with CaptureQueriesContext(connection) as flushed:
            flush_batch(queue, on_error=lambda tag, exc: refused.append(tag), savepoints=False)
    assert refused == [("sabr-fraction.csv", 7, "SR-001")]
    assert not [q for q in flushed.captured_queries if q["sql"].startswith("SAVEPOINT")]


def _answer_trail(elig):
    from enrollment.models import EligibilityAnswer

    rows = list(EligibilityAnswer.objects.filter(eligibility=elig).order_by("pk"))
    history = list(EligibilityAnswer.history.filter(eligibility_id=elig.pk).order_by("history_id"))
    return (
        [(r.criterion_id, r.category, r.answer) for r in rows],
        [(h.id - rows[0].pk, h.criterion_id, h.answer, h.history_type, h.history_user_id) for h in history],
    )


def test_a_bulk_batch_writes_a_new_checklists_answers_with_one_insert(coordinator):
    """``services.insert_with_history``: the answers of a new checklist are the rows and history rows the one-by-one
    path writes (ids in criterion order), with one insert and no read of the checklist or of its answers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests import factories_enrollment as enrol

    single = enrol.eligibility(enrol.screen(coordinator), coordinator)
    patient = enrol.screen(coordinator)
    with pipeline.batch(bulk=True) as queue:
        with CaptureQueriesContext(connection) as saves:
            batched = enrol.eligibility(patient, coordinator)
        flush_batch(queue)
    answers = [q["sql"] for q in saves.captured_queries if '"enrollment_eligibilityanswer"' in q["sql"]]
    assert len(answers) == 1 and answers[0].startswith("INSERT")
    assert _answer_trail(batched) == _answer_trail(single) and len(_answer_trail(single)[1]) > 1


def test_a_new_checklist_still_refuses_an_answer_outside_its_choices(coordinator):
    """The answers of a new checklist are validated in memory (``_sync_answers(new=True)``) with the field's own
    message, in a bulk batch and outside one."""
    from django.core.exceptions import ValidationError

    from enrollment import services as enrollment_services
    from enrollment.models import Eligibility
    from sabr_trial.services import savepoint

    def bad(patient):
        elig = crf_create(
            model=Eligibility,
            patient=patient,
            data={"criteria_version": "", "answers_summary": "", "all_met": "N"},
            acting_user=coordinator,
        )
        elig.answers_summary = "INCL01=Q"  # past the checklist's own rules: the answer row must refuse it
        enrollment_services._sync_answers(elig, acting_user=coordinator, new=True)

    from tests import factories_enrollment as enrol

    with pytest.raises(ValidationError) as single:
        bad(enrol.screen(coordinator))
    patient = enrol.screen(coordinator)
    with pipeline.batch(bulk=True), pytest.raises(ValidationError) as batched, savepoint():
        bad(patient)  # the importer's savepoint drops the refused rows' waiting history and audit
    assert "Value 'Q' is not a valid choice." in str(single.value)
    assert str(batched.value) == str(single.value)


def test_a_batch_voids_a_casebook_signature_only_where_there_is_one(coordinator, investigator):
    """In a batch the casebook-signature void reads once whether the patient has a valid signature: none, no
    update; one (signed in the batch, so the kept read is dropped), voided with its audit event as before."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sabr_trial.models import AuditEvent, CasebookSignature
    from sabr_trial.services import void_casebook_signatures
    from tests import factories_enrollment as enrol

    patient = enrol.screen(coordinator)
    with pipeline.batch():
        with CaptureQueriesContext(connection) as unsigned:
            for _ in range(3):
                assert void_casebook_signatures(patient, user=coordinator, reason="changed") == 0
        assert len(unsigned.captured_queries) == 1 and "UPDATE" not in unsigned.captured_queries[0]["sql"]
        CasebookSignature.objects.create(
            patient=patient, signer=investigator, signer_name="I", meaning="complete", forms=[]
        )
        assert void_casebook_signatures(patient, user=coordinator, reason="Form added: AE") == 1
        assert void_casebook_signatures(patient, user=coordinator, reason="again") == 0
    signature = CasebookSignature.objects.get(patient=patient)
    assert signature.voided_at is not None and signature.void_reason == "Form added: AE"
    assert AuditEvent.objects.filter(patient=patient, action=AuditEvent.Action.CASEBOOK_VOID).count() == 1


def test_a_recompute_in_a_batch_is_refused_by_a_form_lock_as_outside_one(coordinator, data_manager):
    """``crf_system_update`` in a batch reads the study and casebook locks from the batch's kept read and the form
    lock from the row it has just read: a locked target still refuses its recompute, with the same message."""
    from sabr_trial.services import crf_submit, crf_system_update

    messages = []
    for in_batch in (False, True):
        target = crf_submit(instance=SabrTargetFactory(), acting_user=coordinator)
        crf_lock(instance=target, acting_user=data_manager, reason="frozen")
        opened = pipeline.batch() if in_batch else contextlib.nullcontext()
        with opened, pytest.raises(CrfLocked) as refused:
            crf_system_update(instance=target, values={"bed10_delivered_gy": 99})
        messages.append(str(refused.value))
    assert messages[0] == messages[1] and "is locked" in messages[0]
