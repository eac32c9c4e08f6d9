"""Target lesions at one time point: values (R1.9-R1.11), sum of diameters (R1.7) and response (R1.12-R1.17)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.recist import (
    Lesion,
    LesionResult,
    Organ,
    RecistError,
    RecistSettings,
    Response,
    ResultStatus,
    SplitMerge,
    lesion_value_mm,
    sum_of_diameters,
    target_response,
)
from tests.domain.test_recist_builders import (
    gone,
    measured,
    merged,
    mm,
    node,
    not_evaluable,
    present,
    split,
    target,
    too_small,
)

L1 = target("L1", 30)
N1 = node("N1", 20)

VALUES = [
    pytest.param(L1, measured("L1", "12.5"), mm("12.5"), id="R1.9-measured-value-used"),
    pytest.param(L1, measured("L1", 3), mm(3), id="R1.10-real-3mm-kept-not-5"),
    pytest.param(L1, too_small("L1"), mm(5), id="R1.10-too-small-counts-5mm"),
    pytest.param(L1, LesionResult("L1", ResultStatus.TOO_SMALL, mm(5)), mm(5), id="R1.10-too-small-with-5"),
    pytest.param(L1, gone("L1"), mm(0), id="R1.10-disappeared-counts-0mm"),
    pytest.param(L1, not_evaluable("L1"), None, id="R1.17-not-evaluable-no-value"),
    pytest.param(N1, measured("N1", "7.5"), mm("7.5"), id="R1.9-node-keeps-short-axis-below-10"),
    pytest.param(L1, split("L1", 12, 8), mm(20), id="R1.11-split-sum-of-fragments"),
    pytest.param(
        L1,
        LesionResult("L1", ResultStatus.MEASURED, mm(20), split_merge=SplitMerge.SPLIT),
        mm(20),
        id="R1.11-split-recorded-as-sum",
    ),
    pytest.param(L1, merged("L1", "L2"), mm(0), id="R1.11-merged-lesion-counts-0mm"),
]


@pytest.mark.parametrize(("lesion", "result", "expected"), VALUES)
def test_lesion_value(lesion: Lesion, result: LesionResult, expected: Decimal | None) -> None:
    assert lesion_value_mm(lesion, result) == expected


def test_too_small_value_is_a_setting() -> None:
    assert lesion_value_mm(L1, too_small("L1"), settings=RecistSettings(too_small_mm=mm(4))) == mm(4)


VALUE_ERRORS = [
    pytest.param(LesionResult("L1"), id="R1.17-blank-result-refused"),
    pytest.param(LesionResult("L1", ResultStatus.MEASURED), id="R1.9-measured-without-value"),
    pytest.param(LesionResult("L1", ResultStatus.TOO_SMALL, mm(7)), id="R1.10-too-small-with-7mm"),
    pytest.param(LesionResult("L1", ResultStatus.DISAPPEARED, mm(4)), id="R1.10-disappeared-with-4mm"),
    pytest.param(LesionResult("L1", ResultStatus.NOT_EVALUABLE, mm(4)), id="R1.17-not-evaluable-with-value"),
    pytest.param(
        LesionResult("L1", ResultStatus.MEASURED, mm(30), split_merge=SplitMerge.MERGED, merged_into="L2"),
        id="R1.11-merged-lesion-with-value",
    ),
    pytest.param(
        LesionResult("L1", ResultStatus.MEASURED, mm(0), split_merge=SplitMerge.MERGED),
        id="R1.11-merged-no-host",
    ),
    pytest.param(
        LesionResult(
            "L1", ResultStatus.MEASURED, mm(21), split_merge=SplitMerge.SPLIT, fragments_mm=(mm(12), mm(8))
        ),
        id="R1.11-split-value-not-sum",
    ),
    pytest.param(
        LesionResult("L1", ResultStatus.MEASURED, mm(20), fragments_mm=(mm(12), mm(8))),
        id="R1.11-fragments-without-split",
    ),
    pytest.param(
        LesionResult("L1", ResultStatus.TOO_SMALL, split_merge=SplitMerge.SPLIT),
        id="R1.11-split-must-be-measured",
    ),
    pytest.param(present("L1"), id="R1.8-target-recorded-as-non-target-state"),
    pytest.param(measured("L1", -1), id="R1.9-negative-diameter"),
]


@pytest.mark.parametrize("result", VALUE_ERRORS)
def test_lesion_value_refuses(result: LesionResult) -> None:
    with pytest.raises(RecistError):
        lesion_value_mm(L1, result)


SUMS = [
    pytest.param(
        [target("L1", 30), node("L2", 20)],
        [measured("L1", 25), measured("L2", 12)],
        mm(37),
        id="R1.7-LD-non-nodal-plus-SA-nodal",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 15), target("L3", 10, Organ.LUNG)],
        [too_small("L1"), gone("L2"), measured("L3", 4)],
        mm(9),
        id="R1.10-too-small-5-disappeared-0-measured-4",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 15)],
        [split("L1", 12, 8), measured("L2", 10)],
        mm(30),
        id="R1.11-split-fragments-added",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 15)],
        [measured("L1", 30), merged("L2", "L1")],
        mm(30),
        id="R1.11-merged-value-on-one-0-on-other",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 15)],
        [measured("L1", 30), not_evaluable("L2")],
        None,
        id="R1.17-any-target-NE-no-SOD",
    ),
]


@pytest.mark.parametrize(("targets", "results", "expected"), SUMS)
def test_sum_of_diameters(
    targets: list[Lesion], results: list[LesionResult], expected: Decimal | None
) -> None:
    assert sum_of_diameters(targets, {r.lesion_code: r for r in results}).sum_mm == expected


SUM_ERRORS = [
    pytest.param([target("L1", 20)], [], id="EC-TA-1-missing-target-result"),
    pytest.param([target("L1", 20)], [merged("L1", "L9")], id="R1.11-merged-into-unknown-lesion"),
    pytest.param([target("L1", 20)], [merged("L1", "L1")], id="R1.11-merged-into-itself"),
    pytest.param(
        [target("L1", 20), target("L2", 20), target("L3", 10, Organ.LUNG)],
        [merged("L1", "L2"), merged("L2", "L3"), measured("L3", 40)],
        id="R1.11-merge-chain",
    ),
]


@pytest.mark.parametrize(("targets", "results"), SUM_ERRORS)
def test_sum_of_diameters_refuses(targets: list[Lesion], results: list[LesionResult]) -> None:
    with pytest.raises(RecistError):
        sum_of_diameters(targets, {r.lesion_code: r for r in results})


def one(value: str | int) -> list[LesionResult]:
    return [measured("L1", value)]


# (targets, results, baseline SOD, nadir, expected)
RESPONSES = [
    pytest.param([target("L1", 100)], one(70), 100, 100, Response.PR, id="R1.16-baseline-100-to-70-PR"),
    pytest.param([target("L1", 100)], one(71), 100, 100, Response.SD, id="R1.16-baseline-100-to-71-SD"),
    pytest.param([target("L1", 50)], one(48), 50, 40, Response.PD, id="R1.16-nadir-40-to-48-PD"),
    pytest.param([target("L1", 30)], one(24), 30, 20, Response.SD, id="R1.16-nadir-20-to-24-not-PD"),
    pytest.param([target("L1", 30)], one(25), 30, 20, Response.PD, id="R1.14-nadir-20-to-25-PD"),
    pytest.param([target("L1", 50)], one(45), 50, 40, Response.SD, id="R1.14-5mm-trap-40-to-45-only-12.5pct"),
    pytest.param([target("L1", 100)], one("119.9"), 100, 100, Response.SD, id="R1.14-119.9-below-1.20x"),
    pytest.param([target("L1", 100)], one(120), 100, 100, Response.PD, id="R1.14-exactly-1.20x-inclusive"),
    pytest.param(
        [target("L1", 60)], one("49.5"), 60, "41.3", Response.SD, id="R1.16-exact-1.20x41.3-49.5-SD"
    ),
    pytest.param(
        [target("L1", 60)], one("49.6"), 60, "41.3", Response.PD, id="R1.16-exact-1.20x41.3-49.6-PD"
    ),
    pytest.param(
        [target("L1", "33.3")], one("23.3"), "33.3", "33.3", Response.PR, id="R1.16-23.3-of-33.3-PR"
    ),
    pytest.param(
        [target("L1", "33.3")], one("23.4"), "33.3", "33.3", Response.SD, id="R1.16-no-rounding-29.7pct-SD"
    ),
    pytest.param(
        [target("L1", 100)], one(30), 100, 20, Response.PD, id="R1.15-PR-by-baseline-but-PD-by-nadir"
    ),
    pytest.param(
        [target("L1", 30), node("L2", 20)],
        [gone("L1"), measured("L2", "9.9")],
        50,
        50,
        Response.CR,
        id="R1.12-CR-nodes-below-10-SOD-9.9",
    ),
    pytest.param(
        [target("L1", 30), node("L2", 20)],
        [gone("L1"), measured("L2", 10)],
        50,
        50,
        Response.PR,
        id="R1.12-node-10.0-not-CR",
    ),
    pytest.param(
        [target("L1", 30), node("L2", 20)],
        [measured("L1", 1), measured("L2", 5)],
        50,
        50,
        Response.PR,
        id="R1.12-non-nodal-1mm-not-CR",
    ),
    pytest.param(
        [target("L1", 30), node("L2", 20)],
        [gone("L1"), too_small("L2")],
        50,
        50,
        Response.CR,
        id="R1.12-node-too-small-CR",
    ),
    pytest.param(
        [target("L1", 30), target("L2", 20)],
        [gone("L1"), merged("L2", "L1")],
        50,
        50,
        Response.CR,
        id="R1.12-R1.11-merged-and-disappeared-CR",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 20), target("L3", 10, Organ.LUNG)],
        [measured("L1", 40), measured("L2", 40), not_evaluable("L3")],
        50,
        50,
        Response.PD,
        id="R1.17-baseline-50-over-3-80-over-2-PD-despite-NE",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 20), target("L3", 10, Organ.LUNG)],
        [measured("L1", 20), measured("L2", 20), not_evaluable("L3")],
        50,
        50,
        Response.NE,
        id="R1.17-NE-when-measured-not-PD",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 20), target("L3", 10, Organ.LUNG)],
        [gone("L1"), gone("L2"), not_evaluable("L3")],
        50,
        50,
        Response.NE,
        id="R1.17-NE-not-CR-when-one-unassessed",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 20), target("L3", 10, Organ.LUNG)],
        [measured("L1", 4), measured("L2", 4), not_evaluable("L3")],
        50,
        50,
        Response.NE,
        id="R1.17-NE-not-PR-when-one-unassessed",
    ),
    pytest.param(
        [target("L1", 20)], [gone("L1")], 20, 20, Response.CR, id="R1.12-all-non-nodal-disappeared-CR"
    ),
    pytest.param(
        [target("L1", 20)], [too_small("L1")], 20, 20, Response.PR, id="R1.10-too-small-5mm-is-not-CR"
    ),
]


@pytest.mark.parametrize(("targets", "results", "baseline", "nadir", "expected"), RESPONSES)
def test_target_response(
    targets: list[Lesion],
    results: list[LesionResult],
    baseline: str | int,
    nadir: str | int,
    expected: Response,
) -> None:
    result = target_response(
        targets, {r.lesion_code: r for r in results}, baseline_sum_mm=mm(baseline), nadir_mm=mm(nadir)
    )
    assert result.response is expected


RULES = [
    pytest.param(
        [target("L1", 50)],
        one(48),
        50,
        40,
        "PD: SOD 48.0 mm >= 1.20 x nadir 40.0 mm and +8.0 mm >= 5 mm (R1.14)",
        id="R1.14-rule-text-PD",
    ),
    pytest.param(
        [target("L1", 30)],
        one(24),
        30,
        20,
        "SD: SOD 24.0 mm > 0.70 x baseline 30.0 mm; not PD: 24.0 mm >= 1.20 x nadir 20.0 mm but +4.0 mm < 5 mm "
        "(R1.15)",
        id="R1.15-rule-text-SD-names-5mm",
    ),
    pytest.param(
        [target("L1", 100)],
        one(70),
        100,
        100,
        "PR: SOD 70.0 mm <= 0.70 x baseline 100.0 mm (R1.13)",
        id="R1.13-rule-text-PR",
    ),
    pytest.param(
        [target("L1", 20), target("L2", 20), target("L3", 10, Organ.LUNG)],
        [measured("L1", 40), measured("L2", 40), not_evaluable("L3")],
        50,
        50,
        "PD: evaluable targets 80.0 mm >= 1.20 x nadir 50.0 mm and +30.0 mm >= 5 mm although L3 not evaluable "
        "(R1.17)",
        id="R1.17-rule-text-PD-despite-NE",
    ),
    pytest.param(
        [target("L1", 30), node("L2", 20)],
        [gone("L1"), measured("L2", "9.9")],
        50,
        50,
        "CR: non-nodal targets 0 mm and nodal targets < 10 mm short axis (SOD 9.9 mm) (R1.12)",
        id="R1.12-rule-text-CR-nodes",
    ),
]


@pytest.mark.parametrize(("targets", "results", "baseline", "nadir", "expected"), RULES)
def test_target_response_rule(
    targets: list[Lesion], results: list[LesionResult], baseline: int, nadir: int, expected: str
) -> None:
    result = target_response(
        targets, {r.lesion_code: r for r in results}, baseline_sum_mm=mm(baseline), nadir_mm=mm(nadir)
    )
    assert result.rule == expected


def test_cr_with_nodes_keeps_positive_sod() -> None:
    result = target_response(
        [target("L1", 30), node("L2", 20)],
        {"L1": gone("L1"), "L2": measured("L2", "9.9")},
        baseline_sum_mm=mm(50),
        nadir_mm=mm(50),
    )
    assert result.sum_mm == mm("9.9")


THRESHOLDS = [
    pytest.param(RecistSettings(pd_min_increase_mm=mm(10)), one(48), Response.SD, id="R1.14-setting-10mm"),
    pytest.param(
        RecistSettings(pd_increase_fraction=mm("0.25")), one(48), Response.SD, id="R1.14-setting-25pct"
    ),
    pytest.param(RecistSettings(), one(48), Response.PD, id="R1.14-default-20pct-5mm"),
]


@pytest.mark.parametrize(("settings", "results", "expected"), THRESHOLDS)
def test_pd_thresholds_are_settings(
    settings: RecistSettings, results: list[LesionResult], expected: Response
) -> None:
    result = target_response(
        [target("L1", 50)],
        {r.lesion_code: r for r in results},
        baseline_sum_mm=mm(50),
        nadir_mm=mm(40),
        settings=settings,
    )
    assert result.response is expected


def test_no_targets_means_table_2() -> None:
    assert target_response([], {}, baseline_sum_mm=mm(0), nadir_mm=mm(0)).response is None


def test_nadir_above_baseline_refused() -> None:
    with pytest.raises(RecistError):
        target_response(
            [target("L1", 50)], {"L1": measured("L1", 50)}, baseline_sum_mm=mm(50), nadir_mm=mm(60)
        )


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"pd_increase_fraction": mm("1.5")}, id="D3-fraction-above-1"),
        pytest.param({"pd_min_increase_mm": mm(-1)}, id="D3-negative-mm"),
        pytest.param({"irecist_confirm_min_days": 60}, id="R1.50-window-min-above-max"),
    ],
)
def test_settings_refuse_nonsense(settings: dict[str, object]) -> None:
    with pytest.raises(RecistError):
        RecistSettings(**settings)  # type: ignore[arg-type]
