"""A patient's series: nadir, derived fields, new-lesion dating, PD date (R5.3), R1.21 and D4 (non-irradiated)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from assessments.recist import (
    Assessment,
    DetectionMethod,
    Lesion,
    LesionRole,
    Method,
    NonTargetState,
    Organ,
    PetBaseline,
    RecistError,
    Response,
    SeriesResult,
    evaluate_series,
    evaluate_series_non_irradiated,
)
from tests.domain.test_recist_builders import (
    absent,
    day,
    gone,
    measured,
    merged,
    mm,
    new_lesion,
    node,
    nontarget,
    not_done,
    not_evaluable,
    present,
    state,
    target,
    too_small,
    tp,
)

CR, PR, SD, NN, PD, NE = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)


def last(series: SeriesResult) -> Response:
    return series.timepoints[-1].overall


def one_lesion(baseline: int, *values: int | str) -> SeriesResult:
    """A single liver target followed every 8 weeks."""
    return evaluate_series(
        [target("L1", baseline)], [tp(56 * (i + 1), measured("L1", v)) for i, v in enumerate(values)]
    )


TRAPS = [
    pytest.param(one_lesion(100, 70), PR, id="R1.16-100-to-70-PR"),
    pytest.param(one_lesion(100, 71), SD, id="R1.16-100-to-71-SD"),
    pytest.param(one_lesion(50, 40, 48), PD, id="R1.16-nadir-40-to-48-PD"),
    pytest.param(one_lesion(25, 20, 24), SD, id="R1.16-nadir-20-to-24-not-PD"),
    pytest.param(one_lesion(165, 63, 65), PR, id="R1.16-165-63-65-continued-PR"),
    pytest.param(one_lesion(100, 80, 70), PR, id="R1.13-PR-judged-against-baseline-not-nadir"),
    pytest.param(one_lesion(100, 50, 62), PD, id="R1.14-PD-judged-against-nadir-not-baseline"),
    pytest.param(one_lesion(50, 60), PD, id="R1.14-nadir-includes-baseline"),
    pytest.param(one_lesion(100, 110, 75), SD, id="R1.13-75-not-PR-though-32pct-below-previous"),
    pytest.param(one_lesion(100, 30, 36), PD, id="R1.14-nadir-30-to-36-PD"),
    pytest.param(one_lesion(100, 30, 34), PR, id="R1.14-nadir-30-to-34-still-PR"),
    pytest.param(
        evaluate_series(
            [target("L1", 50), target("L2", 50, Organ.LUNG)],
            [
                tp(56, measured("L1", 10), not_evaluable("L2")),
                tp(112, measured("L1", 30), measured("L2", 30)),
            ],
        ),
        PR,
        id="R1.17-partial-sum-is-never-a-nadir",
    ),
    pytest.param(
        evaluate_series(
            [target("L1", 20), target("L2", 20, Organ.LUNG), target("L3", 10, Organ.KIDNEY)],
            [tp(56, measured("L1", 40), measured("L2", 40), not_evaluable("L3"))],
        ),
        PD,
        id="R1.17-baseline-50-over-3-80-over-2-PD",
    ),
    pytest.param(
        evaluate_series([target("L1", 50)], [tp(56, measured("L1", 30)), not_done(112)]),
        NE,
        id="R1.22-imaging-not-done-NE",
    ),
    pytest.param(
        evaluate_series([target("L1", 50)], [not_done(56), tp(112, measured("L1", 61))]),
        PD,
        id="R1.22-not-done-does-not-move-nadir",
    ),
]


@pytest.mark.parametrize(("series", "expected"), TRAPS)
def test_series_response(series: SeriesResult, expected: Response) -> None:
    assert last(series) is expected


# Baseline 100 (60 + 40); 80; 60 (nadir); 72 = +20 % and +12 mm over the nadir.
FIELDS_SERIES = evaluate_series(
    [target("L1", 60), target("L2", 40, Organ.LUNG), nontarget("B1")],
    [
        tp(56, measured("L1", 50), measured("L2", 30), present("B1")),
        tp(112, measured("L1", 40), measured("L2", 20), present("B1")),
        tp(168, measured("L1", 45), measured("L2", 27), present("B1"), last=171),
    ],
)

FIELDS = [
    pytest.param("sum_mm", mm(72), id="R1.7-sum"),
    pytest.param("baseline_sum_mm", mm(100), id="R1.7-baseline-sum"),
    pytest.param("nadir_mm", mm(60), id="R1.14-nadir-used"),
    pytest.param("pct_change_baseline", mm(-28), id="R1.13-pct-change-from-baseline"),
    pytest.param("pct_change_nadir", mm(20), id="R1.14-pct-change-from-nadir"),
    pytest.param("change_nadir_mm", mm(12), id="R1.14-change-from-nadir-mm"),
    pytest.param("target", PD, id="R1.14-target-PD"),
    pytest.param("nontarget", NN, id="R1.18-non-target-category"),
    pytest.param("new_lesion", False, id="R1.19-no-new-lesion"),
    pytest.param("overall", PD, id="Table1-overall"),
    pytest.param("pd_date", day(168), id="R5.3-PD-by-sum-first-scan-date"),
    pytest.param("scan_date_last", day(171), id="R5.3-last-scan-date-kept"),
    pytest.param(
        "rule",
        "PD: SOD 72.0 mm >= 1.20 x nadir 60.0 mm and +12.0 mm >= 5 mm (R1.14)",
        id="R1.14-deciding-rule",
    ),
]


@pytest.mark.parametrize(("attribute", "expected"), FIELDS)
def test_series_fields(attribute: str, expected: object) -> None:
    assert getattr(FIELDS_SERIES.timepoints[-1], attribute) == expected


def test_series_pct_change_not_rounded() -> None:
    series = one_lesion(100, 70, 71)
    assert series.timepoints[-1].pct_change_nadir == Decimal(1) / Decimal(70) * 100


def test_series_rule_names_table() -> None:
    series = evaluate_series(
        [target("L1", 100), nontarget("B1")], [tp(56, measured("L1", 70), present("B1"))]
    )
    assert series.timepoints[0].rule == (
        "PR: SOD 70.0 mm <= 0.70 x baseline 100.0 mm (R1.13); non-target NON-CR/NON-PD; no new lesion (Table 1)"
    )


# New lesions: equivocal at day 112, unequivocal at day 168; first seen on the day-112 scan (R1.19).
EQUIVOCAL = [target("L1", 50)]
EQUIVOCAL_TPS = [
    tp(56, measured("L1", 45)),
    tp(112, measured("L1", 45), new=(new_lesion("N1", day(112), unequivocal=False),)),
    tp(168, measured("L1", 45), new=(new_lesion("N1", day(112)),)),
]
EQUIVOCAL_SERIES = evaluate_series(EQUIVOCAL, EQUIVOCAL_TPS)
PET_TPS = [
    tp(56, measured("L1", 45)),
    tp(
        112,
        measured("L1", 45),
        new=(
            new_lesion(
                "N1", day(112), detected_by=DetectionMethod.PET_CT, pet_baseline=PetBaseline.NO_BASELINE_PET
            ),
        ),
    ),
    tp(
        168,
        measured("L1", 45),
        new=(
            new_lesion(
                "N1",
                day(112),
                detected_by=DetectionMethod.PET_CT,
                pet_baseline=PetBaseline.NO_BASELINE_PET,
                ct_confirmed=True,
            ),
        ),
    ),
]
PET_SERIES = evaluate_series(EQUIVOCAL, PET_TPS)
SPAN_SERIES = evaluate_series(
    EQUIVOCAL,
    [
        tp(56, measured("L1", 45)),
        tp(110, measured("L1", 45), last=114, new=(new_lesion("N1", day(113), unequivocal=False),)),
        tp(168, measured("L1", 45), new=(new_lesion("N1", day(113)),)),
    ],
)


def first_pd(series: SeriesResult) -> tuple[date | None, date | None]:
    found = series.first_pd()
    return (found.assessment_date, found.pd_date) if found else (None, None)


NEW_LESION_DATING = [
    pytest.param(
        evaluate_series(EQUIVOCAL, EQUIVOCAL_TPS[:2]), (None, None), id="R1.19-equivocal-alone-is-not-PD"
    ),
    pytest.param(
        EQUIVOCAL_SERIES, (day(112), day(112)), id="R1.19-equivocal-then-confirmed-dated-first-seen"
    ),
    pytest.param(evaluate_series(EQUIVOCAL, PET_TPS[:2]), (None, None), id="R1.20-PET-only-not-yet-PD"),
    pytest.param(PET_SERIES, (day(112), day(112)), id="R1.20-PET-then-CT-confirms-dated-to-PET-scan"),
    pytest.param(SPAN_SERIES, (day(110), day(113)), id="R5.3-new-lesion-dated-to-its-own-scan-in-span"),
    pytest.param(
        evaluate_series(EQUIVOCAL, [tp(56, measured("L1", 45), new=(new_lesion("N1", day(40)),))]),
        (day(56), day(40)),
        id="R5.3-new-lesion-seen-on-unscheduled-scan",
    ),
]


@pytest.mark.parametrize(("series", "expected"), NEW_LESION_DATING)
def test_new_lesion_dating(series: SeriesResult, expected: tuple[date | None, date | None]) -> None:
    assert first_pd(series) == expected


def test_backdated_rule_names_confirmation() -> None:
    assert EQUIVOCAL_SERIES.timepoints[1].rule == (
        "PD: new lesion N1 first seen 2026-04-27, confirmed on 2026-06-22 (R1.19)"
    )


def test_backdated_timepoint_feeds_bor() -> None:
    assert [tp.response for tp in EQUIVOCAL_SERIES.responses()] == [SD, PD, PD]


# R5.3: per-lesion scan dates; lung (L1) scanned on day 110, liver (L2) on day 114; nadir = baseline 60.
def pd_by_sum(lung: int, liver: int) -> date | None:
    series = evaluate_series(
        [target("L1", 30, Organ.LUNG), target("L2", 30)],
        [
            tp(
                110,
                measured("L1", lung, scan_date=day(110)),
                measured("L2", liver, scan_date=day(114)),
                last=114,
            )
        ],
    )
    return series.timepoints[0].pd_date


PD_DATES = [
    pytest.param(pd_by_sum(75, 30), day(110), id="R5.3-chest-scan-alone-supports-PD"),
    pytest.param(pd_by_sum(50, 30), day(114), id="R5.3-PD-needs-both-scans"),
    pytest.param(
        evaluate_series(
            [target("L1", 30), nontarget("B1")],
            [
                tp(
                    110,
                    measured("L1", 30),
                    state("B1", NonTargetState.UNEQUIVOCAL_PROGRESSION, scan_date=day(113)),
                    last=113,
                )
            ],
        )
        .timepoints[0]
        .pd_date,
        day(113),
        id="R5.3-non-target-PD-dated-to-its-scan",
    ),
    pytest.param(
        evaluate_series(
            [target("L1", 30)],
            [tp(110, measured("L1", 40, scan_date=day(114)), last=114, new=(new_lesion("N1", day(110)),))],
        )
        .timepoints[0]
        .pd_date,
        day(110),
        id="R5.3-earliest-of-new-lesion-and-sum",
    ),
]


@pytest.mark.parametrize(("found", "expected"), PD_DATES)
def test_pd_date(found: date | None, expected: date) -> None:
    assert found == expected


# R1.21: a lesion that reappears after a confirmed CR is PD; otherwise it is not PD by itself.
LUNG = target("L1", 20, Organ.LUNG)
REAPPEARANCE = [
    pytest.param(
        [LUNG], [tp(56, gone("L1")), tp(112, gone("L1")), tp(168, measured("L1", 3))], PD,
        id="R1.21-target-reappears-after-confirmed-CR-PD",
    ),
    pytest.param(
        [LUNG], [tp(56, gone("L1")), tp(70, measured("L1", 3))], PR,
        id="R1.21-reappears-after-unconfirmed-CR-not-PD",
    ),
    pytest.param(
        [LUNG], [tp(56, gone("L1")), tp(112, gone("L1")), tp(168, too_small("L1"))], PD,
        id="R1.21-too-small-after-confirmed-CR-PD",
    ),
    pytest.param(
        [LUNG], [tp(56, gone("L1")), not_done(84), tp(112, gone("L1")), tp(168, measured("L1", 3))], PD,
        id="R1.21-CR-confirmed-across-an-NE",
    ),
    pytest.param(
        [LUNG], [tp(56, gone("L1")), tp(112, gone("L1")), not_done(140), tp(168, measured("L1", 3))], PD,
        id="R1.21-still-in-confirmed-CR-after-an-NE",
    ),
    pytest.param(
        [LUNG], [tp(56, gone("L1")), tp(83, gone("L1")), tp(140, measured("L1", 3))], PR,
        id="R1.21-CR-27-days-apart-not-confirmed",
    ),
    pytest.param(
        [LUNG, nontarget("B1")],
        [tp(56, gone("L1"), absent("B1")), tp(112, gone("L1"), absent("B1")), tp(168, gone("L1"), present("B1"))],
        PD,
        id="R1.21-non-target-reappears-after-confirmed-CR-PD",
    ),
    pytest.param(
        [LUNG, nontarget("B1")],
        [tp(56, gone("L1"), absent("B1")), tp(70, gone("L1"), present("B1"))],
        PR,
        id="R1.21-non-target-reappears-after-unconfirmed-CR-PR",
    ),
    pytest.param(
        [node("L1", 20)], [tp(56, measured("L1", 8)), tp(112, measured("L1", 8)), tp(168, measured("L1", 10))],
        PD,
        id="R1.21-node-back-to-10mm-after-confirmed-CR-PD",
    ),
    pytest.param(
        [node("L1", 20)], [tp(56, measured("L1", 8)), tp(112, measured("L1", 8)), tp(168, measured("L1", "9.9"))],
        CR,
        id="R1.21-node-9.9-still-CR",
    ),
    pytest.param(
        [LUNG, nontarget("B1")],
        [
            tp(56, gone("L1"), absent("B1")),
            tp(112, gone("L1"), absent("B1")),
            tp(168, gone("L1"), present("B1"), new=(new_lesion("N1", day(168), reappearance_of="B1"),)),
        ],
        PD,
        id="R1.21-new-lesion-reappearing-after-confirmed-CR-PD",
    ),
    pytest.param(
        [target("L1", 30), target("L2", 20, Organ.LUNG)],
        [tp(56, measured("L1", 20), gone("L2")),
         tp(112, measured("L1", 20), measured("L2", 4),
            new=(new_lesion("N1", day(112), reappearance_of="L2"),))],
        PR,
        id="R1.21-reappearance-recorded-as-new-without-CR-not-PD",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("lesions", "timepoints", "expected"), REAPPEARANCE)
def test_reappearance(lesions: list[Lesion], timepoints: list[Assessment], expected: Response) -> None:
    assert last(evaluate_series(lesions, timepoints)) is expected


# D4: L1 lung target treated with protocol SABR; L2 liver target and B1 bone non-target not irradiated.
IRR = target("L1", 30, Organ.LUNG, irradiated=True)
NON_IRR_CASES = [
    pytest.param(
        evaluate_series(
            [IRR, target("L2", 20), nontarget("B1")], [tp(56, gone("L1"), measured("L2", 20), present("B1"))]
        ),
        PR,
        id="D4-all-lesions-PR-driven-by-irradiated-lesion",
    ),
    pytest.param(
        evaluate_series_non_irradiated(
            [IRR, target("L2", 20), nontarget("B1")], [tp(56, gone("L1"), measured("L2", 20), present("B1"))]
        ),
        SD,
        id="D4-non-irradiated-only-SD",
    ),
    pytest.param(
        evaluate_series_non_irradiated(
            [IRR, target("L2", 20)], [tp(56, measured("L1", 50), measured("L2", 20))]
        ),
        SD,
        id="D4-irradiated-growth-ignored",
    ),
    pytest.param(
        evaluate_series_non_irradiated([IRR, nontarget("B1")], [tp(56, measured("L1", 15), present("B1"))]),
        NN,
        id="D4-no-target-left-table-2",
    ),
    pytest.param(
        evaluate_series_non_irradiated([IRR, nontarget("B1")], [tp(56, measured("L1", 15), absent("B1"))]),
        CR,
        id="D4-table-2-CR",
    ),
    pytest.param(
        evaluate_series_non_irradiated([IRR], [tp(56, measured("L1", 15))]),
        NE,
        id="D4-no-lesion-left-NE",
    ),
    pytest.param(
        evaluate_series_non_irradiated([IRR], [tp(56, measured("L1", 15), new=(new_lesion("N1", day(56)),))]),
        PD,
        id="D4-no-lesion-left-new-lesion-PD",
    ),
    pytest.param(
        evaluate_series_non_irradiated(
            [target("L1", 30, irradiated=True), target("L2", 20)],
            [tp(56, measured("L1", 45), merged("L2", "L1"))],
        ),
        NE,
        id="D4-R1.11-merged-into-irradiated-lesion-NE",
    ),
]


@pytest.mark.parametrize(("series", "expected"), NON_IRR_CASES)
def test_non_irradiated(series: SeriesResult, expected: Response) -> None:
    assert last(series) is expected


NON_IRR_RULES = [
    pytest.param(
        evaluate_series_non_irradiated([IRR], [tp(56, measured("L1", 15))]),
        "NE: no baseline lesion to assess and no new lesion (no non-irradiated lesions at baseline, D4)",
        id="D4-rule-no-lesion-left",
    ),
    pytest.param(
        evaluate_series_non_irradiated(
            [target("L1", 30, irradiated=True), target("L2", 20)],
            [tp(56, measured("L1", 45), merged("L2", "L1"))],
        ),
        "NE: L2 merged into irradiated L1 not evaluable; evaluable targets (0.0 mm) do not meet PD (R1.17); "
        "no non-target lesion; no new lesion (Table 1)",
        id="D4-rule-merged-into-irradiated",
    ),
]


@pytest.mark.parametrize(("series", "expected"), NON_IRR_RULES)
def test_non_irradiated_rule(series: SeriesResult, expected: str) -> None:
    assert series.timepoints[-1].rule == expected


def test_non_irradiated_is_nontarget_only_for_bor() -> None:
    series = evaluate_series_non_irradiated(
        [IRR, nontarget("B1")], [tp(56, measured("L1", 15), present("B1"))]
    )
    assert series.nontarget_only is True


SERIES_ERRORS = [
    pytest.param([target("L1", 30)], [tp(56)], id="EC-TA-1-missing-lesion-row"),
    pytest.param([target("L1", 30)], [tp(56, measured("L9", 3))], id="EC-TA-1-unregistered-lesion"),
    pytest.param(
        [target("L1", 30)], [tp(112, measured("L1", 3)), tp(56, measured("L1", 3))], id="EC-TA-2-date-order"
    ),
    pytest.param(
        [target("L1", 30)], [tp(56, measured("L1", 3), last=50)], id="EC-TA-2-last-scan-before-first"
    ),
    pytest.param(
        [target("L1", 30)],
        [Assessment(None, imaging_done=False, visit_date=day(56), results=(measured("L1", 3),))],
        id="EC-TA-2-no-imaging-no-lesion-rows",
    ),
    pytest.param(
        [
            target(f"L{i}", 20, organ)
            for i, organ in enumerate(
                [Organ.LIVER, Organ.LIVER, Organ.LUNG, Organ.LUNG, Organ.KIDNEY, Organ.BONE], 1
            )
        ],
        [],
        id="R1.6-registry-with-6-targets",
    ),
    pytest.param(
        [target("L1", 30)],
        [
            tp(56, measured("L1", 30), new=(new_lesion("N1", day(56)),)),
            tp(112, measured("L1", 30), new=(new_lesion("N1", day(50)),)),
        ],
        id="R1.19-first-seen-date-changed",
    ),
    pytest.param(
        [target("L1", 30)],
        [tp(56, measured("L1", 30), new=(new_lesion("N1", day(60)),))],
        id="R1.19-first-seen-after-the-scan",
    ),
    pytest.param(
        [target("L1", 30), target("L1", 20)],
        [],
        id="R1.6-lesion-registered-twice",
    ),
    pytest.param(
        [target("L1", 30), target("L2", 20, Organ.LUNG)],
        [tp(56, measured("L1", 20), gone("L2"), new=(new_lesion("N1", day(56), reappearance_of="L2"),))],
        id="R1.21-reappearing-lesion-still-recorded-as-gone",
    ),
    pytest.param(
        [target("L1", 30)],
        [tp(56, measured("L1", 20), new=(new_lesion("N1", day(56), reappearance_of="L7"),))],
        id="R1.21-reappearance-of-unregistered-lesion",
    ),
    pytest.param(
        [Lesion("N1", LesionRole.NEW, Organ.LIVER, Method.CT)], [], id="R1.19-new-lesion-in-registry"
    ),
]


@pytest.mark.parametrize(("lesions", "timepoints"), SERIES_ERRORS)
def test_series_refuses(lesions: list[Lesion], timepoints: list[Assessment]) -> None:
    with pytest.raises(RecistError):
        evaluate_series(lesions, timepoints)
