"""Enrollment CRFs through HTTP as personas: consent, eligibility, registration (EC-RG-1/2), baseline, death."""

from __future__ import annotations

import datetime
import html

import pytest
from django.urls import reverse

from enrollment import criteria, selectors
from enrollment.models import (
    Baseline,
    Consent,
    DeathReport,
    Eligibility,
    EligibilityAnswer,
    Patient,
    ScreeningLog,
)
from enrollment.services import patient_register
from sabr_trial.crf import CrfStatus
from tests import factories_enrollment as fe

pytestmark = pytest.mark.django_db

TODAY = fe.TODAY
DAY = datetime.timedelta(days=1)


def new(patient, slug):
    return reverse("crf_create", args=[patient.pk, slug])


def register(client, patient, day=TODAY):
    return client.post(reverse("patient_register", args=[patient.pk]), {"registration_date": day.isoformat()})


def consent_post(coordinator, **overrides):
    data = {
        "consent_type": "INITIAL",
        "icf_version": "2.0",
        "consent_datetime": fe.aware(TODAY - 9 * DAY),
        "obtained_by": coordinator,
        "withdrawn": "N",
        "withdrawal_date": None,
        "withdrawal_scope": "",
        "action": "submit",
    }
    data.update(overrides)
    return fe.post_data(data)


def eligibility_post(answers, action="submit"):
    data = {f"answer_{k}": v for k, v in answers.items()}
    data["action"] = action
    return data


# --- informed consent (EC-IC-1, EC-IC-2) -----------------------------------------------------------------------


def test_coordinator_records_consent_with_history(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    response = as_coordinator.post(new(patient, "consent"), consent_post(coordinator))
    row = Consent.objects.get(patient=patient)
    assert (response.status_code, row.status, row.history.count()) == (302, CrfStatus.SUBMITTED, 1)


def test_second_active_consent_of_same_version_is_refused(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator, version="2.0")
    response = as_coordinator.post(
        new(patient, "consent"), consent_post(coordinator, consent_type="RECONSENT")
    )
    assert (response.status_code, Consent.objects.filter(patient=patient).count()) == (200, 1)
    assert "already has an active consent on form version 2.0 (EC-IC-1)" in response.text


@pytest.mark.parametrize(
    ("version", "accepted"),
    [("2.0", True), ("1.1", False), ("1.0", False)],
)
def test_reconsent_needs_a_newer_version(as_coordinator, coordinator, version, accepted):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator, version="1.1", on=TODAY - 9 * DAY)
    data = consent_post(
        coordinator, consent_type="RECONSENT", icf_version=version, consent_datetime=fe.aware(TODAY - 2 * DAY)
    )
    as_coordinator.post(new(patient, "consent"), data)
    assert Consent.objects.filter(patient=patient).count() == (2 if accepted else 1)


@pytest.mark.parametrize(
    ("withdrawal", "field_message"),
    [
        ({"withdrawal_date": None, "withdrawal_scope": "VISITS"}, "A withdrawal needs its date (EC-IC-2)."),
        (
            {"withdrawal_date": TODAY - 5 * DAY, "withdrawal_scope": ""},
            "A withdrawal needs its scope (EC-IC-2).",
        ),
        (
            {"withdrawal_date": TODAY - 20 * DAY, "withdrawal_scope": "VISITS"},
            "The withdrawal date is before the consent date (EC-IC-2).",
        ),
    ],
)
def test_withdrawal_needs_date_after_consent_and_scope(
    as_coordinator, coordinator, withdrawal, field_message
):
    patient = fe.screen(coordinator)
    response = as_coordinator.post(
        new(patient, "consent"), consent_post(coordinator, withdrawn="Y", **withdrawal)
    )
    assert field_message in response.text and not Consent.objects.filter(patient=patient).exists()


# --- eligibility (EC-EL-1) ---------------------------------------------------------------------------------------


def test_eligibility_form_shows_every_criterion(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    response = as_coordinator.get(new(patient, "eligibility"))
    assert all(f'data-criterion="{c.id}"' in response.text for c in criteria.CRITERIA)


def test_eligibility_needs_consent_first(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    response = as_coordinator.get(new(patient, "eligibility"), follow=True)
    assert "Record the informed consent first" in response.text


def test_eligibility_saves_one_answer_per_criterion(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    response = as_coordinator.post(new(patient, "eligibility"), eligibility_post(fe.qualifying_answers()))
    elig = Eligibility.objects.get(patient=patient)
    assert (
        response.status_code,
        elig.all_met,
        EligibilityAnswer.objects.filter(eligibility=elig).count(),
    ) == (
        302,
        "Y",
        len(criteria.CRITERIA),
    )


def test_submitting_with_an_unanswered_criterion_is_refused(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    answers = fe.qualifying_answers()
    del answers["INCL03"]
    response = as_coordinator.post(new(patient, "eligibility"), eligibility_post(answers))
    assert "unanswered: INCL03 (EC-EL-1)" in response.text and not Eligibility.objects.exists()


def test_coordinator_cannot_confirm_eligibility(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    elig = fe.eligibility(patient, coordinator)
    url = reverse("enrollment:eligibility_confirm", args=[patient.pk, elig.pk])
    response = as_coordinator.post(url, {"expected_version": elig.version})
    elig.refresh_from_db()
    assert (response.status_code, elig.confirmed_by) == (403, None)


def test_investigator_confirms_and_a_changed_answer_voids_it(as_investigator, investigator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    elig = fe.eligibility(patient, coordinator)
    url = reverse("enrollment:eligibility_confirm", args=[patient.pk, elig.pk])
    as_investigator.post(url, {"expected_version": elig.version})
    elig.refresh_from_db()
    assert elig.confirmed_by == investigator
    data = eligibility_post(fe.qualifying_answers(EXCL03="Y"))
    data.update(expected_version=elig.version, change_reason="BP uncontrolled on re-check")
    as_investigator.post(reverse("crf_update", args=[patient.pk, "eligibility", elig.pk]), data)
    elig.refresh_from_db()
    answer = EligibilityAnswer.objects.get(eligibility=elig, criterion_id="EXCL03")
    assert (elig.confirmed_by, elig.all_met, answer.answer, answer.history.count()) == (None, "N", "Y", 2)


# --- registration (EC-RG-1, EC-RG-2) ---------------------------------------------------------------------------


def test_registration_refused_without_consent_and_checklist(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    response = register(as_coordinator, patient)
    patient.refresh_from_db()
    assert patient.study_number is None
    assert "Informed consent: no signed consent is recorded (EC-RG-1)." in response.text
    assert "Eligibility checklist: not filled in (EC-RG-1)." in response.text


def test_registration_names_each_failing_criterion(as_coordinator, coordinator, investigator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    fe.eligibility(
        patient, coordinator, investigator=investigator, answers=fe.qualifying_answers(INCL05="N", EXCL04="Y")
    )
    response = register(as_coordinator, patient)
    patient.refresh_from_db()
    assert patient.study_number is None
    for cid in ("INCL05", "EXCL04"):
        assert f"Criterion not met: {criteria.label(cid)} (EC-RG-1)." in response.text


def test_registration_refused_until_the_investigator_confirms(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    fe.consent(patient, coordinator)
    fe.eligibility(patient, coordinator)
    response = register(as_coordinator, patient)
    assert "not yet confirmed by an investigator (EC-EL-1)" in response.text


def test_registration_refused_after_withdrawal(as_coordinator, coordinator, investigator):
    patient = fe.registrable(coordinator, investigator)
    consent = Consent.objects.get(patient=patient)
    from sabr_trial.services import crf_update

    crf_update(
        instance=consent,
        expected_version=consent.version,
        reason="Patient withdrew",
        data={"withdrawn": "Y", "withdrawal_date": TODAY, "withdrawal_scope": "ALL CONTACT AND DATA"},
        acting_user=coordinator,
    )
    response = register(as_coordinator, patient)
    assert "the patient has withdrawn consent (EC-RG-1)" in response.text


def test_registration_refused_when_prior_pd1_therapy_is_recorded(as_coordinator, coordinator, investigator):
    patient = fe.registrable(coordinator, investigator)
    as_coordinator.post(
        new(patient, "prior-therapy"),
        {
            "therapy_type": "SYSTEMIC",
            "agent": "Nivolumab",
            "setting": "METASTATIC",
            "pd1_pdl1": "Y",
            "start_date": "2023-02",
            "end_date": "2023-09",
            "action": "submit",
        },
    )
    response = register(as_coordinator, patient)
    assert "EXCL01 Prior PD-1 or PD-L1 antibody therapy: prior therapy 'Nivolumab'" in html.unescape(
        response.text
    )


def test_registration_succeeds_with_consent_and_confirmed_checklist(
    as_coordinator, coordinator, investigator
):
    patient = fe.registrable(coordinator, investigator)
    response = register(as_coordinator, patient)
    patient.refresh_from_db()
    assert (response.status_code, patient.is_registered) == (302, True)


@pytest.mark.parametrize(("days", "registered"), [(28, True), (29, False)])
def test_registration_within_28_days_of_screening(
    as_coordinator, coordinator, investigator, days, registered
):
    patient = fe.registrable(coordinator, investigator, days_ago=days)
    response = register(as_coordinator, patient)
    patient.refresh_from_db()
    assert patient.is_registered is registered
    if not registered:
        assert "the limit is 28 days (EC-RG-2)" in response.text


def test_registration_before_consent_is_refused(coordinator, investigator):
    patient = fe.registrable(coordinator, investigator)
    with pytest.raises(Exception, match="EC-RG-1"):
        patient_register(patient=patient, registration_date=TODAY - 10 * DAY, acting_user=coordinator)


# --- dates (EC-G1, EC-G3) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "field", "data"),
    [
        ("consent", "consent_datetime", {}),
        ("baseline", "assessment_date", {}),
        ("death", "death_date", {"primary_cause": "UNKNOWN", "autopsy": "N", "source": "RELATIVE"}),
        ("survival", "contact_date", {"method": "TELEPHONE", "reached": "Y", "survival_status": "ALIVE"}),
    ],
)
def test_dates_in_the_future_are_refused(as_coordinator, coordinator, investigator, slug, field, data):
    patient = fe.registered(coordinator, investigator)
    tomorrow = TODAY + DAY
    if slug == "consent":
        post = consent_post(coordinator, consent_datetime=fe.aware(tomorrow), icf_version="1.0")
    elif slug == "baseline":
        post = fe.post_data(fe.baseline_data(assessment_date=tomorrow))
    else:
        post = fe.post_data({field: tomorrow, **data})
    response = as_coordinator.post(new(patient, slug), post)
    assert response.status_code == 200 and "future" in response.text and "EC-G1" in response.text


def test_baseline_before_consent_is_refused(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    post = fe.post_data(fe.baseline_data(assessment_date=TODAY - 20 * DAY, imdc_lab_date=TODAY - 20 * DAY))
    response = as_coordinator.post(new(patient, "baseline"), post)
    assert "before informed consent" in response.text and "(EC-G3)" in response.text
    assert not Baseline.objects.filter(patient=patient).exists()


def test_survival_contact_before_consent_is_refused(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    post = fe.post_data(
        {"contact_date": TODAY - 30 * DAY, "method": "TELEPHONE", "reached": "Y", "survival_status": "ALIVE"}
    )
    response = as_coordinator.post(new(patient, "survival"), post)
    assert "(EC-G3)" in response.text


# --- baseline: age (EC-IC-3), ECOG/KPS (EC-BL-1), IMDC ----------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "confirmed", "saved"),
    [(17, True, False), (18, False, False), (18, True, True), (19, False, True), (60, False, True)],
)
def test_age_from_birth_year_at_consent(as_coordinator, coordinator, investigator, age, confirmed, saved):
    patient = fe.screen(coordinator)
    consent_day = TODAY - 9 * DAY
    fe.consent(patient, coordinator, on=consent_day)
    fe.eligibility(patient, coordinator, investigator=investigator if confirmed else None)
    post = fe.post_data(fe.baseline_data(birth_year=consent_day.year - age))
    response = as_coordinator.post(new(patient, "baseline"), post)
    assert Baseline.objects.filter(patient=patient).exists() is saved
    if not saved:
        assert "(EC-IC-3)" in response.text


@pytest.mark.parametrize(
    ("ecog", "kps", "ok"),
    [
        (0, 100, True),
        (0, 80, True),
        (0, 70, False),
        (1, 90, True),
        (1, 60, True),
        (1, 50, False),
        (2, 70, True),
        (2, 30, False),
        (3, 50, True),
        (4, 40, False),
        (4, 10, True),
    ],
)
def test_kps_must_match_ecog(as_coordinator, coordinator, investigator, ecog, kps, ok):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(
        new(patient, "baseline"), fe.post_data(fe.baseline_data(ecog=ecog, kps=kps))
    )
    assert Baseline.objects.filter(patient=patient).exists() is ok
    if not ok:
        assert f"Karnofsky {kps} does not match ECOG {ecog}" in response.text and "(EC-BL-1)" in response.text


@pytest.mark.parametrize(
    ("overrides", "score", "group"),
    [
        ({}, 0, "FAVOURABLE"),
        ({"kps": 70}, 1, "INTERMEDIATE"),
        ({"diagnosis_date": TODAY - 100 * DAY, "hgb_below_lln": "Y"}, 2, "INTERMEDIATE"),
        ({"kps": 70, "calcium_above_uln": "Y", "platelets_above_uln": "Y"}, 3, "POOR"),
    ],
)
def test_imdc_group_is_derived_and_provisional(coordinator, investigator, overrides, score, group):
    patient = fe.registered(coordinator, investigator)
    row = fe.baseline(patient, coordinator, **overrides)
    assert (row.imdc_score, row.imdc_group, row.imdc_provisional, row.age_at_consent) == (
        score,
        group,
        True,
        60,
    )


def test_baseline_page_shows_provisional_imdc(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    row = fe.baseline(patient, coordinator, kps=70)
    response = as_coordinator.get(row.get_absolute_url())
    assert "Intermediate (provisional" in response.text


def test_first_systemic_dose_date_is_none_without_doses(coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    assert selectors.first_systemic_dose_date(patient) is None


def test_first_systemic_dose_date_reads_real_doses_ec_bl_4():
    """EC-BL-4: the IMDC interval ends at the first axitinib or toripalimab dose; an omitted infusion is no dose
    (the dosing field ``infusion_status``; the treatment app answers through ``patient_facts``)."""
    from tests.factories_treatment import consented_patient, days_ago, give_axitinib, give_toripalimab

    patient = consented_patient(registered_days_ago=60)
    give_toripalimab(patient, on=days_ago(30), status="OMITTED")
    give_axitinib(patient, start=days_ago(20))
    assert selectors.first_systemic_dose_date(patient) == days_ago(20)
    give_toripalimab(patient, on=days_ago(25), cycle=2)
    assert selectors.first_systemic_dose_date(patient) == days_ago(25)


# --- death (EC-DD-1), survival (EC-SV-*), disposition (EC-DS-*) --------------------------------------------------


def death_post(day, **extra):
    return fe.post_data(
        {
            "death_date": day,
            "primary_cause": "DISEASE PROGRESSION",
            "cause_text": "",
            "autopsy": "N",
            "source": "HOSPITAL RECORD",
            "action": "submit",
            **extra,
        }
    )


def test_death_date_before_another_date_is_refused_naming_form_and_field(
    as_coordinator, coordinator, investigator
):
    patient = fe.registered(coordinator, investigator)
    fe.baseline(patient, coordinator, assessment_date=TODAY - 2 * DAY, imdc_lab_date=TODAY - 2 * DAY)
    response = as_coordinator.post(new(patient, "death"), death_post(TODAY - 4 * DAY))
    assert "Baseline: Date of baseline assessment" in response.text and "(EC-DD-1)" in response.text
    assert not DeathReport.objects.filter(patient=patient).exists()


def test_death_date_on_or_after_every_date_is_accepted(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(new(patient, "death"), death_post(TODAY))
    assert (response.status_code, selectors.death_date(patient)) == (302, TODAY)


def test_nothing_after_death_for_other_apps(coordinator, investigator):
    from django.core.exceptions import ValidationError

    from enrollment.rules import check_not_after_death

    patient = fe.registered(coordinator, investigator)
    DeathReport.objects.create(
        patient=patient, death_date=TODAY - DAY, primary_cause="UNKNOWN", autopsy="U", source="RELATIVE"
    )
    with pytest.raises(ValidationError, match="EC-G2"):
        check_not_after_death(patient, TODAY, "onset_date")


def survival_post(day, status="ALIVE", reached="Y"):
    return fe.post_data(
        {
            "contact_date": day,
            "method": "TELEPHONE",
            "reached": reached,
            "survival_status": status,
            "new_anticancer_tx": "N",
            "progression_reported": "N",
            "action": "submit",
        }
    )


def test_alive_contact_feeds_last_known_alive(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    as_coordinator.post(new(patient, "survival"), survival_post(TODAY))
    assert selectors.last_known_alive(patient) == TODAY


def test_unreached_contact_does_not_feed_last_known_alive(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    as_coordinator.post(new(patient, "survival"), survival_post(TODAY, status="", reached="N"))
    assert selectors.last_known_alive(patient) == patient.registration_date


def test_dead_status_needs_the_death_report(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(new(patient, "survival"), survival_post(TODAY, status="DEAD"))
    assert "Status DEAD needs the death report first (EC-SV-2)." in response.text


def disposition_post(**data):
    base = {
        "eot_reason": "",
        "eot_reason_text": "",
        "eos_date": None,
        "eos_reason": "",
        "eos_reason_text": "",
    }
    return fe.post_data({**base, **data, "action": "submit"})


def test_withdrawal_off_study_needs_consent_withdrawal(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(
        new(patient, "disposition"), disposition_post(eos_date=TODAY, eos_reason="WITHDRAWAL BY SUBJECT")
    )
    assert "Record the consent withdrawal on the informed consent form first (EC-DS-3)." in response.text


def test_off_study_before_another_date_is_refused(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(
        new(patient, "disposition"),
        disposition_post(eos_date=TODAY - 3 * DAY, eos_reason="PHYSICIAN DECISION"),
    )
    assert "Registration: Date of registration" in response.text and "(EC-DS-2)" in response.text


def test_selectors_for_other_apps(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    as_coordinator.post(new(patient, "disposition"), disposition_post(eos_date=TODAY, eos_reason="COMPLETED"))
    assert (selectors.end_of_study_date(patient), selectors.consent_datetime(patient)) == (
        TODAY,
        fe.aware(TODAY - 9 * DAY),
    )


# --- casebook --------------------------------------------------------------------------------------------------


def test_casebook_lists_enrollment_forms_in_spec_order(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    text = as_coordinator.get(reverse("casebook", args=[patient.pk])).text
    slugs = [
        "screening",
        "consent",
        "eligibility",
        "baseline",
        "medical-history",
        "prior-therapy",
        "disposition",
        "death",
        "survival",
    ]
    positions = [text.index(f'data-crf="{s}"') for s in slugs]
    assert positions == sorted(positions)


def test_screen_failure_lists_failed_criteria(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    log = ScreeningLog.objects.get(patient=patient)
    data = {
        "screening_date": log.screening_date.isoformat(),
        "outcome": "SCREEN FAILURE",
        "outcome_date": TODAY.isoformat(),
        "failure_reason": "CRITERIA NOT MET",
        "failure_text": "",
        "expected_version": log.version,
        "change_reason": "Screen failure",
    }
    response = as_coordinator.post(reverse("crf_update", args=[patient.pk, "screening", log.pk]), data)
    assert "at least one criterion not met (EC-SC-1)" in response.text
    data["failed_criteria"] = ["INCL05"]
    as_coordinator.post(reverse("crf_update", args=[patient.pk, "screening", log.pk]), data)
    log.refresh_from_db()
    assert log.failed_criteria == ["INCL05"]
    assert Patient.objects.get(pk=patient.pk).study_number is None


def test_survival_contact_keeps_the_crf_lifecycle_status(as_coordinator, coordinator, investigator):
    from enrollment.models import SurvivalContact

    patient = fe.registered(coordinator, investigator)
    as_coordinator.post(new(patient, "survival"), survival_post(TODAY))
    row = SurvivalContact.objects.get(patient=patient)
    assert (row.status, row.survival_status) == (CrfStatus.SUBMITTED, "ALIVE")


def test_death_from_adverse_event_needs_the_fatal_event(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    response = as_coordinator.post(new(patient, "death"), death_post(TODAY, primary_cause="ADVERSE EVENT"))
    assert "needs the grade 5 adverse event (EC-DD-2)" in response.text
    assert not DeathReport.objects.filter(patient=patient).exists()


def test_screening_log_is_read_only_after_registration(as_coordinator, coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    log = ScreeningLog.objects.get(patient=patient)
    data = {
        "screening_date": (log.screening_date - DAY).isoformat(),
        "outcome": "ELIGIBLE",
        "outcome_date": log.outcome_date.isoformat(),
        "failure_reason": "",
        "failure_text": "",
        "expected_version": log.version,
        "change_reason": "typo",
    }
    response = as_coordinator.post(reverse("crf_update", args=[patient.pk, "screening", log.pk]), data)
    log.refresh_from_db()
    assert "read-only (EC-SC-2)" in response.text and log.screening_date == TODAY - 10 * DAY
