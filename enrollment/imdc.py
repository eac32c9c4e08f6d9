"""IMDC (Heng) prognostic risk and the ECOG/Karnofsky consistency check (CRF-SPEC form 5).

Pure module: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

__all__ = [
    "DEFAULT_ECOG_KPS_BANDS",
    "DEFAULT_ECOG_KPS_TOLERANCE",
    "DX_TO_SYSTEMIC_DAYS",
    "KPS_THRESHOLD",
    "ImdcError",
    "ImdcFactor",
    "ImdcGroup",
    "ImdcInputs",
    "ImdcResult",
    "ecog_kps_message",
    "imdc_group",
    "imdc_risk",
    "kps_range_for_ecog",
]

# CRF-SPEC "Derived values" (IMDC group): KPS < 80 and diagnosis -> first systemic dose < 365 days.
KPS_THRESHOLD = 80
DX_TO_SYSTEMIC_DAYS = 365

ECOG_VALUES = (0, 1, 2, 3, 4)
KPS_VALUES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)

# EC-BL-1: the ECOG -> KPS bands are a setting; these are the defaults, with a tolerance of +/- 10.
DEFAULT_ECOG_KPS_BANDS: Mapping[int, tuple[int, int]] = {
    0: (90, 100),
    1: (70, 80),
    2: (50, 60),
    3: (30, 40),
    4: (10, 20),
}
DEFAULT_ECOG_KPS_TOLERANCE = 10


class ImdcError(ValueError):
    """An input to the IMDC score or the ECOG/KPS check is invalid."""


class ImdcGroup(StrEnum):
    """IMDC risk group (CRF-SPEC form 5, imdc_group)."""

    FAVOURABLE = "FAVOURABLE"
    INTERMEDIATE = "INTERMEDIATE"
    POOR = "POOR"


class ImdcFactor(StrEnum):
    """The six IMDC adverse factors, coded as the form 5 fields that record them."""

    KPS_BELOW_80 = "kps_below_80"
    DX_TO_SYSTEMIC_LT_1Y = "dx_to_systemic_lt_1y"
    HGB_BELOW_LLN = "hgb_below_lln"
    CALCIUM_ABOVE_ULN = "calcium_above_uln"
    NEUTROPHILS_ABOVE_ULN = "neutrophils_above_uln"
    PLATELETS_ABOVE_ULN = "platelets_above_uln"


@dataclass(frozen=True)
class ImdcInputs:
    """The baseline answers the IMDC score needs (CRF-SPEC form 5).

    ``first_systemic_dose_date`` is the first axitinib or toripalimab dose; None until it is given (EC-BL-4).
    ``assessment_date`` stands in for it meanwhile, so the group is shown provisionally.
    None for ``kps`` or a laboratory flag: not known (a missing-data code, issue 19 item 9); the factor is left out.
    """

    kps: int | None
    diagnosis_date: date
    assessment_date: date
    first_systemic_dose_date: date | None
    hgb_below_lln: bool | None
    calcium_above_uln: bool | None
    neutrophils_above_uln: bool | None
    platelets_above_uln: bool | None


@dataclass(frozen=True)
class ImdcResult:
    """IMDC score, group and the factors present; ``provisional`` until the first systemic dose (EC-BL-4).

    With factors not known (``unknown``) the score is None, and so is the group unless the known factors decide it
    whatever the unknown ones are (3 factors present: poor).
    """

    score: int | None
    group: ImdcGroup | None
    factors: tuple[ImdcFactor, ...]
    kps_below_80: bool | None
    dx_to_systemic_lt_1y: bool
    dx_to_systemic_days: int
    provisional: bool
    unknown: tuple[ImdcFactor, ...] = ()


def _require_int(value: int, name: str, allowed: tuple[int, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ImdcError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def imdc_group(score: int) -> ImdcGroup:
    """Return the group for a score: 0 favourable, 1-2 intermediate, 3-6 poor (Heng; form 5 imdc_group)."""
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= len(ImdcFactor):
        raise ImdcError(f"IMDC score must be 0-{len(ImdcFactor)}, got {score!r}")
    if score == 0:
        return ImdcGroup.FAVOURABLE
    if score <= 2:
        return ImdcGroup.INTERMEDIATE
    return ImdcGroup.POOR


def imdc_risk(inputs: ImdcInputs) -> ImdcResult:
    """Return the IMDC score and group from the six factors (CRF-SPEC form 5, "Derived values")."""
    if inputs.kps is not None:
        _require_int(inputs.kps, "Karnofsky performance status (kps)", KPS_VALUES)
    # EC-BL-4: until the first axitinib/toripalimab dose fixes the interval, measure it to the assessment.
    provisional = inputs.first_systemic_dose_date is None
    end = (
        inputs.assessment_date if inputs.first_systemic_dose_date is None else inputs.first_systemic_dose_date
    )
    days = (end - inputs.diagnosis_date).days
    if days < 0:
        label = "assessment date" if provisional else "first systemic dose"
        raise ImdcError(f"diagnosis_date {inputs.diagnosis_date} is after the {label} {end}")
    present: dict[ImdcFactor, bool | None] = {
        ImdcFactor.KPS_BELOW_80: None if inputs.kps is None else inputs.kps < KPS_THRESHOLD,
        ImdcFactor.DX_TO_SYSTEMIC_LT_1Y: days < DX_TO_SYSTEMIC_DAYS,
        ImdcFactor.HGB_BELOW_LLN: inputs.hgb_below_lln,
        ImdcFactor.CALCIUM_ABOVE_ULN: inputs.calcium_above_uln,
        ImdcFactor.NEUTROPHILS_ABOVE_ULN: inputs.neutrophils_above_uln,
        ImdcFactor.PLATELETS_ABOVE_ULN: inputs.platelets_above_uln,
    }
    factors = tuple(factor for factor in ImdcFactor if present[factor])
    unknown = tuple(factor for factor in ImdcFactor if present[factor] is None)
    low, high = imdc_group(len(factors)), imdc_group(len(factors) + len(unknown))
    return ImdcResult(
        score=None if unknown else len(factors),
        group=low if low is high else None,
        factors=factors,
        kps_below_80=present[ImdcFactor.KPS_BELOW_80],
        dx_to_systemic_lt_1y=days < DX_TO_SYSTEMIC_DAYS,
        dx_to_systemic_days=days,
        provisional=provisional,
        unknown=unknown,
    )


def kps_range_for_ecog(
    ecog: int,
    *,
    bands: Mapping[int, tuple[int, int]] = DEFAULT_ECOG_KPS_BANDS,
    tolerance: int = DEFAULT_ECOG_KPS_TOLERANCE,
) -> tuple[int, int]:
    """Return the inclusive KPS range for ``ecog``: its band widened by ``tolerance`` (EC-BL-1)."""
    _require_int(ecog, "ECOG performance status (ecog)", ECOG_VALUES)
    if ecog not in bands:
        raise ImdcError(f"no KPS band is set for ECOG {ecog}")
    low, high = bands[ecog]
    return low - tolerance, high + tolerance


def ecog_kps_message(
    ecog: int,
    kps: int,
    *,
    bands: Mapping[int, tuple[int, int]] = DEFAULT_ECOG_KPS_BANDS,
    tolerance: int = DEFAULT_ECOG_KPS_TOLERANCE,
) -> str | None:
    """Return the EC-BL-1 refusal naming both fields, or None if KPS is in the ECOG band +/- tolerance."""
    _require_int(kps, "Karnofsky performance status (kps)", KPS_VALUES)
    low, high = kps_range_for_ecog(ecog, bands=bands, tolerance=tolerance)
    if low <= kps <= high:
        return None
    band_low, band_high = bands[ecog]
    return (
        f"Karnofsky performance status (kps) {kps} does not match ECOG performance status (ecog) {ecog}: "
        f"ECOG {ecog} allows KPS {max(low, KPS_VALUES[0])}-{min(high, KPS_VALUES[-1])} "
        f"(band {band_low}-{band_high} +/- {tolerance}) (EC-BL-1)"
    )
