"""Baseline: measurability (R1.1-R1.3), organ groups and target selection (R1.4, R1.6, R1.40)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.recist import (
    Laterality,
    Lesion,
    LesionRole,
    Measurability,
    Method,
    NonMeasurableType,
    Organ,
    RecistError,
    assess_measurability,
    organ_group,
    validate_target_selection,
)
from tests.domain.test_recist_builders import mm

MEAS = Measurability.MEASURABLE
NON = Measurability.NON_MEASURABLE
NORMAL = Measurability.NORMAL_NODE

MEASURABILITY = [
    pytest.param(Organ.LIVER, Method.CT, "10.0", "5.0", None, MEAS, id="R1.1-LD-exactly-10-slice-5"),
    pytest.param(Organ.LIVER, Method.CT, "9.9", "5.0", None, NON, id="R1.1-LD-9.9-small"),
    pytest.param(Organ.LIVER, Method.CT, "10.0", "1.0", None, MEAS, id="R1.1-LD-10-thin-slice"),
    pytest.param(Organ.LIVER, Method.CT, "12.0", "6.0", None, MEAS, id="R1.1-slice-6-LD-12-is-2x-slice"),
    pytest.param(Organ.LIVER, Method.CT, "11.9", "6.0", None, NON, id="R1.1-slice-6-LD-11.9-small"),
    pytest.param(Organ.LIVER, Method.CT, "10.0", "6.0", None, NON, id="R1.1-slice-6-LD-10-small"),
    pytest.param(Organ.LUNG, Method.MRI, "16.0", "8.0", None, MEAS, id="R1.1-MRI-slice-8-LD-16"),
    pytest.param(Organ.LUNG, Method.MRI, "15.9", "8.0", None, NON, id="R1.1-MRI-slice-8-LD-15.9"),
    pytest.param(Organ.LUNG, Method.PET_CT, "10.0", "3.0", None, MEAS, id="R1.1-PET-CT-LD-10"),
    pytest.param(Organ.LUNG, Method.XRAY, "20.0", None, None, MEAS, id="R1.1-xray-20"),
    pytest.param(Organ.LUNG, Method.XRAY, "19.9", None, None, NON, id="R1.1-xray-19.9"),
    pytest.param(Organ.SOFT_TISSUE, Method.PHYSICAL_EXAM, "10.0", None, None, MEAS, id="R1.1-calipers-10"),
    pytest.param(Organ.SOFT_TISSUE, Method.PHYSICAL_EXAM, "9.9", None, None, NON, id="R1.1-calipers-9.9"),
    pytest.param(Organ.LIVER, Method.CT, None, "1.0", None, NON, id="R1.1-no-diameter"),
    pytest.param(Organ.LYMPH_NODE, Method.CT, "15.0", "5.0", None, MEAS, id="R1.2-node-SA-15-measurable"),
    pytest.param(
        Organ.LYMPH_NODE, Method.CT, "14.9", "5.0", None, NON, id="R1.2-node-SA-14.9-non-target-only"
    ),
    pytest.param(Organ.LYMPH_NODE, Method.CT, "10.0", "5.0", None, NON, id="R1.2-node-SA-10-pathological"),
    pytest.param(Organ.LYMPH_NODE, Method.CT, "9.9", "5.0", None, NORMAL, id="R1.2-node-SA-9.9-normal"),
    pytest.param(Organ.LYMPH_NODE, Method.CT, "15.0", "8.0", None, MEAS, id="R1.2-node-no-2x-slice-rule"),
    pytest.param(Organ.LYMPH_NODE, Method.PHYSICAL_EXAM, "20.0", None, None, NON, id="R1.2-node-by-calipers"),
    pytest.param(
        Organ.LYMPH_NODE, Method.CT, "20.0", "1.0", NonMeasurableType.SMALL, NON, id="R1.3-node-typed"
    ),
    pytest.param(
        Organ.BONE, Method.CT, "40.0", "1.0", NonMeasurableType.BLASTIC_BONE, NON, id="R1.3-blastic-bone"
    ),
    pytest.param(
        Organ.BONE, Method.CT, "25.0", "1.0", None, MEAS, id="R1.3-lytic-bone-soft-tissue-component"
    ),
    pytest.param(Organ.PLEURA, Method.CT, None, "1.0", NonMeasurableType.EFFUSION, NON, id="R1.3-effusion"),
    pytest.param(Organ.OTHER, Method.CT, None, "1.0", NonMeasurableType.ASCITES, NON, id="R1.3-ascites"),
    pytest.param(
        Organ.BRAIN, Method.MRI, None, "1.0", NonMeasurableType.LEPTOMENINGEAL, NON, id="R1.3-leptomeningeal"
    ),
    pytest.param(
        Organ.LUNG, Method.CT, "30.0", "1.0", NonMeasurableType.LYMPHANGITIC, NON, id="R1.3-lymphangitic"
    ),
]


@pytest.mark.parametrize(("organ", "method", "value", "slice_mm", "nm_type", "expected"), MEASURABILITY)
def test_measurability(
    organ: Organ,
    method: Method,
    value: str | None,
    slice_mm: str | None,
    nm_type: NonMeasurableType | None,
    expected: Measurability,
) -> None:
    result = assess_measurability(
        organ=organ,
        method=method,
        value_mm=mm(value) if value is not None else None,
        slice_thickness_mm=mm(slice_mm) if slice_mm is not None else None,
        nonmeasurable_type=nm_type,
    )
    assert result.category is expected


RULE_TEXT = [
    pytest.param(
        Organ.LIVER,
        Method.CT,
        "12.0",
        "6.0",
        "LD 12.0 mm >= 12.0 mm (2 x slice 6.0 mm): measurable (R1.1)",
        id="R1.1-text-2x-slice",
    ),
    pytest.param(
        Organ.LUNG,
        Method.XRAY,
        "19.9",
        None,
        "LD 19.9 mm < 20.0 mm (chest X-ray): small lesion, non-measurable (R1.1, R1.3)",
        id="R1.1-text-xray",
    ),
    pytest.param(
        Organ.LYMPH_NODE,
        Method.CT,
        "14.9",
        "1.0",
        "node short axis 14.9 mm is 10 to < 15 mm: pathological, non-target only (R1.2)",
        id="R1.2-text-node-14.9",
    ),
]


@pytest.mark.parametrize(("organ", "method", "value", "slice_mm", "expected"), RULE_TEXT)
def test_measurability_rule_text(
    organ: Organ, method: Method, value: str, slice_mm: str | None, expected: str
) -> None:
    result = assess_measurability(
        organ=organ,
        method=method,
        value_mm=mm(value),
        slice_thickness_mm=mm(slice_mm) if slice_mm is not None else None,
    )
    assert result.rule == expected


MEASURABILITY_ERRORS = [
    pytest.param(Organ.LIVER, Method.CT, "20.0", None, id="R1.1-CT-needs-slice-thickness"),
    pytest.param(Organ.LIVER, Method.MRI, "20.0", None, id="R1.1-MRI-needs-slice-thickness"),
    pytest.param(Organ.LIVER, Method.CT, "0", "1.0", id="R1.1-zero-diameter"),
]


@pytest.mark.parametrize(("organ", "method", "value", "slice_mm"), MEASURABILITY_ERRORS)
def test_measurability_refuses(organ: Organ, method: Method, value: str, slice_mm: str | None) -> None:
    with pytest.raises(RecistError):
        assess_measurability(
            organ=organ,
            method=method,
            value_mm=mm(value),
            slice_thickness_mm=mm(slice_mm) if slice_mm is not None else None,
        )


GROUPS = [
    pytest.param(Organ.LUNG, Organ.LUNG, True, id="R1.6-left-and-right-lung-one-organ"),
    pytest.param(Organ.KIDNEY, Organ.KIDNEY, True, id="R1.6-both-kidneys-one-organ"),
    pytest.param(Organ.LYMPH_NODE, Organ.LYMPH_NODE, True, id="R1.6-all-nodes-one-organ"),
    pytest.param(Organ.LIVER, Organ.LUNG, False, id="R1.6-liver-and-lung-differ"),
    pytest.param(Organ.ADRENAL_GLAND, Organ.KIDNEY, False, id="R1.6-adrenal-and-kidney-differ"),
]


@pytest.mark.parametrize(("first", "second", "same"), GROUPS)
def test_organ_group(first: Organ, second: Organ, same: bool) -> None:
    assert (organ_group(first) == organ_group(second)) is same


def lesion(
    code: str,
    organ: Organ,
    value: str = "20",
    *,
    side: Laterality | None = None,
    where: str = "",
    method: Method = Method.CT,
    slice_mm: str | None = "1.0",
    **flags: object,
) -> Lesion:
    return Lesion(
        code=code,
        role=LesionRole.TARGET,
        organ=organ,
        method=method,
        baseline_value_mm=Decimal(value),
        laterality=side,
        location_text=where,
        slice_thickness_mm=Decimal(slice_mm) if slice_mm is not None else None,
        **flags,  # type: ignore[arg-type]
    )


LIVER, LUNG, NODE, KIDNEY = Organ.LIVER, Organ.LUNG, Organ.LYMPH_NODE, Organ.KIDNEY
LEFT, RIGHT = Laterality.LEFT, Laterality.RIGHT

REFUSED = [
    pytest.param(
        [
            lesion("L1", LIVER),
            lesion("L2", LIVER),
            lesion("L3", LUNG),
            lesion("L4", LUNG),
            lesion("L5", NODE),
            lesion("L6", KIDNEY),
        ],
        ["L6: a 6th target is not allowed: at most 5 targets in total (R1.6)"],
        id="R1.6-6th-target-refused",
    ),
    pytest.param(
        [lesion("L1", LIVER), lesion("L2", LIVER), lesion("L3", LIVER)],
        ["L3: a 3rd target in LIVER (already L1, L2) is not allowed: at most 2 per organ (R1.6)"],
        id="R1.6-3rd-target-in-one-organ-refused",
    ),
    pytest.param(
        [
            lesion("L1", NODE, where="mediastinal"),
            lesion("L2", NODE, where="para-aortic"),
            lesion("L3", NODE, where="inguinal"),
        ],
        [
            "L3: a 3rd target in LYMPH NODE (already L1, L2) is not allowed: at most 2 per organ; "
            "all lymph nodes count as one organ (R1.6)"
        ],
        id="R1.6-3rd-node-in-other-node-site-refused",
    ),
    pytest.param(
        [lesion("L1", LUNG, side=LEFT), lesion("L2", LUNG, side=RIGHT), lesion("L3", LUNG, side=LEFT)],
        [
            "L3: a 3rd target in LUNG (already L1, L2) is not allowed: at most 2 per organ; "
            "both lungs count as one organ (R1.6)"
        ],
        id="R1.6-left-and-right-lung-one-group",
    ),
    pytest.param(
        [lesion("L1", KIDNEY, side=LEFT), lesion("L2", KIDNEY, side=RIGHT), lesion("L3", KIDNEY, side=RIGHT)],
        [
            "L3: a 3rd target in KIDNEY (already L1, L2) is not allowed: at most 2 per organ; "
            "both kidneys count as one organ (R1.6)"
        ],
        id="R1.6-both-kidneys-one-group",
    ),
    pytest.param(
        [lesion("L1", LIVER, "8")],
        [
            "L1: not measurable, so not a target: LD 8.0 mm < 10.0 mm (slice 1.0 mm <= 5 mm): small lesion, "
            "non-measurable (R1.1, R1.3)"
        ],
        id="R1.1-non-measurable-target-refused",
    ),
    pytest.param(
        [lesion("L1", NODE, "14")],
        [
            "L1: not measurable, so not a target: node short axis 14.0 mm is 10 to < 15 mm: pathological, "
            "non-target only (R1.2)"
        ],
        id="R1.2-node-14mm-target-refused",
    ),
    pytest.param(
        [lesion("L1", Organ.BONE, "40", nonmeasurable_type=NonMeasurableType.BLASTIC_BONE)],
        ["L1: not measurable, so not a target: blastic bone disease: non-measurable (R1.3)"],
        id="R1.3-blastic-bone-target-refused",
    ),
    pytest.param(
        [lesion("L1", LIVER, previously_irradiated=True)],
        ["L1: irradiated before enrolment and not progressed since: not a target (R1.4, R1.40)"],
        id="R1.4-previously-irradiated-not-progressed-refused",
    ),
    pytest.param(
        [lesion("L1", LIVER, slice_mm=None)],
        ["L1: slice thickness is required to judge a lesion on CT SCAN (R1.1)"],
        id="R1.1-target-without-slice-thickness-refused",
    ),
    pytest.param(
        [lesion("L1", LIVER), lesion("L1", LIVER)],
        ["L1: listed twice as a target (R1.6)"],
        id="R1.6-duplicate-target-refused",
    ),
    pytest.param(
        [lesion("L1", LIVER, "8"), lesion("L2", LIVER), lesion("L3", LIVER), lesion("L4", LIVER)],
        [
            "L1: not measurable, so not a target: LD 8.0 mm < 10.0 mm (slice 1.0 mm <= 5 mm): small lesion, "
            "non-measurable (R1.1, R1.3)",
            "L4: a 3rd target in LIVER (already L2, L3) is not allowed: at most 2 per organ (R1.6)",
        ],
        id="R1.6-counts-only-eligible-targets",
    ),
]


@pytest.mark.parametrize(("targets", "messages"), REFUSED)
def test_target_selection_refused(targets: list[Lesion], messages: list[str]) -> None:
    assert [problem.message for problem in validate_target_selection(targets)] == messages


ACCEPTED = [
    pytest.param(
        [
            lesion("L1", LIVER),
            lesion("L2", LIVER),
            lesion("L3", NODE, "15"),
            lesion("L4", NODE, "22"),
            lesion("L5", LUNG),
        ],
        id="R1.6-five-targets-two-per-organ",
    ),
    pytest.param(
        [
            lesion("L1", LUNG, side=LEFT),
            lesion("L2", LUNG, side=RIGHT),
            lesion("L3", KIDNEY, side=LEFT),
            lesion("L4", KIDNEY, side=RIGHT),
        ],
        id="R1.6-two-lungs-two-kidneys",
    ),
    pytest.param(
        [lesion("L1", LIVER, previously_irradiated=True, progressed_since_rt=True)],
        id="R1.4-irradiated-then-progressed-may-be-target",
    ),
    pytest.param(
        [lesion("L1", LUNG, irradiated_protocol=True)], id="R1.40-D4-protocol-SABR-lesion-may-be-target"
    ),
    pytest.param([lesion("L1", LIVER, "12", slice_mm="6.0")], id="R1.1-slice-6-LD-12-target"),
    pytest.param([lesion("L1", LUNG, "20", method=Method.XRAY, slice_mm=None)], id="R1.1-xray-20-target"),
    pytest.param([], id="R1.6-no-target-is-not-a-selection-error"),
]


@pytest.mark.parametrize("targets", ACCEPTED)
def test_target_selection_accepted(targets: list[Lesion]) -> None:
    assert validate_target_selection(targets) == ()


def test_target_selection_problem_names_rule() -> None:
    problems = validate_target_selection([lesion(f"L{i}", organ) for i, organ in enumerate([LIVER] * 3, 1)])
    assert [(p.lesion_code, p.rule) for p in problems] == [("L3", "R1.6")]
