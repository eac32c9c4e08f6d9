"""Time-point categories: non-targets (R1.18), new lesions (R1.19-R1.21) and Tables 1 and 2 (R1.22)."""

from __future__ import annotations

from datetime import date

import pytest

from assessments.recist import (
    DetectionMethod,
    Lesion,
    LesionResult,
    NewLesion,
    NonTargetState,
    Organ,
    PetBaseline,
    RecistError,
    Response,
    new_lesion_response,
    nontarget_response,
    overall_response,
)
from tests.domain.test_recist_builders import absent, day, new_lesion, nontarget, present, state

CR, PR, SD, NN, PD, NE = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)
TARGETS = [CR, PR, SD, NE, PD]
NONTARGETS: list[Response | None] = [CR, NN, NE, PD, None]


def _name(value: Response | None) -> str:
    return "none" if value is None else value.value.replace("/", "-")


# Table 1: rows as written in DOMAIN.md; "Any" expanded over every value (None = no non-target at baseline).
TABLE_1 = [
    pytest.param(CR, CR, False, CR, id="Table1-CR-CR-no-new-CR"),
    pytest.param(CR, None, False, CR, id="Table1-CR-no-nontarget-disease-CR"),
    pytest.param(CR, NN, False, PR, id="Table1-CR-NONCR-NONPD-no-new-PR"),
    pytest.param(CR, NE, False, PR, id="Table1-CR-not-evaluated-no-new-PR"),
    *[
        pytest.param(PR, nt, False, PR, id=f"Table1-PR-{_name(nt)}-no-new-PR")
        for nt in (CR, NN, NE, None)  # "Non-PD or not all evaluated"
    ],
    *[pytest.param(SD, nt, False, SD, id=f"Table1-SD-{_name(nt)}-no-new-SD") for nt in (CR, NN, NE, None)],
    *[pytest.param(NE, nt, False, NE, id=f"Table1-NE-{_name(nt)}-no-new-NE") for nt in (CR, NN, NE, None)],
    *[
        pytest.param(PD, nt, new, PD, id=f"Table1-PD-{_name(nt)}-new-{new}-PD")
        for nt in NONTARGETS
        for new in (False, True)
    ],
    *[
        pytest.param(t, PD, new, PD, id=f"Table1-{_name(t)}-nontarget-PD-new-{new}-PD")
        for t in TARGETS
        for new in (False, True)
    ],
    *[
        pytest.param(t, nt, True, PD, id=f"Table1-{_name(t)}-{_name(nt)}-new-lesion-PD")
        for t in TARGETS
        for nt in NONTARGETS
    ],
]


@pytest.mark.parametrize(("target", "nontarget", "new", "expected"), TABLE_1)
def test_table_1(target: Response, nontarget: Response | None, new: bool, expected: Response) -> None:
    assert overall_response(target=target, nontarget=nontarget, new_lesion=new).response is expected


TABLE_2 = [
    pytest.param(CR, False, CR, id="Table2-CR-no-new-CR"),
    pytest.param(NN, False, NN, id="Table2-NONCR-NONPD-no-new-NONCR-NONPD-not-SD"),
    pytest.param(NE, False, NE, id="Table2-not-all-evaluated-no-new-NE"),
    pytest.param(PD, False, PD, id="Table2-unequivocal-PD-PD"),
    *[pytest.param(nt, True, PD, id=f"Table2-{_name(nt)}-any-new-lesion-PD") for nt in (CR, NN, NE, PD)],
]


@pytest.mark.parametrize(("nontarget", "new", "expected"), TABLE_2)
def test_table_2(nontarget: Response, new: bool, expected: Response) -> None:
    assert overall_response(target=None, nontarget=nontarget, new_lesion=new).response is expected


NO_DISEASE = [
    pytest.param(False, NE, id="D4-no-baseline-lesion-no-new-NE"),
    pytest.param(True, PD, id="D4-no-baseline-lesion-new-lesion-PD"),
]


@pytest.mark.parametrize(("new", "expected"), NO_DISEASE)
def test_no_baseline_disease(new: bool, expected: Response) -> None:
    assert overall_response(target=None, nontarget=None, new_lesion=new).response is expected


@pytest.mark.parametrize(
    ("target", "nontarget", "new"),
    [
        pytest.param(CR, CR, False, id="R1.22-no-imaging-even-if-CR"),
        pytest.param(PD, PD, True, id="R1.22-no-imaging-even-if-PD"),
        pytest.param(None, NN, False, id="R1.22-no-imaging-table-2"),
    ],
)
def test_no_imaging_is_ne(target: Response | None, nontarget: Response | None, new: bool) -> None:
    result = overall_response(target=target, nontarget=nontarget, new_lesion=new, imaging_done=False)
    assert result.response is NE


@pytest.mark.parametrize(
    ("target", "nontarget"),
    [
        pytest.param(NN, CR, id="R1.12-NONCR-NONPD-is-not-a-target-response"),
        pytest.param(CR, SD, id="R1.18-SD-is-not-a-non-target-response"),
        pytest.param(CR, PR, id="R1.18-PR-is-not-a-non-target-response"),
    ],
)
def test_overall_refuses_impossible_categories(target: Response, nontarget: Response) -> None:
    with pytest.raises(RecistError):
        overall_response(target=target, nontarget=nontarget, new_lesion=False)


def test_table_1_rule_text() -> None:
    result = overall_response(target=CR, nontarget=NN, new_lesion=False)
    assert (
        result.rule == "PR: targets CR but non-target NON-CR/NON-PD (R1.12, R1.18); no new lesion (Table 1)"
    )


BONE, NODE_NT = nontarget("B1"), nontarget("B2", Organ.LYMPH_NODE)
LIVER_NT = nontarget("B3", Organ.LIVER)

NONTARGET_CASES = [
    pytest.param([BONE, LIVER_NT], [absent("B1"), absent("B3")], False, None, CR, id="R1.18-all-absent-CR"),
    pytest.param([BONE, LIVER_NT], [absent("B1"), present("B3")], False, None, NN, id="R1.18-one-persists"),
    pytest.param(
        [BONE, LIVER_NT],
        [state("B1", NonTargetState.UNEQUIVOCAL_PROGRESSION), state("B3", NonTargetState.NOT_EVALUABLE)],
        False,
        None,
        PD,
        id="R1.18-unequivocal-progression-PD-even-with-NE",
    ),
    pytest.param(
        [BONE, LIVER_NT],
        [present("B1"), state("B3", NonTargetState.NOT_EVALUABLE)],
        False,
        None,
        NE,
        id="R1.18-not-all-evaluated-NE",
    ),
    pytest.param(
        [BONE, LIVER_NT],
        [absent("B1"), state("B3", NonTargetState.NOT_EVALUABLE)],
        False,
        None,
        NE,
        id="R1.18-absent-plus-unevaluated-NE-not-CR",
    ),
    pytest.param([BONE], [absent("B1")], False, False, NN, id="R1.18-markers-not-normal-no-CR"),
    pytest.param([BONE], [absent("B1")], False, True, CR, id="R1.18-markers-normal-CR"),
    pytest.param([BONE], [present("B1")], True, None, PD, id="R1.21-non-target-back-after-confirmed-CR-PD"),
    pytest.param([NODE_NT], [present("B2")], True, None, NN, id="R1.21-node-visible-again-not-reappearance"),
    pytest.param([], [], False, None, None, id="R1.18-no-non-target-at-baseline"),
]


@pytest.mark.parametrize(("lesions", "results", "in_cr", "markers", "expected"), NONTARGET_CASES)
def test_nontarget_response(
    lesions: list[Lesion],
    results: list[LesionResult],
    in_cr: bool,
    markers: bool | None,
    expected: Response | None,
) -> None:
    result = nontarget_response(
        lesions, {r.lesion_code: r for r in results}, confirmed_cr=in_cr, tumour_markers_normal=markers
    )
    assert result.response is expected


@pytest.mark.parametrize(
    "results",
    [
        pytest.param([], id="R1.18-missing-non-target-row"),
        pytest.param([LesionResult("B1")], id="R1.18-blank-non-target-state"),
    ],
)
def test_nontarget_refuses_blank(results: list[LesionResult]) -> None:
    with pytest.raises(RecistError):
        nontarget_response([BONE], {r.lesion_code: r for r in results})


SEEN = day(112)
PET = DetectionMethod.PET_CT

NEW_CASES = [
    pytest.param([new_lesion("N1", SEEN)], False, True, id="R1.19-unequivocal-new-lesion-PD"),
    pytest.param(
        [new_lesion("N1", SEEN, unequivocal=False)], False, False, id="R1.19-equivocal-keep-following"
    ),
    pytest.param(
        [new_lesion("N1", SEEN, detected_by=PET, pet_baseline=PetBaseline.NEGATIVE)],
        False,
        True,
        id="R1.20-PET-positive-negative-baseline-PET-PD",
    ),
    pytest.param(
        [new_lesion("N1", SEEN, detected_by=PET, pet_baseline=PetBaseline.NO_BASELINE_PET)],
        False,
        False,
        id="R1.20-no-baseline-PET-not-CT-confirmed-not-PD",
    ),
    pytest.param(
        [
            new_lesion(
                "N1", SEEN, detected_by=PET, pet_baseline=PetBaseline.NO_BASELINE_PET, ct_confirmed=True
            )
        ],
        False,
        True,
        id="R1.20-no-baseline-PET-CT-confirmed-PD",
    ),
    pytest.param(
        [new_lesion("N1", SEEN, detected_by=PET, pet_baseline=PetBaseline.POSITIVE)],
        False,
        False,
        id="R1.20-PET-site-matching-existing-lesion-not-PD",
    ),
    pytest.param(
        [new_lesion("N1", SEEN, detected_by=PET, pet_baseline=PetBaseline.NEGATIVE, unequivocal=False)],
        False,
        False,
        id="R1.19-R1.20-equivocal-PET-finding-not-PD",
    ),
    pytest.param(
        [new_lesion("N1", SEEN, reappearance_of="L2")], False, False, id="R1.21-reappearance-not-PD"
    ),
    pytest.param(
        [new_lesion("N1", SEEN, reappearance_of="L2")], True, True, id="R1.21-reappearance-after-CR-PD"
    ),
    pytest.param([new_lesion("N1", SEEN, present=False)], False, False, id="R1.19-no-longer-seen"),
    pytest.param([], False, False, id="R1.19-no-new-lesion"),
]


@pytest.mark.parametrize(("lesions", "in_cr", "expected"), NEW_CASES)
def test_new_lesion_response(lesions: list[NewLesion], in_cr: bool, expected: bool) -> None:
    assert new_lesion_response(lesions, confirmed_cr=in_cr).present is expected


def test_new_lesion_date_is_earliest_first_seen() -> None:
    result = new_lesion_response([new_lesion("N1", day(112)), new_lesion("N2", day(100))])
    assert result.first_seen_date == day(100)


def test_new_lesion_rule_text() -> None:
    result = new_lesion_response([new_lesion("N1", date(2026, 4, 27))])
    assert result.rule == "PD: new lesion N1 (first seen 2026-04-27, R1.19)"


def test_pet_new_lesion_needs_baseline_pet_status() -> None:
    with pytest.raises(RecistError):
        new_lesion_response([new_lesion("N1", SEEN, detected_by=PET)])
