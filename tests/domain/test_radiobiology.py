"""BED/EQD2 (DOMAIN.md R3.1-R3.3): every row of the R3.3 table to 0.1 Gy, plus the input checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from treatment.radiobiology import (
    ALPHA_BETA_LATE_GY,
    ALPHA_BETA_TUMOUR_GY,
    BedResult,
    RadiobiologyError,
    bed,
    bed_delivered,
    bed_from_prescription,
    dose_per_fraction,
    round_gy,
    standard_bed,
)

D = Decimal

# R3.3: schedule (total Gy, fractions) -> BED10, EQD2 (a/b 10), BED3, EQD2 (a/b 3).
R3_3 = [
    ("20 Gy/1", D("20"), 1, D("60.0"), D("50.0"), D("153.3"), D("92.0")),
    ("24 Gy/1", D("24"), 1, D("81.6"), D("68.0"), D("216.0"), D("129.6")),
    ("30 Gy/3", D("30"), 3, D("60.0"), D("50.0"), D("130.0"), D("78.0")),
    ("45 Gy/3", D("45"), 3, D("112.5"), D("93.8"), D("270.0"), D("162.0")),
    ("35 Gy/5", D("35"), 5, D("59.5"), D("49.6"), D("116.7"), D("70.0")),
    ("40 Gy/5", D("40"), 5, D("72.0"), D("60.0"), D("146.7"), D("88.0")),
    ("50 Gy/5", D("50"), 5, D("100.0"), D("83.3"), D("216.7"), D("130.0")),
    ("30 Gy/10", D("30"), 10, D("39.0"), D("32.5"), D("60.0"), D("36.0")),
]

R3_3_VALUES = [
    pytest.param(total, n, attr, expected, id=f"{label}-{attr}")
    for label, total, n, bed10, eqd2_10, bed3, eqd2_3 in R3_3
    for attr, expected in (
        ("bed10_gy", bed10),
        ("eqd2_10_gy", eqd2_10),
        ("bed3_gy", bed3),
        ("eqd2_3_gy", eqd2_3),
    )
]


@pytest.mark.parametrize(("total", "n", "attr", "expected"), R3_3_VALUES)
def test_r3_3_table_to_0_1_gy(total: Decimal, n: int, attr: str, expected: Decimal) -> None:
    assert round_gy(getattr(standard_bed(total_dose_gy=total, n_fractions=n), attr)) == expected


@pytest.mark.parametrize(
    ("attr", "expected"),
    [("tumour", ALPHA_BETA_TUMOUR_GY), ("late", ALPHA_BETA_LATE_GY)],
)
def test_standard_pair_carries_its_alpha_beta(attr: str, expected: Decimal) -> None:
    # R3.2: always label the alpha/beta.
    result: BedResult = getattr(standard_bed(total_dose_gy=D("50"), n_fractions=5), attr)
    assert result.alpha_beta_gy == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n_fractions": 5, "dose_per_fraction_gy": D("10"), "alpha_beta_gy": D("10")}, D("100")),
        ({"n_fractions": 1, "dose_per_fraction_gy": D("20"), "alpha_beta_gy": D("2.6")}, D("173.8")),
        ({"n_fractions": 3, "dose_per_fraction_gy": D("12"), "alpha_beta_gy": D("10")}, D("79.2")),
    ],
    ids=["50Gy/5-ab10", "20Gy/1-ab2.6", "36Gy/3-ab10"],
)
def test_bed_any_alpha_beta(kwargs: dict[str, object], expected: Decimal) -> None:
    assert round_gy(bed(**kwargs).bed_gy) == expected  # type: ignore[arg-type]


def test_result_is_frozen() -> None:
    result = bed(n_fractions=1, dose_per_fraction_gy=D("20"), alpha_beta_gy=D("10"))
    with pytest.raises(AttributeError):
        result.bed_gy = D("0")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("total", "n", "expected"),
    [(D("50"), 5, D("10")), (D("30"), 10, D("3")), (D("20"), 3, D("20") / 3)],
)
def test_dose_per_fraction(total: Decimal, n: int, expected: Decimal) -> None:
    assert dose_per_fraction(total, n) == expected


@pytest.mark.parametrize(
    ("doses", "alpha_beta", "expected"),
    [
        # All fractions delivered as planned = the prescription BED (R3.3 rows).
        ([D("10")] * 5, D("10"), D("100.0")),
        ([D("10")] * 5, D("3"), D("216.7")),
        ([D("8")] * 5, D("10"), D("72.0")),
        # 4 of 5 fractions of 10 Gy delivered: 4 * 10 * 2 = 80.
        ([D("10")] * 4, D("10"), D("80.0")),
        # Unequal fractions: 10*(1+1) + 8*(1+0.8) = 34.4.
        ([D("10"), D("8")], D("10"), D("34.4")),
        ([D("20")], D("3"), D("153.3")),
    ],
    ids=["50/5-ab10", "50/5-ab3", "40/5-ab10", "4-of-5", "unequal", "20/1-ab3"],
)
def test_bed_delivered(doses: list[Decimal], alpha_beta: Decimal, expected: Decimal) -> None:
    assert round_gy(bed_delivered(doses, alpha_beta_gy=alpha_beta).bed_gy) == expected


def test_bed_delivered_eqd2() -> None:
    assert round_gy(bed_delivered([D("10")] * 5).eqd2_gy) == D("83.3")


def test_bed_delivered_default_alpha_beta_is_tumour() -> None:
    assert bed_delivered([D("10")]).alpha_beta_gy == D("10")


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [(D("93.75"), 1, D("93.8")), (D("153.3333"), 1, D("153.3")), (D("49.58333"), 2, D("49.58"))],
)
def test_round_gy(value: Decimal, places: int, expected: Decimal) -> None:
    assert round_gy(value, places) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total_dose_gy": D("20"), "n_fractions": 0, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("20"), "n_fractions": 16, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("20"), "n_fractions": -1, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("20"), "n_fractions": True, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("20"), "n_fractions": 2.0, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("0"), "n_fractions": 1, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("-5"), "n_fractions": 1, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("NaN"), "n_fractions": 1, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("Infinity"), "n_fractions": 1, "alpha_beta_gy": D("10")},
        {"total_dose_gy": 20.0, "n_fractions": 1, "alpha_beta_gy": D("10")},
        {"total_dose_gy": D("20"), "n_fractions": 1, "alpha_beta_gy": D("0")},
        {"total_dose_gy": D("20"), "n_fractions": 1, "alpha_beta_gy": D("-3")},
        {"total_dose_gy": D("20"), "n_fractions": 1, "alpha_beta_gy": 10},
    ],
    ids=[
        "n=0",
        "n=16",
        "n<0",
        "n-bool",
        "n-float",
        "dose=0",
        "dose<0",
        "dose-nan",
        "dose-inf",
        "dose-float",
        "ab=0",
        "ab<0",
        "ab-int",
    ],
)
def test_prescription_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(RadiobiologyError):
        bed_from_prescription(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("doses", "alpha_beta"),
    [
        ([], D("10")),
        ([D("2")] * 16, D("10")),
        ([D("10"), D("0")], D("10")),
        ([D("10"), D("-1")], D("10")),
        ([D("10")], D("0")),
        ("10", D("10")),
    ],
    ids=["none-delivered", "16-fractions", "zero-dose", "negative-dose", "ab=0", "string"],
)
def test_bed_delivered_errors(doses: list[Decimal], alpha_beta: Decimal) -> None:
    with pytest.raises(RadiobiologyError):
        bed_delivered(doses, alpha_beta_gy=alpha_beta)


def test_error_is_a_value_error() -> None:
    assert issubclass(RadiobiologyError, ValueError)


def test_error_message_cites_rule() -> None:
    with pytest.raises(RadiobiologyError, match=r"1-15, got 20 \(EC-ST-1\)"):
        standard_bed(total_dose_gy=D("40"), n_fractions=20)
