"""Factories of the AE app: AE rows (valid by default) and a POST payload helper for the AE form."""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.utils import timezone

from adverse_events.models import AdverseEvent, CtcaeTerm
from sabr_trial.crf import CrfStatus
from tests.factories import CrfFactory, RegisteredPatientFactory

FATIGUE = 10016256
HYPERTENSION = 10020772
ALT_INCREASED = 10001551
DEATH_NOS = 10011914
OTHER_GI = 10017947  # Gastrointestinal disorders - Other, specify


def term(code: int) -> CtcaeTerm:
    return CtcaeTerm.objects.get(meddra_code=code)


class AdverseEventFactory(CrfFactory):
    class Meta:
        model = AdverseEvent

    patient = factory.SubFactory(RegisteredPatientFactory)
    ctcae_term = factory.LazyFunction(lambda: term(FATIGUE))
    grade = 2
    onset_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))
    ongoing = "Y"
    serious = "N"
    rel_sabr = "UNLIKELY"
    rel_axitinib = "POSSIBLE"
    rel_toripalimab = "POSSIBLE"
    immune_related = "N"
    acn_axitinib = "DOSE NOT CHANGED"
    acn_toripalimab = "DOSE NOT CHANGED"
    acn_sabr = "NOT APPLICABLE"
    treatment_given = "N"
    status = CrfStatus.DRAFT


def ae_payload(**changes: Any) -> dict[str, Any]:
    """A valid form-17 POST (non-serious fatigue G2, ongoing); override any field."""
    data: dict[str, Any] = {
        "ctcae_term": str(FATIGUE),
        "verbatim": "",
        "grade": "2",
        "onset_date": (timezone.localdate() - datetime.timedelta(days=10)).isoformat(),
        "ongoing": "Y",
        "resolution_date": "",
        "serious": "N",
        "aesdth": "N",
        "aeslife": "N",
        "aeshosp": "N",
        "aesdisab": "N",
        "aescong": "N",
        "aesmie": "N",
        "rel_sabr": "UNLIKELY",
        "rel_axitinib": "POSSIBLE",
        "rel_toripalimab": "POSSIBLE",
        "immune_related": "N",
        "acn_axitinib": "DOSE NOT CHANGED",
        "acn_toripalimab": "DOSE NOT CHANGED",
        "acn_sabr": "NOT APPLICABLE",
        "treatment_given": "N",
        "outcome": "",
        "awareness_at": "",
        "reported_at": "",
        "expected": "",
        "action": "draft",
    }
    data.update({k: ("" if v is None else v) for k, v in changes.items()})
    return data


def ensure_ctcae_terms() -> None:
    """Reload the dictionary if a transactional test flushed the data migration's rows (idempotent)."""
    if CtcaeTerm.objects.count() != 837:
        import importlib

        from django.apps import apps

        importlib.import_module("adverse_events.migrations.0002_load_ctcae_v5_terms").load_terms(apps, None)
