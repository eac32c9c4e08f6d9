"""Save and continue (issue 19): after a save the coordinator lands on the next form to fill, not on a read-only page;
"save and add another" for repeating forms; the cursor starts in the first field."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Consent, Patient
from tests import factories_enrollment as fe
from tests.factories_adverse_events import ae_payload, ensure_ctcae_terms
from tests.factories_visits import treated_patient
from tests.test_enrollment import consent_post, eligibility_post

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def create(patient, slug: str, nxt: str = "") -> str:
    url = reverse("crf_create", args=[patient.pk, slug])
    return f"{url}?next={nxt}" if nxt else url


def test_screening_forms_follow_each_other_up_to_registration(as_coordinator, coordinator):
    response = as_coordinator.post(
        reverse("patient_new") + "?next=continue",
        {"screening_date": (TODAY - datetime.timedelta(days=3)).isoformat()},
    )
    patient = Patient.objects.get()
    assert response.url == create(patient, "consent")
    data = consent_post(coordinator, consent_datetime=fe.aware(TODAY - datetime.timedelta(days=2)))
    response = as_coordinator.post(create(patient, "consent", "continue"), data)
    assert response.status_code == 302 and Consent.objects.filter(patient=patient).exists()
    assert response.url == create(patient, "eligibility")
    response = as_coordinator.post(
        create(patient, "eligibility", "continue"), eligibility_post(fe.qualifying_answers())
    )
    assert response.url == reverse("patient_register", args=[patient.pk])


def test_without_continue_the_save_shows_the_saved_form(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    response = as_coordinator.post(create(patient, "consent"), consent_post(coordinator))
    assert response.url == Consent.objects.get(patient=patient).get_absolute_url()


def test_after_registration_continue_opens_the_next_open_form_of_the_visit(as_coordinator):
    ensure_ctcae_terms()
    patient = treated_patient(start_days_ago=2)
    grid = as_coordinator.get(reverse("visits:patient_grid", args=[patient.pk])).text
    response = as_coordinator.post(
        create(patient, "adverse-event", "continue"),
        ae_payload(onset_date=(TODAY - datetime.timedelta(days=1)).isoformat(), acn_sabr="DOSE NOT CHANGED"),
    )
    assert response.status_code == 302
    assert response.url.startswith(f"/patients/{patient.pk}/forms/") and response.url.endswith("/new/")
    assert response.url in grid  # a form the visit schedule shows as open


def test_save_and_add_another_opens_a_new_form_of_the_same_kind(as_coordinator):
    ensure_ctcae_terms()
    patient = treated_patient(start_days_ago=10)
    response = as_coordinator.post(
        create(patient, "adverse-event", "another"), ae_payload(acn_sabr="DOSE NOT CHANGED")
    )
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == create(patient, "adverse-event")


def test_another_keeps_the_page_query(as_coordinator):
    patient = treated_patient(start_days_ago=10)
    from treatment.models import SabrCourse

    course = SabrCourse.objects.get(patient=patient)
    page = as_coordinator.get(create(patient, "sabr-target") + f"?course={course.pk}").text
    assert f'formaction="?course={course.pk}&amp;next=another"' in page


def test_a_new_form_page_offers_continue_first_and_focuses_the_first_field(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    page = as_coordinator.get(create(patient, "consent")).text
    buttons = page.split('class="form-actions"')[1]
    assert buttons.index('data-testid="save-continue"') < buttons.index('value="draft"')  # Enter = continue
    assert page.count("autofocus") == 1


@pytest.mark.parametrize(("after_start", "warned"), [(0, True), (-3, True), (56, False)])
def test_an_assessment_on_or_before_sabr_start_says_at_entry_it_is_not_used_for_pfs(
    as_coordinator, after_start, warned
):
    from tests.factories_assessments import BASELINE, LesionFactory, assessment_post

    start_days_ago = (TODAY - BASELINE).days - 30  # SABR starts 30 days after the baseline scans
    patient = treated_patient(start_days_ago=start_days_ago)
    LesionFactory(patient=patient, organ="LIVER", baseline_value_mm=60)
    day = 30 + after_start
    response = as_coordinator.post(
        create(patient, "tumour-assessment"),
        assessment_post(patient, {"L1": 20, "L2": 50}, day=day),
        follow=True,
    )
    assert response.redirect_chain, re.findall(
        r"(?:invalid-feedback|alert-danger)[^>]*>(.*?)</", response.text, re.S
    )
    assert ("it is not used for PFS" in response.text) is warned


# --- screening to the first tumour assessment in one pass (issue 19, done-when) --------------------------------


def test_registration_with_continue_opens_the_baseline(as_coordinator, coordinator, investigator):
    patient = fe.registrable(coordinator, investigator)
    page = as_coordinator.get(reverse("patient_register", args=[patient.pk])).text
    assert page.index('formaction="?next=continue"') < page.index("Register and assign study number")  # Enter
    response = as_coordinator.post(
        reverse("patient_register", args=[patient.pk]) + "?next=continue",
        {"registration_date": TODAY.isoformat()},
    )
    assert response.url == create(patient, "baseline")


def test_after_the_baseline_medical_history_then_prior_therapy_when_there_were_prior_lines(
    as_coordinator, coordinator, investigator
):
    from sabr_trial.views import next_form_url

    patient = fe.registered(coordinator, investigator)
    base = fe.baseline(patient, coordinator, prior_systemic_lines=1)
    assert next_form_url(patient, "baseline", base) == create(patient, "medical-history")
    from enrollment.models import MedicalHistory

    mh = MedicalHistory.objects.create(
        patient=patient, mh_term="Hypertension", mh_category="CARDIOVASCULAR", start_date="2015", ongoing="Y"
    )
    assert next_form_url(patient, "medical-history", mh) == create(patient, "prior-therapy")
    Baseline = type(base)
    Baseline.objects.filter(pk=base.pk).update(prior_systemic_lines=0)
    assert next_form_url(patient, "medical-history", mh) == create(
        patient, "lesion"
    )  # the screening visit's next


def test_a_sabr_course_leads_to_its_targets_then_to_its_treatment_days_until_every_fraction_is_recorded(
    as_coordinator,
):
    from tests.factories_assessments import LesionFactory
    from tests.factories_treatment import SabrCourseFactory, consented_patient, days_ago
    from tests.test_treatment import target_data
    from treatment.models import SabrTarget

    patient = consented_patient(registered_days_ago=20)
    lesions = [LesionFactory(patient=patient, organ="LUNG"), LesionFactory(patient=patient, organ="LIVER")]
    course = SabrCourseFactory(patient=patient, simulation_date=days_ago(15))
    from sabr_trial.views import next_form_url

    first_target = create(patient, "sabr-target") + f"?course={course.pk}"
    assert next_form_url(patient, "sabr-course", course) == first_target
    response = as_coordinator.post(
        first_target + "&next=another",
        {**target_data(course, lesions[0], n_fractions="2"), "action": "submit"},
    )
    assert response.url == first_target  # another target of the same course
    response = as_coordinator.post(
        first_target + "&next=continue",
        {**target_data(course, lesions[1], n_fractions="1"), "action": "submit"},
    )
    day_url = reverse("treatment:fraction_day", args=[patient.pk, course.pk])
    assert response.url == day_url
    targets = list(SabrTarget.objects.filter(course=course).order_by("pk"))
    page = as_coordinator.get(day_url).text
    assert page.split('class="form-actions"')[1].index('formaction="?next=continue"') < page.index(
        'value="draft"'
    )

    def treatment_day(days: int, *chosen) -> str:
        data = {"fraction_date": days_ago(days).isoformat(), "action": "submit"}
        for t in chosen:
            data |= {
                f"t{t.pk}-record": "1",
                f"t{t.pk}-delivered": "Y",
                f"t{t.pk}-dose": str(t.dose_per_fraction_gy),
            }
        response = as_coordinator.post(day_url + "?next=continue", data)
        assert response.status_code == 302
        return response.url

    assert treatment_day(10, *targets) == day_url  # the first target has a fraction left
    after = treatment_day(8, targets[0])
    assert "fraction-day" not in after and after.startswith(
        f"/patients/{patient.pk}/forms/"
    )  # the visit's next


def screening_done(patient, user):
    """Mark the screening visit's forms the factory patient lacks, so the schedule's next open form is a cycle's."""
    from visits import services
    from visits.models import NotDone
    from visits.schedule import SCREENING_FORMS

    for slug in SCREENING_FORMS:
        services.not_done_mark(
            patient=patient,
            form_slug=slug,
            visit_key="SCR",
            acting_user=user,
            reason_code=NotDone.ReasonCode.NOT_APPLICABLE,
            reason="entered elsewhere",
            form_title=slug,
            visit_label="SCR",
        )
    return patient


def test_an_ae_review_opens_with_its_visit_and_nothing_to_report_marks_it_and_goes_on(
    as_coordinator, coordinator
):
    from visits.models import NotDone
    from visits.views import next_form_url

    ensure_ctcae_terms()
    patient = screening_done(treated_patient(start_days_ago=30, cycles_given=2), coordinator)
    url = next_form_url(patient, "toripalimab", None)
    assert url == create(patient, "adverse-event") + "?visit=C1"
    page = as_coordinator.get(url).text
    assert 'data-testid="nothing-to-report"' in page and 'name="visit" value="C1"' in page
    response = as_coordinator.post(
        reverse("visits:not_done", args=[patient.pk]) + "?next=continue",
        {
            "form": "adverse-event",
            "visit": "C1",
            "reason_code": "NOTHING TO REPORT",
            "reason": "Nothing new to report at this visit.",
        },
    )
    assert (
        NotDone.objects.get(patient=patient, visit_key="C1").reason_code
        == NotDone.ReasonCode.NOTHING_TO_REPORT
    )
    assert response.url == create(patient, "adverse-event") + "?visit=C2"  # C2's review is the next open form
    assert 'data-testid="nothing-to-report"' not in as_coordinator.get(create(patient, "adverse-event")).text


def test_a_toripalimab_form_opens_with_the_visit_cycle(as_coordinator, coordinator):
    from visits import services
    from visits.models import NotDone
    from visits.views import next_form_url

    patient = screening_done(treated_patient(start_days_ago=25, cycles_given=1), coordinator)
    services.not_done_mark(
        patient=patient,
        form_slug="adverse-event",
        visit_key="C1",
        acting_user=coordinator,
        reason_code=NotDone.ReasonCode.NOTHING_TO_REPORT,
        reason="none",
        form_title="AE",
        visit_label="C1",
    )
    url = next_form_url(patient, "axitinib", None)
    assert url == create(patient, "toripalimab") + "?cycle_number=2"
    field = as_coordinator.get(url).text.split('name="cycle_number"')[1].split(">")[0]
    assert 'value="2"' in field
