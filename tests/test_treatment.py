"""Treatment CRFs (forms 10-16) through HTTP as personas: BED/EQD2 per lesion, fraction log, axitinib,
toripalimab, steroids, next-line therapy, exposure panel; bad input refused with the rule id next to the field."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from sabr_trial import patient_dates
from sabr_trial.crf import CrfStatus
from tests.factories_assessments import LesionFactory
from tests.factories_treatment import (
    AxitinibPeriodFactory,
    SabrCourseFactory,
    SabrFractionFactory,
    SabrTargetFactory,
    ToripalimabInfusionFactory,
    consented_patient,
    days_ago,
)
from treatment import selectors
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)

pytestmark = pytest.mark.django_db


def new_url(patient, slug):
    return reverse("crf_create", args=[patient.pk, slug])


def post(client, patient, slug, data, action="submit"):
    return client.post(new_url(patient, slug), {**data, "action": action})


@pytest.fixture
def patient():
    return consented_patient(registered_days_ago=60)


@pytest.fixture
def course(patient):
    return SabrCourseFactory(patient=patient, simulation_date=days_ago(55))


def target_data(course, lesion, **changes):
    data = {
        "course": course.pk,
        "lesion": lesion.pk,
        "prescribed_dose_gy": "30",
        "n_fractions": "3",
        "isodose_pct": "80",
        "gtv_cc": "",
        "ptv_cc": "20",
        "alpha_beta_gy": "10",
        "dose_override_reason": "",
        "is_reirradiation": "N",
        "reirradiation_reason": "",
    }
    data.update(changes)
    return data


# --- Form 10 ------------------------------------------------------------------------------------------------


def test_course_is_numbered_per_patient_and_history_kept(as_coordinator, patient):
    data = {
        "is_protocol": "Y",
        "indication": "INITIAL PROTOCOL SABR",
        "simulation_date": days_ago(50).isoformat(),
        "technique": "VMAT",
        "image_guidance": "CBCT",
        "completion_status": "",
        "stop_reason": "",
    }
    assert post(as_coordinator, patient, "sabr-course", data).status_code == 302
    assert post(as_coordinator, patient, "sabr-course", data).status_code == 302
    courses = list(SabrCourse.objects.filter(patient=patient).order_by("course_number"))
    assert [c.course_number for c in courses] == [1, 2]
    assert courses[0].status == CrfStatus.SUBMITTED and courses[0].history.count() == 1


def test_course_stopped_early_needs_a_reason(as_coordinator, patient):
    data = {
        "is_protocol": "Y",
        "indication": "INITIAL PROTOCOL SABR",
        "simulation_date": days_ago(50).isoformat(),
        "technique": "VMAT",
        "image_guidance": "CBCT",
        "completion_status": "STOPPED EARLY",
        "stop_reason": "",
    }
    response = post(as_coordinator, patient, "sabr-course", data)
    assert response.status_code == 200 and "Say why the course was changed or stopped early" in response.text
    assert not SabrCourse.objects.exists()


def test_treatment_forms_refused_for_unregistered_patient(as_coordinator):
    from tests.factories import PatientFactory

    screened = PatientFactory()
    response = as_coordinator.get(new_url(screened, "toripalimab"))
    assert response.status_code == 302 and response.url == reverse("casebook", args=[screened.pk])


# --- Form 11: BED/EQD2 per lesion (R3.3 rows through the form) ------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "n", "bed10", "eqd2_10", "bed3", "eqd2_3"),
    [
        ("20", 1, "60.0", "50.0", "153.3", "92.0"),
        ("24", 1, "81.6", "68.0", "216.0", "129.6"),
        ("30", 3, "60.0", "50.0", "130.0", "78.0"),
        ("45", 3, "112.5", "93.8", "270.0", "162.0"),
        ("35", 5, "59.5", "49.6", "116.7", "70.0"),
        ("40", 5, "72.0", "60.0", "146.7", "88.0"),
        ("50", 5, "100.0", "83.3", "216.7", "130.0"),
        ("30", 10, "39.0", "32.5", "60.0", "36.0"),
    ],
)
def test_target_stores_and_shows_bed_eqd2_with_alpha_beta(
    as_coordinator, course, dose, n, bed10, eqd2_10, bed3, eqd2_3
):
    lesion = LesionFactory(patient=course.patient)
    response = post(
        as_coordinator,
        course.patient,
        "sabr-target",
        target_data(course, lesion, prescribed_dose_gy=dose, n_fractions=str(n)),
    )
    assert response.status_code == 302, response.content
    target = SabrTarget.objects.get()
    shown = (target.bed10_display, target.eqd2_10_display, target.bed3_display, target.eqd2_3_display)
    assert shown == (bed10, eqd2_10, bed3, eqd2_3)
    page = as_coordinator.get(response.url).text
    assert f"BED10 (α/β 10 Gy)</th><td>{bed10}" in page and f"EQD2 (α/β 3 Gy)</th><td>{eqd2_3}" in page
    assert target.dose_per_fraction_gy == (Decimal(dose) / n).quantize(Decimal("0.01"))
    assert lesion.irradiated_protocol  # D4, EC-ST-3: the lesion now has its SABR target


def test_target_at_chosen_alpha_beta_is_labelled(as_coordinator, course):
    lesion = LesionFactory(patient=course.patient)
    response = post(
        as_coordinator, course.patient, "sabr-target", target_data(course, lesion, alpha_beta_gy="2.6")
    )
    page = as_coordinator.get(response.url).text
    target = SabrTarget.objects.get()
    assert target.bed10_display == "60.0" and "BED (α/β 2.6 Gy, chosen)" in page
    assert round(target.bed_gy, 1) == Decimal("145.4")


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        ({"n_fractions": "0"}, "At least 1 fraction (EC-ST-1)."),
        ({"n_fractions": "16"}, "At most 15 fractions for SABR (EC-ST-1)."),
        ({"prescribed_dose_gy": "85", "n_fractions": "5"}, "over 80 Gy: give the override reason (EC-ST-1)."),
        ({"prescribed_dose_gy": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"is_reirradiation": "Y"}, "A re-irradiation needs its reason (EC-ST-1)."),
        ({"isodose_pct": "40"}, "Ensure this value is greater than or equal to 50."),
    ],
)
def test_bad_target_is_refused_with_a_named_message(as_coordinator, course, changes, field_message):
    lesion = LesionFactory(patient=course.patient)
    response = post(as_coordinator, course.patient, "sabr-target", target_data(course, lesion, **changes))
    assert response.status_code == 200 and field_message in response.text
    assert not SabrTarget.objects.exists()


def test_over_80_gy_with_override_reason_is_accepted(as_coordinator, course):
    lesion = LesionFactory(patient=course.patient)
    response = post(
        as_coordinator,
        course.patient,
        "sabr-target",
        target_data(
            course,
            lesion,
            prescribed_dose_gy="100",
            n_fractions="10",
            dose_override_reason="Protocol amendment 3",
        ),
    )
    assert response.status_code == 302 and SabrTarget.objects.get().bed10_display == "200.0"


def test_one_target_per_lesion_per_course_and_reirradiation_needs_flag(as_coordinator, course):
    first = SabrTargetFactory(course=course)
    response = post(as_coordinator, course.patient, "sabr-target", target_data(course, first.lesion))
    assert "already has a target in this course: one target per lesion per course (EC-ST-1)" in response.text
    second = SabrCourseFactory(patient=course.patient, simulation_date=days_ago(20))
    response = post(as_coordinator, course.patient, "sabr-target", target_data(second, first.lesion))
    assert "was already treated with SABR: record this target as a re-irradiation" in response.text
    response = post(
        as_coordinator,
        course.patient,
        "sabr-target",
        target_data(second, first.lesion, is_reirradiation="Y", reirradiation_reason="LOCAL FAILURE"),
    )
    assert response.status_code == 302 and SabrTarget.objects.filter(lesion=first.lesion).count() == 2


def test_lesion_of_another_patient_is_not_offered(as_coordinator, course):
    other = LesionFactory()
    response = post(as_coordinator, course.patient, "sabr-target", target_data(course, other))
    assert response.status_code == 200 and "Select a valid choice" in response.text


# --- Form 12: fraction log, D1 ----------------------------------------------------------------------------------


def fraction_data(target, **changes):
    data = {
        "target": target.pk,
        "fraction_number": "1",
        "fraction_date": days_ago(50).isoformat(),
        "delivered": "Y",
        "dose_delivered_gy": "10",
        "not_delivered_reason": "",
        "adverse_event": "",
    }
    data.update(changes)
    return data


def test_fractions_set_course_dates_sabr_start_and_delivered_bed(as_coordinator, course):
    target = SabrTargetFactory(course=course)
    for number, day in ((1, 50), (2, 48), (3, 46)):
        response = post(
            as_coordinator,
            course.patient,
            "sabr-fraction",
            fraction_data(target, fraction_number=str(number), fraction_date=days_ago(day).isoformat()),
        )
        assert response.status_code == 302
    target.refresh_from_db()
    course.refresh_from_db()
    assert (course.start_date, course.completion_date) == (days_ago(50), days_ago(46))
    assert (target.first_fraction_date, target.last_fraction_date) == (days_ago(50), days_ago(46))
    assert target.bed10_delivered_display == "60.0"
    assert selectors.sabr_start(course.patient) == days_ago(50)
    assert selectors.lesion_lc_origin(target.lesion) == days_ago(50)
    page = as_coordinator.get(course.get_absolute_url()).text
    assert "3 / 3" in page and "complete" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fraction_number": "4"}, "Fraction 4 is beyond the 3 planned fractions of this target (EC-FX-1)."),
        ({"fraction_number": "0"}, "Fractions are numbered from 1 (EC-FX-1)."),
        ({"dose_delivered_gy": ""}, "A delivered fraction needs its dose (EC-FX-2)."),
        ({"delivered": "N", "dose_delivered_gy": ""}, "A fraction not delivered needs the reason (EC-FX-2)."),
        ({"fraction_date": days_ago(61).isoformat()}, "is before registration on"),
        ({"fraction_date": days_ago(57).isoformat()}, "is before the planning CT on"),
        ({"fraction_date": days_ago(-1).isoformat()}, "(EC-G1)"),
    ],
)
def test_bad_fraction_is_refused_with_a_named_message(as_coordinator, course, changes, message):
    target = SabrTargetFactory(course=course)
    response = post(as_coordinator, course.patient, "sabr-fraction", fraction_data(target, **changes))
    assert response.status_code == 200 and message in response.text
    assert not SabrFraction.objects.exists()


def test_duplicate_fraction_number_is_refused(as_coordinator, course):
    fraction = SabrFractionFactory(target=SabrTargetFactory(course=course), fraction_date=days_ago(50))
    response = post(as_coordinator, course.patient, "sabr-fraction", fraction_data(fraction.target))
    assert "Fraction 1 of this target is already recorded (EC-FX-1)." in response.text


def test_fraction_toxicity_needs_ae_link(as_coordinator, course):
    target = SabrTargetFactory(course=course)
    response = post(
        as_coordinator,
        course.patient,
        "sabr-fraction",
        fraction_data(target, delivered="N", dose_delivered_gy="", not_delivered_reason="TOXICITY"),
    )
    assert "A fraction not delivered for toxicity needs the adverse event (EC-FX-2)." in response.text


def _second_fraction_with_soft_flags(client, course):
    """Fraction 1 of a new target 50 days ago, then fraction 2 entered through the form 30 days later with 9 Gy of
    the planned 10 Gy: two EC-FX-2 soft flags (the dose, the 21-day course window). Returns the save's response."""
    target = SabrTargetFactory(course=course)
    SabrFractionFactory(target=target, fraction_date=days_ago(50))
    return post(
        client,
        course.patient,
        "sabr-fraction",
        fraction_data(
            target, fraction_number="2", fraction_date=days_ago(20).isoformat(), dose_delivered_gy="9"
        ),
    )


def test_soft_fraction_warnings_are_saved_and_shown(as_coordinator, course):
    response = _second_fraction_with_soft_flags(as_coordinator, course)
    assert response.status_code == 302 and SabrFraction.objects.count() == 2
    page = as_coordinator.get(response.url).text
    assert "9.00 Gy delivered, planned 10.00 Gy per fraction (EC-FX-2)" in page
    assert "outside the 21-day course window (EC-FX-2)" in page


def test_fraction_count_cannot_drop_below_recorded_fractions(as_coordinator, course):
    target = SabrTargetFactory(course=course)
    SabrFractionFactory(target=target, fraction_number=3, fraction_date=days_ago(50))
    data = target_data(
        course, target.lesion, n_fractions="2", prescribed_dose_gy="20", expected_version=target.version
    )
    response = as_coordinator.post(
        reverse("crf_update", args=[course.patient.pk, "sabr-target", target.pk]), data
    )
    assert (
        "Fraction 3 is already recorded: the number of fractions cannot be below it (EC-FX-1)."
        in response.text
    )


def test_fraction_day_grid_records_one_fraction_per_target(as_coordinator, course):
    a = SabrTargetFactory(course=course, prescribed_dose_gy=Decimal("24"), n_fractions=1)
    b = SabrTargetFactory(course=course)
    url = reverse("treatment:fraction_day", args=[course.patient.pk, course.pk])
    response = as_coordinator.post(
        url,
        {
            "fraction_date": days_ago(50).isoformat(),
            f"t{a.pk}-record": "1",
            f"t{a.pk}-delivered": "Y",
            f"t{a.pk}-dose": "24",
            f"t{b.pk}-record": "1",
            f"t{b.pk}-delivered": "Y",
            f"t{b.pk}-dose": "10",
        },
    )
    assert response.status_code == 302
    assert sorted(SabrFraction.objects.values_list("target_id", "fraction_number")) == [(a.pk, 1), (b.pk, 1)]


def test_fraction_day_grid_saves_nothing_when_one_target_is_wrong(as_coordinator, course):
    a = SabrTargetFactory(course=course)
    b = SabrTargetFactory(course=course)
    url = reverse("treatment:fraction_day", args=[course.patient.pk, course.pk])
    response = as_coordinator.post(
        url,
        {
            "fraction_date": days_ago(50).isoformat(),
            f"t{a.pk}-record": "1",
            f"t{a.pk}-delivered": "Y",
            f"t{a.pk}-dose": "10",
            f"t{b.pk}-record": "1",
            f"t{b.pk}-delivered": "N",
            f"t{b.pk}-dose": "",
            f"t{b.pk}-reason": "",
        },
    )
    assert (
        response.status_code == 200
        and "A fraction not delivered needs the reason (EC-FX-2)." in response.text
    )
    assert not SabrFraction.objects.exists()


# --- Form 13: axitinib -------------------------------------------------------------------------------------------


def axi_data(**changes):
    data = {
        "start_date": days_ago(55).isoformat(),
        "end_date": "",
        "dose_level": "5 MG BID",
        "other_dose_mg": "",
        "other_dose_reason": "",
        "dose_change_reason": "START",
        "missed_doses": "0",
        "bp_ok_no_antihtn": "",
        "adverse_event": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dose_level": "6 MG BID"}, "6 MG BID is not an axitinib dose level: only 10, 7, 5, 3 or 2 mg BID"),
        ({"other_dose_mg": "2.5"}, "A dose off the level list needs its reason (R4.2, EC-AX-2)."),
        ({"other_dose_mg": "7", "other_dose_reason": "OTHER"}, "7 mg BID is a dose level: choose it"),
        ({"start_date": days_ago(61).isoformat()}, "is before registration on"),
        ({"end_date": days_ago(56).isoformat()}, "is before the start"),
        (
            {"dose_change_reason": "REDUCTION FOR TOXICITY"},
            "A change for toxicity needs the adverse event (EC-AX-2).",
        ),
    ],
)
def test_bad_axitinib_period_is_refused(as_coordinator, patient, changes, message):
    response = post(as_coordinator, patient, "axitinib", axi_data(**changes))
    assert response.status_code == 200 and message in response.text
    assert not AxitinibPeriod.objects.exists()


def test_axitinib_periods_do_not_overlap_and_only_last_is_open(as_coordinator, patient):
    AxitinibPeriodFactory(patient=patient, start_date=days_ago(55), end_date=None)
    response = post(as_coordinator, patient, "axitinib", axi_data(start_date=days_ago(30).isoformat()))
    assert "overlaps the period" in response.text
    AxitinibPeriod.objects.update(end_date=days_ago(31))
    response = post(
        as_coordinator, patient, "axitinib", axi_data(start_date=days_ago(40).isoformat(), end_date="")
    )
    assert "overlaps the period" in response.text
    response = post(
        as_coordinator,
        patient,
        "axitinib",
        axi_data(start_date=days_ago(58).isoformat(), end_date="", dose_change_reason="OTHER"),
    )
    assert "Only the last period may be open" in response.text


def test_nothing_after_permanent_discontinuation(as_coordinator, patient):
    AxitinibPeriodFactory(patient=patient, start_date=days_ago(55), end_date=days_ago(40))
    AxitinibPeriodFactory(
        patient=patient,
        start_date=days_ago(39),
        end_date=days_ago(39),
        dose_level="PERMANENTLY DISCONTINUED",
        dose_change_reason="OTHER",
    )
    response = post(as_coordinator, patient, "axitinib", axi_data(start_date=days_ago(20).isoformat()))
    assert "Axitinib was permanently discontinued on" in response.text and AxitinibPeriod.objects.count() == 2


def test_early_titration_is_saved_with_a_warning(as_coordinator, patient):
    AxitinibPeriodFactory(patient=patient, start_date=days_ago(55), end_date=days_ago(31))
    response = post(
        as_coordinator,
        patient,
        "axitinib",
        axi_data(
            start_date=days_ago(30).isoformat(),
            dose_level="10 MG BID",
            dose_change_reason="TITRATION UP",
            bp_ok_no_antihtn="N",
        ),
    )
    assert response.status_code == 302 and AxitinibPeriod.objects.count() == 2
    page = as_coordinator.get(response.url, follow=True).text
    assert (
        "skips a level" in page and "only 25 days at 5 MG BID" in page and "bp_ok_no_antihtn is not Y" in page
    )


def test_titration_meeting_the_rule_has_no_warning(as_coordinator, patient):
    AxitinibPeriodFactory(patient=patient, start_date=days_ago(55), end_date=days_ago(10))
    response = post(
        as_coordinator,
        patient,
        "axitinib",
        axi_data(
            start_date=days_ago(9).isoformat(),
            dose_level="7 MG BID",
            dose_change_reason="TITRATION UP",
            bp_ok_no_antihtn="Y",
        ),
    )
    assert response.status_code == 302
    assert "EC-AX-3" not in as_coordinator.get(response.url).text


# --- Form 14: toripalimab --------------------------------------------------------------------------------------


def tori_data(**changes):
    data = {
        "cycle_number": "1",
        "infusion_status": "GIVEN",
        "infusion_date": days_ago(55).isoformat(),
        "dose_mg": "240",
        "dose_deviation_reason": "",
        "status_reason": "",
        "adverse_event": "",
        "infusion_interrupted": "N",
        "lot_number": "L123",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"infusion_date": days_ago(61).isoformat()}, "is before registration on"),
        ({"dose_mg": "250"}, "The dose is 250 mg, not 240 mg: give the reason (R4.7, EC-TO-2)."),
        (
            {"dose_mg": "200", "dose_deviation_reason": "toxicity"},
            "200 mg is a dose reduction: toripalimab is never reduced",
        ),
        ({"cycle_number": "2"}, "Cycles are consecutive: the next cycle is 1, not 2 (EC-TO-1)."),
        (
            {"infusion_status": "DELAYED", "infusion_date": ""},
            "Give the reason for the delay, omission or stop (EC-TO-4).",
        ),
        (
            {"infusion_status": "OMITTED", "infusion_date": "", "status_reason": "ADVERSE EVENT"},
            "needs the AE (EC-TO-4).",
        ),
        ({"infusion_date": ""}, "A given infusion needs its date (EC-TO-1)."),
    ],
)
def test_bad_infusion_is_refused(as_coordinator, patient, changes, message):
    response = post(as_coordinator, patient, "toripalimab", tori_data(**changes))
    assert response.status_code == 200 and message in response.text
    assert not ToripalimabInfusion.objects.exists()


def test_partial_dose_of_interrupted_infusion_with_reason_is_accepted(as_coordinator, patient):
    response = post(
        as_coordinator,
        patient,
        "toripalimab",
        tori_data(
            dose_mg="120",
            infusion_interrupted="Y",
            dose_deviation_reason="Infusion reaction grade 2, stopped",
        ),
    )
    assert response.status_code == 302 and ToripalimabInfusion.objects.get().dose_mg == Decimal("120")


@pytest.mark.parametrize(("gap", "warned"), [(17, True), (18, False), (21, False), (24, False), (25, True)])
def test_infusion_interval_warning(as_coordinator, patient, gap, warned):
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(55))
    response = post(
        as_coordinator,
        patient,
        "toripalimab",
        tori_data(cycle_number="2", infusion_date=days_ago(55 - gap).isoformat()),
    )
    assert response.status_code == 302
    page = as_coordinator.get(response.url).text
    assert ("(EC-TO-3)" in page) is warned
    row = ToripalimabInfusion.objects.get(cycle_number=2)
    assert row.planned_date == days_ago(55 - 21)


def test_no_cycle_after_permanent_discontinuation(as_coordinator, patient):
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(55))
    ToripalimabInfusionFactory(
        patient=patient,
        cycle_number=2,
        infusion_status="PERMANENTLY DISCONTINUED",
        infusion_date=None,
        dose_mg=None,
        status_reason="PROGRESSION",
    )
    response = post(
        as_coordinator,
        patient,
        "toripalimab",
        tori_data(cycle_number="3", infusion_date=days_ago(10).isoformat()),
    )
    assert "Toripalimab was permanently discontinued at cycle 2: no later cycle (EC-TO-1)." in response.text


# --- Form 15, 16 -----------------------------------------------------------------------------------------------


def steroid_data(**changes):
    data = {
        "drug": "METHYLPREDNISOLONE",
        "drug_other": "",
        "dose": "1",
        "dose_unit": "mg",
        "frequency": "BID",
        "route": "INTRAVENOUS",
        "start_date": days_ago(40).isoformat(),
        "ongoing": "Y",
        "end_date": "",
        "indication": "OTHER",
        "adverse_event": "",
    }
    data.update(changes)
    return data


def test_steroid_prednisone_equivalent_is_derived(as_coordinator, patient):
    response = post(as_coordinator, patient, "immunosuppressant", steroid_data(dose="40"))
    assert response.status_code == 302
    assert Immunosuppressant.objects.get().pred_equiv_mg_day == Decimal("100.00")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"end_date": days_ago(30).isoformat()},
            "This field applies only when “Ongoing?” is “No” (EC-CM-1).",
        ),
        ({"ongoing": "N"}, "A stopped drug needs its stop date (EC-CM-1)."),
        ({"indication": "IMMUNE-RELATED AE"}, "needs the AE (EC-CM-1)."),
        ({"drug": "OTHER"}, "Name the drug when it is &#x27;Other&#x27;."),
    ],
)
def test_bad_steroid_is_refused(as_coordinator, patient, changes, message):
    response = post(as_coordinator, patient, "immunosuppressant", steroid_data(**changes))
    assert response.status_code == 200 and message in response.text


def test_steroid_not_tapered_after_12_weeks_warns(as_coordinator):
    patient = consented_patient(registered_days_ago=120)
    response = post(
        as_coordinator,
        patient,
        "immunosuppressant",
        steroid_data(
            drug="PREDNISONE", dose="20", frequency="QD", route="ORAL", start_date=days_ago(100).isoformat()
        ),
    )
    assert "(R4.8, EC-CM-2)" in as_coordinator.get(response.url).text


def therapy_data(**changes):
    data = {
        "therapy_type": "SYSTEMIC",
        "regimen": "Cabozantinib",
        "start_date": days_ago(5).isoformat(),
        "end_date": "",
        "reason": "PROGRESSION",
        "local_on_protocol": "N",
        "sabr_course": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("reason", "local", "event"),
    [
        ("PROGRESSION", "N", "Y"),
        ("CLINICAL DETERIORATION", "N", "Y"),
        ("PROGRESSION", "Y", "N"),
        ("TOXICITY", "N", "N"),
        ("PATIENT CHOICE", "N", "N"),
        ("OTHER", "N", "N"),
    ],
)
def test_pfs2_event_is_derived_per_d2(as_coordinator, patient, reason, local, event):
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(55))
    response = post(
        as_coordinator, patient, "subsequent-therapy", therapy_data(reason=reason, local_on_protocol=local)
    )
    assert response.status_code == 302
    assert SubsequentTherapy.objects.get().pfs2_event == event


def test_subsequent_therapy_before_treatment_start_is_refused(as_coordinator, patient):
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(55))
    response = post(
        as_coordinator, patient, "subsequent-therapy", therapy_data(start_date=days_ago(56).isoformat())
    )
    assert "is before treatment start on" in response.text and "(D1, EC-SU-1)" in response.text


def test_radiotherapy_needs_lesions_treated(as_coordinator, patient):
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(55))
    response = post(as_coordinator, patient, "subsequent-therapy", therapy_data(therapy_type="RADIOTHERAPY"))
    assert (
        "Radiotherapy or surgery needs the lesions treated: a registry lesion or a new lesion (EC-SU-1)."
        in response.text
    )
    lesion = LesionFactory(patient=patient)
    response = post(
        as_coordinator,
        patient,
        "subsequent-therapy",
        therapy_data(therapy_type="RADIOTHERAPY", lesions_treated=[lesion.pk]),
    )
    assert response.status_code == 302 and list(SubsequentTherapy.objects.get().lesions_treated.all()) == [
        lesion
    ]


# --- D1, exposure, patient dates, permissions -------------------------------------------------------------------


def test_treatment_start_is_the_earliest_of_the_three_drugs(course):
    patient = course.patient
    assert selectors.treatment_start(patient) is None
    SabrFractionFactory(target=SabrTargetFactory(course=course), fraction_date=days_ago(45))
    AxitinibPeriodFactory(
        patient=patient,
        start_date=days_ago(50),
        dose_level="INTERRUPTED",
        dose_change_reason="OTHER",
        end_date=days_ago(49),
    )
    assert selectors.treatment_start(patient) == days_ago(45)  # an interruption is not a dose
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(47))
    assert selectors.treatment_start(patient) == days_ago(47)
    assert selectors.sabr_start(patient) == days_ago(45)


def test_sabr_start_ignores_non_protocol_course(patient):
    non_protocol = SabrCourseFactory(
        patient=patient, is_protocol="N", indication="OTHER", simulation_date=days_ago(55)
    )
    SabrFractionFactory(target=SabrTargetFactory(course=non_protocol), fraction_date=days_ago(52))
    assert selectors.sabr_start(patient) is None and selectors.treatment_start(patient) is None


def test_exposure_panel_on_casebook(as_monitor, course):
    patient = course.patient
    target = SabrTargetFactory(course=course)
    SabrFractionFactory(target=target, fraction_date=days_ago(50))
    AxitinibPeriodFactory(patient=patient, start_date=days_ago(50), end_date=days_ago(41), missed_doses=2)
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(50))
    summary = selectors.exposure(patient)
    assert summary.axitinib_days == 10 and summary.axitinib_cumulative_mg == Decimal(90)
    assert summary.axitinib_planned_mg == Decimal(100) and summary.axitinib_rdi_pct == Decimal(90)
    assert summary.toripalimab_cycles == 1 and summary.targets[0].delivered_fractions == 1
    page = as_monitor.get(reverse("casebook", args=[patient.pk])).text
    assert 'data-testid="exposure-panel"' in page and "90.0 %" in page and "1 cycle given" in page
    assert "60.0 Gy" in page and "1 / 3" in page


def test_patient_dates_lists_every_dose_and_fraction_date(course):
    SabrFractionFactory(target=SabrTargetFactory(course=course), fraction_date=days_ago(50))
    AxitinibPeriodFactory(patient=course.patient, start_date=days_ago(50), end_date=days_ago(41))
    ToripalimabInfusionFactory(patient=course.patient, infusion_date=days_ago(49))
    treatment = {(d.field, d.date) for d in patient_dates.dates_of(course.patient) if d.kind == "treatment"}
    assert {
        ("Date", days_ago(50)),
        ("Start of period", days_ago(50)),
        ("End of period", days_ago(41)),
        ("Date of infusion", days_ago(49)),
    } <= treatment


@pytest.mark.parametrize("persona", ["as_monitor", "as_data_manager"])
def test_non_entering_roles_cannot_add_treatment(request, persona, patient):
    client = request.getfixturevalue(persona)
    assert post(client, patient, "toripalimab", tori_data()).status_code == 403
    assert not ToripalimabInfusion.objects.exists()


def test_outsider_cannot_see_the_course(as_outsider, course):
    assert as_outsider.get(course.get_absolute_url()).status_code == 403


def test_change_after_submit_needs_reason_and_keeps_history(as_coordinator, coordinator, patient):
    row = ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(55), status=CrfStatus.SUBMITTED)
    url = reverse("crf_update", args=[patient.pk, "toripalimab", row.pk])
    data = tori_data(lot_number="L999", expected_version=row.version)
    assert "This field is required" in as_coordinator.post(url, data).text
    as_coordinator.post(url, {**data, "change_reason": "Lot copied wrong"})
    row.refresh_from_db()
    latest = row.history.order_by("-history_date").first()
    assert (row.lot_number, latest.history_change_reason, latest.history_user) == (
        "L999",
        "Lot copied wrong",
        coordinator,
    )


def test_dates_before_consent_after_death_or_off_study_are_refused(as_coordinator):
    patient = consented_patient(registered_days_ago=60, consent_days_ago=58)
    response = post(as_coordinator, patient, "toripalimab", tori_data(infusion_date=days_ago(59).isoformat()))
    assert "(EC-G3)" in response.text
    from enrollment.models import DeathReport, Disposition

    if any(f.name == "death_date" for f in DeathReport._meta.get_fields()):
        DeathReport.objects.bulk_create(
            [DeathReport(patient=patient, death_date=days_ago(10), **_death_extra())]
        )
        response = post(
            as_coordinator, patient, "toripalimab", tori_data(infusion_date=days_ago(5).isoformat())
        )
        assert "after the patient&#x27;s death" in response.text and "(EC-G2)" in response.text
    del Disposition


def _death_extra():
    return {}


def test_demo_loads_treatment_and_is_idempotent(coordinator):
    import io

    from treatment import demo

    patient = consented_patient(registered_days_ago=300)
    LesionFactory(patient=patient)
    LesionFactory(patient=patient)
    out = io.StringIO()
    demo.load(users={"coordinator": coordinator}, stdout=out)
    counts = (
        SabrTarget.objects.count(),
        AxitinibPeriod.objects.count(),
        ToripalimabInfusion.objects.count(),
        SubsequentTherapy.objects.count(),
    )
    assert "SABR L1" in out.getvalue() and counts[0] == 2 and counts[1] >= 1 and counts[2] >= 1
    demo.load(users={"coordinator": coordinator}, stdout=out)
    assert counts == (
        SabrTarget.objects.count(),
        AxitinibPeriod.objects.count(),
        ToripalimabInfusion.objects.count(),
        SubsequentTherapy.objects.count(),
    )
    assert selectors.treatment_start(patient) == patient.registration_date + datetime.timedelta(days=3)


def test_a_fraction_soft_warning_raises_one_query_on_the_fraction(as_coordinator, course):
    """EC-FX-2 (soft) found by the edit checks: one system query, on the fraction whose dose differs; the course's
    page lists its fractions' flags, but the course row gets no copy of the fraction's query."""
    from ruletext import render
    from sabr_trial import editchecks
    from sabr_trial.models import Query

    response = _second_fraction_with_soft_flags(as_coordinator, course)
    assert response.status_code == 302
    SabrCourse.objects.filter(pk=course.pk).update(status=CrfStatus.SUBMITTED)
    editchecks.run_for_patient(course.patient)
    raised = [(q.content_type.model, q.object_id, render(q.text)) for q in Query.objects.all()]
    dose = [r for r in raised if "9.00 Gy delivered" in r[2]]
    assert [model for model, _pk, _text in dose] == ["sabrfraction"], raised
    page = as_coordinator.get(reverse("crf_detail", args=[course.patient_id, "sabr-course", course.pk])).text
    assert "9.00 Gy delivered, planned 10.00 Gy per fraction (EC-FX-2)" in page  # still listed on the course
