"""Endpoint figures: valid, deterministic SVG; "No data" when empty; patient ids for linking."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal

import pytest

from endpoints.plots import (
    Interval,
    SpiderSeries,
    SwimmerLane,
    WaterfallBar,
    cumulative_incidence_figure,
    kaplan_meier_figure,
    spider_figure,
    swimmer_figure,
    waterfall_figure,
)
from endpoints.statistics import aalen_johansen, kaplan_meier, one_minus_kaplan_meier

SVG_NS = "{http://www.w3.org/2000/svg}"

KM = kaplan_meier([2, 3, 3, 5, 6, 8, 9, 12, 14, 20], [1, 1, 0, 1, 0, 1, 1, 0, 1, 0], label="PFS1")
CIF = aalen_johansen([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 0, 1, 1, 2, 0, 1], label="Lesions")
ONE_MINUS_KM = one_minus_kaplan_meier([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 0, 1, 1, 2, 0, 1], label="Lesions")
BARS = [
    WaterfallBar(11, "011", Decimal("-45.5"), "PR"),
    WaterfallBar(12, "012", Decimal("10"), "SD"),
    WaterfallBar(13, "013", Decimal("-100"), "CR"),
    WaterfallBar(14, "014", Decimal("32"), "PD"),
]
LANES = [
    SwimmerLane(
        21,
        "021",
        14.0,
        ongoing=True,
        sabr=(Interval(0.1, 0.5),),
        axitinib=(Interval(0.0, 10.0),),
        toripalimab=(Interval(0.0),),
        responses=((1.8, "SD"), (3.7, "PR"), (5.5, "PR")),
    ),
    SwimmerLane(
        22,
        "022",
        8.0,
        sabr=(Interval(0.2, 0.4),),
        axitinib=(Interval(0.0, 6.0),),
        toripalimab=(Interval(0.0, 6.0),),
        responses=((1.8, "SD"), (3.7, "PD")),
        progression=3.7,
        death=8.0,
    ),
]
SPIDER = [
    SpiderSeries(31, "031", ((1.8, Decimal("-10")), (3.7, Decimal("-35"))), "PR"),
    SpiderSeries(32, "032", ((1.8, 5.0), (3.7, 25.0)), "PD"),
]

FIGURES: list[tuple[str, Callable[..., str], object]] = [
    ("kaplan-meier", kaplan_meier_figure, [KM]),
    ("cumulative-incidence", cumulative_incidence_figure, [CIF, ONE_MINUS_KM]),
    ("waterfall", waterfall_figure, BARS),
    ("swimmer", swimmer_figure, LANES),
    ("spider", spider_figure, SPIDER),
]
WITH_DATA = [pytest.param(build, data, id=name) for name, build, data in FIGURES]
EMPTY = [pytest.param(build, id=name) for name, build, _ in FIGURES]


def _root(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _ids(svg: str) -> set[str]:
    return {element.get("id", "") for element in _root(svg).iter()}


def _texts(svg: str) -> str:
    return " ".join(element.text or "" for element in _root(svg).iter(f"{SVG_NS}text"))


@pytest.mark.parametrize(("build", "data"), WITH_DATA)
def test_returns_valid_svg(build: Callable[..., str], data: object) -> None:
    assert _root(build(data)).tag == f"{SVG_NS}svg"


@pytest.mark.parametrize(("build", "data"), WITH_DATA)
def test_output_is_deterministic(build: Callable[..., str], data: object) -> None:
    assert build(data) == build(data)


@pytest.mark.parametrize(("build", "data"), WITH_DATA)
def test_no_date_in_metadata(build: Callable[..., str], data: object) -> None:
    assert "<dc:date>" not in build(data)


@pytest.mark.parametrize("build", EMPTY)
def test_empty_data_gives_no_data_figure(build: Callable[..., str]) -> None:
    assert "No data" in _texts(build([]))


@pytest.mark.parametrize("build", EMPTY)
def test_empty_figure_is_valid_svg(build: Callable[..., str]) -> None:
    assert _root(build([])).tag == f"{SVG_NS}svg"


def test_km_without_patients_is_no_data() -> None:
    assert "No data" in _texts(kaplan_meier_figure([kaplan_meier([], [])]))


PATIENT_IDS = [
    pytest.param(
        waterfall_figure, BARS, {"patient-11", "patient-12", "patient-13", "patient-14"}, id="waterfall"
    ),
    pytest.param(swimmer_figure, LANES, {"patient-21", "patient-22"}, id="swimmer"),
    pytest.param(spider_figure, SPIDER, {"patient-31", "patient-32"}, id="spider"),
]


@pytest.mark.parametrize(("build", "data", "expected"), PATIENT_IDS)
def test_patient_elements_carry_ids(build: Callable[..., str], data: object, expected: set[str]) -> None:
    assert expected <= _ids(build(data))


def test_swimmer_treatment_bars_carry_ids() -> None:
    assert {"patient-21-sabr-1", "patient-21-axitinib-1", "patient-21-toripalimab-1"} <= _ids(
        swimmer_figure(LANES)
    )


def test_url_template_links_patients() -> None:
    assert 'href="/patients/11/"' in waterfall_figure(BARS, url_template="/patients/{patient_id}/")


LABEL_CASES = [
    pytest.param(kaplan_meier_figure, [KM], {"months": "Monate"}, "Monate", id="km-axis"),
    pytest.param(
        kaplan_meier_figure,
        [KM],
        {"number_at_risk": "Anzahl unter Risiko"},
        "Anzahl unter Risiko",
        id="km-at-risk",
    ),
    pytest.param(
        waterfall_figure, BARS, {"PR": "Partielle Remission"}, "Partielle Remission", id="waterfall-bor"
    ),
    pytest.param(swimmer_figure, LANES, {"axitinib": "Axitinib (DE)"}, "Axitinib (DE)", id="swimmer-drug"),
    pytest.param(waterfall_figure, [], {"no_data": "Keine Daten"}, "Keine Daten", id="no-data"),
]


@pytest.mark.parametrize(("build", "data", "labels", "expected"), LABEL_CASES)
def test_labels_are_translatable(
    build: Callable[..., str], data: object, labels: dict[str, str], expected: str
) -> None:
    assert expected in _texts(build(data, labels=labels))


def test_km_number_at_risk_values_are_drawn() -> None:
    texts = _texts(kaplan_meier_figure([KM])).split()
    assert all(str(row.n_at_risk) in texts for row in KM.at_risk)


def test_different_input_gives_different_svg() -> None:
    assert waterfall_figure(BARS) != waterfall_figure(BARS[:2])
