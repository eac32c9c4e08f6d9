"""Baseline: measurability, organ groups, target selection (R1.1-R1.6). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from assessments.recist.types import (
    _CODE_TEXT,
    MAX_SLICE_MM,
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    MIN_LD_MM,
    NODE_MEASURABLE_SA_MM,
    NODE_PATHOLOGICAL_SA_MM,
    XRAY_MIN_LD_MM,
    Lesion,
    Measurability,
    MeasurabilityResult,
    Method,
    NonMeasurableType,
    Organ,
    RecistError,
    SelectionProblem,
    _codes,
    _mm,
)
from ruletext import Msg, define, gettext_noop

# --- Baseline: measurability, organ groups, target selection (R1.1-R1.6) -----------------------------------------
_CROSS_SECTIONAL: Final = frozenset({Method.CT, Method.MRI, Method.PET_CT})

_E_BASELINE_NOT_POSITIVE = define(
    "recist.err.baseline_not_positive", gettext_noop("baseline diameter must be > 0 mm, got %(v)s mm")
)
_E_SLICE_REQUIRED = define(
    "recist.err.slice_required",
    gettext_noop("slice thickness is required to judge a lesion on %(method)s (R1.1)"),
)
_M_TYPE_NONMEASURABLE = define(
    "recist.meas.type_nonmeasurable", gettext_noop("%(type)s disease: non-measurable (R1.3)")
)
_M_NO_LD = define("recist.meas.no_ld", gettext_noop("no longest diameter recorded: non-measurable (R1.1)"))
_M_BASIS_SLICE = define("recist.meas.basis_slice", gettext_noop("slice %(slice)s mm <= 5 mm"))
_M_BASIS_2X_SLICE = define("recist.meas.basis_2x_slice", gettext_noop("2 x slice %(slice)s mm"))
_M_BASIS_XRAY = define("recist.meas.basis_xray", gettext_noop("chest X-ray"))
_M_BASIS_CALIPERS = define("recist.meas.basis_calipers", gettext_noop("calipers"))
_M_LD_MEASURABLE = define(
    "recist.meas.ld_measurable", gettext_noop("LD %(ld)s mm >= %(min)s mm (%(basis)s): measurable (R1.1)")
)
_M_LD_SMALL = define(
    "recist.meas.ld_small",
    gettext_noop("LD %(ld)s mm < %(min)s mm (%(basis)s): small lesion, non-measurable (R1.1, R1.3)"),
)
_M_NODE_TYPE = define(
    "recist.meas.node_type", gettext_noop("node recorded as %(type)s: non-measurable (R1.3)")
)
_M_NODE_NO_SA = define(
    "recist.meas.node_no_sa", gettext_noop("no node short axis recorded: non-measurable (R1.2)")
)
_M_NODE_NORMAL = define(
    "recist.meas.node_normal", gettext_noop("node short axis %(sa)s mm < 10 mm: normal, not recorded (R1.2)")
)
_M_NODE_PATHOLOGICAL = define(
    "recist.meas.node_pathological",
    gettext_noop("node short axis %(sa)s mm is 10 to < 15 mm: pathological, non-target only (R1.2)"),
)
_M_NODE_METHOD = define(
    "recist.meas.node_method",
    gettext_noop("node short axis must be measured on CT or MRI, not %(method)s (R1.2)"),
)
_M_NODE_MEASURABLE = define(
    "recist.meas.node_measurable", gettext_noop("node short axis %(sa)s mm >= 15 mm: measurable (R1.2)")
)
#: The non-measurable types as they read inside a rule text (lower case).
_NONMEASURABLE_NAME: Final[Mapping[NonMeasurableType, Msg]] = MappingProxyType(
    {
        NonMeasurableType.BLASTIC_BONE: define("recist.nm.blastic_bone", gettext_noop("blastic bone"))(),
        NonMeasurableType.EFFUSION: define("recist.nm.effusion", gettext_noop("effusion"))(),
        NonMeasurableType.ASCITES: define("recist.nm.ascites", gettext_noop("ascites"))(),
        NonMeasurableType.LEPTOMENINGEAL: define(
            "recist.nm.leptomeningeal", gettext_noop("leptomeningeal")
        )(),
        NonMeasurableType.LYMPHANGITIC: define("recist.nm.lymphangitic", gettext_noop("lymphangitic"))(),
        NonMeasurableType.SMALL: define("recist.nm.small", gettext_noop("small"))(),
        NonMeasurableType.OTHER: define("recist.nm.other", gettext_noop("other"))(),
    }
)


def assess_measurability(
    *,
    organ: Organ,
    method: Method,
    value_mm: Decimal | None,
    slice_thickness_mm: Decimal | None = None,
    nonmeasurable_type: NonMeasurableType | None = None,
) -> MeasurabilityResult:
    """Return whether a lesion is measurable at baseline, with the rule that decided it (R1.1-R1.3)."""
    if value_mm is not None and value_mm <= 0:
        raise RecistError(_E_BASELINE_NOT_POSITIVE(v=_mm(value_mm)))
    if organ is Organ.LYMPH_NODE:
        return _node_measurability(method, value_mm, nonmeasurable_type)
    if nonmeasurable_type is not None:
        # R1.3: blastic bone, effusions, ascites, leptomeningeal and lymphangitic disease are never measurable.
        return MeasurabilityResult(
            Measurability.NON_MEASURABLE, _M_TYPE_NONMEASURABLE(type=_NONMEASURABLE_NAME[nonmeasurable_type])
        )
    if value_mm is None:
        return MeasurabilityResult(Measurability.NON_MEASURABLE, _M_NO_LD())
    if method in _CROSS_SECTIONAL:
        if slice_thickness_mm is None or slice_thickness_mm <= 0:
            raise RecistError(_E_SLICE_REQUIRED(method=method.value))
        if slice_thickness_mm <= MAX_SLICE_MM:  # R1.1
            minimum, basis = MIN_LD_MM, _M_BASIS_SLICE(slice=_mm(slice_thickness_mm))
        else:  # R1.1: slice > 5 mm => 2 x slice
            minimum, basis = 2 * slice_thickness_mm, _M_BASIS_2X_SLICE(slice=_mm(slice_thickness_mm))
    elif method is Method.XRAY:  # R1.1
        minimum, basis = XRAY_MIN_LD_MM, _M_BASIS_XRAY()
    else:  # R1.1: clinical lesion measured with calipers
        minimum, basis = MIN_LD_MM, _M_BASIS_CALIPERS()
    if value_mm >= minimum:
        return MeasurabilityResult(
            Measurability.MEASURABLE, _M_LD_MEASURABLE(ld=_mm(value_mm), min=_mm(minimum), basis=basis)
        )
    return MeasurabilityResult(
        Measurability.NON_MEASURABLE, _M_LD_SMALL(ld=_mm(value_mm), min=_mm(minimum), basis=basis)
    )


def _node_measurability(
    method: Method, value_mm: Decimal | None, nonmeasurable_type: NonMeasurableType | None
) -> MeasurabilityResult:
    if nonmeasurable_type is not None:
        return MeasurabilityResult(
            Measurability.NON_MEASURABLE, _M_NODE_TYPE(type=_NONMEASURABLE_NAME[nonmeasurable_type])
        )
    if value_mm is None:
        return MeasurabilityResult(Measurability.NON_MEASURABLE, _M_NODE_NO_SA())
    if value_mm < NODE_PATHOLOGICAL_SA_MM:  # R1.2
        return MeasurabilityResult(Measurability.NORMAL_NODE, _M_NODE_NORMAL(sa=_mm(value_mm)))
    if value_mm < NODE_MEASURABLE_SA_MM:  # R1.2, R1.3
        return MeasurabilityResult(Measurability.NON_MEASURABLE, _M_NODE_PATHOLOGICAL(sa=_mm(value_mm)))
    if method not in _CROSS_SECTIONAL:
        # R1.2: the node thresholds are short axes on CT/MRI; X-ray and calipers cannot give one.
        return MeasurabilityResult(Measurability.NON_MEASURABLE, _M_NODE_METHOD(method=method.value))
    return MeasurabilityResult(Measurability.MEASURABLE, _M_NODE_MEASURABLE(sa=_mm(value_mm)))


def _lesion_measurability(lesion: Lesion) -> MeasurabilityResult:
    return assess_measurability(
        organ=lesion.organ,
        method=lesion.method,
        value_mm=lesion.baseline_value_mm,
        slice_thickness_mm=lesion.slice_thickness_mm,
        nonmeasurable_type=lesion.nonmeasurable_type,
    )


def organ_group(organ: Organ) -> Organ:
    """Return the RECIST organ group used by the 2-per-organ limit (R1.6).

    All lymph nodes are one organ whatever the site; both lungs and both kidneys (paired organs) are one organ.
    The registry codes organs without side, so laterality never splits a group.
    """
    return organ


_GROUP_NOTE: Final[Mapping[Organ, Msg]] = MappingProxyType(
    {
        Organ.LYMPH_NODE: define(
            "recist.sel.group_nodes", gettext_noop("all lymph nodes count as one organ")
        )(),
        Organ.LUNG: define("recist.sel.group_lungs", gettext_noop("both lungs count as one organ"))(),
        Organ.KIDNEY: define("recist.sel.group_kidneys", gettext_noop("both kidneys count as one organ"))(),
    }
)
_S_TWICE = define("recist.sel.twice", gettext_noop("%(code)s: listed twice as a target (R1.6)"))
_S_NOT_MEASURABLE = define(
    "recist.sel.not_measurable", gettext_noop("%(code)s: not measurable, so not a target: %(why)s")
)
_S_IRRADIATED = define(
    "recist.sel.irradiated",
    gettext_noop(
        "%(code)s: irradiated before enrolment and not progressed since: not a target (R1.4, R1.40)"
    ),
)
_S_SIXTH = define(
    "recist.sel.sixth",
    gettext_noop("%(code)s: a 6th target is not allowed: at most 5 targets in total (R1.6)"),
)
_S_THIRD = define(
    "recist.sel.third",
    gettext_noop(
        "%(code)s: a 3rd target in %(organ)s (already %(already)s) is not allowed: at most 2 per organ (R1.6)"
    ),
)
_S_THIRD_NOTE = define(
    "recist.sel.third_note",
    gettext_noop(
        "%(code)s: a 3rd target in %(organ)s (already %(already)s) is not allowed: at most 2 per organ; "
        "%(note)s (R1.6)"
    ),
)


def validate_target_selection(targets: Sequence[Lesion]) -> tuple[SelectionProblem, ...]:
    """Return the reasons the proposed targets (in selection order) break R1.1-R1.6; empty when acceptable.

    The totals count only lesions that are otherwise eligible, so each problem names what to fix.
    """
    problems: list[SelectionProblem] = []
    seen: set[str] = set()
    eligible = 0
    per_group: dict[Organ, list[str]] = {}
    for lesion in targets:
        code = lesion.code
        if code in seen:
            problems.append(SelectionProblem(code, "R1.6", _S_TWICE(code=code)))
            continue
        seen.add(code)
        try:
            measurability = _lesion_measurability(lesion)
        except RecistError as exc:
            problems.append(SelectionProblem(code, "R1.1", _CODE_TEXT(code=code, text=exc.msg)))
            continue
        if not measurability.measurable:
            problems.append(
                SelectionProblem(code, "R1.1-R1.3", _S_NOT_MEASURABLE(code=code, why=measurability.rule))
            )
            continue
        if lesion.previously_irradiated and not lesion.progressed_since_rt:
            # R1.4, R1.40: irradiated before enrolment and not progressed since; protocol SABR is no bar (D4).
            problems.append(SelectionProblem(code, "R1.4", _S_IRRADIATED(code=code)))
            continue
        if eligible >= MAX_TARGETS:  # R1.6
            problems.append(SelectionProblem(code, "R1.6", _S_SIXTH(code=code)))
            continue
        group = organ_group(lesion.organ)
        already = per_group.setdefault(group, [])
        if len(already) >= MAX_TARGETS_PER_ORGAN:  # R1.6
            note = _GROUP_NOTE.get(group)
            message = (
                _S_THIRD_NOTE(code=code, organ=group.value, already=_codes(already), note=note)
                if note is not None
                else _S_THIRD(code=code, organ=group.value, already=_codes(already))
            )
            problems.append(SelectionProblem(code, "R1.6", message))
            continue
        already.append(code)
        eligible += 1
    return tuple(problems)
