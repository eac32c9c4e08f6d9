"""Endpoints end to end: patients built through the real services of every app, one recompute, exact values.

Registration happens "today" (the enrollment factories' date); the test then travels 400 days ahead so that the
treatment, the follow-up scans, the next line and the death all lie in the past when they are entered (EC-G1).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

import ruletext
from assessments.models import Lesion, TumourAssessment
from endpoints import services
from enrollment.models import DeathReport
from sabr_trial.crf import CrfStatus
from sabr_trial.services import crf_create
from tests.factories_assessments import BASELINE, assessment_post, lesion_post
from tests.factories_enrollment import TODAY, aware, registered
from treatment.models import (
    AxitinibPeriod,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)

pytestmark = pytest.mark.django_db
T0 = TODAY  # registration day
NOW = T0 + datetime.timedelta(days=400)


def day(n: int) -> datetime.date:
    return T0 + datetime.timedelta(days=n)


@pytest.fixture
def patients(coordinator, investigator):
    """Three patients registered today, before the clock moves (EC-RG-1 compares with the confirmation time)."""
    return [registered(coordinator, investigator) for _ in range(3)]


@pytest.fixture
def later(patients):
    with time_machine.travel(aware(NOW, 10), tick=False):
        yield


def _client(user: Any) -> Client:
    client = Client()  # logged in after the time travel: the idle session timeout would end an older session
    client.force_login(user)
    return client


@pytest.fixture
def as_coordinator(coordinator, later):
    return _client(coordinator)


@pytest.fixture
def as_investigator(investigator, later):
    return _client(investigator)


def _create(model: Any, patient: Any, user: Any, **data: Any) -> Any:
    return crf_create(model=model, patient=patient, data=data, acting_user=user, status=CrfStatus.SUBMITTED)


def _post_ok(client: Any, url: str, data: dict[str, Any]) -> None:
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["form"].errors


def _lesions(client: Any, patient: Any, *specs: dict[str, Any]) -> dict[str, Lesion]:
    for spec in specs:
        _post_ok(
            client,
            reverse("crf_create", args=[patient.pk, "lesion"]),
            lesion_post(baseline_date=day(-5).isoformat(), **spec),
        )
    return {x.lesion_code: x for x in Lesion.objects.filter(patient=patient)}


def _assess(
    client: Any, patient: Any, n: int, values: dict[str, Any], new: list[dict[str, Any]] | None = None
):
    """A time point on day n after registration (scan date) through the tumour-assessment page."""

    offset = (day(n) - BASELINE).days
    _post_ok(
        client,
        reverse("crf_create", args=[patient.pk, "tumour-assessment"]),
        assessment_post(patient, values, day=offset, new=new),
    )
    return TumourAssessment.objects.get(patient=patient, scan_date_first=day(n))


def _sabr(patient: Any, user: Any, lesions: list[Lesion], first: int) -> dict[str, SabrFraction]:
    """30 Gy in 3 fractions to each lesion on days first, first+2, first+4; returns each lesion's first fraction."""
    course = _create(
        SabrCourse,
        patient,
        user,
        is_protocol="Y",
        indication=SabrCourse.Indication.INITIAL,
        simulation_date=day(first - 2),
        technique="VMAT",
        image_guidance="CBCT",
    )
    firsts = {}
    for lesion in lesions:
        target = _create(
            SabrTarget,
            patient,
            user,
            course=course,
            lesion=lesion,
            prescribed_dose_gy=Decimal(30),
            n_fractions=3,
            isodose_pct=80,
            ptv_cc=Decimal("20.5"),
        )
        for number in (1, 2, 3):
            fx = _create(
                SabrFraction,
                patient,
                user,
                target=target,
                fraction_number=number,
                fraction_date=day(first + 2 * (number - 1)),
                delivered="Y",
                dose_delivered_gy=target.dose_per_fraction_gy,
            )
            firsts.setdefault(lesion.lesion_code, fx)
    return firsts


def _drugs(patient: Any, user: Any, axitinib_day: int, toripalimab_days: list[int], *, axitinib_end: int):
    axi = _create(
        AxitinibPeriod,
        patient,
        user,
        start_date=day(axitinib_day),
        end_date=day(axitinib_end),
        dose_level="5 MG BID",
        dose_change_reason="START",
        missed_doses=0,
    )
    infusions = [
        _create(
            ToripalimabInfusion,
            patient,
            user,
            cycle_number=i,
            infusion_status="GIVEN",
            infusion_date=day(d),
            dose_mg=Decimal(240),
            infusion_interrupted="N",
            lot_number=f"TP{i}",
        )
        for i, d in enumerate(toripalimab_days, start=1)
    ]
    return axi, infusions


@pytest.fixture
def study(patients, coordinator, as_coordinator):
    """Patient A: PR confirmed, then PD by sum with a new lesion seen 3 days before the PD scan; L1 fails locally;
    next line for PD; death. Patient B: PR not confirmed (PD 56 days later). Patient C: a scan dated after death."""
    a, b, c = patients
    lz = _lesions(
        as_coordinator,
        a,
        {"organ": "LIVER", "baseline_value_mm": "40"},
        {"organ": "LUNG", "baseline_value_mm": "30"},
        {
            "organ": "BONE",
            "role": "NON-TARGET",
            "baseline_value_mm": "",
            "slice_thickness_mm": "2.5",
            "nonmeasurable_type": "BLASTIC BONE",
        },
    )
    a_axi, _ = _drugs(a, coordinator, 2, [3, 24, 45], axitinib_end=160)
    a_fx = _sabr(a, coordinator, [lz["L1"], lz["L2"]], first=3)
    a_pr = _assess(as_coordinator, a, 56, {"L1": 20, "L2": 15})  # SOD 35 = -50 %: PR
    a_prc = _assess(as_coordinator, a, 112, {"L1": 20, "L2": 14})  # 34: PR again 56 d later (confirmed)
    # 30 + 14 = 44 vs nadir 34: +10 mm, +29 %: PD by sum; L1 20 -> 30 (+50 %, +10 mm): local failure (D5)
    a_pd = _assess(
        as_coordinator, a, 168, {"L1": 30, "L2": 14}, new=[{"first_seen_date": day(165).isoformat()}]
    )
    a_next = _create(
        SubsequentTherapy,
        a,
        coordinator,
        therapy_type="SYSTEMIC",
        regimen="Cabozantinib 60 mg QD",
        start_date=day(190),
        reason="PROGRESSION",
        local_on_protocol="N",
    )
    a_death = _create(
        DeathReport,
        a,
        coordinator,
        death_date=day(300),
        primary_cause="DISEASE PROGRESSION",
        autopsy="N",
        source="HOSPITAL RECORD",
    )

    _lesions(as_coordinator, b, {"organ": "LIVER", "baseline_value_mm": "50"})
    _drugs(b, coordinator, 4, [4], axitinib_end=200)
    _sabr(b, coordinator, list(Lesion.objects.filter(patient=b)), first=4)
    _assess(as_coordinator, b, 60, {"L1": 30})  # -40 %: PR
    b_pd = _assess(as_coordinator, b, 116, {"L1": 40})  # +10 mm, +33 % over nadir 30: PD

    _lesions(as_coordinator, c, {"organ": "LIVER", "baseline_value_mm": "45"})
    _drugs(c, coordinator, 3, [3], axitinib_end=50)
    _sabr(c, coordinator, list(Lesion.objects.filter(patient=c)), first=3)
    c_scan = _assess(as_coordinator, c, 57, {"L1": 44})
    _create(
        DeathReport,
        c,
        coordinator,
        death_date=day(80),
        primary_cause="UNKNOWN",
        autopsy="N",
        source="RELATIVE",
    )
    # The services refuse a scan after death (EC-TA-2); data migrated from a paper CRF can still hold one.
    TumourAssessment.objects.filter(pk=c_scan.pk).update(scan_date_first=day(95))

    return {
        "a": a,
        "a_fx": a_fx,
        "a_axi": a_axi,
        "a_pr": a_pr,
        "a_prc": a_prc,
        "a_pd": a_pd,
        "a_next": a_next,
        "a_death": a_death,
        "b": b,
        "b_pd": b_pd,
        "c": c,
        "c_scan": c_scan,
    }


@pytest.fixture
def snapshot(study):
    snap = services.run_recompute(trigger="test", cutoff=NOW)
    assert snap.status == "ok", snap.error
    return snap


def _row(snap, patient) -> dict[str, Any]:
    return next(r for r in snap.patient_rows() if r["patient_id"] == patient.pk)


def _src(form: str, obj: Any, field: str) -> dict[str, Any]:
    return {"form": form, "object_id": obj.pk, "field": field}


def test_stored_responses_are_what_the_endpoints_read(study):
    assert [study[k].overall_resp for k in ("a_pr", "a_prc", "a_pd")] == ["PR", "PR", "PD"]
    assert study["a_pd"].pd_date == day(165)  # R5.3: the new lesion's first scan is earlier than the PD scan


def test_pfs1_event_is_the_pd_date_of_the_pd_time_point(study, snapshot):
    pfs1 = _row(snapshot, study["a"])["pfs1"]
    # the reason is stored as a message id with parameters (issue 18): its English text is the sentence
    pfs1 = {**pfs1, "reason": ruletext.render(pfs1["reason"])}
    assert pfs1 == {
        "param": "PFS1",
        "origin": day(3).isoformat(),
        "origin_source": _src("sabr-fraction", study["a_fx"]["L1"], "fraction_date"),
        "adt": day(165).isoformat(),
        "days": 162,
        "months": round(162 / 30.4375, 2),
        "event": True,
        "cnsr": 0,
        "reason": f"event: progressive disease (RECIST 1.1) on {day(165).isoformat()}",
        "source": _src("tumour-assessment", study["a_pd"], "pd_date"),
        "lesion_code": None,
    }


def test_os_starts_at_the_earliest_dose_and_ends_at_death(study, snapshot):
    os_ = _row(snapshot, study["a"])["os"]
    # D1: axitinib on day 2 comes before the first fraction (day 3) and the first infusion (day 3)
    assert (os_["origin"], os_["origin_source"]) == (
        day(2).isoformat(),
        _src("axitinib", study["a_axi"], "start_date"),
    )
    assert (os_["adt"], os_["days"], os_["event"], os_["source"]) == (
        day(300).isoformat(),
        298,
        True,
        _src("death", study["a_death"], "death_date"),
    )


def test_pfs2_event_is_the_next_line_start(study, snapshot):
    pfs2 = _row(snapshot, study["a"])["pfs2"]
    assert (pfs2["origin"], pfs2["adt"], pfs2["days"], pfs2["event"], pfs2["source"]) == (
        day(3).isoformat(),
        day(190).isoformat(),
        187,
        True,
        _src("subsequent-therapy", study["a_next"], "start_date"),
    )


def test_local_control_per_lesion(study, snapshot):
    lesions = {r["lesion_code"]: r for r in _row(snapshot, study["a"])["lc_lesions"]}
    assert set(lesions) == {"L1", "L2"}  # the non-target bone lesion was not irradiated
    l1, l2 = lesions["L1"], lesions["L2"]
    assert (l1["origin"], l1["adt"], l1["days"], l1["event"], l1["source"]) == (
        day(3).isoformat(),
        day(168).isoformat(),
        165,
        True,
        _src("tumour-assessment", study["a_pd"], "local_failure"),
    )
    # L2 never failed and the patient died: death is the competing event (R2.4), dated at death
    assert (l2["adt"], l2["days"], l2["event"], l2["cnsr"], l2["source"]) == (
        day(300).isoformat(),
        297,
        False,
        9,
        _src("death", study["a_death"], "death_date"),
    )
    patient_lc = _row(snapshot, study["a"])["lc"]
    assert (patient_lc["adt"], patient_lc["event"]) == (day(168).isoformat(), True)  # R2.2: any lesion fails


#: (patient, unconfirmed BOR, confirmed BOR): one study build checks every row (building it takes seconds).
BOR_CASES = [
    ("a", "PR", "PR"),  # PR -> PR 56 days apart (R1.24)
    ("b", "PR", "SD"),  # PR -> PD with the SD duration met (R1.26: PR->PD = SD if met)
]


def test_confirmed_and_unconfirmed_bor(study, snapshot):
    got = [
        (who, _row(snapshot, study[who])["bor"]["response"], _row(snapshot, study[who])["cbor"]["response"])
        for who, _, _ in BOR_CASES
    ]
    assert got == BOR_CASES


def test_response_rates_use_confirmed_bor_with_unconfirmed_beside(snapshot):
    # primary set: A, B and C (treated, measurable); confirmed PR 1/3, unconfirmed PR 2/3
    assert snapshot.results["response_confirmed"]["counts"]["PR"] == 1
    assert snapshot.results["response_unconfirmed"]["counts"]["PR"] == 2
    assert snapshot.results["n_measurable"] == 3


def test_inconsistent_patient_is_flagged_with_the_reason_not_excluded(study, snapshot, as_investigator):
    c = study["c"]
    row = _row(snapshot, c)
    assert snapshot.results["flagged"] == [c.study_number]
    assert {
        "code": "AFTER_DEATH",
        "message": f"tumour assessment on {day(95).isoformat()} after death",
        "source": _src("tumour-assessment", study["c_scan"], "overall_resp"),
    } in [{**i, "message": ruletext.render(i["message"])} for i in row["issues"]]
    assert row["os"]["event"] is True  # still analysed: OS event at death
    page = as_investigator.get(reverse("endpoints:dashboard"), {"cutoff": NOW.isoformat()})
    assert 'data-testid="flagged"' in page.text and c.study_number in page.text
    assert f"tumour assessment on {day(95).isoformat()} after death" in page.text


#: (listing column, form slug, object that set the date)
LINK_CASES = [
    ("pfs1", "tumour-assessment", "a_pd"),
    ("pfs2", "subsequent-therapy", "a_next"),
    ("os", "death", "a_death"),
]


def test_listing_links_each_date_to_the_form_that_set_it(study, snapshot, as_investigator):
    page = as_investigator.get(reverse("endpoints:dashboard"), {"cutoff": NOW.isoformat()})
    row = next(r for r in page.context["listing"] if r["patient_id"] == study["a"].pk)
    for endpoint, form, key in LINK_CASES:
        url = reverse("crf_detail", args=[study["a"].pk, form, study[key].pk])
        assert row[endpoint]["url"] == url, endpoint
        assert f'href="{url}"' in page.text
        assert as_investigator.get(url).status_code == 200


def test_dashboard_pages_the_listing_and_says_when_a_figure_is_capped(coordinator, investigator, monkeypatch):
    from bench.synthetic import generate
    from endpoints import engine

    generate(60, user=coordinator, seed=5)
    monkeypatch.setattr(engine, "SWIMMER_MAX_LANES", 5)
    services.run_recompute(trigger="test")
    client = Client()
    client.force_login(investigator)
    first = client.get(reverse("endpoints:dashboard"))
    second = client.get(reverse("endpoints:dashboard"), {"page": "2"})
    assert (len(first.context["listing"]), len(second.context["listing"]), first.context["pages"]) == (
        50,
        10,
        2,
    )
    assert first.context["listing"][0]["study_number"] == "BN00001"
    assert second.context["listing"][-1]["study_number"] == "BN00060"
    assert 'data-testid="note-swimmer"' in first.text and "5 of 60 patients" in first.text
    assert client.get(reverse("endpoints:dashboard"), {"page": "x"}).status_code == 200
