"""iRECIST, the exploratory read-out beside RECIST 1.1 (R1.50-R1.53)."""

from __future__ import annotations

import pytest

from assessments.recist import (
    Assessment,
    IRecistTimePoint,
    IResponse,
    Lesion,
    NonTargetState,
    irecist_best_overall_response,
    irecist_series,
)
from tests.domain.test_recist_builders import (
    START,
    day,
    measured,
    mm,
    new_lesion,
    nontarget,
    not_done,
    present,
    state,
    target,
    tp,
)

ICR, IPR, ISD, INN = IResponse.ICR, IResponse.IPR, IResponse.ISD, IResponse.INN
IUPD, ICPD, INE = IResponse.IUPD, IResponse.ICPD, IResponse.INE

# One liver target, baseline 50. Day 56: 40 (iSD, nadir 40). Day 112: 50 = +25 %, +10 mm over nadir: iUPD.
L1 = [target("L1", 50)]
STEM = [tp(56, measured("L1", 40)), tp(112, measured("L1", 50))]


def sod(*later: tuple[int, int]) -> list[Assessment]:
    return [*STEM, *(tp(n, measured("L1", value)) for n, value in later)]


def responses(lesions: list[Lesion], timepoints: list[Assessment]) -> list[IResponse]:
    return [point.response for point in irecist_series(lesions, timepoints)]


UP = IUPD
N_AT = day(112)
UNEQ = NonTargetState.UNEQUIVOCAL_PROGRESSION
L1_B1 = [target("L1", 50), nontarget("B1")]


def nt_stem() -> list[Assessment]:
    return [
        tp(56, measured("L1", 40), present("B1")),
        tp(112, measured("L1", 40), state("B1", UNEQ)),
    ]


def new_stem(value: int | None = None) -> list[Assessment]:
    return [
        tp(56, measured("L1", 40)),
        tp(112, measured("L1", 40), new=(new_lesion("N1", N_AT, value_mm=mm(value) if value else None),)),
    ]


CASES = [
    pytest.param(L1, sod((168, 55)), [ISD, UP, ICPD], id="R1.50-iUPD-then-iCPD-further-5mm"),
    pytest.param(L1, sod((168, 54)), [ISD, UP, UP], id="R1.51-further-4mm-stays-iUPD"),
    pytest.param(L1, sod((168, 54), (224, 56)), [ISD, UP, UP, ICPD], id="R1.51-cumulative-4-plus-2-mm"),
    pytest.param(L1, sod((168, 45)), [ISD, UP, ISD], id="R1.53-iUPD-then-iSD-resets"),
    pytest.param(L1, sod((168, 45), (224, 56)), [ISD, UP, ISD, UP], id="R1.53-after-reset-fresh-iUPD"),
    pytest.param(L1, sod((168, 30)), [ISD, UP, IPR], id="R1.53-iUPD-then-iPR"),
    pytest.param(L1, sod((168, 0)), [ISD, UP, ICR], id="R1.53-iUPD-then-iCR"),
    pytest.param(L1, sod((126, 60), (168, 50)), [ISD, UP, UP, UP], id="R1.50-scan-under-4-weeks-ignored"),
    pytest.param(
        L1, sod((126, 60), (168, 55)), [ISD, UP, UP, ICPD], id="R1.50-next-scan-after-4-weeks-confirms"
    ),
    pytest.param(L1, sod((140, 55)), [ISD, UP, ICPD], id="R1.50-exactly-4-weeks-confirms"),
    pytest.param(
        L1,
        [*STEM, not_done(168), tp(224, measured("L1", 55))],
        [ISD, UP, INE, ICPD],
        id="R1.50-no-imaging-then-confirmed",
    ),
    pytest.param(L1, sod((168, 55), (224, 30)), [ISD, UP, ICPD, ICPD], id="R1.51-iCPD-is-final"),
    pytest.param(
        L1_B1,
        [*nt_stem(), tp(168, measured("L1", 40), state("B1", UNEQ, further_increase=True))],
        [ISD, UP, ICPD],
        id="R1.51-non-target-further-increase-need-not-be-unequivocal",
    ),
    pytest.param(
        L1_B1,
        [*nt_stem(), tp(168, measured("L1", 40), state("B1", UNEQ))],
        [ISD, UP, UP],
        id="R1.51-non-target-no-change-stays-iUPD",
    ),
    pytest.param(
        L1_B1,
        [*nt_stem(), tp(168, measured("L1", 40), present("B1"))],
        [ISD, UP, ISD],
        id="R1.53-non-target-no-longer-progressing-resets",
    ),
    pytest.param(
        L1_B1,
        [*nt_stem(), tp(168, measured("L1", 48), state("B1", UNEQ))],
        [ISD, UP, ICPD],
        id="R1.51-target-PD-in-category-that-did-not-drive-iUPD",
    ),
    pytest.param(
        L1,
        [*new_stem(), tp(168, measured("L1", 40), new=(new_lesion("N1", N_AT),))],
        [ISD, UP, UP],
        id="R1.51-new-lesion-unchanged-stays-iUPD",
    ),
    pytest.param(
        L1,
        [*new_stem(), tp(168, measured("L1", 40), new=(new_lesion("N1", N_AT), new_lesion("N2", day(168))))],
        [ISD, UP, ICPD],
        id="R1.51-another-new-lesion-iCPD",
    ),
    pytest.param(
        L1,
        [*new_stem(10), tp(168, measured("L1", 40), new=(new_lesion("N1", N_AT, value_mm=mm(15)),))],
        [ISD, UP, ICPD],
        id="R1.51-new-target-lesions-plus-5mm",
    ),
    pytest.param(
        L1,
        [*new_stem(10), tp(168, measured("L1", 40), new=(new_lesion("N1", N_AT, value_mm=mm(14)),))],
        [ISD, UP, UP],
        id="R1.51-new-target-lesions-plus-4mm",
    ),
    pytest.param(
        L1,
        [*new_stem(), tp(168, measured("L1", 40), new=(new_lesion("N1", N_AT, further_increase=True),))],
        [ISD, UP, ICPD],
        id="R1.51-new-non-target-grows",
    ),
    pytest.param(
        L1,
        [*new_stem(), tp(168, measured("L1", 40), new=(new_lesion("N1", N_AT, present=False),))],
        [ISD, UP, ISD],
        id="R1.53-new-lesion-gone-resets",
    ),
    pytest.param(
        L1,
        [
            *new_stem(),
            tp(
                126,
                measured("L1", 40),
                for_symptoms=True,
                new=(new_lesion("N1", N_AT), new_lesion("N2", day(126))),
            ),
        ],
        [ISD, UP, ICPD],
        id="R1.50-symptom-scan-with-another-new-lesion",
    ),
    pytest.param(
        L1,
        [*new_stem(), tp(126, measured("L1", 40), new=(new_lesion("N1", N_AT), new_lesion("N2", day(126))))],
        [ISD, UP, UP],
        id="R1.50-early-routine-scan-ignored-even-with-new-lesion",
    ),
    pytest.param(L1, sod((224, 55)), [ISD, UP, ICPD], id="R1.50-beyond-8-weeks-still-confirms"),
    pytest.param(L1, [tp(56, measured("L1", 30))], [IPR], id="R1.50-no-PD-maps-to-iPR"),
]


@pytest.mark.parametrize(("lesions", "timepoints", "expected"), CASES)
def test_irecist(lesions: list[Lesion], timepoints: list[Assessment], expected: list[IResponse]) -> None:
    assert responses(lesions, timepoints) == expected


def test_ignored_scan_is_flagged() -> None:
    points = irecist_series(L1, sod((126, 60), (168, 55)))
    assert [point.ignored for point in points] == [False, False, True, False]


RULES = [
    pytest.param(
        sod((168, 54), (224, 56)),
        "iCPD: SOD 56.0 mm is +6.0 mm over 50.0 mm at iUPD (vs iUPD of 2026-04-27, R1.51)",
        id="R1.51-rule-cumulative",
    ),
    pytest.param(
        sod((224, 55)),
        "iCPD: SOD 55.0 mm is +5.0 mm over 50.0 mm at iUPD (vs iUPD of 2026-04-27, R1.51) "
        "(confirmation 112 d after iUPD, beyond the 4-8 week window)",
        id="R1.50-rule-late-confirmation",
    ),
    pytest.param(
        sod((168, 45)), "iSD: iUPD of 2026-04-27 not confirmed; bar reset (R1.53)", id="R1.53-rule-reset"
    ),
]


@pytest.mark.parametrize(("timepoints", "expected"), RULES)
def test_irecist_rule(timepoints: list[Assessment], expected: str) -> None:
    assert irecist_series(L1, timepoints)[-1].rule == expected


def points(*pairs: tuple[int, IResponse]) -> list[IRecistTimePoint]:
    return [IRecistTimePoint(day(n), response, "") for n, response in pairs]


IBOR = [
    pytest.param(points((56, ISD), (112, IUPD), (168, ICPD)), ISD, id="S3-iSD-before-iUPD"),
    pytest.param(points((56, IUPD), (112, INE), (168, INE)), IUPD, id="S3-example-8-iUPD-then-NE"),
    pytest.param(points((56, IUPD), (112, ICPD)), ICPD, id="S3-example-6-iUPD-iCPD"),
    pytest.param(points((56, IUPD), (112, ISD), (168, IPR)), IPR, id="S3-example-4-iPR-after-iUPD"),
    pytest.param(points((56, ICR), (112, IUPD), (168, ICPD)), ICR, id="S3-example-1-iCR"),
    pytest.param(points((30, ISD), (84, IUPD), (140, ICPD)), ICPD, id="R1.25-early-iSD-does-not-count"),
    pytest.param(points((56, IUPD), (112, ICPD), (168, ICR)), ICPD, id="R1.53-stops-at-iCPD"),
    pytest.param([], None, id="R5.8-no-assessment"),
]


@pytest.mark.parametrize(("timepoints", "expected"), IBOR)
def test_irecist_bor(timepoints: list[IRecistTimePoint], expected: IResponse | None) -> None:
    assert irecist_best_overall_response(timepoints, treatment_start=START).response is expected


def test_irecist_bor_skips_ignored_scans() -> None:
    timepoints = [*points((56, IUPD)), IRecistTimePoint(day(70), ICPD, "", ignored=True)]
    assert irecist_best_overall_response(timepoints, treatment_start=START).response is IUPD


def test_irecist_non_target_only_patient() -> None:
    assert responses([nontarget("B1")], [tp(56, present("B1"))]) == [INN]
