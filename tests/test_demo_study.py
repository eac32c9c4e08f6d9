"""The demo study `make run` loads is clinically coherent and gives every dashboard figure something to show.

Runs ``setup_demo`` on a frozen date, then the endpoint recompute, and checks the cases the demo promises
(assessments/demo.py, treatment/demo.py, adverse_events/demo.py): PD by a new lesion and by the sum, a confirmed and
an unconfirmed PR, a confirmed CR, SD, an NE time point, a local failure of an irradiated lesion, a death, a
next line after PD, SABR start for every treated patient, no data issue, and a second run that changes nothing.
"""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from adverse_events.models import AdverseEvent
from assessments.models import LesionResult, NewLesion, TumourAssessment
from endpoints.models import EndpointSnapshot
from endpoints.services import run_recompute
from enrollment.models import Patient
from treatment.models import AxitinibPeriod, SabrTarget, SubsequentTherapy, ToripalimabInfusion
from treatment.selectors import sabr_start, treatment_start

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 6, 30, 10, 0, tzinfo=datetime.UTC)
#: Intentional data issues of the demo (study number -> issue codes). None: every patient is clean.
EXPECTED_ISSUES: dict[str, set[str]] = {}
APPS = ("enrollment", "assessments", "treatment", "adverse_events", "sabr_trial")


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for label in APPS
        for model in apps.get_app_config(label).get_models()
    }


def _responses(number: str) -> list[str]:
    return list(
        TumourAssessment.objects.filter(patient__study_number=number)
        .order_by("scan_date_first")
        .values_list("overall_resp", flat=True)
    )


@pytest.fixture
def demo() -> Any:
    with time_machine.travel(TODAY, tick=True):
        out = io.StringIO()
        call_command("setup_demo", "--generated", "0", stdout=out)
        counts = _counts()
        call_command("setup_demo", "--generated", "0", stdout=out)
        yield {"first": counts, "second": _counts(), "output": out.getvalue()}


def test_demo_study_feeds_every_endpoint(demo: dict[str, Any]) -> None:
    assert "not loaded" not in demo["output"], demo["output"]
    assert "skipped:" not in demo["output"].replace("already present: skipped", ""), demo["output"]
    assert demo["first"] == demo["second"], "a second setup_demo changed row counts"

    treated = [p for p in Patient.objects.filter(study_number__isnull=False) if treatment_start(p)]
    assert len(treated) == 5
    for patient in treated:
        assert sabr_start(patient) == treatment_start(patient), patient  # D1: SABR start exists
        targets = SabrTarget.objects.filter(patient=patient)
        assert 1 <= targets.count() <= 5
        assert all(t.first_fraction_date for t in targets)
        # every follow-up scan after SABR start and not after death / end of study
        limit = min(d for d in (timezone.localdate(), *_ends(patient)) if d)
        for a in TumourAssessment.objects.filter(patient=patient):
            assert sabr_start(patient) < a.scan_date_first <= limit, (patient, a)
        for lesion in apps.get_model("assessments", "Lesion").objects.filter(patient=patient):
            assert 0 < (treatment_start(patient) - lesion.baseline_date).days <= 28

    assert _responses("SR-001")[:4] == ["PR", "PR", "PR", "PD"]  # confirmed PR, then PD by a new lesion
    assert NewLesion.objects.filter(assessment__patient__study_number="SR-001", unequivocal="Y").exists()
    assert _responses("SR-002") == ["SD", "PD"]  # PD by the sum
    pd_sum = TumourAssessment.objects.get(patient__study_number="SR-002", overall_resp="PD")
    assert pd_sum.target_resp == "PD" and pd_sum.new_lesion_ind == "N"
    assert _responses("SR-003") == ["PR", "NE"]  # unconfirmed PR; a target not evaluable
    assert LesionResult.objects.filter(
        assessment__patient__study_number="SR-003", result_status="NOT EVALUABLE"
    ).exists()
    assert _responses("SR-004") == ["PR", "CR", "CR"]  # confirmed CR
    lf = LesionResult.objects.get(local_failure="Y", lf_confirmation="PET AVIDITY")
    assert lf.lesion.sabr_targets.exists() and lf.assessment.patient.study_number == "SR-001"

    # drugs stop at progression; the next line starts after the PD
    first_pd = TumourAssessment.objects.filter(patient__study_number="SR-001", overall_resp="PD").first()
    therapy = SubsequentTherapy.objects.get(patient__study_number="SR-001")
    assert therapy.start_date > first_pd.scan_date_first
    assert not AxitinibPeriod.objects.filter(
        patient__study_number="SR-001",
        dose_level__in=["5 MG BID", "7 MG BID"],
        end_date__gte=therapy.start_date,
    ).exists()
    stop = ToripalimabInfusion.objects.get(
        patient__study_number="SR-004", infusion_status="PERMANENTLY DISCONTINUED"
    )
    assert stop.adverse_event is not None and stop.adverse_event.acn_toripalimab == "DRUG WITHDRAWN"
    # every AE that interrupted or reduced axitinib has its period in the log, linked (EC-AX-2, EC-AX-4)
    acted = AdverseEvent.objects.filter(acn_axitinib__in=["DRUG INTERRUPTED", "DOSE REDUCED"])
    assert acted.count() == 4
    for ae in acted:
        assert AxitinibPeriod.objects.filter(adverse_event=ae, start_date=ae.onset_date).exists(), ae
    assert not AdverseEvent.objects.exclude(status="submitted").exists()

    with time_machine.travel(TODAY, tick=True):
        snapshot = run_recompute(trigger="test")
    assert snapshot.status == EndpointSnapshot.Status.OK, snapshot.error
    results = snapshot.results
    issues = {
        p["study_number"]: {i["code"] for i in p["issues"]} for p in snapshot.patient_rows() if p["issues"]
    }
    assert issues == EXPECTED_ISSUES
    headline = results["headline"]
    assert headline["PFS1"]["events"] >= 2
    assert headline["PFS2"]["events"] >= 1
    assert headline["OS"]["events"] >= 1
    assert headline["LC"]["events"] >= 1
    cbor = {p["study_number"]: (p["cbor"] or {}).get("response") for p in snapshot.patient_rows()}
    bor = {p["study_number"]: (p["bor"] or {}).get("response") for p in snapshot.patient_rows()}
    assert cbor["SR-001"] == "PR" and cbor["SR-004"] == "CR"
    assert bor["SR-003"] == "PR" and cbor["SR-003"] != "PR"
    assert "SD" in cbor.values()
    for name in ("km_pfs1", "km_pfs2", "km_os", "lc_patient", "lc_lesion", "waterfall", "swimmer", "spider"):
        assert "<svg" in snapshot.figures[name], name


def _ends(patient: Patient) -> list[datetime.date | None]:
    from enrollment.selectors import death_date, end_of_study_date

    return [death_date(patient), end_of_study_date(patient)]
