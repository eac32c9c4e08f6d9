"""Branching declared once (issue 19 item 8): each CRF's spec says which fields apply when; the form marks them for
static/js/branching.js, and every write (services, so the browser, the API and the importer) refuses a value in a
field that does not apply. The rules still require the fields when they apply (EC-IC-2, EC-AE-3, EC-TA-2)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from adverse_events.models import AdverseEvent
from enrollment.forms import ConsentForm
from enrollment.models import Consent
from sabr_trial.crf import registry
from tests import factories_enrollment as fe
from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_api import Api, fields_of, token_for
from tests.test_api_flow import _registered_with_lesion

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
TODAY = fe.TODAY
NOT_WITHDRAWN = "This field applies only when “Has the patient withdrawn consent?” is “Yes” (EC-IC-2)."


def branches(slug):
    return {(b.when, f) for b in registry.get(slug).branching for f in b.fields}


def test_the_three_crfs_declare_their_branches():
    assert {
        (("withdrawn", ("Y",)), "withdrawal_date"),
        (("withdrawn", ("Y",)), "withdrawal_scope"),
    } == branches("consent")
    assert {f for w, f in branches("adverse-event") if w == ("serious", ("Y",))} == {
        "awareness_at",
        "reported_at",
        "expected",
    }
    assert (("imaging_done", ("N",)), "not_done_reason") in branches("tumour-assessment")
    assert (("imaging_done", ("Y",)), "modality") in branches("tumour-assessment")


def test_consent_form_marks_the_withdrawal_fields_for_the_script():
    form = ConsentForm()
    attrs = form.fields["withdrawal_date"].widget.attrs
    assert attrs["data-branch-field"] == "withdrawn" and json.loads(attrs["data-branch-values"]) == ["Y"]
    assert "data-branch-field" not in form.fields["icf_version"].widget.attrs
    html = str(form["withdrawal_scope"])
    assert 'data-branch-field="withdrawn"' in html


def test_service_refuses_a_withdrawal_date_without_a_withdrawal(coordinator):
    patient = fe.screen(coordinator)
    with pytest.raises(ValidationError) as refused:
        fe.consent(
            patient, coordinator, withdrawn="N", withdrawal_date=TODAY - DAY, withdrawal_scope="VISITS"
        )
    assert refused.value.message_dict == {
        "withdrawal_date": [NOT_WITHDRAWN],
        "withdrawal_scope": [NOT_WITHDRAWN],
    }
    assert not Consent.objects.exists()


def test_service_keeps_the_rule_and_the_declaration_messages_together(coordinator):
    """A refused hidden field and a rule's refusal elsewhere come back in one answer."""
    patient = fe.screen(coordinator)
    with pytest.raises(ValidationError) as refused:
        fe.consent(patient, coordinator, version="0.1", withdrawn="N", withdrawal_scope="VISITS")
    assert set(refused.value.message_dict) == {"icf_version", "withdrawal_scope"}


def test_detail_page_lists_the_withdrawal_fields_only_with_a_withdrawal(as_coordinator, coordinator):
    patient = fe.screen(coordinator)
    kept = fe.consent(patient, coordinator)
    page = as_coordinator.get(kept.get_absolute_url()).content.decode()
    assert 'data-field="withdrawn"' in page and 'data-field="withdrawal_date"' not in page
    other = fe.screen(coordinator)
    withdrawn = fe.consent(
        other, coordinator, withdrawn="Y", withdrawal_date=TODAY, withdrawal_scope="VISITS"
    )
    assert 'data-field="withdrawal_date"' in as_coordinator.get(withdrawn.get_absolute_url()).content.decode()


def test_service_accepts_the_withdrawal_fields_with_a_withdrawal(coordinator):
    patient = fe.screen(coordinator)
    consent = fe.consent(
        patient, coordinator, withdrawn="Y", withdrawal_date=TODAY - DAY, withdrawal_scope="VISITS"
    )
    assert consent.withdrawal_scope == "VISITS"


def test_the_rule_still_requires_the_withdrawal_date_when_it_applies(coordinator):
    patient = fe.screen(coordinator)
    with pytest.raises(ValidationError) as refused:
        fe.consent(patient, coordinator, withdrawn="Y", withdrawal_scope="VISITS")
    assert refused.value.message_dict == {"withdrawal_date": ["A withdrawal needs its date (EC-IC-2)."]}


def test_the_message_is_translated(coordinator):
    patient = fe.screen(coordinator)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        fe.consent(patient, coordinator, withdrawal_scope="VISITS")
    message = refused.value.message_dict["withdrawal_scope"][0]
    assert message.startswith("仅当“") and message.endswith("（EC-IC-2）。"), message


def test_non_serious_ae_refuses_sae_fields(coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    with pytest.raises(ValidationError) as refused:
        AdverseEventFactory(patient=patient, serious="N", expected="Y", reported_at=timezone.now() - DAY)
    assert refused.value.message_dict["expected"] == [
        "This field applies only when “Serious?” is “Yes” (EC-AE-3)."
    ]
    assert "reported_at" in refused.value.message_dict
    assert not AdverseEvent.objects.exists()
    sae = AdverseEventFactory(
        patient=patient, serious="Y", aeshosp="Y", grade=3, expected="Y", awareness_at=timezone.now() - DAY
    )
    assert sae.expected == "Y"


def test_api_refuses_a_not_done_reason_when_imaging_was_done(investigator):
    api = Api(token_for(investigator))
    _patient, base, lesion = _registered_with_lesion(api)
    body = {
        "imaging_done": "Y",
        "not_done_reason": "scanner down",
        "scan_date_first": str(TODAY),
        "modality": "CT SCAN",
        "clinical_deterioration": "N",
        "results": [{"lesion": lesion["id"], "result_status": "MEASURED", "value_mm": "18"}],
    }
    refused = api.post(base + "tumour-assessment/", body)
    assert refused.status_code == 422, refused.content
    assert fields_of(refused) == {
        "not_done_reason": ["This field applies only when “Was imaging done?” is “No” (EC-TA-2)."]
    }
    body["not_done_reason"] = ""
    assert api.post(base + "tumour-assessment/", body).status_code == 201


def test_api_refuses_a_scan_date_when_imaging_was_not_done(investigator):
    api = Api(token_for(investigator))
    _patient, base, _lesion = _registered_with_lesion(api)
    body = {
        "imaging_done": "N",
        "not_done_reason": "scanner down",
        "visit_date": str(TODAY),
        "scan_date_first": str(TODAY),
        "clinical_deterioration": "N",
    }
    refused = api.post(base + "tumour-assessment/", body)
    assert refused.status_code == 422, refused.content
    assert list(fields_of(refused)) == ["scan_date_first"]
    del body["scan_date_first"]
    created = api.post(base + "tumour-assessment/", body)
    assert created.status_code == 201, created.content


def test_more_crfs_declare_branches():
    assert (("ongoing", ("N",)), "resolution_date") in branches("adverse-event")
    assert branches("baseline") == {(("histology", ("OTHER",)), "histology_other")}
    assert branches("immunosuppressant") == {
        (("drug", ("OTHER",)), "drug_other"),
        (("ongoing", ("N",)), "end_date"),
    }


def test_disposition_refuses_a_reason_text_unless_other(as_coordinator, coordinator, investigator):
    from django.urls import reverse

    from enrollment.models import Disposition

    patient = fe.registered(coordinator, investigator)
    data = {
        "eot_reason": "",
        "eot_reason_text": "",
        "eos_date": TODAY.isoformat(),
        "eos_reason": "COMPLETED",
        "eos_reason_text": "moved abroad",
        "action": "submit",
    }
    url = reverse("crf_create", args=[patient.pk, "disposition"])
    response = as_coordinator.post(url, data)
    assert "This field applies only when “Reason off study” is “Other”." in response.content.decode()
    assert not Disposition.objects.exists()
    assert as_coordinator.post(url, {**data, "eos_reason": "OTHER"}).status_code == 302
    assert Disposition.objects.get().eos_reason_text == "moved abroad"


def test_baseline_refuses_a_histology_text_unless_other(coordinator, investigator):
    patient = fe.registered(coordinator, investigator)
    with pytest.raises(ValidationError) as refused:
        fe.baseline(patient, coordinator, histology="CLEAR CELL", histology_other="oncocytic")
    assert refused.value.message_dict == {
        "histology_other": ["This field applies only when “Histology” is “Other” (EC-BL-2)."]
    }
    assert fe.baseline(patient, coordinator, histology="OTHER", histology_other="oncocytic").pk


def test_a_branch_marked_required_refuses_a_blank_field_that_applies(monkeypatch):
    """``Branch(required=True)``: no CRF declares one yet (their rules require the fields), so the option is shown on
    the consent's declaration made required: a blank field that applies is refused, one that does not is not."""
    import dataclasses

    from sabr_trial.crf import Branch, branch_errors

    spec = registry.get("consent")
    required = dataclasses.replace(
        spec, branching=(Branch(("withdrawal_scope",), ("withdrawn", ("Y",)), required=True, rule="EC-IC-2"),)
    )
    monkeypatch.setattr(registry, "for_model", lambda model: required)
    with translation.override("en"):
        errors = branch_errors(Consent(withdrawn="Y", withdrawal_scope=""))
        assert [e.code for e in errors["withdrawal_scope"]] == ["branch_required"]
        message = errors["withdrawal_scope"][0].messages[0]
        assert "required when “Has the patient withdrawn consent?” is “Yes” (EC-IC-2)" in message
    assert branch_errors(Consent(withdrawn="N", withdrawal_scope="")) == {}


# --- more branches (issue 19 item 8 follow-up) -------------------------------------------------------------------


def test_the_follow_up_crfs_declare_their_branches():
    assert (("ongoing", ("N",)), "end_date") in branches("medical-history")
    assert (("ongoing", ("Y",)), "baseline_grade") in branches("medical-history")
    assert (("reached", ("Y",)), "survival_status") in branches("survival")
    assert (("other_dose_mg", ("*",)), "other_dose_reason") in branches("axitinib")
    assert (("is_reirradiation", ("Y",)), "reirradiation_reason") in branches("sabr-target")
    assert {f for _w, f in branches("sabr-fraction")} == {"dose_delivered_gy", "not_delivered_reason"}
    assert (("previously_irradiated", ("Y",)), "progressed_since_rt") in branches("lesion")
    assert {f for _w, f in branches("toripalimab")} == {"status_reason"}
    assert {f for _w, f in branches("sabr-course")} == {"stop_reason"}


def test_an_ongoing_condition_refuses_an_end_date_once_with_the_declaration(coordinator, investigator):
    from enrollment.models import MedicalHistory
    from sabr_trial.services import crf_create

    patient = fe.registered(coordinator, investigator)
    with pytest.raises(ValidationError) as refused:
        crf_create(
            model=MedicalHistory,
            patient=patient,
            acting_user=coordinator,
            data={
                "mh_term": "Asthma",
                "mh_category": "OTHER",
                "start_date": "2010",
                "ongoing": "Y",
                "end_date": "2012",
            },
        )
    # one message: the rule's "An ongoing condition has no end date" gives way to the declaration's
    assert refused.value.message_dict == {
        "end_date": ["This field applies only when “Ongoing at consent?” is “No” (EC-MH-1)."]
    }


def test_a_reason_for_an_other_axitinib_dose_applies_only_when_an_other_dose_is_filled_in(coordinator):
    from sabr_trial.services import crf_create
    from tests.factories_treatment import consented_patient, days_ago
    from treatment.models import AxitinibPeriod

    patient = consented_patient(registered_days_ago=20)
    data = {
        "start_date": days_ago(10),
        "dose_level": "5 MG BID",
        "dose_change_reason": "START",
        "missed_doses": 0,
        "other_dose_reason": "HEPATIC IMPAIRMENT",
    }
    with pytest.raises(ValidationError) as refused:
        crf_create(model=AxitinibPeriod, patient=patient, acting_user=coordinator, data=data)
    assert refused.value.message_dict["other_dose_reason"] == [
        "This field applies only when “Other dose (mg BID)” is filled in (EC-AX-2)."
    ]
    spec = registry.get("axitinib")
    branch = spec.branch_of("other_dose_reason")
    assert branch.applies(AxitinibPeriod(other_dose_mg=4)) and not branch.applies(
        AxitinibPeriod(other_dose_mg=None)
    )


def test_a_survival_status_applies_only_when_the_status_was_obtained(coordinator, investigator):
    from enrollment.models import SurvivalContact
    from sabr_trial.services import crf_create

    patient = fe.registered(coordinator, investigator)
    with pytest.raises(ValidationError) as refused:
        crf_create(
            model=SurvivalContact,
            patient=patient,
            acting_user=coordinator,
            data={"contact_date": TODAY, "method": "TELEPHONE", "reached": "N", "survival_status": "ALIVE"},
        )
    assert list(refused.value.message_dict) == ["survival_status"]
    assert "applies only when “Was status obtained?” is “Yes” (EC-SV-1)" in refused.value.messages[0]
