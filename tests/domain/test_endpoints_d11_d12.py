"""D11 (landmarks at 365 / 730 / 1095 days) and D12 (local-control censoring dates) through derivation and statistics.

DOMAIN.md D11: "'12 months' and '24 months' are read at 365 and 730 days (whole days, as D7's caps), so a PFS1
capped at 730 days has an estimable 24-month rate. Likewise 36 months = 1095 days."
D12: "For the Aalen-Johansen estimate, death without local failure is the competing event, dated at the death. The
1-KM sensitivity analysis censors such lesions at their last evaluating scan (R2.3), not at death."
"""

from __future__ import annotations

from typing import Any

import pytest

from endpoints.derivation import DEFAULT_SETTINGS, Cnsr, TimeToEvent, derive_lc, derive_pfs1
from endpoints.statistics import DEFAULT_LANDMARKS_MONTHS, kaplan_meier, local_control, survival_inputs
from tests.domain.test_derivation import SD_Q8W, day, lesion, offset, record, tp

# --- D11 ------------------------------------------------------------------------------------------------------

LANDMARK_DAYS = [
    pytest.param(0, 365, id="D11-12-months-is-365-days"),
    pytest.param(1, 730, id="D11-24-months-is-730-days"),
    pytest.param(2, 1095, id="D11-36-months-is-1095-days"),
]


@pytest.mark.parametrize(("index", "days"), LANDMARK_DAYS)
def test_d11_landmarks_are_whole_days(index: int, days: int) -> None:
    assert DEFAULT_LANDMARKS_MONTHS[index] == DEFAULT_SETTINGS.months(days)


def _pfs1_capped_at(last_scan: int) -> TimeToEvent:
    result = derive_pfs1(record(timepoints=(*SD_Q8W, tp(700), tp(last_scan))))
    assert result is not None
    return result


def test_d11_pfs1_cap_row_is_at_730_days() -> None:
    row = _pfs1_capped_at(784)
    assert (row.cnsr, row.days) == (Cnsr.CAP_REACHED, 730)


# PFS1 rows -> the 24-month (730-day) estimate and its number at risk.
S730 = [
    pytest.param(
        [_pfs1_capped_at(784)] * 3, (1.0, 3), id="D11-S730-estimable-when-last-follow-up-is-the-cap"
    ),
    pytest.param(
        [_pfs1_capped_at(784), derive_pfs1(record(timepoints=(tp(56), tp(112, "PD"))))],
        (0.5, 1),
        id="D11-S730-with-one-event-before",
    ),
    pytest.param(
        [derive_pfs1(record(timepoints=(*SD_Q8W, tp(729))))], (None, 0), id="D11-S730-not-estimable-at-729"
    ),
]


@pytest.mark.parametrize(("rows", "expected"), S730)
def test_d11_pfs1_24_month_rate(rows: list[TimeToEvent], expected: tuple[float | None, int]) -> None:
    km = kaplan_meier(*survival_inputs(rows))
    at_24 = km.landmarks[1]
    assert (at_24.estimate, at_24.n_at_risk) == expected


# --- D12 ------------------------------------------------------------------------------------------------------

# The example: a lesion last evaluated on day 91 of a patient who died on day 400 without local failure.
LESION_ROWS = [
    pytest.param(
        {"lesion": lesion(scans=(56, 91)), "death": 400}, (9, 400, 91), id="D12-AJ-death-1KM-last-scan"
    ),
    pytest.param({"lesion": lesion(), "death": 400}, (9, 400, 0), id="D12-no-evaluating-scan-1KM-at-origin"),
    pytest.param(
        {"lesion": lesion(first=5, scans=(56, 91)), "death": 400}, (9, 400, 91), id="D12-lesion-own-origin"
    ),
    pytest.param({"lesion": lesion(scans=(56, 91))}, (2, 91, None), id="D12-alive-censored-at-last-scan"),
    pytest.param({"lesion": lesion(scans=(56, 91), lf=91), "death": 400}, (0, 91, None), id="D12-LF-event"),
]


@pytest.mark.parametrize(("overrides", "expected"), LESION_ROWS)
def test_d12_lesion_dates(overrides: dict[str, Any], expected: tuple[int, int, int | None]) -> None:
    lesion_input = overrides.pop("lesion")
    _, rows = derive_lc(record(lesions=(lesion_input,), **overrides))
    row = rows[0]
    km = offset(row.km_adt) if row.km_adt is not None else None
    assert (int(row.cnsr), offset(row.adt), km) == expected


def test_d12_patient_level_1km_at_latest_lesion_scan() -> None:
    patient, _ = derive_lc(
        record(lesions=(lesion("L1", scans=(56, 91)), lesion("L2", scans=(56, 150))), death=400)
    )
    assert patient is not None
    assert (int(patient.cnsr), offset(patient.adt), offset(patient.km_adt or day(-1))) == (9, 400, 150)


def test_d12_listing_row_carries_both_dates() -> None:
    _, rows = derive_lc(record(lesions=(lesion(scans=(56, 91)),), death=400))
    data = rows[0].to_dict()
    assert (data["adt"], data["km_adt"]) == (day(400).isoformat(), day(91).isoformat())


def _two_lesions() -> list[TimeToEvent]:
    # L1: competing death on day 400, last evaluated on day 91. L2 (another patient): local failure on day 200.
    _, dead = derive_lc(record(lesions=(lesion("L1", scans=(56, 91)),), death=400))
    _, failed = derive_lc(record(lesions=(lesion("L2", scans=(56, 200), lf=200),)))
    return [*dead, *failed]


# On day 200: cumulative incidence of LF by each method.
ESTIMATES = [
    # Aalen-Johansen: both lesions at risk on day 200 (the competing death comes on day 400): CIF = 1/2.
    pytest.param("cumulative_incidence", 0.5, id="D12-AJ-competing-at-death"),
    # 1-KM: L1 censored on day 91, so only L2 is at risk on day 200: 1 - KM = 1.
    pytest.param("one_minus_km", 1.0, id="D12-1KM-censored-at-last-evaluating-scan"),
]


@pytest.mark.parametrize(("method", "expected"), ESTIMATES)
def test_d12_estimators_use_their_own_date(method: str, expected: float) -> None:
    analysis = local_control(_two_lesions())
    assert getattr(analysis, method).curve.value_at(DEFAULT_SETTINGS.months(200)) == pytest.approx(expected)
