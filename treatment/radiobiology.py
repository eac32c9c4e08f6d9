"""Linear-quadratic dose conversion for SABR reporting (DOMAIN.md section 3).

Pure module: standard library only. Doses are ``Decimal`` Gy in and out, never rounded here; round for display
with :func:`round_gy`. Every result carries the alpha/beta it was computed with (R3.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

__all__ = [
    "ALPHA_BETA_LATE_GY",
    "ALPHA_BETA_TUMOUR_GY",
    "MAX_FRACTIONS",
    "MIN_FRACTIONS",
    "BedResult",
    "RadiobiologyError",
    "StandardBed",
    "bed",
    "bed_delivered",
    "bed_from_prescription",
    "dose_per_fraction",
    "round_gy",
    "standard_bed",
]

# R3.2: BED10 (tumour) is the headline value; BED3 (late-responding tissue) is stored beside it.
ALPHA_BETA_TUMOUR_GY = Decimal("10")
ALPHA_BETA_LATE_GY = Decimal("3")

# CRF-SPEC EC-ST-1: a SABR target has 1-15 fractions.
MIN_FRACTIONS = 1
MAX_FRACTIONS = 15

# Enough digits that d = D/n (e.g. 50/3) never limits the 0.1 Gy reproduction of R3.3.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)
_TWO_GY = Decimal("2")


class RadiobiologyError(ValueError):
    """An input to a BED/EQD2 calculation is out of range."""


@dataclass(frozen=True)
class BedResult:
    """BED and EQD2 for one alpha/beta (R3.1); the alpha/beta always travels with the values (R3.2)."""

    alpha_beta_gy: Decimal
    bed_gy: Decimal
    eqd2_gy: Decimal


@dataclass(frozen=True)
class StandardBed:
    """The standard pair of R3.2: tumour (alpha/beta 10, headline) and late tissue (alpha/beta 3)."""

    tumour: BedResult
    late: BedResult

    @property
    def bed10_gy(self) -> Decimal:
        return self.tumour.bed_gy

    @property
    def eqd2_10_gy(self) -> Decimal:
        return self.tumour.eqd2_gy

    @property
    def bed3_gy(self) -> Decimal:
        return self.late.bed_gy

    @property
    def eqd2_3_gy(self) -> Decimal:
        return self.late.eqd2_gy


def _require_positive_dose(value: Decimal, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise RadiobiologyError(f"{name} must be a Decimal in Gy, got {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise RadiobiologyError(f"{name} must be > 0 Gy, got {value}")


def _require_fractions(n_fractions: int) -> None:
    # EC-ST-1: 1-15 fractions.
    if isinstance(n_fractions, bool) or not isinstance(n_fractions, int):
        raise RadiobiologyError(f"number of fractions must be an int, got {type(n_fractions).__name__}")
    if not MIN_FRACTIONS <= n_fractions <= MAX_FRACTIONS:
        raise RadiobiologyError(
            f"number of fractions must be {MIN_FRACTIONS}-{MAX_FRACTIONS}, got {n_fractions} (EC-ST-1)"
        )


def _eqd2(bed_gy: Decimal, alpha_beta_gy: Decimal) -> Decimal:
    # R3.1: EQD2 = BED / (1 + 2/(alpha/beta)).
    with localcontext(_CONTEXT):
        return bed_gy / (1 + _TWO_GY / alpha_beta_gy)


def dose_per_fraction(total_dose_gy: Decimal, n_fractions: int) -> Decimal:
    """Return d = D/n from the prescription (R3.1)."""
    _require_positive_dose(total_dose_gy, "total dose")
    _require_fractions(n_fractions)
    with localcontext(_CONTEXT):
        return total_dose_gy / n_fractions


def bed(*, n_fractions: int, dose_per_fraction_gy: Decimal, alpha_beta_gy: Decimal) -> BedResult:
    """Return BED = n*d*(1 + d/(alpha/beta)) and its EQD2 (R3.1)."""
    _require_fractions(n_fractions)
    _require_positive_dose(dose_per_fraction_gy, "dose per fraction")
    _require_positive_dose(alpha_beta_gy, "alpha/beta")
    with localcontext(_CONTEXT):
        bed_gy = n_fractions * dose_per_fraction_gy * (1 + dose_per_fraction_gy / alpha_beta_gy)
    return BedResult(alpha_beta_gy=alpha_beta_gy, bed_gy=bed_gy, eqd2_gy=_eqd2(bed_gy, alpha_beta_gy))


def bed_from_prescription(*, total_dose_gy: Decimal, n_fractions: int, alpha_beta_gy: Decimal) -> BedResult:
    """Return BED/EQD2 for a prescription of D Gy in n fractions, with d = D/n (R3.1)."""
    d = dose_per_fraction(total_dose_gy, n_fractions)
    return bed(n_fractions=n_fractions, dose_per_fraction_gy=d, alpha_beta_gy=alpha_beta_gy)


def standard_bed(*, total_dose_gy: Decimal, n_fractions: int) -> StandardBed:
    """Return the R3.2 pair: BED10/EQD2_10 (headline) and BED3/EQD2_3."""
    return StandardBed(
        tumour=bed_from_prescription(
            total_dose_gy=total_dose_gy, n_fractions=n_fractions, alpha_beta_gy=ALPHA_BETA_TUMOUR_GY
        ),
        late=bed_from_prescription(
            total_dose_gy=total_dose_gy, n_fractions=n_fractions, alpha_beta_gy=ALPHA_BETA_LATE_GY
        ),
    )


def bed_delivered(
    fraction_doses_gy: Sequence[Decimal], *, alpha_beta_gy: Decimal = ALPHA_BETA_TUMOUR_GY
) -> BedResult:
    """Return BED as delivered: the sum over delivered fractions of d_i*(1 + d_i/(alpha/beta)) (R3.1).

    Fractions that were not delivered are simply left out of ``fraction_doses_gy``; at least one is needed and
    never more than the 15 a target may have (EC-ST-1, EC-FX-1).
    """
    if isinstance(fraction_doses_gy, str | bytes) or not isinstance(fraction_doses_gy, Sequence):
        raise RadiobiologyError("delivered fraction doses must be a sequence of Decimals")
    _require_fractions(len(fraction_doses_gy))
    _require_positive_dose(alpha_beta_gy, "alpha/beta")
    for index, dose in enumerate(fraction_doses_gy, start=1):
        _require_positive_dose(dose, f"delivered dose of fraction {index}")
    with localcontext(_CONTEXT):
        bed_gy = sum((d * (1 + d / alpha_beta_gy) for d in fraction_doses_gy), Decimal(0))
    return BedResult(alpha_beta_gy=alpha_beta_gy, bed_gy=bed_gy, eqd2_gy=_eqd2(bed_gy, alpha_beta_gy))


def round_gy(value: Decimal, places: int = 1) -> Decimal:
    """Round a dose for display only (EC-ST-2); stored values stay unrounded."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
