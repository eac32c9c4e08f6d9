"""Shared by every part of the RECIST package: the error, shared rule texts, RECIST constants, trial settings,
coded values, inputs, outputs and number formatting. Pure (standard library and ``ruletext``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from ruletext import define, gettext_noop


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
    evaluated: bool = (
        False  # D12: this scan evaluated the lesion (a diameter recorded or the in-field flag set)
    )


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
