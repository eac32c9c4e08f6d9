"""ADSL relative dose intensity (AXIRDI, TORRDI) from a known small study: the numbers of the casebook's
exposure panel (R4.1, R4.6) at the data cut-off, one decimal."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest

from endpoints.services import run_recompute
from reports import exports
from tests.factories_adverse_events import AdverseEventFactory
from tests.factories_treatment import (
    AxitinibPeriodFactory,
    ToripalimabInfusionFactory,
    consented_patient,
    days_ago,
)

pytestmark = pytest.mark.django_db


def _adsl(cutoff: datetime.date) -> dict[str, dict[str, str]]:
    snap = run_recompute(trigger="test", cutoff=cutoff)
    rows = csv.DictReader(io.StringIO(exports.adam_adsl(snap, exports.KeyMap()).decode()))
    return {r["SUBJID"]: r for r in rows}


def _infusion(patient, cycle: int, day: datetime.date, mg: int):  # type: ignore[no-untyped-def]
    """A given infusion; less than 240 mg only as an interrupted one, with its reason (R4.7, EC-TO-2)."""
    partial = {"infusion_interrupted": "Y", "dose_deviation_reason": "Infusion reaction: stopped half-way"}
    return ToripalimabInfusionFactory(
        patient=patient,
        cycle_number=cycle,
        dose_mg=Decimal(mg),
        infusion_date=day,
        **(partial if mg < 240 else {}),
    )


def _toxicity(patient, onset: datetime.date, toripalimab_action: str):  # type: ignore[no-untyped-def]
    """The AE an axitinib reduction for toxicity names (EC-AX-2)."""
    return AdverseEventFactory(
        patient=patient,
        onset_date=onset,
        acn_axitinib="DOSE REDUCED",
        acn_toripalimab=toripalimab_action,
        acn_sabr="NOT APPLICABLE",
    )


def test_adsl_carries_axitinib_and_toripalimab_relative_dose_intensity() -> None:
    treated = consented_patient(registered_days_ago=60)
    start = treated.registration_date
    # toripalimab: 240 + 240 + 120 mg over 3 planned q3w cycles (day 0, 21, 49): 600 / 720 = 83.3 %
    for cycle, day, mg in ((1, 0, 240), (2, 21, 240), (3, 49, 120)):
        _infusion(treated, cycle, start + datetime.timedelta(days=day), mg)
    # axitinib: 5 mg BID for 10 days, then 3 mg BID for 10 days: (100 + 60) / (10 mg/day x 20 days) = 80.0 %
    AxitinibPeriodFactory(patient=treated, start_date=start, end_date=start + datetime.timedelta(days=9))
    AxitinibPeriodFactory(
        patient=treated,
        start_date=start + datetime.timedelta(days=10),
        end_date=start + datetime.timedelta(days=19),
        dose_level="3 MG BID",
        dose_change_reason="REDUCTION FOR TOXICITY",
        adverse_event=_toxicity(treated, start + datetime.timedelta(days=8), "DOSE NOT CHANGED"),
    )
    untreated = consented_patient(registered_days_ago=5)
    adsl = _adsl(days_ago(0))
    assert adsl[treated.study_number]["AXIRDI"] == "80.0"
    assert adsl[treated.study_number]["TORRDI"] == "83.3"
    assert adsl[untreated.study_number]["AXIRDI"] == adsl[untreated.study_number]["TORRDI"] == ""


def test_adsl_rdi_stops_at_the_cutoff() -> None:
    """An ongoing axitinib period runs to the cut-off: 5 mg BID from day 0, 3 mg BID from day 10, ongoing."""
    treated = consented_patient(registered_days_ago=60)
    start = treated.registration_date
    AxitinibPeriodFactory(patient=treated, start_date=start, end_date=start + datetime.timedelta(days=9))
    AxitinibPeriodFactory(
        patient=treated,
        start_date=start + datetime.timedelta(days=10),
        dose_level="3 MG BID",
        dose_change_reason="REDUCTION FOR TOXICITY",
        adverse_event=_toxicity(treated, start + datetime.timedelta(days=8), "NOT APPLICABLE"),
    )
    # cut-off on day 29: (5 x 2 x 10 + 3 x 2 x 20) / (10 x 30) = 220 / 300 = 73.3 %
    adsl = _adsl(start + datetime.timedelta(days=29))
    assert adsl[treated.study_number]["AXIRDI"] == "73.3"
    assert adsl[treated.study_number]["TORRDI"] == ""


def test_adsl_toripalimab_rdi_counts_infusions_up_to_the_cutoff_only() -> None:
    """The same rule as the report's exposure section: an infusion after the cut-off is not in TORRDI."""
    treated = consented_patient(registered_days_ago=60)
    start = treated.registration_date
    for cycle, day, mg in ((1, 0, 240), (2, 21, 120), (3, 42, 240)):
        _infusion(treated, cycle, start + datetime.timedelta(days=day), mg)
    # cut-off on day 30: cycles 1-2 only, 360 mg of 2 x 240 planned = 75.0 % (with cycle 3: 600 / 720 = 83.3 %)
    adsl = _adsl(start + datetime.timedelta(days=30))
    assert adsl[treated.study_number]["TORRDI"] == "75.0"
