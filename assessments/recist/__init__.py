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

Layout (one module per section, each pure: standard library and ``ruletext`` only; this package imports them all, so
every rule text id is registered whenever ``assessments.recist`` is imported)
- ``types``: the error, shared rule texts, RECIST constants, settings, coded values, inputs, outputs, formatting.
- ``baseline``: measurability, organ groups, target selection (R1.1-R1.6).
- ``timepoint``: one time point (R1.7-R1.22).
- ``series``: a patient's series.
- ``best_response``: best overall response (R1.23-R1.26).
- ``localcontrol``: local control of irradiated lesions (D5, R2.1-R2.3).
- ``irecist``: iRECIST (R1.50-R1.53).
"""

from __future__ import annotations

from assessments.recist.baseline import assess_measurability, organ_group, validate_target_selection
from assessments.recist.best_response import best_overall_response
from assessments.recist.irecist import irecist_best_overall_response, irecist_series
from assessments.recist.localcontrol import lesion_local_control, local_control
from assessments.recist.series import evaluate_series, evaluate_series_non_irradiated
from assessments.recist.timepoint import (
    lesion_value_mm,
    new_lesion_response,
    nontarget_response,
    overall_response,
    sum_of_diameters,
    target_response,
)
from assessments.recist.types import CONFIRM_MAX_INTERVENING_NE as CONFIRM_MAX_INTERVENING_NE
from assessments.recist.types import (
    DEFAULT_SETTINGS,
    NO_ASSESSMENT_ORDER,
    RESPONSE_ORDER,
    Assessment,
    BestOverallResponse,
    CategoryResult,
    DetectionMethod,
    InterventionKind,
    IRecistBestOverallResponse,
    IRecistTimePoint,
    IResponse,
    Laterality,
    LcCensorReason,
    Lesion,
    LesionIntervention,
    LesionResult,
    LesionRole,
    LfConfirmation,
    LocalControlResult,
    LocalControlStep,
    Measurability,
    MeasurabilityResult,
    Method,
    NewLesion,
    NewLesionResult,
    NonMeasurableType,
    NonTargetState,
    Organ,
    OverallResult,
    PetBaseline,
    RecistError,
    RecistSettings,
    Response,
    ResultStatus,
    SelectionProblem,
    SeriesResult,
    SplitMerge,
    SumOfDiameters,
    TargetResult,
    TimePointResponse,
    TimePointResult,
)
from assessments.recist.types import MAX_SLICE_MM as MAX_SLICE_MM
from assessments.recist.types import MAX_TARGETS as MAX_TARGETS
from assessments.recist.types import MAX_TARGETS_PER_ORGAN as MAX_TARGETS_PER_ORGAN
from assessments.recist.types import MIN_LD_MM as MIN_LD_MM
from assessments.recist.types import NODE_MEASURABLE_SA_MM as NODE_MEASURABLE_SA_MM
from assessments.recist.types import NODE_PATHOLOGICAL_SA_MM as NODE_PATHOLOGICAL_SA_MM
from assessments.recist.types import PR_FACTOR as PR_FACTOR
from assessments.recist.types import XRAY_MIN_LD_MM as XRAY_MIN_LD_MM
from assessments.recist.types import ZERO as ZERO

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
