"""Queries per request do not grow with the study (issue: request speed).

Each page and API operation is requested for one patient of a study of 1 patient, then of the same patient
in a study grown by 20 more patients with the same forms: the number of queries must be the same, and below the
ceiling recorded here (raise a ceiling only with a reason in the commit).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_api import Api, crf_path, token_for
from tests.factories_assessments import LesionFactory, assessment_post, create_url
from tests.factories_treatment import SabrFractionFactory, ToripalimabInfusionFactory

pytestmark = pytest.mark.django_db


def _patient(client):
    fraction = SabrFractionFactory()
    patient = fraction.patient
    LesionFactory(patient=patient, organ="LUNG")
    ToripalimabInfusionFactory(patient=patient)
    AdverseEventFactory(patient=patient, acn_sabr="DOSE NOT CHANGED")
    response = client.post(create_url(patient), assessment_post(patient, {"L1": 25, "L2": 25}, day=56))
    assert response.status_code == 302, response.content[:2000]
    return patient


def _count(call) -> tuple[int, int]:
    call()  # the first request after a data change fills the per-generation caches (navigation counts)
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    assert response.status_code in (200, 302), (response.status_code, response.content[:500])
    return len(ctx.captured_queries), response.status_code


def _requests(client, api, patient):
    ae = patient.adverse_events_adverseevent_set.first()
    infusion = patient.treatment_toripalimabinfusion_set.first()
    return {
        "casebook": lambda: client.get(reverse("casebook", args=[patient.pk])),
        "patient list": lambda: client.get(reverse("patient_list")),
        "home": lambda: client.get(reverse("home")),
        "crf detail (AE)": lambda: client.get(
            reverse("crf_detail", args=[patient.pk, "adverse-event", ae.pk])
        ),
        "crf edit page (infusion)": lambda: client.get(
            reverse("crf_update", args=[patient.pk, "toripalimab", infusion.pk])
        ),
        "api crf read (AE)": lambda: api.get(crf_path(patient, "adverse-event", ae.pk)),
        "api crf list (AE)": lambda: api.get(crf_path(patient, "adverse-event")),
    }


def test_queries_per_request_do_not_grow_with_the_study(as_coordinator, coordinator):
    api = Api(token_for(coordinator))
    first = _patient(as_coordinator)
    small = {name: _count(call)[0] for name, call in _requests(as_coordinator, api, first).items()}
    for _ in range(20):
        _patient(as_coordinator)
    large = {name: _count(call)[0] for name, call in _requests(as_coordinator, api, first).items()}
    print("\n".join(f"{name:28} {small[name]:4} {large[name]:4}" for name in small))
    assert large == small


def _todo_patient(client, coordinator, data_manager):
    """A patient whose forms are all submitted (SDV and the casebook signature wait), with an open query,
    off study today (a lock candidate)."""
    from enrollment.models import Disposition
    from sabr_trial import queries, services
    from sabr_trial.crf import CrfStatus, registry

    patient = _patient(client)
    services.crf_create(
        model=Disposition,
        patient=patient,
        acting_user=coordinator,
        status=CrfStatus.DRAFT,
        data={"eos_date": timezone.localdate(), "eos_reason": "PHYSICIAN DECISION"},
    )
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient, status=CrfStatus.DRAFT):
            services.crf_submit(instance=row, acting_user=coordinator)
    ae = patient.adverse_events_adverseevent_set.first()
    queries.raise_query(row=ae, text="Onset date?", acting_user=data_manager)
    return patient


def test_to_do_pages_do_not_grow_with_the_study(
    as_coordinator, coordinator, data_manager, as_investigator, as_monitor, as_data_manager
):
    pages = {
        "investigator to-do": lambda: as_investigator.get(reverse("visits:todo_investigator")),
        "monitor SDV list": lambda: as_monitor.get(reverse("visits:sdv_list")),
        "data manager to-do": lambda: as_data_manager.get(reverse("visits:todo_data_manager")),
    }
    _todo_patient(as_coordinator, coordinator, data_manager)
    small = {name: _count(call)[0] for name, call in pages.items()}
    for _ in range(20):
        _todo_patient(as_coordinator, coordinator, data_manager)
    large = {name: _count(call)[0] for name, call in pages.items()}
    response = pages["monitor SDV list"]()
    assert response.text.count('data-testid="sdv-item"') > 21 * 4  # the rows are really there
    print("\n".join(f"{name:28} {small[name]:4} {large[name]:4}" for name in small))
    assert large == small
