"""Endpoint figures: valid, deterministic, scalable SVG written without a plotting library; "No data" when
empty; patient ids and links; step curves as one path each, thinned without loss; number at risk under the ticks."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal

import pytest

from endpoints.plots import (
    BOR_COLOURS,
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


# ----------------------------------------------------------------------------------------------------
# Document: scalable, titled, text as text
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "data"), WITH_DATA)
def test_figure_scales_with_a_viewbox_matching_its_size(build: Callable[..., str], data: object) -> None:
    root = _root(build(data))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert float(root.get("width", 0)) > 200 and float(root.get("height", 0)) > 120


@pytest.mark.parametrize(("build", "data"), WITH_DATA)
def test_figure_has_an_accessible_title_first(build: Callable[..., str], data: object) -> None:
    first = next(iter(_root(build(data, title="My figure"))))
    assert (first.tag, first.text) == (f"{SVG_NS}title", "My figure")


@pytest.mark.parametrize(("build", "data"), WITH_DATA)
def test_axis_titles_are_drawn(build: Callable[..., str], data: object) -> None:
    texts = _texts(build(data))
    assert "Months" in texts or "Patients" in texts or "Time on study (months)" in texts


def test_text_is_escaped() -> None:
    bars = [WaterfallBar(1, "<b>A&B</b>", Decimal("-40"), "PR")]
    svg = waterfall_figure(bars, title='"Q" <&>')
    assert "<b>" not in svg
    assert {"<b>A&B</b>", '"Q" <&>'} <= {element.text for element in _root(svg).iter(f"{SVG_NS}text")}


# ----------------------------------------------------------------------------------------------------
# Survival figures: one path per curve, band as one path, censor marks, number at risk
# ----------------------------------------------------------------------------------------------------


def _paths(svg: str, css_class: str) -> list[str]:
    return [
        element.get("d", "")
        for element in _root(svg).iter(f"{SVG_NS}path")
        if element.get("class") == css_class
    ]


def _text_elements(svg: str) -> list[ET.Element]:
    return list(_root(svg).iter(f"{SVG_NS}text"))


def test_km_draws_each_curve_as_one_path_with_one_band() -> None:
    other = kaplan_meier([1, 4, 4, 7, 10], [1, 0, 1, 1, 0], label="Arm B")
    svg = kaplan_meier_figure([KM, other])
    assert (len(_paths(svg, "curve")), len(_paths(svg, "ci-band")), len(_paths(svg, "censor-marks"))) == (
        2,
        2,
        2,
    )


def test_km_without_band_draws_none() -> None:
    assert _paths(kaplan_meier_figure([KM], show_band=False), "ci-band") == []


def _steps(values: tuple[float, ...]) -> int:
    return sum(1 for before, after in zip(values, values[1:], strict=False) if after != before)


@pytest.mark.parametrize(
    "curve", [pytest.param(KM.curve, id="km"), pytest.param(CIF.curve, id="aalen-johansen")]
)
def test_step_path_keeps_every_step_and_drops_only_flat_points(curve) -> None:
    build = kaplan_meier_figure if curve is KM.curve else cumulative_incidence_figure
    (path,) = _paths(build([KM if curve is KM.curve else CIF]), "curve")
    # One vertical move per change of the estimate; flat stretches (censorings only) add nothing.
    assert path.count("V") == _steps(curve.estimate) < len(curve.times) - 1


def test_step_path_runs_to_the_last_time() -> None:
    (path,) = _paths(kaplan_meier_figure([KM]), "curve")
    ends = [float(value) for value in re.findall(r"H([\d.]+)", path)]
    start = float(re.match(r"M([\d.]+),", path).group(1))  # type: ignore[union-attr]
    x_ticks = {
        element.text: float(element.get("x", 0)) for element in _text_elements(kaplan_meier_figure([KM]))
    }
    # The last time is 20 months; the axis runs 0..24 (the last at-risk tick).
    assert ends[-1] == pytest.approx(start + (x_ticks["24"] - start) * 20 / 24, abs=0.1)


def test_band_is_split_where_it_is_not_estimable() -> None:
    # The Aalen-Johansen band is undefined at the last time of CIF: the band stops there (one closed sub-path).
    assert CIF.curve.lower[-1] is None
    (band,) = _paths(cumulative_incidence_figure([CIF]), "ci-band")
    assert band.count("M") == band.count("Z") == 1


def test_censor_marks_at_the_same_point_are_drawn_once() -> None:
    tied = kaplan_meier([5, 5, 5, 8, 9], [0, 0, 0, 1, 0])
    (marks,) = _paths(kaplan_meier_figure([tied]), "censor-marks")
    assert marks.count("M") == len(set(tied.curve.censor_times)) == 2


def test_km_number_at_risk_sits_under_each_tick() -> None:
    elements = _text_elements(kaplan_meier_figure([KM]))
    header_y = next(float(e.get("y", 0)) for e in elements if e.text == "Number at risk")
    tick_x = {e.text: e.get("x") for e in elements if float(e.get("y", 0)) < header_y}
    below = [(e.text, e.get("x")) for e in elements if float(e.get("y", 0)) > header_y]
    for row in KM.at_risk:
        assert (str(row.n_at_risk), tick_x[f"{row.time:g}"]) in below, row


def test_cumulative_incidence_shares_one_at_risk_row_per_label() -> None:
    texts = [e.text for e in _text_elements(cumulative_incidence_figure([CIF, ONE_MINUS_KM]))]
    assert texts.count("Lesions") == 1
    assert all(str(row.n_at_risk) in texts for row in CIF.at_risk)


def test_cumulative_incidence_draws_1_minus_km_dashed_without_band() -> None:
    svg = cumulative_incidence_figure([CIF, ONE_MINUS_KM])
    curves = [e for e in _root(svg).iter(f"{SVG_NS}path") if e.get("class") == "curve"]
    assert [e.get("stroke-dasharray") for e in curves] == [None, "6 3"]
    assert len(_paths(svg, "ci-band")) == 1


# ----------------------------------------------------------------------------------------------------
# Patient-level figures: one element per patient, bars and markers, links
# ----------------------------------------------------------------------------------------------------


def _patient_elements(svg: str) -> list[ET.Element]:
    return [e for e in _root(svg).iter() if re.fullmatch(r"patient-\d+", e.get("id", ""))]


@pytest.mark.parametrize(
    ("build", "data"), [p for p in WITH_DATA if p.id in ("waterfall", "swimmer", "spider")]
)
def test_one_element_per_patient(build: Callable[..., str], data: list[object]) -> None:
    assert len(_patient_elements(build(data))) == len(data)


@pytest.mark.parametrize(
    ("build", "data", "patient"),
    [
        pytest.param(waterfall_figure, BARS, 13, id="waterfall"),
        pytest.param(swimmer_figure, LANES, 22, id="swimmer"),
        pytest.param(spider_figure, SPIDER, 32, id="spider"),
    ],
)
def test_url_template_wraps_each_patient_element_in_a_link(
    build: Callable[..., str], data: object, patient: int
) -> None:
    root = _root(build(data, url_template="/patients/{patient_id}/"))
    links = list(root.iter(f"{SVG_NS}a"))
    assert len(links) == len(data)  # type: ignore[arg-type]
    (link,) = [a for a in links if a.get("href") == f"/patients/{patient}/"]
    assert link[0].get("id") == f"patient-{patient}"


@pytest.mark.parametrize(
    ("build", "data"), [p for p in WITH_DATA if p.id in ("waterfall", "swimmer", "spider")]
)
def test_no_links_without_url_template(build: Callable[..., str], data: object) -> None:
    assert not list(_root(build(data)).iter(f"{SVG_NS}a"))


def test_waterfall_orders_bars_and_colours_them_by_bor() -> None:
    rects = _patient_elements(waterfall_figure(BARS))
    assert [e.get("id") for e in rects] == ["patient-14", "patient-12", "patient-11", "patient-13"]
    assert [e.get("fill") for e in rects] == [BOR_COLOURS[b] for b in ("PD", "SD", "PR", "CR")]


def test_waterfall_bar_heights_are_proportional_to_the_change() -> None:
    heights = {e.get("id"): float(e.get("height", 0)) for e in _patient_elements(waterfall_figure(BARS))}
    assert heights["patient-13"] / heights["patient-11"] == pytest.approx(100 / 45.5, rel=0.01)


def test_waterfall_labels_only_every_few_bars_when_crowded() -> None:
    bars = [WaterfallBar(i, f"P{i:03d}", Decimal(i % 80 - 60), "SD") for i in range(300)]
    svg = waterfall_figure(bars)
    labels = [e.text for e in _text_elements(svg) if (e.text or "").startswith("P")]
    assert len(_patient_elements(svg)) == 300 and 0 < len(labels) < 300


def test_swimmer_draws_every_treatment_period() -> None:
    ids = _ids(swimmer_figure(LANES))
    assert sum(1 for value in ids if re.fullmatch(r"patient-\d+-(sabr|axitinib|toripalimab)-\d+", value)) == 6


def test_swimmer_legend_names_markers_and_responses_seen() -> None:
    texts = _texts(swimmer_figure(LANES))
    for label in ("SABR", "Axitinib", "Toripalimab", "Progression", "Death", "Ongoing", "SD", "PR", "PD"):
        assert label in texts
    assert "CR" not in texts.split()  # no complete response in these lanes


def test_spider_draws_one_line_per_patient_from_baseline() -> None:
    svg = spider_figure(SPIDER)
    for group in _patient_elements(svg):
        line = group.find(f"{SVG_NS}path")
        assert line is not None and line.get("d", "").count("L") == 2  # baseline + two assessments


def test_legend_names_bor_present_only() -> None:
    texts = _texts(waterfall_figure(BARS[:2]))
    assert "PR" in texts and "SD" in texts and "CR" not in texts.split()


def test_chinese_legend_entries_do_not_overlap() -> None:
    """A CJK character is a full em wide: legend entries and boxes are sized for it (issue 19: the two local-control
    entries ran into each other and the swimmer's legend cut 特瑞普利单抗)."""
    labels = {"aalen-johansen": "累积发生率（死亡为竞争风险）", "1-km": "1 - Kaplan-Meier（死亡删失）"}
    elements = _text_elements(cumulative_incidence_figure([CIF, ONE_MINUS_KM], labels=labels))
    first = next(e for e in elements if (e.text or "").startswith("Lesions: 累积"))
    second = next(e for e in elements if (e.text or "").startswith("Lesions: 1 - Kaplan"))
    if first.get("y") == second.get("y"):  # on one row: the second starts after the first's full-width text
        assert float(second.get("x", 0)) - float(first.get("x", 0)) >= 10 * len(first.text or "") * 0.9
    lanes = [SwimmerLane(1, "SR-101", 6.0, toripalimab=(Interval(0.0, 6.0),))]
    svg = swimmer_figure(lanes, labels={"toripalimab": "特瑞普利单抗"})
    box = next(r for r in _root(svg).iter(f"{SVG_NS}rect") if r.get("stroke") == "#dddddd")
    assert float(box.get("width", 0)) >= 28 + 6 * 10, box.attrib
