"""The README "API" example as a test: screen, consent, eligibility + confirmation, register, lesion, tumour
assessment with its lesion row, and the computed response; plus tumour-assessment rules through the grid's forms."""

from __future__ import annotations

import datetime

import pytest

from assessments.models import TumourAssessment
from enrollment.models import Patient
from sabr_trial.models import AuditEvent
from tests.factories_api import TODAY, Api, fields_of, token_for

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def _submit(api, path, created):
    return api.post(f"{path}{created.json()['id']}/submit/", if_match=created["ETag"])


def _registered_with_lesion(api):
    p = api.post("patients/", {"screening_date": str(TODAY - 3 * DAY)}).json()
    patient = Patient.objects.get(pk=p["id"])
    base = f"patients/{p['id']}/crfs/"
    consent = api.post(
        base + "consent/",
        {
            "consent_type": "INITIAL",
            "icf_version": "2.0",
            "obtained_by": "inv",
            "consent_datetime": f"{TODAY - 2 * DAY}T09:00:00",
        },
    )
    assert consent.status_code == 201, consent.content
    assert _submit(api, base + "consent/", consent).status_code == 200
    answers = {c["id"]: c["qualifying_answer"] for c in api.get("eligibility-criteria/").json()}
    elig = _submit(api, base + "eligibility/", api.post(base + "eligibility/", {"answers": answers}))
    confirmed = api.post(base + f"eligibility/{elig.json()['id']}/confirm/", if_match=elig["ETag"])
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_by"] == "inv"
    registered = api.post(f"patients/{p['id']}/register/", {"registration_date": str(TODAY)})
    assert registered.status_code == 200, registered.content
    lesion = api.post(
        base + "lesion/",
        {
            "role": "TARGET",
            "organ": "LIVER",
            "location_text": "segment 7",
            "method": "CT SCAN",
            "slice_thickness_mm": "2.5",
            "baseline_date": str(TODAY - 60 * DAY),
            "baseline_value_mm": "30",
            "previously_irradiated": "N",
        },
    )
    assert lesion.status_code == 201, lesion.content
    assert lesion.json()["lesion_code"] and lesion.json()["measurable"] == "Y"  # derived, read-only
    return patient, base, lesion.json()


def test_readme_example_flow(investigator):
    api = Api(token_for(investigator))
    patient, base, lesion = _registered_with_lesion(api)
    ta = api.post(
        base + "tumour-assessment/",
        {
            "imaging_done": "Y",
            "scan_date_first": str(TODAY),
            "modality": "CT SCAN",
            "clinical_deterioration": "N",
            "results": [{"lesion": lesion["id"], "result_status": "MEASURED", "value_mm": "18"}],
        },
    )
    assert ta.status_code == 201, ta.content
    assert _submit(api, base + "tumour-assessment/", ta).status_code == 200
    tp = api.get(base + f"tumour-assessment/{ta.json()['id']}/").json()
    assert (tp["sum_mm"], tp["pct_chg_baseline"], tp["overall_resp"]) == ("18.0", "-40.00", "PR")
    assert tp["results"][0]["value_used_mm"] == "18.0"
    assert api.get(f"patients/{patient.pk}/responses/").json()["best_overall_response"] == "PR"
    assert AuditEvent.objects.filter(patient=patient, action="submit").count() == 3


def test_readme_data_management_flow(
    investigator,
    data_manager,
    monkeypatch,
    settings,
    tmp_path,
    tasks_in_process,
    django_capture_on_commit_callbacks,
):
    """The README's second example: a query raised, answered and closed; the export built, polled and verified."""
    import hashlib

    from reports import jobs

    monkeypatch.setattr(jobs, "RUN_IN_THREAD", False)
    settings.MEDIA_ROOT = tmp_path
    inv, dm = Api(token_for(investigator)), Api(token_for(data_manager))
    _patient, base, lesion = _registered_with_lesion(inv)
    ta = inv.post(
        base + "tumour-assessment/",
        {
            "imaging_done": "Y",
            "scan_date_first": str(TODAY),
            "modality": "CT SCAN",
            "clinical_deterioration": "N",
            "results": [{"lesion": lesion["id"], "result_status": "MEASURED", "value_mm": "18"}],
        },
    )
    q = dm.post(
        "queries/",
        {
            "form": "tumour-assessment",
            "row": ta.json()["id"],
            "field_name": "scan_date_first",
            "text": "PACS shows the scan a day earlier",
        },
    )
    assert q.status_code == 201, q.content
    qid = q.json()["id"]
    assert inv.post(f"queries/{qid}/answer/", {"text": "The report date was entered"}).status_code == 200
    closed = dm.post(f"queries/{qid}/close/", {"text": "Accepted after the site's answer"})
    assert closed.status_code == 200 and [m["kind"] for m in closed.json()["messages"]] == [
        "raise",
        "answer",
        "close",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        job = inv.post("jobs/", {"kind": "export"}).json()
    for _attempt in range(5):
        if job["state"] not in ("queued", "running"):
            break
        job = inv.get(f"jobs/{job['id']}/").json()
    assert job["state"] == "done", job["error"]
    download = inv.get(f"jobs/{job['id']}/download/")
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == job["sha256"]


@pytest.mark.parametrize(
    ("row", "field", "text"),
    [
        ({"result_status": "MEASURED"}, "results.0.value_mm", "MEASURED needs the diameter"),
        (
            {"result_status": "DISAPPEARED", "value_mm": "4"},
            "results.0.value_mm",
            "DISAPPEARED counts as 0 mm",
        ),
        ({"value_mm": "500"}, "results.0.value_mm", "not a plausible diameter"),
    ],
)
def test_tumour_assessment_rows_refused_by_the_grid_rules(investigator, row, field, text):
    api = Api(token_for(investigator))
    _patient, base, lesion = _registered_with_lesion(api)
    response = api.post(
        base + "tumour-assessment/",
        {
            "imaging_done": "Y",
            "scan_date_first": str(TODAY),
            "modality": "CT SCAN",
            "clinical_deterioration": "N",
            "results": [{"lesion": lesion["id"], **row}],
        },
    )
    assert response.status_code == 422
    assert any(text in m for m in fields_of(response)[field]), response.json()
    assert not TumourAssessment.objects.exists()


def test_missing_lesion_row_is_refused_ec_ta_1(investigator):
    api = Api(token_for(investigator))
    _patient, base, _lesion = _registered_with_lesion(api)
    response = api.post(
        base + "tumour-assessment/",
        {
            "imaging_done": "Y",
            "scan_date_first": str(TODAY),
            "modality": "CT SCAN",
            "clinical_deterioration": "N",
            "results": [],
        },
    )
    assert response.status_code == 422 and "EC-TA-1" in response.json()["detail"]
