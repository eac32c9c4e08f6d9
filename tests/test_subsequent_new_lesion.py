"""A subsequent local therapy to a new lesion (issue 17 item 2): CRF 16 links form 9's new lesions beside the registry
lesions, through the form, the services, the API and the CSV export and import (EC-SU-1, EC-SU-4)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments.models import Lesion, NewLesion
from reports.exports import KeyMap, crf_csv
from reports.importer import Importer
from sabr_trial import services
from sabr_trial.crf import registry
from sabr_trial.models import AuditEvent
from tests.factories_api import Api, crf_path, fields_of, token_for
from tests.factories_assessments import BASELINE, assessment_post, baseline_lesions, create_url
from tests.factories_treatment import ToripalimabInfusionFactory, consented_patient, days_ago
from treatment.forms import SubsequentTherapyForm
from treatment.models import SubsequentTherapy

FIRST_SEEN = BASELINE + datetime.timedelta(days=54)


def _patient_with_new_lesion(client, *, again: bool = True):
    """Treated 190 days ago; N1 (lung) first seen at day 54 after baseline, recorded at day 56 and again at day 112."""
    patient = baseline_lesions(consented_patient(registered_days_ago=210))
    ToripalimabInfusionFactory(patient=patient, infusion_date=days_ago(190))
    new = [{"first_seen_date": FIRST_SEEN.isoformat(), "location_text": "right upper lobe"}]
    for day in (56, 112) if again else (56,):
        response = client.post(
            create_url(patient), assessment_post(patient, {"L1": 55, "L2": 40}, day=day, new=new)
        )
        assert response.status_code == 302, response.context and response.context["form"].errors
        new = [{**new[0], "code": "N1"}]
    return patient


def therapy_post(**changes):
    data = {
        "therapy_type": "RADIOTHERAPY",
        "regimen": "SABR 35 Gy in 5 fractions",
        "start_date": days_ago(60).isoformat(),
        "end_date": "",
        "reason": "PROGRESSION",
        "local_on_protocol": "Y",
        "sabr_course": "",
        "action": "submit",
    }
    data.update(changes)
    return data


def _first_n1(patient):
    return NewLesion.objects.filter(assessment__patient=patient, code="N1").order_by(
        "assessment__scan_date_first"
    )[0]


def _post(client, patient, data):
    return client.post(reverse("crf_create", args=[patient.pk, "subsequent-therapy"]), data)


def test_form_offers_one_choice_per_code_with_site_and_first_seen_date(as_coordinator):
    patient = _patient_with_new_lesion(as_coordinator)
    assert NewLesion.objects.filter(code="N1").count() == 2
    form = SubsequentTherapyForm(patient=patient)
    choices = [(str(value), label) for value, label in form.fields["new_lesions_treated"].choices]
    assert choices == [("N1", f"N1: Lung, right upper lobe, first seen {FIRST_SEEN}")]


def test_radiotherapy_to_a_new_lesion_is_saved_with_the_first_record(as_coordinator):
    patient = _patient_with_new_lesion(as_coordinator)
    response = _post(as_coordinator, patient, therapy_post(new_lesions_treated=["N1"]))
    assert response.status_code == 302, response.context and response.context["form"].errors
    therapy = SubsequentTherapy.objects.get()
    assert list(therapy.new_lesions_treated.all()) == [_first_n1(patient)]
    assert list(therapy.lesions_treated.all()) == []
    assert _first_n1(patient).subsequent_therapies.get() == therapy


def test_radiotherapy_without_any_lesion_is_refused_ec_su_1(as_coordinator):
    patient = _patient_with_new_lesion(as_coordinator)
    response = _post(as_coordinator, patient, therapy_post())
    assert response.status_code == 200
    assert "a registry lesion or a new lesion (EC-SU-1)" in response.text
    assert not SubsequentTherapy.objects.exists()


def test_new_lesion_seen_after_the_start_is_refused_ec_su_4(as_coordinator):
    patient = _patient_with_new_lesion(as_coordinator)
    start = FIRST_SEEN - datetime.timedelta(days=1)
    response = _post(
        as_coordinator, patient, therapy_post(start_date=start.isoformat(), new_lesions_treated=["N1"])
    )
    assert response.status_code == 200
    assert (
        f"New lesion N1 was first seen on {FIRST_SEEN}, after the start on {start} (EC-SU-4)."
        in response.text
    )
    assert not SubsequentTherapy.objects.exists()


def _data(**changes):
    data = {
        "therapy_type": "RADIOTHERAPY",
        "regimen": "SABR",
        "start_date": days_ago(60),
        "end_date": None,
        "reason": "PROGRESSION",
        "local_on_protocol": "Y",
    }
    data.update(changes)
    return data


def test_services_refuse_a_new_lesion_of_another_patient_ec_su_4(as_coordinator, coordinator):
    patient = _patient_with_new_lesion(as_coordinator, again=False)
    other = _patient_with_new_lesion(as_coordinator, again=False)
    with pytest.raises(ValidationError) as refused:
        services.crf_create(
            model=SubsequentTherapy,
            patient=patient,
            data=_data(),
            m2m={"new_lesions_treated": [_first_n1(other)]},
            acting_user=coordinator,
        )
    assert refused.value.message_dict["new_lesions_treated"] == [
        "New lesion N1 belongs to another patient (EC-SU-4)."
    ]
    assert not SubsequentTherapy.objects.exists()


def test_services_refuse_a_registry_lesion_of_another_patient_ec_su_1(as_coordinator, coordinator):
    patient = _patient_with_new_lesion(as_coordinator, again=False)
    other = _patient_with_new_lesion(as_coordinator, again=False)
    theirs = Lesion.objects.filter(patient=other).order_by("lesion_code")[0]
    with pytest.raises(ValidationError) as refused:
        services.crf_create(
            model=SubsequentTherapy,
            patient=patient,
            data=_data(),
            m2m={"lesions_treated": [theirs]},
            acting_user=coordinator,
        )
    assert refused.value.message_dict["lesions_treated"] == [
        f"Lesion {theirs.lesion_code} belongs to another patient (EC-SU-1)."
    ]
    assert not SubsequentTherapy.objects.exists()


def test_services_refuse_radiotherapy_without_lesions_and_a_change_that_drops_them(
    as_coordinator, coordinator
):
    patient = _patient_with_new_lesion(as_coordinator, again=False)
    with pytest.raises(ValidationError) as refused:
        services.crf_create(model=SubsequentTherapy, patient=patient, data=_data(), acting_user=coordinator)
    assert "(EC-SU-1)" in refused.value.message_dict["lesions_treated"][0]
    therapy = services.crf_create(
        model=SubsequentTherapy,
        patient=patient,
        data=_data(),
        m2m={"new_lesions_treated": [_first_n1(patient)]},
        acting_user=coordinator,
    )
    with pytest.raises(ValidationError):
        services.crf_update(
            instance=therapy,
            expected_version=therapy.version,
            data={},
            m2m={"new_lesions_treated": []},
            reason="",
            acting_user=coordinator,
        )
    assert list(SubsequentTherapy.objects.get().new_lesions_treated.all()) == [_first_n1(patient)]


def test_a_change_of_the_link_leaves_a_history_row_and_an_audit_event(as_coordinator, coordinator):
    """As for the registry lesions: the link is written after the row; a change of it alone makes a new version
    with its history row (user, reason) and an audit event that names the field."""
    patient = _patient_with_new_lesion(as_coordinator, again=False)
    lesion = Lesion.objects.filter(patient=patient).first()
    therapy = services.crf_create(
        model=SubsequentTherapy,
        patient=patient,
        data=_data(),
        m2m={"lesions_treated": [lesion]},
        acting_user=coordinator,
    )
    therapy, changes = services.crf_update(
        instance=therapy,
        expected_version=therapy.version,
        data={},
        m2m={"lesions_treated": [lesion], "new_lesions_treated": [_first_n1(patient)]},
        reason="SABR also to N1",
        acting_user=coordinator,
    )
    assert [c.field for c in changes] == ["new_lesions_treated"]
    assert therapy.version == 2 and list(therapy.new_lesions_treated.all()) == [_first_n1(patient)]
    row = therapy.history.first()
    assert (row.version, row.history_user, row.history_change_reason) == (2, coordinator, "SABR also to N1")
    event = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE, object_id=therapy.pk).get()
    assert "New lesions treated" in event.description and event.reason == "SABR also to N1"


def test_api_reads_and_writes_the_link_by_code(as_coordinator, coordinator):
    patient = _patient_with_new_lesion(as_coordinator)
    api = Api(token_for(coordinator))
    body = {k: v for k, v in therapy_post().items() if k not in ("action", "sabr_course", "end_date")}
    refused = api.post(crf_path(patient, "subsequent-therapy"), body)
    assert refused.status_code == 422 and refused["Content-Type"].startswith("application/problem+json")
    assert "(EC-SU-1)" in fields_of(refused)["lesions_treated"][0]
    unknown = api.post(crf_path(patient, "subsequent-therapy"), {**body, "new_lesions_treated": ["N9"]})
    assert unknown.status_code == 422 and "new_lesions_treated" in fields_of(unknown)
    created = api.post(crf_path(patient, "subsequent-therapy"), {**body, "new_lesions_treated": ["N1"]})
    assert created.status_code == 201, created.content
    assert created.json()["new_lesions_treated"] == ["N1"]
    therapy = SubsequentTherapy.objects.get()
    assert list(therapy.new_lesions_treated.all()) == [_first_n1(patient)]
    read = api.get(crf_path(patient, "subsequent-therapy", therapy.pk))
    assert read.json()["new_lesions_treated"] == ["N1"] and read.json()["lesions_treated"] == []
    late = (FIRST_SEEN - datetime.timedelta(days=1)).isoformat()
    too_early = api.patch(
        crf_path(patient, "subsequent-therapy", therapy.pk), {"start_date": late}, if_match=read["ETag"]
    )
    assert too_early.status_code == 422
    assert fields_of(too_early)["new_lesions_treated"] == [
        f"New lesion N1 was first seen on {FIRST_SEEN}, after the start on {late} (EC-SU-4)."
    ]


def test_csv_names_the_new_lesion_by_code_and_the_import_reads_it_back(as_coordinator, tmp_path):
    patient = _patient_with_new_lesion(as_coordinator)
    assert _post(as_coordinator, patient, therapy_post(new_lesions_treated=["N1"])).status_code == 302
    spec = registry.get("subsequent-therapy")
    text = crf_csv(spec, KeyMap()).decode()
    header, row = text.splitlines()[:2]
    cells = dict(zip(header.split(","), row.split(","), strict=False))
    assert cells["new_lesions_treated"] == "N1" and cells["lesions_treated"] == ""

    importer = Importer(tmp_path, user=None)
    importer.patients["S1"] = patient
    found = importer.convert(
        "subsequent-therapy",
        "subsequent-therapy.csv",
        2,
        "S1",
        SubsequentTherapy._meta.get_field("new_lesions_treated"),
        "N1",
    )
    assert found == [_first_n1(patient)]
    from reports.importer import _CellError

    with pytest.raises(_CellError):
        importer.convert(
            "subsequent-therapy",
            "subsequent-therapy.csv",
            2,
            "S1",
            SubsequentTherapy._meta.get_field("new_lesions_treated"),
            "N7",
        )
    assert [(p.column, p.rule, p.value) for p in importer.result.problems] == [
        ("new_lesions_treated", "REFERENCE", "N7")
    ]


def test_sdtm_pr_has_one_record_per_lesion_treated_linked_to_tu(as_coordinator):
    """PR: the subsequent SABR to L1 and N1 is two records of one group, PRLNKID = the TU record's TULNKID."""
    from django.utils import timezone

    from endpoints.services import run_recompute
    from reports import exports
    from tests.test_export_sdtm_more import rows_of

    patient = _patient_with_new_lesion(as_coordinator)
    l1 = Lesion.objects.get(patient=patient, lesion_code="L1")
    data = therapy_post(new_lesions_treated=["N1"], lesions_treated=[l1.pk])
    assert _post(as_coordinator, patient, data).status_code == 302
    cutoff = timezone.localdate()
    files = exports.sdtm_files(cutoff, run_recompute(trigger="test", cutoff=cutoff), exports.KeyMap())
    pr = [r for r in rows_of(files["sdtm/pr.csv"]) if r["PRCAT"] == "SUBSEQUENT ANTICANCER THERAPY"]
    assert [(r["PRGRPID"], r["PRLNKID"], r["PRLOC"]) for r in pr] == [
        ("SU1", "L1", "LIVER"),
        ("SU1", "N1", "LUNG"),
    ]
    tu = {(r["TULNKID"], r["TUORRES"]) for r in rows_of(files["sdtm/tu.csv"])}
    assert ("N1", "NEW") in tu and any(code == "L1" for code, _ in tu)
    relrec = rows_of(files["sdtm/relrec.csv"])
    assert {(r["RDOMAIN"], r["IDVAR"], r["RELID"]) for r in relrec if r["RELID"] == "TUPR"} == {
        ("TU", "TULNKID", "TUPR"),
        ("PR", "PRLNKID", "TUPR"),
    }


def test_a_time_point_edit_cannot_drop_a_new_lesion_a_therapy_treated(as_coordinator):
    """The link is to the record of the first time point: removing N1 there is refused, nothing changes (EC-SU-4)."""
    from assessments.models import TumourAssessment
    from tests.factories_assessments import update_url

    patient = _patient_with_new_lesion(as_coordinator)
    assert _post(as_coordinator, patient, therapy_post(new_lesions_treated=["N1"])).status_code == 302
    first = TumourAssessment.objects.filter(patient=patient).order_by("scan_date_first")[0]
    post = assessment_post(
        patient,
        {"L1": 55, "L2": 40},
        day=56,
        new=[],
        expected_version=first.version,
        change_reason="not a lesion",
        action="save",
    )
    response = as_coordinator.post(update_url(first), post)
    assert response.status_code == 200
    therapy = SubsequentTherapy.objects.get()
    assert (
        f"New lesion N1 is named as treated by the subsequent therapy started on {therapy.start_date} (form 16): "
        "remove it there first (EC-SU-4)."
    ) in response.text
    assert NewLesion.objects.filter(assessment=first, code="N1").exists()
    assert list(therapy.new_lesions_treated.all()) == [_first_n1(patient)]
    assert TumourAssessment.objects.get(pk=first.pk).version == first.version
