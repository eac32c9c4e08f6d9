"""RECIST 1.1 response, iRECIST and lesion-level local control for the SABR + axitinib + toripalimab trial.

A pure domain module: standard library only, no Django, no settings read at import time. Inputs and outputs are
frozen dataclasses holding ``datetime.date`` and ``decimal.Decimal`` millimetres. Thresholds are tested on exact
values, never on rounded percentages (R1.16). Rule ids are those of DOMAIN.md; every computed result carries a short
``rule`` text naming the rule that decided it, which coordinators see next to the result.

Public API
- Coded values (CDISC submission values of CRF-SPEC forms 8 and 9): ``Response``, ``ResultStatus``,
  ``NonTargetState``, ``Organ``, ``Laterality``, ``Method``, ``DetectionMethod``, ``NonMeasurableType``,
  ``LesionRole``, ``SplitMerge``, ``PetBaseline``, ``LfConfirmation``, ``InterventionKind``, ``LcCensorReason``,
  ``Measurability``, ``IResponse``.
- Trial decisions: ``RecistSettings`` / ``DEFAULT_SETTINGS`` (DOMAIN.md section 0), passed as ``settings=``.
- Baseline: ``assess_measurability``, ``organ_group``, ``validate_target_selection``.
- One time point: ``lesion_value_mm``, ``sum_of_diameters``, ``target_response``, ``nontarget_response``,
  ``new_lesion_response``, ``overall_response``.
- A patient's series: ``evaluate_series`` (all lesions), ``evaluate_series_non_irradiated`` (D4).
- Best overall response: ``best_overall_response``, ``RESPONSE_ORDER``.
- Local control: ``lesion_local_control``, ``local_control`` (D5, section 2).
- iRECIST: ``irecist_series``, ``irecist_best_overall_response`` (R1.50-R1.53).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from ruletext import Msg, define, gettext_noop, join

__all__ = [
    "DEFAULT_SETTINGS",
    "NO_ASSESSMENT_ORDER",
    "RESPONSE_ORDER",
    "Assessment",
    "BestOverallResponse",
    "CategoryResult",
    "DetectionMethod",
    "IRecistBestOverallResponse",
    "IRecistTimePoint",
    "IResponse",
    "InterventionKind",
    "Laterality",
    "LcCensorReason",
    "Lesion",
    "LesionIntervention",
    "LesionResult",
    "LesionRole",
    "LfConfirmation",
    "LocalControlResult",
    "LocalControlStep",
    "Measurability",
    "MeasurabilityResult",
    "Method",
    "NewLesion",
    "NewLesionResult",
    "NonMeasurableType",
    "NonTargetState",
    "Organ",
    "OverallResult",
    "PetBaseline",
    "RecistError",
    "RecistSettings",
    "Response",
    "ResultStatus",
    "SelectionProblem",
    "SeriesResult",
    "SplitMerge",
    "SumOfDiameters",
    "TargetResult",
    "TimePointResponse",
    "TimePointResult",
    "assess_measurability",
    "best_overall_response",
    "evaluate_series",
    "evaluate_series_non_irradiated",
    "irecist_best_overall_response",
    "irecist_series",
    "lesion_local_control",
    "lesion_value_mm",
    "local_control",
    "new_lesion_response",
    "nontarget_response",
    "organ_group",
    "overall_response",
    "sum_of_diameters",
    "target_response",
    "validate_target_selection",
]


class RecistError(ValueError):
    """Data from which RECIST cannot be computed; the message names the lesion or time point and the rule.

    Raised with a :class:`ruletext.Msg`; :attr:`msg` gives it back with its id (``str(error)`` is plain English).
    """

    @property
    def msg(self) -> str:
        first = self.args[0] if self.args else ""
        return first if isinstance(first, str) else str(self)


# --- Rule texts (message ids with parameters, see ``ruletext``) ---------------------------------------------------
# Shared by several rules; the others are defined beside the rule that uses them.
_E_TIMEPOINT_NO_DATE = define(
    "recist.err.timepoint_no_date", gettext_noop("time point %(tp)s: no scan date and no visit date")
)
_CODE_TEXT = define("recist.code_text", gettext_noop("%(code)s: %(text)s"))
_NO_POST_BASELINE = define("recist.bor.no_post_baseline", gettext_noop("no post-baseline assessment (R5.8)"))


# --- RECIST constants (the guideline's own numbers, not trial decisions) ------------------------------------------
ZERO: Final = Decimal(0)
MIN_LD_MM: Final = Decimal(10)  # R1.1: CT/MRI with slice <= 5 mm, and calipers
MAX_SLICE_MM: Final = Decimal(5)  # R1.1: above this the minimum is 2 x slice thickness
XRAY_MIN_LD_MM: Final = Decimal(20)  # R1.1: chest X-ray
NODE_MEASURABLE_SA_MM: Final = Decimal(15)  # R1.2
NODE_PATHOLOGICAL_SA_MM: Final = Decimal(10)  # R1.2, R1.12, R1.21
PR_FACTOR: Final = Decimal("0.70")  # R1.13: a decrease of >= 30 % from baseline
MAX_TARGETS: Final = 5  # R1.6
MAX_TARGETS_PER_ORGAN: Final = 2  # R1.6
# Confirmation (R1.24) tolerates one NE time point between the response and its confirmation (admiralonco
# ``max_nr_ne = 1``); a second NE leaves the response unconfirmed.
CONFIRM_MAX_INTERVENING_NE: Final = 1


@dataclass(frozen=True)
class RecistSettings:
    """Trial decisions this module uses (DOMAIN.md section 0); the defaults are the protocol's."""

    confirm_min_days: int = 28  # D3, R1.24
    sd_min_days: int = 42  # D3, R1.25
    pd_increase_fraction: Decimal = Decimal("0.20")  # R1.14
    pd_min_increase_mm: Decimal = Decimal(5)  # R1.14
    too_small_mm: Decimal = Decimal(5)  # R1.10
    lf_increase_fraction: Decimal = Decimal("0.20")  # D5, R2.1
    lf_min_increase_mm: Decimal = Decimal(5)  # D5, R2.1
    irecist_confirm_min_days: int = 28  # R1.50
    irecist_confirm_max_days: int = 56  # R1.50
    irecist_further_increase_mm: Decimal = Decimal(5)  # R1.51

    def __post_init__(self) -> None:
        for name in ("pd_increase_fraction", "lf_increase_fraction"):
            value: Decimal = getattr(self, name)
            if not ZERO <= value < 1:
                raise RecistError(f"{name} must be a fraction in [0, 1), got {value}")
        for name in (
            "pd_min_increase_mm",
            "too_small_mm",
            "lf_min_increase_mm",
            "irecist_further_increase_mm",
        ):
            if getattr(self, name) < 0:
                raise RecistError(f"{name} must not be negative")
        if not 0 <= self.irecist_confirm_min_days <= self.irecist_confirm_max_days:
            raise RecistError("irecist_confirm_min_days must lie in [0, irecist_confirm_max_days]")
        if self.confirm_min_days < 0 or self.sd_min_days < 0:
            raise RecistError("confirm_min_days and sd_min_days must not be negative")


DEFAULT_SETTINGS: Final = RecistSettings()


# --- Coded values (CDISC submission values, CRF-SPEC forms 8 and 9) ------------------------------------------------
class Response(enum.StrEnum):
    CR = "CR"
    PR = "PR"
    SD = "SD"
    NON_CR_NON_PD = "NON-CR/NON-PD"
    PD = "PD"
    NE = "NE"


# R1.23 order; ADRS AVAL (7 = no post-baseline assessment, R5.8).
NO_ASSESSMENT_ORDER: Final = 7
RESPONSE_ORDER: Final[Mapping[Response | None, int]] = MappingProxyType(
    {
        Response.CR: 1,
        Response.PR: 2,
        Response.SD: 3,
        Response.NON_CR_NON_PD: 4,
        Response.PD: 5,
        Response.NE: 6,
        None: NO_ASSESSMENT_ORDER,
    }
)


class ResultStatus(enum.StrEnum):
    MEASURED = "MEASURED"
    TOO_SMALL = "TOO SMALL TO MEASURE"
    DISAPPEARED = "DISAPPEARED"
    NOT_EVALUABLE = "NOT EVALUABLE"


class NonTargetState(enum.StrEnum):
    PRESENT = "PRESENT"
    ABSENT = "ABSENT"
    UNEQUIVOCAL_PROGRESSION = "UNEQUIVOCAL PROGRESSION"
    NOT_EVALUABLE = "NOT EVALUABLE"


class Organ(enum.StrEnum):
    LUNG = "LUNG"
    LYMPH_NODE = "LYMPH NODE"
    LIVER = "LIVER"
    BONE = "BONE"
    ADRENAL_GLAND = "ADRENAL GLAND"
    KIDNEY = "KIDNEY"
    PANCREAS = "PANCREAS"
    BRAIN = "BRAIN"
    PLEURA = "PLEURA"
    SOFT_TISSUE = "SOFT TISSUE"
    OTHER = "OTHER"


class Laterality(enum.StrEnum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    BILATERAL = "BILATERAL"


class Method(enum.StrEnum):
    CT = "CT SCAN"
    MRI = "MRI"
    PET_CT = "PET/CT"
    XRAY = "X-RAY"
    PHYSICAL_EXAM = "PHYSICAL EXAMINATION"


class DetectionMethod(enum.StrEnum):
    CT = "CT SCAN"
    MRI = "MRI"
    PET_CT = "PET/CT"
    BONE_SCAN = "BONE SCAN"
    CLINICAL = "CLINICAL"


class NonMeasurableType(enum.StrEnum):
    BLASTIC_BONE = "BLASTIC BONE"
    EFFUSION = "EFFUSION"
    ASCITES = "ASCITES"
    LEPTOMENINGEAL = "LEPTOMENINGEAL"
    LYMPHANGITIC = "LYMPHANGITIC"
    SMALL = "SMALL"
    OTHER = "OTHER"


class LesionRole(enum.StrEnum):
    TARGET = "TARGET"
    NON_TARGET = "NON-TARGET"
    NEW = "NEW"


class SplitMerge(enum.StrEnum):
    NONE = "NONE"
    SPLIT = "SPLIT"
    MERGED = "MERGED"


class PetBaseline(enum.StrEnum):
    NEGATIVE = "NEGATIVE"
    POSITIVE = "POSITIVE"
    NO_BASELINE_PET = "NO BASELINE PET"


class LfConfirmation(enum.StrEnum):
    CONSECUTIVE_GROWTH = "CONSECUTIVE GROWTH"
    PET_AVIDITY = "PET AVIDITY"
    BIOPSY = "BIOPSY"
    NOT_YET = "NOT YET"


class InterventionKind(enum.StrEnum):
    REIRRADIATION = "RE-IRRADIATION"
    RESECTION = "RESECTION"


class LcCensorReason(enum.StrEnum):
    LAST_EVALUATING_SCAN = "LAST EVALUATING SCAN"
    REIRRADIATION = "RE-IRRADIATION"
    RESECTION = "RESECTION"
    NO_EVALUATING_SCAN = "NO EVALUATING SCAN"


class Measurability(enum.StrEnum):
    MEASURABLE = "MEASURABLE"
    NON_MEASURABLE = "NON-MEASURABLE"
    NORMAL_NODE = "NORMAL NODE"  # SA < 10 mm: not pathological, not recorded (R1.2)


class IResponse(enum.StrEnum):
    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    INN = "NON-iCR/NON-iUPD"
    IUPD = "iUPD"
    ICPD = "iCPD"
    INE = "iNE"


# --- Inputs -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lesion:
    """A baseline lesion of the registry (CRF form 8). New lesions are ``NewLesion`` rows of an assessment."""

    code: str
    role: LesionRole
    organ: Organ
    method: Method
    baseline_value_mm: Decimal | None = None  # LD, or short axis for nodes
    laterality: Laterality | None = None
    location_text: str = ""
    slice_thickness_mm: Decimal | None = None
    nonmeasurable_type: NonMeasurableType | None = None
    previously_irradiated: bool = False  # before enrolment (R1.4)
    progressed_since_rt: bool = False
    irradiated_protocol: bool = False  # treated with protocol SABR (D4)

    @property
    def is_nodal(self) -> bool:
        return self.organ is Organ.LYMPH_NODE


@dataclass(frozen=True)
class LesionResult:
    """One lesion at one time point (CRF form 9, per lesion).

    Targets use ``status`` and ``value_mm``; non-targets use ``nontarget_state`` (and may carry ``value_mm`` for an
    irradiated lesion, used only for its local control). ``scan_date`` is the scan that assessed this lesion when a
    time point spans several days (R5.3); blank means the time point's first scan date.
    """

    lesion_code: str
    status: ResultStatus | None = None
    value_mm: Decimal | None = None
    split_merge: SplitMerge = SplitMerge.NONE
    fragments_mm: tuple[Decimal, ...] = ()  # split lesion: the fragments' diameters (R1.11)
    merged_into: str | None = None
    nontarget_state: NonTargetState | None = None
    further_increase: bool = False  # iRECIST: further increase since the last assessment (R1.51)
    infield_progression: bool = False  # investigator: unequivocal in-field progression (D5)
    lf_confirmation: LfConfirmation | None = None  # R1.42
    scan_date: date | None = None


@dataclass(frozen=True)
class NewLesion:
    """A new lesion as recorded at one time point (CRF form 9, new lesions).

    ``first_seen_date`` is the date of the scan that first showed it, kept the same at every time point (R1.19).
    ``reappearance_of`` names a baseline lesion that had disappeared and is seen again (R1.21). ``value_mm`` is the
    size of an iRECIST new target lesion (R1.52); ``present`` = False records that it is no longer seen.
    """

    code: str
    first_seen_date: date
    unequivocal: bool
    detected_by: DetectionMethod = DetectionMethod.CT
    organ: Organ | None = None
    pet_baseline: PetBaseline | None = None
    ct_confirmed: bool = False
    reappearance_of: str | None = None
    value_mm: Decimal | None = None
    present: bool = True
    further_increase: bool = False  # iRECIST: a new non-target lesion grew (R1.51)


@dataclass(frozen=True)
class Assessment:
    """One tumour assessment time point (CRF form 9).

    ``visit_date`` dates a time point without imaging (R1.22); with imaging, the time point is dated by
    ``scan_date_first``. ``for_symptoms`` marks an unscheduled scan done for symptoms (iRECIST, R1.50).
    """

    scan_date_first: date | None
    scan_date_last: date | None = None
    imaging_done: bool = True
    results: tuple[LesionResult, ...] = ()
    new_lesions: tuple[NewLesion, ...] = ()
    visit_date: date | None = None
    tumour_markers_normal: bool | None = None  # None: markers not used (R1.18)
    for_symptoms: bool = False
    label: str = ""

    @property
    def assessment_date(self) -> date:
        if self.imaging_done and self.scan_date_first is not None:
            return self.scan_date_first
        when = self.visit_date or self.scan_date_first
        if when is None:
            raise RecistError(_E_TIMEPOINT_NO_DATE(tp=self.label or "?"))
        return when

    @property
    def last_scan_date(self) -> date:
        return self.scan_date_last or self.assessment_date


@dataclass(frozen=True)
class LesionIntervention:
    """Re-irradiation or resection of an irradiated lesion (CRF forms 11 and 16; R2.3)."""

    lesion_code: str
    kind: InterventionKind
    on: date
    for_local_failure: bool = False


# --- Outputs ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimePointResponse:
    assessment_date: date  # date used for the time point (scan_date_first)
    response: Response


@dataclass(frozen=True)
class BestOverallResponse:
    response: Response | None  # None = no post-baseline assessment at all (ADRS AVAL 7; non-responder, R5.8)
    date: date | None  # date of the time point that set the BOR (first date the criteria were met)
    rule: str


@dataclass(frozen=True)
class MeasurabilityResult:
    category: Measurability
    rule: str

    @property
    def measurable(self) -> bool:
        return self.category is Measurability.MEASURABLE


@dataclass(frozen=True)
class SelectionProblem:
    lesion_code: str
    rule: str  # rule id, e.g. "R1.6"
    message: str


@dataclass(frozen=True)
class CategoryResult:
    response: Response | None  # None: no lesion of this kind at baseline
    rule: str


@dataclass(frozen=True)
class OverallResult:
    response: Response
    rule: str


@dataclass(frozen=True)
class SumOfDiameters:
    sum_mm: Decimal | None  # None if any target is NOT EVALUABLE (R1.17)
    evaluated_sum_mm: Decimal  # sum over the evaluable targets
    not_evaluable: tuple[str, ...]
    values_mm: Mapping[str, Decimal | None]


@dataclass(frozen=True)
class TargetResult:
    response: Response | None
    rule: str
    sum_mm: Decimal | None = None
    evaluated_sum_mm: Decimal | None = None


@dataclass(frozen=True)
class NewLesionResult:
    present: bool  # at least one new lesion that counts (R1.19-R1.21)
    rule: str
    codes: tuple[str, ...] = ()
    first_seen_date: date | None = None


@dataclass(frozen=True)
class TimePointResult:
    """Everything derived for one time point (CRF form 9, derived fields)."""

    assessment_date: date
    scan_date_first: date | None
    scan_date_last: date | None
    imaging_done: bool
    sum_mm: Decimal | None
    evaluated_sum_mm: Decimal | None
    baseline_sum_mm: Decimal | None
    nadir_mm: Decimal | None  # nadir this time point was judged against (smallest earlier SOD incl. baseline)
    pct_change_baseline: Decimal | None
    pct_change_nadir: Decimal | None
    change_nadir_mm: Decimal | None
    target: Response | None
    nontarget: Response | None
    new_lesion: bool
    new_lesion_codes: tuple[str, ...]
    overall: Response
    rule: str
    target_rule: str
    nontarget_rule: str
    new_lesion_rule: str
    pd_date: date | None  # R5.3, R1.19
    label: str = ""

    def as_timepoint_response(self) -> TimePointResponse:
        return TimePointResponse(assessment_date=self.assessment_date, response=self.overall)


@dataclass(frozen=True)
class SeriesResult:
    timepoints: tuple[TimePointResult, ...]
    baseline_sum_mm: Decimal | None
    has_targets: bool
    has_lesions: bool
    scope: str

    @property
    def nontarget_only(self) -> bool:
        """True for Table 2 patients: pass it to ``best_overall_response(nontarget_only=...)``."""
        return self.has_lesions and not self.has_targets

    def responses(self) -> tuple[TimePointResponse, ...]:
        return tuple(tp.as_timepoint_response() for tp in self.timepoints)

    def first_pd(self) -> TimePointResult | None:
        return next((tp for tp in self.timepoints if tp.overall is Response.PD), None)


@dataclass(frozen=True)
class LocalControlStep:
    scan_date: date
    value_mm: Decimal | None
    nadir_mm: Decimal | None  # lesion nadir before this scan, incl. the pre-SABR baseline
    local_failure: bool
    rule: str
    lf_confirmation: LfConfirmation | None = None
    # D12: an irradiated non-target recorded as UNEQUIVOCAL PROGRESSION without the in-field flag: not LF, but the
    # investigator is asked whether to set the flag.
    flag_query: bool = False
    evaluated: bool = False  # D12: this scan evaluated the lesion (a diameter recorded or the in-field flag set)


@dataclass(frozen=True)
class LocalControlResult:
    lesion_code: str
    origin: date  # the lesion's first SABR fraction (D1)
    event: bool  # local failure
    date: date  # LF date, or censoring date
    censor_reason: LcCensorReason | None
    nadir_mm: Decimal | None  # lesion nadir the LF was judged against (or at the end of follow-up)
    confirmation: LfConfirmation | None  # R1.42: how the LF was confirmed, if recorded
    rule: str
    steps: tuple[LocalControlStep, ...]


@dataclass(frozen=True)
class IRecistTimePoint:
    assessment_date: date
    response: IResponse
    rule: str
    ignored: bool = False  # a scan < 4 weeks after iUPD, not used to confirm it (R1.50)


@dataclass(frozen=True)
class IRecistBestOverallResponse:
    response: IResponse | None
    date: date | None
    rule: str


# --- Formatting ---------------------------------------------------------------------------------------------------
def _mm(value: Decimal) -> str:
    tenth = value.quantize(Decimal("0.1"))
    return str(tenth) if tenth == value else f"{value.normalize():f}"


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "-") + _mm(abs(value))


def _factor(value: Decimal) -> str:
    return f"{value:.2f}"


def _codes(codes: Sequence[str]) -> str:
    return ", ".join(codes)


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


# --- One time point: values, sum, categories (R1.7-R1.22) ---------------------------------------------------------
_E_TARGET_BY_STATE = define(
    "recist.err.target_by_state",
    gettext_noop("%(code)s: a target is recorded by measurement, not by a non-target state (R1.8)"),
)
_E_NO_RESULT = define(
    "recist.err.no_result",
    gettext_noop("%(code)s: no result; record NOT EVALUABLE rather than leaving it blank (R1.17)"),
)
_E_FRAGMENTS_NOT_SPLIT = define(
    "recist.err.fragments_not_split",
    gettext_noop("%(code)s: fragments are recorded only for a SPLIT lesion (R1.11)"),
)
_E_MERGED_NO_HOST = define(
    "recist.err.merged_no_host", gettext_noop("%(code)s: MERGED needs the lesion it merged into (R1.11)")
)
_E_MERGED_VALUE = define(
    "recist.err.merged_value",
    gettext_noop(
        "%(code)s: merged into %(into)s: record the merged diameter on %(into)s and 0 mm here (R1.11)"
    ),
)
_E_MERGED_INTO_NOT_MERGED = define(
    "recist.err.merged_into_not_merged",
    gettext_noop("%(code)s: merged_into is set but the lesion is not MERGED (R1.11)"),
)
_E_SPLIT_NOT_MEASURED = define(
    "recist.err.split_not_measured",
    gettext_noop("%(code)s: a SPLIT lesion is MEASURED as the sum of its fragments (R1.11)"),
)
_E_NEGATIVE = define("recist.err.negative", gettext_noop("%(code)s: a diameter cannot be negative"))
_E_TOO_SMALL_VALUE = define(
    "recist.err.too_small_value",
    gettext_noop(
        "%(code)s: TOO SMALL TO MEASURE counts as %(counts)s mm; record MEASURED for %(v)s mm (R1.10)"
    ),
)
_E_DISAPPEARED_VALUE = define(
    "recist.err.disappeared_value",
    gettext_noop("%(code)s: DISAPPEARED counts as 0 mm; a diameter was recorded (R1.10)"),
)
_E_NE_WITH_VALUE = define(
    "recist.err.ne_with_value", gettext_noop("%(code)s: NOT EVALUABLE with a diameter; choose one (R1.17)")
)
_E_FRAGMENT_NEGATIVE = define(
    "recist.err.fragment_negative", gettext_noop("%(code)s: a fragment diameter cannot be negative")
)
_E_FRAGMENT_SUM = define(
    "recist.err.fragment_sum",
    gettext_noop("%(code)s: value %(v)s mm is not the sum of the fragments %(total)s mm (R1.11)"),
)
_E_MEASURED_NO_VALUE = define(
    "recist.err.measured_no_value",
    gettext_noop("%(code)s: MEASURED without a diameter; record NOT EVALUABLE if it was not measured (R1.9)"),
)
_E_TWO_RESULTS = define("recist.err.two_results", gettext_noop("%(code)s: two results at one time point"))
_E_NO_RESULT_AT_TP = define(
    "recist.err.no_result_at_tp",
    gettext_noop(
        "%(code)s: no result at this time point; record NOT EVALUABLE rather than leave it blank (R1.17)"
    ),
)
_E_MERGED_NOT_TARGET = define(
    "recist.err.merged_not_target",
    gettext_noop("%(code)s: merged into %(into)s, which is not a target lesion (R1.11)"),
)
_E_MERGED_INTO_MERGED = define(
    "recist.err.merged_into_merged",
    gettext_noop("%(code)s: merged into %(into)s, which is itself merged (R1.11)"),
)
_T_MERGED_IRRADIATED = define(
    "recist.target.merged_irradiated", gettext_noop("%(code)s merged into irradiated %(into)s")
)


def lesion_value_mm(
    lesion: Lesion, result: LesionResult, *, settings: RecistSettings = DEFAULT_SETTINGS
) -> Decimal | None:
    """Return the millimetres a target adds to the SOD, or None if it is NOT EVALUABLE (R1.9-R1.11)."""
    code = lesion.code
    if result.nontarget_state is not None:
        raise RecistError(_E_TARGET_BY_STATE(code=code))
    status = result.status
    if status is None:
        raise RecistError(_E_NO_RESULT(code=code))
    if result.fragments_mm and result.split_merge is not SplitMerge.SPLIT:
        raise RecistError(_E_FRAGMENTS_NOT_SPLIT(code=code))
    if result.split_merge is SplitMerge.MERGED:
        if result.merged_into is None:
            raise RecistError(_E_MERGED_NO_HOST(code=code))
        if result.value_mm is not None and result.value_mm != 0:
            raise RecistError(_E_MERGED_VALUE(code=code, into=result.merged_into))
        # R1.11: the merged lesion is measured once, on the lesion it merged into; this one counts 0 mm.
        return None if status is ResultStatus.NOT_EVALUABLE else ZERO
    if result.merged_into is not None:
        raise RecistError(_E_MERGED_INTO_NOT_MERGED(code=code))
    if result.split_merge is SplitMerge.SPLIT and status is not ResultStatus.MEASURED:
        raise RecistError(_E_SPLIT_NOT_MEASURED(code=code))
    if (
        status is ResultStatus.MEASURED
    ):  # R1.9: the actual measurement; nodes keep their short axis below 10 mm
        value = _measured_value(code, result)
        if value < 0:
            raise RecistError(_E_NEGATIVE(code=code))
        return value  # R1.10: a real measurement is used even below 5 mm
    if status is ResultStatus.TOO_SMALL:
        if result.value_mm is not None and result.value_mm != settings.too_small_mm:
            raise RecistError(
                _E_TOO_SMALL_VALUE(code=code, counts=_mm(settings.too_small_mm), v=_mm(result.value_mm))
            )
        return settings.too_small_mm  # R1.10
    if status is ResultStatus.DISAPPEARED:
        if result.value_mm is not None and result.value_mm != 0:
            raise RecistError(_E_DISAPPEARED_VALUE(code=code))
        return ZERO  # R1.10
    if result.value_mm is not None:
        raise RecistError(_E_NE_WITH_VALUE(code=code))
    return None


def _measured_value(code: str, result: LesionResult) -> Decimal:
    if result.split_merge is SplitMerge.SPLIT and result.fragments_mm:
        if any(fragment < 0 for fragment in result.fragments_mm):
            raise RecistError(_E_FRAGMENT_NEGATIVE(code=code))
        total = sum(result.fragments_mm, ZERO)  # R1.11: split lesion = sum of its fragments
        if result.value_mm is not None and result.value_mm != total:
            raise RecistError(_E_FRAGMENT_SUM(code=code, v=_mm(result.value_mm), total=_mm(total)))
        return total
    if result.value_mm is None:
        raise RecistError(_E_MEASURED_NO_VALUE(code=code))
    return result.value_mm


def _results_by_code(results: Sequence[LesionResult]) -> dict[str, LesionResult]:
    by_code: dict[str, LesionResult] = {}
    for result in results:
        if result.lesion_code in by_code:
            raise RecistError(_E_TWO_RESULTS(code=result.lesion_code))
        by_code[result.lesion_code] = result
    return by_code


def _target_values(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    settings: RecistSettings,
    excluded: frozenset[str] = frozenset(),
) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    codes = {t.code for t in targets}
    values: dict[str, Decimal | None] = {}
    notes: dict[str, str] = {}
    for target in targets:
        result = results.get(target.code)
        if result is None:
            raise RecistError(_E_NO_RESULT_AT_TP(code=target.code))
        value = lesion_value_mm(target, result, settings=settings)
        into = result.merged_into
        if result.split_merge is SplitMerge.MERGED and into is not None:
            if into in excluded:
                value = None
                notes[target.code] = _T_MERGED_IRRADIATED(code=target.code, into=into)
            elif into == target.code or into not in codes:
                raise RecistError(_E_MERGED_NOT_TARGET(code=target.code, into=into))
            else:
                host = results.get(into)
                if host is not None and host.split_merge is SplitMerge.MERGED:
                    raise RecistError(_E_MERGED_INTO_MERGED(code=target.code, into=into))
        values[target.code] = value
    return values, notes


def sum_of_diameters(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> SumOfDiameters:
    """Return the SOD: LD of non-nodal plus short axis of nodal targets (R1.7, R1.10, R1.11)."""
    values, _ = _target_values(targets, results, settings=settings)
    return _sum(values)


def _sum(values: Mapping[str, Decimal | None]) -> SumOfDiameters:
    not_evaluable = tuple(code for code, value in values.items() if value is None)
    evaluated = sum((value for value in values.values() if value is not None), ZERO)
    return SumOfDiameters(
        sum_mm=None if not_evaluable else evaluated,
        evaluated_sum_mm=evaluated,
        not_evaluable=not_evaluable,
        values_mm=MappingProxyType(dict(values)),
    )


_PD_REL = define("recist.pd.rel", gettext_noop("%(factor)s x %(label)s %(ref)s mm"))
_PD_BOTH = define("recist.pd.both", gettext_noop("%(v)s mm >= %(rel)s and %(inc)s mm >= %(min)s mm"))
_PD_REL_ONLY = define("recist.pd.rel_only", gettext_noop("%(v)s mm >= %(rel)s but %(inc)s mm < %(min)s mm"))
_PD_BELOW = define("recist.pd.below", gettext_noop("%(v)s mm < %(rel)s"))
_NADIR: Final = define("recist.label.nadir", gettext_noop("nadir"))()
_LESION_NADIR: Final = define("recist.label.lesion_nadir", gettext_noop("lesion nadir"))()


def _pd_test(
    value: Decimal, reference: Decimal, *, fraction: Decimal, min_increase: Decimal, label: Msg
) -> tuple[bool, Msg]:
    """Test value against reference with both PD conditions (R1.14; D5 for LF); exact, inclusive (R1.16)."""
    factor = 1 + fraction
    increase = value - reference
    relative = (
        value >= factor * reference
    )  # R1.16: exact Decimal product, inclusive, never a rounded percentage
    absolute = increase >= min_increase
    head = _mm(value)
    rel_text = _PD_REL(factor=f"{factor:.2f}", label=label, ref=_mm(reference))
    if relative and absolute:
        return True, _PD_BOTH(v=head, rel=rel_text, inc=_signed(increase), min=_num(min_increase))
    if relative:
        return False, _PD_REL_ONLY(v=head, rel=rel_text, inc=_signed(increase), min=_num(min_increase))
    return False, _PD_BELOW(v=head, rel=rel_text)


_T_SIZE = define("recist.target.size", gettext_noop("%(code)s %(v)s mm"))
_T_PD_REAPPEARED = define(
    "recist.target.pd_reappeared", gettext_noop("PD: target %(sizes)s reappeared after confirmed CR (R1.21)")
)
_T_PD_PARTIAL = define(
    "recist.target.pd_partial",
    gettext_noop("PD: evaluable targets %(test)s although %(missing)s not evaluable (R1.17)"),
)
_T_NE = define(
    "recist.target.ne",
    gettext_noop("NE: %(missing)s not evaluable; evaluable targets (%(sum)s mm) do not meet PD (R1.17)"),
)
_T_CR_NODES = define(
    "recist.target.cr_nodes",
    gettext_noop("CR: non-nodal targets 0 mm and nodal targets < 10 mm short axis (SOD %(sod)s mm) (R1.12)"),
)
_T_CR_NODES_GROWTH = define(
    "recist.target.cr_nodes_growth",
    gettext_noop(
        "CR: non-nodal targets 0 mm and nodal targets < 10 mm short axis (SOD %(sod)s mm); "
        "not PD although %(test)s (D10) (R1.12)"
    ),
)
_T_CR = define("recist.target.cr", gettext_noop("CR: all target lesions disappeared (R1.12)"))
_T_PD = define("recist.target.pd", gettext_noop("PD: SOD %(test)s (R1.14)"))
_T_PR = define("recist.target.pr", gettext_noop("PR: SOD %(sod)s mm <= 0.70 x baseline %(base)s mm (R1.13)"))
_T_SD = define(
    "recist.target.sd",
    gettext_noop("SD: SOD %(sod)s mm > 0.70 x baseline %(base)s mm; not PD: %(test)s (R1.15)"),
)
_T_NO_TARGET = define("recist.target.none", gettext_noop("no target lesion at baseline: Table 2 applies"))
_E_NADIR_ABOVE_BASELINE = define(
    "recist.err.nadir_above_baseline",
    gettext_noop("the nadir includes baseline, so it cannot exceed the baseline SOD (R1.14)"),
)


@dataclass(frozen=True)
class _TargetEval:
    response: Response
    rule: str
    sums: SumOfDiameters
    reappeared: tuple[str, ...]
    notes: Mapping[str, str]


def _reappeared(lesion: Lesion, value: Decimal) -> bool:
    # R1.21 (S2): a node has reappeared only at SA >= 10 mm; any other lesion as soon as it is seen again.
    return value >= NODE_PATHOLOGICAL_SA_MM if lesion.is_nodal else value > 0


def _evaluate_targets(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    baseline_sum_mm: Decimal,
    nadir_mm: Decimal,
    confirmed_cr: bool,
    settings: RecistSettings,
    excluded: frozenset[str] = frozenset(),
) -> _TargetEval:
    values, notes = _target_values(targets, results, settings=settings, excluded=excluded)
    sums = _sum(values)
    by_code = {t.code: t for t in targets}

    def done(response: Response, rule: str, reappeared: tuple[str, ...] = ()) -> _TargetEval:
        return _TargetEval(response, rule, sums, reappeared, MappingProxyType(notes))

    if confirmed_cr:  # R1.21: after a confirmed CR any reappearing lesion is PD
        back = tuple(
            code for code, value in values.items() if value is not None and _reappeared(by_code[code], value)
        )
        if back:
            sizes = join(", ", [_T_SIZE(code=code, v=_mm(values[code] or ZERO)) for code in back])
            return done(Response.PD, _T_PD_REAPPEARED(sizes=sizes), back)
    evaluated = sums.evaluated_sum_mm
    is_pd, pd_text = _pd_test(
        evaluated,
        nadir_mm,
        fraction=settings.pd_increase_fraction,
        min_increase=settings.pd_min_increase_mm,
        label=_NADIR,
    )
    if sums.not_evaluable:
        missing = join(", ", [notes.get(code, code) for code in sums.not_evaluable])
        if is_pd:  # R1.17: the measured lesions already meet PD
            return done(Response.PD, _T_PD_PARTIAL(test=pd_text, missing=missing))
        return done(Response.NE, _T_NE(missing=missing, sum=_mm(evaluated)))
    sod = evaluated
    nodal = [t for t in targets if t.is_nodal]
    non_nodal_clear = all((values[t.code] or ZERO) == 0 for t in targets if not t.is_nodal)
    nodes_normal = all((values[t.code] or ZERO) < NODE_PATHOLOGICAL_SA_MM for t in nodal)
    # D10: R1.12 before R1.14. Nodes < 10 mm short axis are normal (S2, "Abnormal lymph node"), so a sum that rose
    # only through nodes still below 10 mm is CR, not PD; a node back at >= 10 mm leaves CR and R1.14 decides.
    if non_nodal_clear and nodes_normal:  # R1.12
        if nodal:
            if is_pd:
                return done(Response.CR, _T_CR_NODES_GROWTH(sod=_mm(sod), test=pd_text))
            return done(Response.CR, _T_CR_NODES(sod=_mm(sod)))
        return done(Response.CR, _T_CR())
    if is_pd:  # R1.14
        return done(Response.PD, _T_PD(test=pd_text))
    pr_limit = PR_FACTOR * baseline_sum_mm
    if sod <= pr_limit:  # R1.13: against baseline, inclusive
        return done(Response.PR, _T_PR(sod=_mm(sod), base=_mm(baseline_sum_mm)))
    return done(  # R1.15: neither PR (baseline) nor PD (nadir)
        Response.SD, _T_SD(sod=_mm(sod), base=_mm(baseline_sum_mm), test=pd_text)
    )


def target_response(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    baseline_sum_mm: Decimal,
    nadir_mm: Decimal,
    confirmed_cr: bool = False,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> TargetResult:
    """Return the target response CR/PR/SD/PD/NE (R1.12-R1.17); None when there is no target at baseline.

    ``nadir_mm`` is the smallest earlier SOD including baseline; ``confirmed_cr`` says the patient is in a
    confirmed CR, so any reappearing target is PD (R1.21).
    """
    if not targets:
        return TargetResult(None, _T_NO_TARGET())
    if nadir_mm > baseline_sum_mm:
        raise RecistError(_E_NADIR_ABOVE_BASELINE())
    result = _evaluate_targets(
        targets,
        results,
        baseline_sum_mm=baseline_sum_mm,
        nadir_mm=nadir_mm,
        confirmed_cr=confirmed_cr,
        settings=settings,
    )
    return TargetResult(result.response, result.rule, result.sums.sum_mm, result.sums.evaluated_sum_mm)


_N_NONE = define("recist.nontarget.none", gettext_noop("no non-target lesion at baseline"))
_E_NO_STATE = define(
    "recist.err.no_state",
    gettext_noop("%(code)s: no non-target state; record NOT EVALUABLE if not assessed (R1.18)"),
)
_E_NONTARGET_BY_STATUS = define(
    "recist.err.nontarget_by_status",
    gettext_noop("%(code)s: a non-target is recorded by state, not by a result status (R1.8)"),
)
_N_PD = define(
    "recist.nontarget.pd", gettext_noop("PD: unequivocal progression of non-target %(codes)s (R1.18)")
)
_N_PD_REAPPEARED = define(
    "recist.nontarget.pd_reappeared",
    gettext_noop("PD: non-target %(codes)s reappeared after confirmed CR (R1.21)"),
)
_N_NE = define("recist.nontarget.ne", gettext_noop("NE: non-target %(codes)s not evaluated (R1.18)"))
_N_PRESENT = define(
    "recist.nontarget.present", gettext_noop("NON-CR/NON-PD: non-target %(codes)s present (R1.18)")
)
_N_MARKERS = define(
    "recist.nontarget.markers",
    gettext_noop("NON-CR/NON-PD: non-targets absent but tumour markers not normal (R1.18)"),
)
_N_CR = define(
    "recist.nontarget.cr", gettext_noop("CR: all non-target lesions absent, nodes non-pathological (R1.18)")
)


def nontarget_response(
    nontargets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    confirmed_cr: bool = False,
    tumour_markers_normal: bool | None = None,
) -> CategoryResult:
    """Return the non-target response CR / NON-CR/NON-PD / PD / NE (R1.18); None when there is none at baseline."""
    if not nontargets:
        return CategoryResult(None, _N_NONE())
    states: dict[str, NonTargetState] = {}
    for lesion in nontargets:
        result = results.get(lesion.code)
        if result is None or result.nontarget_state is None:
            raise RecistError(_E_NO_STATE(code=lesion.code))
        if result.status is not None and not (
            lesion.irradiated_protocol and result.status is not ResultStatus.NOT_EVALUABLE
        ):
            # R1.8: the state decides; an irradiated lesion may also carry its size for local control (D5, D12).
            raise RecistError(_E_NONTARGET_BY_STATUS(code=lesion.code))
        states[lesion.code] = result.nontarget_state  # R1.8: present, absent or unequivocal progression
    progressed = [code for code, state in states.items() if state is NonTargetState.UNEQUIVOCAL_PROGRESSION]
    if progressed:  # R1.18
        return CategoryResult(Response.PD, _N_PD(codes=_codes(progressed)))
    if confirmed_cr:
        # R1.21: a non-nodal non-target seen again after a confirmed CR is PD; a node only by unequivocal growth (S2).
        back = [
            lesion.code
            for lesion in nontargets
            if not lesion.is_nodal and states[lesion.code] is NonTargetState.PRESENT
        ]
        if back:
            return CategoryResult(Response.PD, _N_PD_REAPPEARED(codes=_codes(back)))
    missing = [code for code, state in states.items() if state is NonTargetState.NOT_EVALUABLE]
    if missing:  # R1.18: not all evaluated
        return CategoryResult(Response.NE, _N_NE(codes=_codes(missing)))
    present = [code for code, state in states.items() if state is NonTargetState.PRESENT]
    if present:
        return CategoryResult(Response.NON_CR_NON_PD, _N_PRESENT(codes=_codes(present)))
    if tumour_markers_normal is False:
        return CategoryResult(Response.NON_CR_NON_PD, _N_MARKERS())
    return CategoryResult(Response.CR, _N_CR())


_L_GONE = define("recist.new.gone", gettext_noop("%(code)s no longer seen"))
_L_EQUIVOCAL = define("recist.new.equivocal", gettext_noop("%(code)s equivocal: keep following (R1.19)"))
_L_REAPPEARED_CR = define(
    "recist.new.reappeared_cr", gettext_noop("%(code)s (%(origin)s reappearing after confirmed CR, R1.21)")
)
_L_REAPPEARED = define(
    "recist.new.reappeared",
    gettext_noop("%(code)s is %(origin)s reappearing: not PD by itself without a confirmed CR (R1.21)"),
)
_E_PET_BASELINE = define(
    "recist.err.pet_baseline",
    gettext_noop("%(code)s: a PET-detected new lesion needs the baseline PET status (R1.20)"),
)
_L_PET_EXISTING = define(
    "recist.new.pet_existing",
    gettext_noop("%(code)s PET-positive at a site positive at baseline: existing disease, not new (R1.20)"),
)
_L_PET_UNCONFIRMED = define(
    "recist.new.pet_unconfirmed",
    gettext_noop("%(code)s PET-positive without baseline PET, not yet confirmed on CT (R1.20)"),
)
_L_PET_NEGATIVE_BASELINE = define("recist.new.pet_negative_baseline", gettext_noop("negative baseline PET"))
_L_PET_CT_CONFIRMED = define("recist.new.pet_ct_confirmed", gettext_noop("no baseline PET, confirmed on CT"))
_L_PET_NEW = define(
    "recist.new.pet_new", gettext_noop("%(code)s (first seen %(date)s; PET-positive, %(why)s, R1.20)")
)
_L_NEW = define("recist.new.new", gettext_noop("%(code)s (first seen %(date)s, R1.19)"))
_L_PD = define("recist.new.pd", gettext_noop("PD: new lesion %(items)s"))
_L_NONE_COUNTS = define("recist.new.none_counts", gettext_noop("no new lesion that counts: %(items)s"))
_L_NONE = define("recist.new.none", gettext_noop("no new lesion"))


def _new_lesion_counts(lesion: NewLesion, *, confirmed_cr: bool) -> tuple[bool, Msg]:
    code = lesion.code
    if not lesion.present:
        return False, _L_GONE(code=code)
    if not lesion.unequivocal:
        return False, _L_EQUIVOCAL(code=code)
    if lesion.reappearance_of is not None:
        if confirmed_cr:
            return True, _L_REAPPEARED_CR(code=code, origin=lesion.reappearance_of)
        return False, _L_REAPPEARED(code=code, origin=lesion.reappearance_of)
    if lesion.detected_by is DetectionMethod.PET_CT:  # R1.20
        baseline = lesion.pet_baseline
        if baseline is None:
            raise RecistError(_E_PET_BASELINE(code=code))
        if baseline is PetBaseline.POSITIVE:
            return False, _L_PET_EXISTING(code=code)
        if baseline is PetBaseline.NO_BASELINE_PET and not lesion.ct_confirmed:
            return False, _L_PET_UNCONFIRMED(code=code)
        why = _L_PET_NEGATIVE_BASELINE() if baseline is PetBaseline.NEGATIVE else _L_PET_CT_CONFIRMED()
        return True, _L_PET_NEW(code=code, date=lesion.first_seen_date, why=why)
    return True, _L_NEW(code=code, date=lesion.first_seen_date)


def new_lesion_response(new_lesions: Sequence[NewLesion], *, confirmed_cr: bool = False) -> NewLesionResult:
    """Return whether any new lesion counts as progression at this time point (R1.19-R1.21)."""
    counted: list[NewLesion] = []
    texts: list[Msg] = []
    others: list[Msg] = []
    for lesion in new_lesions:
        counts, text = _new_lesion_counts(lesion, confirmed_cr=confirmed_cr)
        (texts if counts else others).append(text)
        if counts:
            counted.append(lesion)
    if counted:
        return NewLesionResult(
            present=True,
            rule=_L_PD(items=join("; ", texts)),
            codes=tuple(lesion.code for lesion in counted),
            first_seen_date=min(lesion.first_seen_date for lesion in counted),
        )
    if others:
        return NewLesionResult(present=False, rule=_L_NONE_COUNTS(items=join("; ", others)))
    return NewLesionResult(present=False, rule=_L_NONE())


_E_NOT_TARGET_RESPONSE = define(
    "recist.err.not_target_response", gettext_noop("%(r)s is not a target response (R1.12-R1.17)")
)
_E_NOT_NONTARGET_RESPONSE = define(
    "recist.err.not_nontarget_response", gettext_noop("%(r)s is not a non-target response (R1.18)")
)
_O_NO_IMAGING = define("recist.overall.no_imaging", gettext_noop("NE: no imaging at this time point (R1.22)"))
_TABLE_1_NAME: Final = define("recist.overall.table1", gettext_noop("Table 1"))()
_TABLE_2_NAME: Final = define("recist.overall.table2", gettext_noop("Table 2"))()
_O_TARGET_PD = define("recist.overall.target_pd", gettext_noop("PD: target lesions PD (%(table)s)"))
_O_NONTARGET_PD = define("recist.overall.nontarget_pd", gettext_noop("PD: non-target lesions PD (%(table)s)"))
_O_NEW_PD = define("recist.overall.new_pd", gettext_noop("PD: new lesion (%(table)s)"))
_O_NO_LESION = define(
    "recist.overall.no_lesion", gettext_noop("NE: no baseline lesion to assess and no new lesion")
)
_O_TABLE2_LABELS: Final[Mapping[Response, Msg]] = MappingProxyType(
    {
        Response.CR: define("recist.overall.t2_cr", gettext_noop("CR: non-target lesions CR"))(),
        Response.NON_CR_NON_PD: define(
            "recist.overall.t2_noncr", gettext_noop("NON-CR/NON-PD: non-target lesions persist")
        )(),
        Response.NE: define(
            "recist.overall.t2_ne", gettext_noop("NE: non-target lesions not all evaluated")
        )(),
    }
)
_O_TABLE2 = define("recist.overall.t2", gettext_noop("%(reason)s; no new lesion (Table 2)"))
_O_NO_NONTARGET = define("recist.overall.no_nontarget", gettext_noop("no non-target lesion"))
_O_NONTARGET = define("recist.overall.nontarget", gettext_noop("non-target %(r)s"))
_O_T1_TARGETS_CR = define("recist.overall.t1_targets_cr", gettext_noop("CR: targets CR"))
_O_TABLE1 = define("recist.overall.t1", gettext_noop("%(target)s; %(nt)s; no new lesion (Table 1)"))
_O_T1_PR_FROM_CR = define(
    "recist.overall.t1_pr_from_cr",
    gettext_noop("PR: targets CR but %(nt)s (R1.12, R1.18); no new lesion (Table 1)"),
)
_O_TABLE1_LABELS: Final[Mapping[Response, Msg]] = MappingProxyType(
    {
        Response.PR: define("recist.overall.t1_pr", gettext_noop("PR: targets PR"))(),
        Response.SD: define("recist.overall.t1_sd", gettext_noop("SD: targets SD"))(),
        Response.NE: define("recist.overall.t1_ne", gettext_noop("NE: targets not all evaluated"))(),
    }
)

_TARGET_VALUES: Final = frozenset({Response.CR, Response.PR, Response.SD, Response.PD, Response.NE})
_NONTARGET_VALUES: Final = frozenset({Response.CR, Response.NON_CR_NON_PD, Response.PD, Response.NE})


def overall_response(
    *,
    target: Response | None,
    nontarget: Response | None,
    new_lesion: bool,
    imaging_done: bool = True,
    target_rule: str = "",
    nontarget_rule: str = "",
    new_lesion_rule: str = "",
) -> OverallResult:
    """Return the time-point response by Table 1 (targets at baseline) or Table 2 (non-targets only).

    ``None`` means no lesion of that kind at baseline. The optional ``*_rule`` texts are the category reasons,
    carried into the returned rule.
    """
    if target is not None and target not in _TARGET_VALUES:
        raise RecistError(_E_NOT_TARGET_RESPONSE(r=target))
    if nontarget is not None and nontarget not in _NONTARGET_VALUES:
        raise RecistError(_E_NOT_NONTARGET_RESPONSE(r=nontarget))
    if not imaging_done:  # R1.22
        return OverallResult(Response.NE, _O_NO_IMAGING())
    table = _TABLE_1_NAME if target is not None else _TABLE_2_NAME
    progression: list[str] = []
    if target is Response.PD:
        progression.append(target_rule or _O_TARGET_PD(table=table))
    if nontarget is Response.PD:
        progression.append(nontarget_rule or _O_NONTARGET_PD(table=table))
    if new_lesion:
        progression.append(new_lesion_rule or _O_NEW_PD(table=table))
    if progression:  # Tables 1 and 2: any PD category, or any new lesion
        return OverallResult(Response.PD, join("; ", progression))
    if target is None:
        if nontarget is None:
            return OverallResult(Response.NE, _O_NO_LESION())
        # Table 2: non-target disease only; never labelled SD.
        return OverallResult(nontarget, _O_TABLE2(reason=nontarget_rule or _O_TABLE2_LABELS[nontarget]))
    # Table 1
    nt_text = _O_NO_NONTARGET() if nontarget is None else _O_NONTARGET(r=nontarget.value)
    if target is Response.CR:
        if nontarget in (None, Response.CR):
            return OverallResult(Response.CR, _O_TABLE1(target=target_rule or _O_T1_TARGETS_CR(), nt=nt_text))
        return OverallResult(Response.PR, _O_T1_PR_FROM_CR(nt=nt_text))
    return OverallResult(target, _O_TABLE1(target=target_rule or _O_TABLE1_LABELS[target], nt=nt_text))


# --- A patient's series -------------------------------------------------------------------------------------------
_E_REGISTERED_TWICE = define("recist.err.registered_twice", gettext_noop("%(code)s: registered twice"))
_E_NEW_IN_REGISTRY = define(
    "recist.err.new_in_registry",
    gettext_noop("%(code)s: new lesions are recorded as NewLesion rows of an assessment (R1.19)"),
)
_E_TARGET_NO_BASELINE = define(
    "recist.err.target_no_baseline",
    gettext_noop("%(code)s: a target needs a baseline diameter > 0 mm (R1.7)"),
)
_E_TP_NO_SCAN_DATE = define(
    "recist.err.tp_no_scan_date", gettext_noop("time point %(tp)s: imaging done but no scan date (R5.3)")
)
_E_TP_LAST_BEFORE_FIRST = define(
    "recist.err.tp_last_before_first",
    gettext_noop("time point %(tp)s: last scan date before the first (EC-TA-2)"),
)
_E_TP_ROWS_WITHOUT_IMAGING = define(
    "recist.err.tp_rows_without_imaging",
    gettext_noop("time point %(tp)s: imaging not done, so no lesion rows (EC-TA-2, R1.22)"),
)
_E_TP_ORDER = define(
    "recist.err.tp_order",
    gettext_noop("time point %(tp)s: time points must be in strictly increasing date order"),
)
_E_TP_UNREGISTERED = define(
    "recist.err.tp_unregistered",
    gettext_noop("time point %(tp)s: results for unregistered lesions %(codes)s"),
)
_E_FIRST_SEEN_DIFFERS = define(
    "recist.err.first_seen_differs",
    gettext_noop("%(code)s: first_seen_date differs between time points (R1.19)"),
)
_E_FIRST_SEEN_AFTER = define(
    "recist.err.first_seen_after",
    gettext_noop("%(code)s: first seen after the scans of the time point recording it (R1.19)"),
)
_E_REAPPEARANCE_UNKNOWN = define(
    "recist.err.reappearance_unknown",
    gettext_noop("%(code)s: reappearance of %(origin)s, which is not a registered lesion (R1.21)"),
)
_E_REAPPEARANCE_GONE = define(
    "recist.err.reappearance_gone",
    gettext_noop(
        "%(code)s: recorded as %(origin)s reappearing, but %(origin)s is recorded as gone; "
        "record %(origin)s as measured or present at this time point (R1.21)"
    ),
)
_R_NO_NONIRRADIATED = define(
    "recist.series.no_nonirradiated", gettext_noop("%(rule)s (no non-irradiated lesions at baseline, D4)")
)
_R_NOT_DONE = define("recist.series.not_done", gettext_noop("NE: imaging not done (R1.22)"))
_R_BACKDATED = define(
    "recist.series.backdated",
    gettext_noop("PD: new lesion %(code)s first seen %(seen)s, confirmed on %(on)s (R1.19)"),
)


def _check_registry(lesions: Sequence[Lesion]) -> None:
    seen: set[str] = set()
    for lesion in lesions:
        if lesion.code in seen:
            raise RecistError(_E_REGISTERED_TWICE(code=lesion.code))
        seen.add(lesion.code)
        if lesion.role is LesionRole.NEW:
            raise RecistError(_E_NEW_IN_REGISTRY(code=lesion.code))
        if lesion.role is LesionRole.TARGET and (
            lesion.baseline_value_mm is None or lesion.baseline_value_mm <= 0
        ):
            raise RecistError(_E_TARGET_NO_BASELINE(code=lesion.code))
    problems = validate_target_selection([lesion for lesion in lesions if lesion.role is LesionRole.TARGET])
    if problems:
        raise RecistError(join("; ", [problem.message for problem in problems]))


def _check_assessments(assessments: Sequence[Assessment]) -> None:
    previous: date | None = None
    for assessment in assessments:
        when = assessment.assessment_date
        if assessment.imaging_done:
            if assessment.scan_date_first is None:
                raise RecistError(_E_TP_NO_SCAN_DATE(tp=assessment.label or when))
            if (
                assessment.scan_date_last is not None
                and assessment.scan_date_last < assessment.scan_date_first
            ):
                raise RecistError(_E_TP_LAST_BEFORE_FIRST(tp=when))
        elif assessment.results or assessment.new_lesions:
            raise RecistError(_E_TP_ROWS_WITHOUT_IMAGING(tp=when))
        if previous is not None and when <= previous:
            raise RecistError(_E_TP_ORDER(tp=when))
        previous = when


def _confirmed_cr_date(history: Sequence[tuple[date, Response]], confirm_min_days: int) -> date | None:
    """Return the date CR was confirmed if the patient is still in that confirmed CR (R1.21, R1.24)."""
    crs: list[date] = []
    for when, response in reversed(history):
        if response is Response.CR:
            crs.append(when)
        elif response is not Response.NE:
            break
    if len(crs) >= 2 and (crs[0] - crs[-1]).days >= confirm_min_days:
        return crs[0]
    return None


def _pct(change: Decimal, reference: Decimal) -> Decimal | None:
    return None if reference == 0 else change / reference * 100


def _target_pd_date(
    evaluation: _TargetEval,
    results: Mapping[str, LesionResult],
    nadir_mm: Decimal,
    default: date,
    settings: RecistSettings,
) -> date:
    """R5.3: the earliest scan of the time point whose lesions already support PD."""
    values = evaluation.sums.values_mm
    if evaluation.reappeared:
        return min(results[code].scan_date or default for code in evaluation.reappeared)
    measured = [(code, value) for code, value in values.items() if value is not None]
    dated = [results[code].scan_date for code, _ in measured]
    if not measured or any(when is None for when in dated):
        return default
    for cutoff in sorted({when for when in dated if when is not None}):
        partial = sum(
            (value for (code, value) in measured if (results[code].scan_date or default) <= cutoff),
            ZERO,
        )
        supports, _ = _pd_test(
            partial,
            nadir_mm,
            fraction=settings.pd_increase_fraction,
            min_increase=settings.pd_min_increase_mm,
            label=_NADIR,
        )
        if supports:
            return cutoff
    return default


def evaluate_series(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> SeriesResult:
    """Compute every time point of a patient from the baseline registry and the ordered follow-ups (R1.7-R1.22).

    Per time point: SOD, change from baseline and nadir, the categories, the overall response, the deciding rule
    and the PD date (R5.3). A new lesion that was equivocal (or PET-only, R1.20) when first seen and is confirmed
    later makes PD from the time point whose scans first showed it, dated to its ``first_seen_date`` (R1.19):
    earlier time points are revised when the confirming one is saved (EC-TA-3).
    """
    return _evaluate(lesions, assessments, settings=settings, excluded=frozenset(), scope="all lesions")


def evaluate_series_non_irradiated(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> SeriesResult:
    """Compute the series on lesions not treated with protocol SABR (D4, R1.41 b).

    Irradiated lesions are dropped with their results; without a target left, Table 2 applies; with no lesion
    left, each time point is NE unless a new lesion appears (PD). New lesions always count.
    """
    excluded = frozenset(lesion.code for lesion in lesions if lesion.irradiated_protocol)
    kept = [lesion for lesion in lesions if not lesion.irradiated_protocol]
    filtered = [
        replace(a, results=tuple(r for r in a.results if r.lesion_code not in excluded)) for a in assessments
    ]
    return _evaluate(kept, filtered, settings=settings, excluded=excluded, scope="non-irradiated lesions")


def _evaluate(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings,
    excluded: frozenset[str],
    scope: str,
) -> SeriesResult:
    _check_registry(lesions)
    _check_assessments(assessments)
    targets = tuple(lesion for lesion in lesions if lesion.role is LesionRole.TARGET)
    nontargets = tuple(lesion for lesion in lesions if lesion.role is LesionRole.NON_TARGET)
    codes = {lesion.code for lesion in lesions}
    baseline_sum = sum((t.baseline_value_mm or ZERO for t in targets), ZERO) if targets else None
    nadir = baseline_sum
    history: list[tuple[date, Response]] = []
    rows: list[TimePointResult] = []
    first_counted: dict[str, int] = {}
    first_seen: dict[str, date] = {}
    no_lesion_note = bool(excluded and not lesions)

    for index, assessment in enumerate(assessments):
        when = assessment.assessment_date
        if not assessment.imaging_done:
            rows.append(_not_done_row(assessment, targets, nontargets, baseline_sum, nadir))
            history.append((when, Response.NE))
            continue
        results = _results_by_code(assessment.results)
        unknown = sorted(set(results) - codes)
        if unknown:
            raise RecistError(_E_TP_UNREGISTERED(tp=when, codes=_codes(unknown)))
        for recorded in assessment.new_lesions:
            seen = first_seen.setdefault(recorded.code, recorded.first_seen_date)
            if seen != recorded.first_seen_date:
                raise RecistError(_E_FIRST_SEEN_DIFFERS(code=recorded.code))
            if recorded.first_seen_date > assessment.last_scan_date:
                raise RecistError(_E_FIRST_SEEN_AFTER(code=recorded.code))
            _check_reappearance(recorded, results, codes, excluded)
        in_cr = _confirmed_cr_date(history, settings.confirm_min_days) is not None

        target_eval: _TargetEval | None = None
        if targets:
            assert baseline_sum is not None and nadir is not None
            target_eval = _evaluate_targets(
                targets,
                results,
                baseline_sum_mm=baseline_sum,
                nadir_mm=nadir,
                confirmed_cr=in_cr,
                settings=settings,
                excluded=excluded,
            )
        nt = nontarget_response(
            nontargets, results, confirmed_cr=in_cr, tumour_markers_normal=assessment.tumour_markers_normal
        )
        new = new_lesion_response(assessment.new_lesions, confirmed_cr=in_cr)
        for code in new.codes:
            first_counted.setdefault(code, index)
        overall = overall_response(
            target=target_eval.response if target_eval else None,
            nontarget=nt.response,
            new_lesion=new.present,
            target_rule=target_eval.rule if target_eval else "",
            nontarget_rule=nt.rule,
            new_lesion_rule=new.rule,
        )
        pd_date: date | None = None
        if overall.response is Response.PD:  # R5.3: the earliest date that supports PD
            candidates: list[date] = []
            if new.first_seen_date is not None:
                candidates.append(new.first_seen_date)
            if target_eval is not None and target_eval.response is Response.PD:
                assert nadir is not None
                candidates.append(_target_pd_date(target_eval, results, nadir, when, settings))
            if nt.response is Response.PD:
                candidates.append(_nontarget_pd_date(nontargets, results, when))
            pd_date = min(candidates) if candidates else when
        sod = target_eval.sums.sum_mm if target_eval else None
        rows.append(
            TimePointResult(
                assessment_date=when,
                scan_date_first=assessment.scan_date_first,
                scan_date_last=assessment.last_scan_date,
                imaging_done=True,
                sum_mm=sod,
                evaluated_sum_mm=target_eval.sums.evaluated_sum_mm if target_eval else None,
                baseline_sum_mm=baseline_sum,
                nadir_mm=nadir,
                pct_change_baseline=_pct(sod - baseline_sum, baseline_sum)
                if sod is not None and baseline_sum is not None
                else None,
                pct_change_nadir=_pct(sod - nadir, nadir) if sod is not None and nadir is not None else None,
                change_nadir_mm=sod - nadir if sod is not None and nadir is not None else None,
                target=target_eval.response if target_eval else None,
                nontarget=nt.response,
                new_lesion=new.present,
                new_lesion_codes=new.codes,
                overall=overall.response,
                rule=_R_NO_NONIRRADIATED(rule=overall.rule)
                if no_lesion_note and overall.response is Response.NE
                else overall.rule,
                target_rule=target_eval.rule if target_eval else _T_NO_TARGET(),
                nontarget_rule=nt.rule,
                new_lesion_rule=new.rule,
                pd_date=pd_date,
                label=assessment.label,
            )
        )
        history.append((when, overall.response))
        if sod is not None and nadir is not None:
            nadir = min(nadir, sod)  # R1.14: nadir = smallest SOD so far, baseline included

    _backdate_new_lesions(rows, assessments, first_counted, first_seen)
    return SeriesResult(
        timepoints=tuple(rows),
        baseline_sum_mm=baseline_sum,
        has_targets=bool(targets),
        has_lesions=bool(lesions),
        scope=scope,
    )


def _check_reappearance(
    recorded: NewLesion, results: Mapping[str, LesionResult], codes: set[str], excluded: frozenset[str]
) -> None:
    """R1.21: a reappearing lesion is measured on its own row, so that row cannot say it is gone."""
    origin = recorded.reappearance_of
    if origin is None or not recorded.present or origin in excluded:
        return
    if origin not in codes:
        raise RecistError(_E_REAPPEARANCE_UNKNOWN(code=recorded.code, origin=origin))
    row = results.get(origin)
    gone = row is not None and (
        row.status is ResultStatus.DISAPPEARED
        or (row.status is ResultStatus.MEASURED and row.value_mm == 0)
        or row.nontarget_state is NonTargetState.ABSENT
    )
    if gone:
        raise RecistError(_E_REAPPEARANCE_GONE(code=recorded.code, origin=origin))


def _nontarget_pd_date(
    nontargets: Sequence[Lesion], results: Mapping[str, LesionResult], default: date
) -> date:
    """R5.3: the scan of the non-target that progressed (or, under R1.21, reappeared)."""
    progressed = [
        lesion.code
        for lesion in nontargets
        if results[lesion.code].nontarget_state is NonTargetState.UNEQUIVOCAL_PROGRESSION
    ]
    if not progressed:
        progressed = [
            lesion.code
            for lesion in nontargets
            if not lesion.is_nodal and results[lesion.code].nontarget_state is NonTargetState.PRESENT
        ]
    return min((results[code].scan_date or default for code in progressed), default=default)


def _not_done_row(
    assessment: Assessment,
    targets: Sequence[Lesion],
    nontargets: Sequence[Lesion],
    baseline_sum: Decimal | None,
    nadir: Decimal | None,
) -> TimePointResult:
    text = _R_NOT_DONE()
    return TimePointResult(
        assessment_date=assessment.assessment_date,
        scan_date_first=None,
        scan_date_last=None,
        imaging_done=False,
        sum_mm=None,
        evaluated_sum_mm=None,
        baseline_sum_mm=baseline_sum,
        nadir_mm=nadir,
        pct_change_baseline=None,
        pct_change_nadir=None,
        change_nadir_mm=None,
        target=Response.NE if targets else None,
        nontarget=Response.NE if nontargets else None,
        new_lesion=False,
        new_lesion_codes=(),
        overall=Response.NE,
        rule=text,
        target_rule=text,
        nontarget_rule=text,
        new_lesion_rule=text,
        pd_date=None,
        label=assessment.label,
    )


def _backdate_new_lesions(
    rows: list[TimePointResult],
    assessments: Sequence[Assessment],
    first_counted: Mapping[str, int],
    first_seen: Mapping[str, date],
) -> None:
    """R1.19, R1.20: once a new lesion counts, PD starts at the time point whose scans first showed it."""
    for code, confirmed_at in first_counted.items():
        seen = first_seen[code]
        confirmed_on = rows[confirmed_at].assessment_date
        for index in range(confirmed_at):
            assessment = assessments[index]
            if not assessment.imaging_done or assessment.last_scan_date < seen:
                continue
            row = rows[index]
            text = _R_BACKDATED(code=code, seen=seen, on=confirmed_on)
            if row.overall is Response.PD:
                rows[index] = replace(
                    row,
                    new_lesion=True,
                    new_lesion_codes=(*row.new_lesion_codes, code),
                    pd_date=min(row.pd_date or seen, seen),
                    rule=join("; ", [row.rule, text]),
                    new_lesion_rule=text,
                )
            else:
                rows[index] = replace(
                    row,
                    overall=Response.PD,
                    new_lesion=True,
                    new_lesion_codes=(*row.new_lesion_codes, code),
                    pd_date=seen,
                    rule=text,
                    new_lesion_rule=text,
                )


# --- Best overall response (R1.23-R1.26) --------------------------------------------------------------------------
_RESPONSE_LIKE: Final = frozenset({Response.CR, Response.PR, Response.SD, Response.NON_CR_NON_PD})
_B_NO_POST_BASELINE_BEFORE = define(
    "recist.bor.no_post_baseline_before",
    gettext_noop("no post-baseline assessment before the next anticancer therapy on %(date)s (R5.8)"),
)
_E_BOR_MIXED_TABLES = define(
    "recist.err.bor_mixed_tables",
    gettext_noop("time points mix NON-CR/NON-PD (Table 2) with PR or SD (Table 1)"),
)
_E_BOR_NT_ONLY = define(
    "recist.err.bor_nt_only",
    gettext_noop("nontarget_only contradicts the time-point labels (Table 1 vs Table 2)"),
)
_E_BOR_SAME_DATE = define("recist.err.bor_same_date", gettext_noop("two time points on %(date)s"))
_B_EARLY = define(
    "recist.bor.early", gettext_noop("%(r)s at %(date)s was %(days)s d < %(min)s d after start")
)
_B_UNCONFIRMED = define("recist.bor.unconfirmed", gettext_noop("%(r)s at %(date)s (unconfirmed BOR, R1.23)"))
_B_STABLE = define(
    "recist.bor.stable",
    gettext_noop("%(r)s at %(date)s, %(days)s d >= %(min)s d after treatment start (R1.25)"),
)
_B_PD_EARLY = define("recist.bor.pd_early", gettext_noop("PD at %(date)s; %(early)s (R1.25)"))
_B_PD = define("recist.bor.pd", gettext_noop("PD at %(date)s (R1.23)"))
_B_NE_EARLY = define(
    "recist.bor.ne_early", gettext_noop("NE: %(early)s and no later evaluable response (R1.25)")
)
_B_NE = define("recist.bor.ne", gettext_noop("NE: no evaluable time point (R1.23)"))
_B_AFTER_CR = define(
    "recist.bor.after_cr", gettext_noop("%(r)s at %(date)s after CR at %(cr)s counts as PD (R1.26)")
)
_B_CR_CONFIRMED = define(
    "recist.bor.cr_confirmed",
    gettext_noop("CR confirmed at %(end)s (%(days)s d >= %(min)s d after %(start)s, R1.24)"),
)
_B_PR_CONFIRMED = define(
    "recist.bor.pr_confirmed",
    gettext_noop("PR confirmed by %(by)s at %(end)s (%(days)s d >= %(min)s d after %(start)s, R1.24)"),
)
_B_NOT_CONFIRMED = define("recist.bor.not_confirmed", gettext_noop("%(r)s at %(date)s not confirmed (R1.24)"))
_B_MET = define(
    "recist.bor.met",
    gettext_noop("%(label)s met at %(date)s, %(days)s d >= %(min)s d after start (R1.25, R1.26)"),
)
_B_NOT_MET = define("recist.bor.not_met", gettext_noop("SD not met >= %(min)s d after start (R1.25, R1.26)"))
_B_CONFIRMED_STABLE = define("recist.bor.confirmed_stable", gettext_noop("%(label)s: %(parts)s"))
_B_CONFIRMED_PD = define("recist.bor.confirmed_pd", gettext_noop("PD at %(date)s: %(parts)s"))
_B_CONFIRMED_NE = define("recist.bor.confirmed_ne", gettext_noop("NE: %(parts)s"))


def best_overall_response(
    timepoints: Sequence[TimePointResponse],
    *,
    treatment_start: date,
    confirm: bool,
    sd_min_days: int = 42,
    confirm_min_days: int = 28,
    stop_date: date | None = None,
    nontarget_only: bool | None = None,
) -> BestOverallResponse:
    """Return the best overall response (R1.23-R1.26).

    Window (R1.23): time points dated after ``treatment_start``, before ``stop_date`` (start of the next anticancer
    therapy, exclusive), in date order, up to and including the first PD. No time point in the window gives
    ``response=None`` (no post-baseline assessment, R5.8).

    Unconfirmed: the best by CR > PR > SD > NON-CR/NON-PD > PD > NE. SD and NON-CR/NON-PD count only when dated
    >= ``treatment_start + sd_min_days`` (R1.25); an earlier one counts as NE, so the BOR falls to PD if PD follows
    and to NE otherwise (admiralonco ``derive_param_bor``).

    Confirmed (Table 3 of R1.26), read as follows:
    - CR: a CR followed by another CR >= ``confirm_min_days`` later, with only CR or NE in between.
    - PR: a PR followed by a PR or CR >= ``confirm_min_days`` later, with only PR, CR or NE in between (PR->CR = PR).
    - Intervening NE (EORTC/admiralonco reading): one NE time point between the response and its confirmation does
      not break it (CR-NE-CR = CR, PR-NE-PR = PR); two or more do. An intervening SD does (PR-SD-PR is not a
      confirmation by that pair).
    - Table 3 footnote: after a CR, a later PR, SD or NON-CR/NON-PD means disease came back, so it counts as PD
      and ends the window (CR->PR and CR->SD = SD if the SD duration was met before it, else PD). Only correcting
      the data makes such a CR a PR.
    - Otherwise SD when any CR, PR, SD or NON-CR/NON-PD in the window is dated >= the SD minimum (PR->SD = SD,
      PR->NE = SD, CR->NE = SD), else PD if the window ends in PD, else NE. For a patient with non-target disease
      only (Table 2) the label is NON-CR/NON-PD, never SD.

    ``nontarget_only`` (optional) says the patient had no target lesion at baseline; when None it is inferred from
    the labels (NON-CR/NON-PD => True; PR or SD => False; otherwise False). Pass it for Table 2 patients whose
    series holds only CR, PD or NE.
    """
    nt_only = _nontarget_only(timepoints, nontarget_only)
    window, stopped_on = _bor_window(timepoints, treatment_start=treatment_start, stop_date=stop_date)
    if not window:
        rule = _NO_POST_BASELINE() if stopped_on is None else _B_NO_POST_BASELINE_BEFORE(date=stopped_on)
        return BestOverallResponse(None, None, rule)
    floor = treatment_start + timedelta(days=sd_min_days)
    if confirm:
        return _confirmed_bor(
            window,
            treatment_start=treatment_start,
            floor=floor,
            sd_min_days=sd_min_days,
            confirm_min_days=confirm_min_days,
            nt_only=nt_only,
        )
    return _unconfirmed_bor(window, treatment_start=treatment_start, floor=floor, sd_min_days=sd_min_days)


def _nontarget_only(timepoints: Sequence[TimePointResponse], declared: bool | None) -> bool:
    labels = {tp.response for tp in timepoints}
    table2 = Response.NON_CR_NON_PD in labels
    table1 = bool(labels & {Response.PR, Response.SD})
    if table1 and table2:
        raise RecistError(_E_BOR_MIXED_TABLES())
    if declared is None:
        return table2
    if (declared and table1) or (not declared and table2):
        raise RecistError(_E_BOR_NT_ONLY())
    return declared


def _bor_window(
    timepoints: Sequence[TimePointResponse], *, treatment_start: date, stop_date: date | None
) -> tuple[list[TimePointResponse], date | None]:
    """The BOR window and, when it is empty because of the next anticancer therapy, that therapy's date."""
    ordered = sorted(timepoints, key=lambda tp: tp.assessment_date)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.assessment_date == later.assessment_date:
            raise RecistError(_E_BOR_SAME_DATE(date=later.assessment_date))
    window: list[TimePointResponse] = []
    late = False
    for tp in ordered:
        if tp.assessment_date <= treatment_start:
            continue
        if stop_date is not None and tp.assessment_date >= stop_date:  # R1.23: next anticancer therapy
            late = True
            break
        window.append(tp)
        if tp.response is Response.PD:  # R1.23: up to the first PD
            break
    return window, stop_date if late and not window else None


def _unconfirmed_bor(
    window: Sequence[TimePointResponse], *, treatment_start: date, floor: date, sd_min_days: int
) -> BestOverallResponse:
    early = [tp for tp in window if tp.response in _STABLE and tp.assessment_date < floor]

    def effective(tp: TimePointResponse) -> Response:
        return Response.NE if tp in early else tp.response  # R1.25

    best = min(window, key=lambda tp: (RESPONSE_ORDER[effective(tp)], tp.assessment_date))
    response, when = effective(best), best.assessment_date
    early_note: Msg | None = None
    if early:
        first = early[0]
        days = (first.assessment_date - treatment_start).days
        early_note = _B_EARLY(r=first.response.value, date=first.assessment_date, days=days, min=sd_min_days)
    rule: Msg
    if response in (Response.CR, Response.PR):
        rule = _B_UNCONFIRMED(r=response.value, date=when)
    elif response in _STABLE:
        days = (when - treatment_start).days
        rule = _B_STABLE(r=response.value, date=when, days=days, min=sd_min_days)
    elif response is Response.PD:
        rule = _B_PD_EARLY(date=when, early=early_note) if early_note is not None else _B_PD(date=when)
    elif early_note is not None:
        rule = _B_NE_EARLY(early=early_note)
    else:
        rule = _B_NE()
    return BestOverallResponse(response, when, rule)


_STABLE: Final = frozenset({Response.SD, Response.NON_CR_NON_PD})


def _find_confirmation(
    sequence: Sequence[tuple[date, Response]],
    *,
    starts: frozenset[Response],
    confirms: frozenset[Response],
    min_days: int,
) -> tuple[int, int] | None:
    for i, (first_date, first) in enumerate(sequence):
        if first not in starts:
            continue
        intervening_ne = 0
        for j in range(i + 1, len(sequence)):
            when, response = sequence[j]
            if response in confirms:
                if (when - first_date).days >= min_days:  # R1.24
                    return i, j
                continue
            if response is Response.NE and intervening_ne < CONFIRM_MAX_INTERVENING_NE:
                intervening_ne += 1
                continue
            break
    return None


def _confirmed_bor(
    window: Sequence[TimePointResponse],
    *,
    treatment_start: date,
    floor: date,
    sd_min_days: int,
    confirm_min_days: int,
    nt_only: bool,
) -> BestOverallResponse:
    sequence = [(tp.assessment_date, tp.response) for tp in window]
    notes: list[Msg] = []
    first_cr: date | None = None
    for index, (when, response) in enumerate(sequence):
        if response is Response.CR and first_cr is None:
            first_cr = when
        elif first_cr is not None and response in (Response.PR, *_STABLE):
            # R1.26 Table 3 footnote: disease seen after a CR is progression at that point.
            notes.append(_B_AFTER_CR(r=response.value, date=when, cr=first_cr))
            sequence = [*sequence[:index], (when, Response.PD)]
            break

    pair = _find_confirmation(
        sequence,
        starts=frozenset({Response.CR}),
        confirms=frozenset({Response.CR}),
        min_days=confirm_min_days,
    )
    if pair is not None:
        (start, _), (end, _) = sequence[pair[0]], sequence[pair[1]]
        return BestOverallResponse(
            Response.CR,
            start,
            _B_CR_CONFIRMED(end=end, days=(end - start).days, min=confirm_min_days, start=start),
        )
    pair = _find_confirmation(
        sequence,
        starts=frozenset({Response.PR}),
        confirms=frozenset({Response.PR, Response.CR}),
        min_days=confirm_min_days,
    )
    if pair is not None:
        (start, _), (end, confirming) = sequence[pair[0]], sequence[pair[1]]
        return BestOverallResponse(
            Response.PR,
            start,
            _B_PR_CONFIRMED(
                by=confirming.value, end=end, days=(end - start).days, min=confirm_min_days, start=start
            ),
        )

    unconfirmed = next(((when, r) for when, r in sequence if r in (Response.CR, Response.PR)), None)
    if unconfirmed is not None:
        notes.insert(0, _B_NOT_CONFIRMED(r=unconfirmed[1].value, date=unconfirmed[0]))
    stable = next(((when, r) for when, r in sequence if r in _RESPONSE_LIKE and when >= floor), None)
    if stable is not None:
        label = Response.NON_CR_NON_PD if nt_only else Response.SD
        when = stable[0]
        met = _B_MET(label=label.value, date=when, days=(when - treatment_start).days, min=sd_min_days)
        return BestOverallResponse(
            label, when, _B_CONFIRMED_STABLE(label=label.value, parts=join("; ", [*notes, met]))
        )
    last_date, last = sequence[-1]
    not_met = _B_NOT_MET(min=sd_min_days)
    if last is Response.PD:
        return BestOverallResponse(
            Response.PD, last_date, _B_CONFIRMED_PD(date=last_date, parts=join("; ", [*notes, not_met]))
        )
    first_date = sequence[0][0]
    return BestOverallResponse(Response.NE, first_date, _B_CONFIRMED_NE(parts=join("; ", [*notes, not_met])))


# --- Local control of irradiated lesions (D5, R2.1-R2.3) ---------------------------------------------------------
_E_LC_NO_STATE = define(
    "recist.err.lc_no_state", gettext_noop("%(code)s: no non-target state at this scan (R1.18)")
)
_E_LC_NOT_IRRADIATED = define(
    "recist.err.lc_not_irradiated",
    gettext_noop("%(code)s: not treated with protocol SABR; local control is for irradiated lesions (D4)"),
)
_E_LC_NO_RESULT = define(
    "recist.err.lc_no_result", gettext_noop("%(code)s: no result at the time point of %(date)s (EC-TA-1)")
)
_E_LC_INTERVENTION_WITHOUT_LF = define(
    "recist.err.lc_intervention_without_lf",
    gettext_noop(
        "%(code)s: %(kind)s for local failure on %(date)s, but no scan shows local failure; record in-field "
        "progression on the scan that showed it (D5, R2.3)"
    ),
)
_E_LC_NO_FIRST_FRACTION = define(
    "recist.err.lc_no_first_fraction", gettext_noop("%(code)s: irradiated but no first fraction date (D1)")
)
_C_PRE_SABR = define(
    "recist.lc.pre_sabr",
    gettext_noop("before the first fraction on %(date)s: sets the pre-SABR baseline (D1, R2.1)"),
)
#: Why a scan shows local failure (the step's rule is "LF: <why>"; the lesion's rule quotes the same why).
_C_WHY_SIZE = define("recist.lc.why_size", gettext_noop("%(test)s (D5, R2.1)"))
_C_WHY_FLAG = define(
    "recist.lc.why_flag", gettext_noop("investigator-marked unequivocal in-field progression (D5)")
)
_C_LF = define("recist.lc.lf", gettext_noop("LF: %(why)s"))
_C_FLAG_QUERY = define(
    "recist.lc.flag_query",
    gettext_noop(
        "no LF: UNEQUIVOCAL PROGRESSION without the in-field progression flag is RECIST non-target PD, "
        "not local failure; query: should in-field progression be set? (D12)"
    ),
)
_C_NO_LF = define("recist.lc.no_lf", gettext_noop("no LF: %(test)s (D5)"))
_C_NOT_EVALUATED = define(
    "recist.lc.not_evaluated", gettext_noop("not evaluated for size at this scan (R2.3)")
)
_C_LF_AT = define("recist.lc.lf_at", gettext_noop("LF at %(date)s (first scan showing it): %(why)s"))
_C_KIND: Final[Mapping[InterventionKind, Msg]] = MappingProxyType(
    {
        InterventionKind.REIRRADIATION: define(
            "recist.lc.kind_reirradiation", gettext_noop("re-irradiation")
        )(),
        InterventionKind.RESECTION: define("recist.lc.kind_resection", gettext_noop("resection"))(),
    }
)
_C_CENSORED_INTERVENTION = define(
    "recist.lc.censored_intervention",
    gettext_noop("censored at %(kind)s on %(date)s, done for a reason other than LF (R2.3)"),
)
_C_CENSORED_LAST = define(
    "recist.lc.censored_last",
    gettext_noop("censored at the last scan evaluating %(code)s on %(date)s, without LF (R2.3)"),
)
_C_CENSORED_NO_SCAN = define(
    "recist.lc.censored_no_scan",
    gettext_noop("censored at the first fraction: no scan after SABR evaluated %(code)s (R2.3)"),
)


def _lc_value(lesion: Lesion, result: LesionResult, settings: RecistSettings) -> Decimal | None:
    """Return the lesion's own size (mm) at this scan, or None when no diameter was recorded (D12).

    A non-target carries a diameter only when one was recorded for local control: a measured value, TOO SMALL TO
    MEASURE (5 mm) or DISAPPEARED (0 mm) (R1.10, CRF-SPEC form 9). Its RECIST status alone (PRESENT, ABSENT,
    UNEQUIVOCAL PROGRESSION) gives no diameter, so it does not evaluate the lesion for local control (D12).
    """
    if lesion.role is LesionRole.TARGET:
        if result.split_merge is SplitMerge.MERGED:
            return None  # its own diameter is no longer separable (R1.11): follow-up for LC ends
        return lesion_value_mm(lesion, result, settings=settings)
    if result.nontarget_state is None:
        raise RecistError(_E_LC_NO_STATE(code=lesion.code))
    if result.nontarget_state is NonTargetState.NOT_EVALUABLE:
        return None
    status = result.status
    if status is ResultStatus.TOO_SMALL:
        return settings.too_small_mm  # R1.10
    if status is ResultStatus.DISAPPEARED:
        return ZERO  # R1.10
    if status is ResultStatus.NOT_EVALUABLE:
        return None
    return result.value_mm


def lesion_local_control(
    lesion: Lesion,
    assessments: Sequence[Assessment],
    *,
    first_fraction_date: date,
    interventions: Sequence[LesionIntervention] = (),
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> LocalControlResult:
    """Return local failure or censoring of one protocol-irradiated lesion (D5, R2.1-R2.3).

    LF at a scan after the first fraction: the lesion's diameter (short axis for nodes) >= 1.20 x its own nadir
    **and** >= 5 mm above it, the nadir being its smallest value since SABR including the pre-SABR baseline (its
    latest value before the first fraction: the registry baseline unless a later pre-SABR scan measured it); or the
    investigator's unequivocal in-field progression (``infield_progression``), and nothing else (D12): a
    non-target's UNEQUIVOCAL PROGRESSION without the flag is RECIST non-target PD, not LF, and marks the step with
    ``flag_query`` so the investigator is asked whether to set the flag. Dated to the first scan that shows it.
    Follow-up does not stop at patient-level PD (R2.3). Without LF the lesion is censored at re-irradiation or
    resection done for another reason, else at the last scan that evaluated it: a scan that recorded its diameter
    or set the in-field flag (D12). Death as a competing event is the caller's (R2.4).
    """
    code = lesion.code
    if not lesion.irradiated_protocol:
        raise RecistError(_E_LC_NOT_IRRADIATED(code=code))
    _check_assessments(assessments)
    own = [iv for iv in interventions if iv.lesion_code == code]
    other = sorted((iv for iv in own if not iv.for_local_failure), key=lambda iv: iv.on)
    stop = other[0] if other else None
    nadir = lesion.baseline_value_mm
    steps: list[LocalControlStep] = []
    failure: LocalControlStep | None = None
    failure_nadir: Decimal | None = None
    failure_why: Msg | None = None
    last_evaluated: date | None = None
    for assessment in assessments:
        if not assessment.imaging_done:
            continue
        result = _results_by_code(assessment.results).get(code)
        if result is None:
            raise RecistError(_E_LC_NO_RESULT(code=code, date=assessment.assessment_date))
        scan = result.scan_date or assessment.assessment_date
        if stop is not None and scan > stop.on:
            break
        value = _lc_value(lesion, result, settings)
        after_sabr = scan > first_fraction_date
        flag = result.infield_progression  # D12: D5 alone decides LF
        evaluated = value is not None or flag  # D12: a diameter recorded or the in-field flag set
        size_lf, size_text = False, None
        if value is not None and nadir is not None:
            size_lf, size_text = _pd_test(
                value,
                nadir,
                fraction=settings.lf_increase_fraction,
                min_increase=settings.lf_min_increase_mm,
                label=_LESION_NADIR,
            )
        is_lf = after_sabr and (size_lf or flag)
        flag_query = (
            after_sabr
            and not is_lf
            and lesion.role is not LesionRole.TARGET
            and result.nontarget_state is NonTargetState.UNEQUIVOCAL_PROGRESSION
        )
        why: Msg | None = None
        if not after_sabr:
            rule = _C_PRE_SABR(date=first_fraction_date)
        elif size_lf:
            why = _C_WHY_SIZE(test=size_text)
            rule = _C_LF(why=why)
        elif flag:
            why = _C_WHY_FLAG()
            rule = _C_LF(why=why)
        elif flag_query:
            rule = _C_FLAG_QUERY()
        elif size_text is not None:
            rule = _C_NO_LF(test=size_text)
        else:
            rule = _C_NOT_EVALUATED()
        step = LocalControlStep(
            scan, value, nadir, is_lf, rule, result.lf_confirmation, flag_query, after_sabr and evaluated
        )
        steps.append(step)
        if is_lf and failure is None:
            failure, failure_nadir, failure_why = step, nadir, why
        if after_sabr and evaluated:
            last_evaluated = scan
        if value is not None and failure is None:
            # R2.1: before the first fraction the latest value is the pre-SABR baseline; after it, the nadir.
            nadir = value if not after_sabr or nadir is None else min(nadir, value)

    if failure is not None:
        after = steps[steps.index(failure) :]
        confirmation = next(
            (
                s.lf_confirmation
                for s in after
                if s.lf_confirmation is not None and s.lf_confirmation is not LfConfirmation.NOT_YET
            ),
            None,
        )
        return LocalControlResult(
            lesion_code=code,
            origin=first_fraction_date,
            event=True,
            date=failure.scan_date,
            censor_reason=None,
            nadir_mm=failure_nadir,
            confirmation=confirmation,
            rule=_C_LF_AT(date=failure.scan_date, why=failure_why),
            steps=tuple(steps),
        )
    for_lf = [iv for iv in own if iv.for_local_failure]
    if for_lf:
        raise RecistError(
            _E_LC_INTERVENTION_WITHOUT_LF(code=code, kind=_C_KIND[for_lf[0].kind], date=for_lf[0].on)
        )
    if stop is not None:
        reason = (
            LcCensorReason.REIRRADIATION
            if stop.kind is InterventionKind.REIRRADIATION
            else LcCensorReason.RESECTION
        )
        return LocalControlResult(
            code,
            first_fraction_date,
            False,
            stop.on,
            reason,
            nadir,
            None,
            _C_CENSORED_INTERVENTION(kind=_C_KIND[stop.kind], date=stop.on),
            tuple(steps),
        )
    if last_evaluated is not None:
        return LocalControlResult(
            code,
            first_fraction_date,
            False,
            last_evaluated,
            LcCensorReason.LAST_EVALUATING_SCAN,
            nadir,
            None,
            _C_CENSORED_LAST(code=code, date=last_evaluated),
            tuple(steps),
        )
    return LocalControlResult(
        code,
        first_fraction_date,
        False,
        first_fraction_date,
        LcCensorReason.NO_EVALUATING_SCAN,
        nadir,
        None,
        _C_CENSORED_NO_SCAN(code=code),
        tuple(steps),
    )


def local_control(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    first_fraction_dates: Mapping[str, date],
    interventions: Sequence[LesionIntervention] = (),
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> tuple[LocalControlResult, ...]:
    """Return local control for every lesion treated with protocol SABR, in registry order (D4, D5, R2.2)."""
    out: list[LocalControlResult] = []
    for lesion in lesions:  # R2.2: patient-level LF = LF in any of these rows (derived by the caller)
        if not lesion.irradiated_protocol:
            continue
        first = first_fraction_dates.get(lesion.code)
        if first is None:
            raise RecistError(_E_LC_NO_FIRST_FRACTION(code=lesion.code))
        out.append(
            lesion_local_control(
                lesion, assessments, first_fraction_date=first, interventions=interventions, settings=settings
            )
        )
    return tuple(out)


# --- iRECIST (R1.50-R1.53) ----------------------------------------------------------------------------------------
_I_OF: Final[Mapping[Response, IResponse]] = MappingProxyType(
    {
        Response.CR: IResponse.ICR,
        Response.PR: IResponse.IPR,
        Response.SD: IResponse.ISD,
        Response.NON_CR_NON_PD: IResponse.INN,
        Response.PD: IResponse.IUPD,
        Response.NE: IResponse.INE,
    }
)


_I_SOD_UP = define("recist.i.sod_up", gettext_noop("SOD %(sod)s mm is %(inc)s mm over %(ref)s mm at iUPD"))
_I_TARGET_PD = define("recist.i.target_pd", gettext_noop("target lesions now meet RECIST 1.1 PD"))
_I_NT_GREW = define("recist.i.nt_grew", gettext_noop("non-target %(codes)s increased further"))
_I_NT_PD = define("recist.i.nt_pd", gettext_noop("non-target unequivocal progression"))
_I_ANOTHER_NEW = define("recist.i.another_new", gettext_noop("another new lesion %(codes)s"))
_I_NEW_TARGETS_UP = define(
    "recist.i.new_targets_up", gettext_noop("new target lesions %(inc)s mm since iUPD")
)
_I_NEW_NT_GREW = define("recist.i.new_nt_grew", gettext_noop("new non-target %(codes)s grew"))
_I_CONFIRMED_EARLIER = define(
    "recist.i.confirmed_earlier", gettext_noop("iCPD confirmed on %(date)s (R1.51)")
)
_I_NOT_DONE = define("recist.i.not_done", gettext_noop("iNE: imaging not done (R1.22)"))
_I_IUPD = define("recist.i.iupd", gettext_noop("iUPD: %(rule)s (R1.50)"))
_I_AS_RECIST = define("recist.i.as_recist", gettext_noop("%(i)s: as RECIST 1.1 %(r)s"))
_I_SYMPTOMS = define(
    "recist.i.symptoms",
    gettext_noop("iCPD: scan for symptoms %(days)s d after iUPD shows another new lesion %(codes)s (R1.50)"),
)
_I_TOO_EARLY = define(
    "recist.i.too_early",
    gettext_noop("iUPD: scan %(days)s d after iUPD of %(ref)s (< 4 weeks) ignored for confirmation (R1.50)"),
)
_I_ICPD = define("recist.i.icpd", gettext_noop("iCPD: %(reasons)s (vs iUPD of %(ref)s, R1.51)"))
_I_ICPD_LATE = define(
    "recist.i.icpd_late",
    gettext_noop(
        "iCPD: %(reasons)s (vs iUPD of %(ref)s, R1.51) (confirmation %(days)s d after iUPD, beyond the 4-8 week "
        "window)"
    ),
)
_I_RESET = define("recist.i.reset", gettext_noop("%(i)s: iUPD of %(ref)s not confirmed; bar reset (R1.53)"))
_I_STILL_UNCONFIRMED = define(
    "recist.i.still_unconfirmed", gettext_noop("iNE: iUPD of %(ref)s still unconfirmed (R1.50)")
)
_I_NO_FURTHER = define(
    "recist.i.no_further", gettext_noop("iUPD: no further increase vs iUPD of %(ref)s (R1.51)")
)
_I_NO_FURTHER_LATE = define(
    "recist.i.no_further_late",
    gettext_noop(
        "iUPD: no further increase vs iUPD of %(ref)s (R1.51) (confirmation %(days)s d after iUPD, beyond the "
        "4-8 week window)"
    ),
)
_I_BEST = define("recist.i.best", gettext_noop("%(i)s at %(date)s (iBOR, R1.53)"))


@dataclass(frozen=True)
class _IupdRef:
    when: date
    sod: Decimal | None
    triggers: frozenset[str]
    new_codes: frozenset[str]
    new_target_sum: Decimal


def _new_target_sum(assessment: Assessment, codes: Sequence[str] | frozenset[str]) -> Decimal:
    # R1.52: new target lesions have their own sum; they are never added to the baseline SOD.
    return sum(
        (
            nl.value_mm
            for nl in assessment.new_lesions
            if nl.code in codes and nl.present and nl.value_mm is not None
        ),
        ZERO,
    )


def _iupd_ref(row: TimePointResult, assessment: Assessment) -> _IupdRef:
    triggers = {
        name
        for name, hit in (
            ("target", row.target is Response.PD),
            ("non-target", row.nontarget is Response.PD),
            ("new lesion", row.new_lesion),
        )
        if hit
    }
    codes = frozenset(row.new_lesion_codes)
    return _IupdRef(
        row.assessment_date, row.sum_mm, frozenset(triggers), codes, _new_target_sum(assessment, codes)
    )


def _icpd_reasons(
    ref: _IupdRef,
    row: TimePointResult,
    assessment: Assessment,
    nontarget_codes: frozenset[str],
    settings: RecistSettings,
) -> list[Msg]:
    """R1.51: what, compared with the iUPD time point, confirms progression."""
    reasons: list[Msg] = []
    step = settings.irecist_further_increase_mm
    current = row.sum_mm if row.sum_mm is not None else row.evaluated_sum_mm
    if ref.sod is not None and current is not None and current - ref.sod >= step:
        # Increases add up: always measured against the iUPD SOD (4 mm + 2 mm = 6 mm).
        reasons.append(_I_SOD_UP(sod=_mm(current), inc=_signed(current - ref.sod), ref=_mm(ref.sod)))
    elif "target" not in ref.triggers and row.target is Response.PD:
        reasons.append(_I_TARGET_PD())
    grown = [
        r.lesion_code for r in assessment.results if r.further_increase and r.lesion_code in nontarget_codes
    ]
    if "non-target" in ref.triggers and grown:
        reasons.append(_I_NT_GREW(codes=_codes(grown)))
    elif "non-target" not in ref.triggers and row.nontarget is Response.PD:
        reasons.append(_I_NT_PD())
    another = [code for code in row.new_lesion_codes if code not in ref.new_codes]
    if another:
        reasons.append(_I_ANOTHER_NEW(codes=_codes(another)))
    if ref.new_codes:
        new_sum = _new_target_sum(assessment, ref.new_codes)
        if new_sum - ref.new_target_sum >= step:
            reasons.append(_I_NEW_TARGETS_UP(inc=_signed(new_sum - ref.new_target_sum)))
        grown_new = [
            nl.code
            for nl in assessment.new_lesions
            if nl.code in ref.new_codes and nl.further_increase and nl.value_mm is None
        ]
        if grown_new:
            reasons.append(_I_NEW_NT_GREW(codes=_codes(grown_new)))
    return reasons


def irecist_series(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> tuple[IRecistTimePoint, ...]:
    """Return the iRECIST time-point responses, an exploratory read-out beside RECIST 1.1 (R1.50-R1.53).

    The first RECIST 1.1 PD is iUPD. The next assessment >= 4 weeks later (an earlier one is ignored unless done
    for symptoms and showing another new lesion) confirms iCPD when, against the iUPD time point, the SOD rises a
    further >= 5 mm, a non-target that drove iUPD increases further, the new target lesions rise >= 5 mm, a new
    non-target grows, another new lesion appears, or a category that did not drive iUPD now meets RECIST 1.1 PD.
    Increases add up. If the time point no longer meets RECIST 1.1 PD in any category it is iCR/iPR/iSD/non-iCR/
    non-iUPD and the bar resets (R1.53); otherwise iUPD persists (iNE when not evaluable). A confirming scan later
    than 8 weeks is still used and says so. New lesions are never added to the SOD (R1.52).
    """
    series = evaluate_series(lesions, assessments, settings=settings)
    nontarget_codes = frozenset(lesion.code for lesion in lesions if lesion.role is LesionRole.NON_TARGET)
    out: list[IRecistTimePoint] = []
    ref: _IupdRef | None = None
    confirmed_on: date | None = None
    assessed_since_iupd = 0  # the 4-8 week window concerns the first assessment after iUPD only
    for row, assessment in zip(series.timepoints, assessments, strict=True):
        when = row.assessment_date
        if confirmed_on is not None:
            out.append(IRecistTimePoint(when, IResponse.ICPD, _I_CONFIRMED_EARLIER(date=confirmed_on)))
            continue
        if not row.imaging_done:
            out.append(IRecistTimePoint(when, IResponse.INE, _I_NOT_DONE()))
            continue
        if ref is None:
            if row.overall is Response.PD:
                ref = _iupd_ref(row, assessment)
                assessed_since_iupd = 0
                out.append(IRecistTimePoint(when, IResponse.IUPD, _I_IUPD(rule=row.rule)))
            else:
                response = _I_OF[row.overall]
                out.append(
                    IRecistTimePoint(when, response, _I_AS_RECIST(i=response.value, r=row.overall.value))
                )
            continue
        days = (when - ref.when).days
        reasons = _icpd_reasons(ref, row, assessment, nontarget_codes, settings)
        if days < settings.irecist_confirm_min_days:
            another = [code for code in row.new_lesion_codes if code not in ref.new_codes]
            if assessment.for_symptoms and another:
                confirmed_on = when
                text = _I_SYMPTOMS(days=days, codes=_codes(another))
                out.append(IRecistTimePoint(when, IResponse.ICPD, text))
            else:
                text = _I_TOO_EARLY(days=days, ref=ref.when)
                out.append(IRecistTimePoint(when, IResponse.IUPD, text, ignored=True))
            continue
        late = days > settings.irecist_confirm_max_days and assessed_since_iupd == 0
        assessed_since_iupd += 1
        if reasons:
            confirmed_on = when
            why = join("; ", reasons)
            text = (
                _I_ICPD_LATE(reasons=why, ref=ref.when, days=days)
                if late
                else _I_ICPD(reasons=why, ref=ref.when)
            )
            out.append(IRecistTimePoint(when, IResponse.ICPD, text))
        elif row.overall in _RESPONSE_LIKE:
            response = _I_OF[row.overall]
            out.append(IRecistTimePoint(when, response, _I_RESET(i=response.value, ref=ref.when)))
            ref = None
        elif row.overall is Response.NE:
            out.append(IRecistTimePoint(when, IResponse.INE, _I_STILL_UNCONFIRMED(ref=ref.when)))
        else:
            text = _I_NO_FURTHER_LATE(ref=ref.when, days=days) if late else _I_NO_FURTHER(ref=ref.when)
            out.append(IRecistTimePoint(when, IResponse.IUPD, text))
    return tuple(out)


_I_ORDER: Final[Mapping[IResponse, int]] = MappingProxyType(
    {
        IResponse.ICR: 1,
        IResponse.IPR: 2,
        IResponse.ISD: 3,
        IResponse.INN: 4,
        IResponse.ICPD: 5,  # a confirmed iUPD ranks as the progression it is (S3 Table 3, example 6)
        IResponse.IUPD: 6,
        IResponse.INE: 7,
    }
)


def irecist_best_overall_response(
    timepoints: Sequence[IRecistTimePoint],
    *,
    treatment_start: date,
    sd_min_days: int = 42,
    stop_date: date | None = None,
) -> IRecistBestOverallResponse:
    """Return iBOR without confirmation of response (S3 Table 3): best of iCR > iPR > iSD > non-iCR/non-iUPD >
    iCPD > iUPD > iNE, up to the first iCPD, ignoring scans set aside under R1.50; iSD needs ``sd_min_days``.
    """
    floor = treatment_start + timedelta(days=sd_min_days)
    window: list[IRecistTimePoint] = []
    for tp in sorted(timepoints, key=lambda tp: tp.assessment_date):
        if tp.assessment_date <= treatment_start or tp.ignored:
            continue
        if stop_date is not None and tp.assessment_date >= stop_date:
            break
        window.append(tp)
        if tp.response is IResponse.ICPD:
            break
    if not window:
        return IRecistBestOverallResponse(None, None, _NO_POST_BASELINE())

    def effective(tp: IRecistTimePoint) -> IResponse:
        early = tp.response in (IResponse.ISD, IResponse.INN) and tp.assessment_date < floor
        return IResponse.INE if early else tp.response

    best = min(window, key=lambda tp: (_I_ORDER[effective(tp)], tp.assessment_date))
    response = effective(best)
    return IRecistBestOverallResponse(
        response, best.assessment_date, _I_BEST(i=response.value, date=best.assessment_date)
    )
