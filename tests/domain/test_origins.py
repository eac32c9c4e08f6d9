"""D1 origins (treatment/origins.py): SABR start and treatment start over plain records, no database."""

from __future__ import annotations

import datetime

import pytest

from treatment.origins import AxitinibPeriod, Fraction, Infusion, Origin, sabr_start, treatment_start

D0 = datetime.date(2025, 3, 1)


def day(n: int) -> datetime.date:
    return D0 + datetime.timedelta(days=n)


def fx(n: int, *, delivered: bool = True, protocol: bool = True, course: int = 1, ref: str = "") -> Fraction:
    return Fraction(
        date=day(n), delivered=delivered, protocol=protocol, course_number=course, ref=ref or f"fx{n}"
    )


@pytest.mark.parametrize(
    ("fractions", "expected"),
    [
        ([], None),
        ([fx(3), fx(1), fx(2)], Origin(day(1), "fx1")),  # D1: the first fraction of the course
        ([fx(1, delivered=False), fx(2)], Origin(day(2), "fx2")),  # not delivered: not a fraction given
        ([fx(1, protocol=False), fx(5)], Origin(day(5), "fx5")),  # a non-protocol course never starts SABR
        ([fx(1, course=2), fx(4, course=1)], Origin(day(4), "fx4")),  # first protocol course, not first date
        ([fx(2, course=1, delivered=False), fx(6, course=2)], Origin(day(6), "fx6")),  # course 1 gave nothing
        ([fx(1, ref="a"), fx(1, ref="b")], Origin(day(1), "a")),  # a tie keeps the first row given
        ([Fraction(None, True, True, 1, "undated")], None),
    ],
)
def test_sabr_start_d1(fractions, expected):
    assert sabr_start(fractions) == expected


@pytest.mark.parametrize(
    ("fractions", "periods", "infusions", "expected"),
    [
        ([], [], [], None),
        ([fx(10)], [AxitinibPeriod(day(3), "5 MG BID", "axi")], [], Origin(day(3), "axi")),
        (
            [],
            [AxitinibPeriod(day(3), "INTERRUPTED", "i"), AxitinibPeriod(day(8), "3 MG BID", "d")],
            [],
            Origin(day(8), "d"),
        ),  # R4.2: an interruption is no dose
        ([], [AxitinibPeriod(day(3), "PERMANENTLY DISCONTINUED", "p")], [], None),
        ([], [], [Infusion(day(2), "GIVEN", "t")], Origin(day(2), "t")),  # toripalimab alone starts treatment
        ([], [], [Infusion(day(1), "OMITTED", "o"), Infusion(day(4), "DELAYED", "l")], None),
        ([], [], [Infusion(None, "GIVEN", "u")], None),
        (
            [fx(5)],
            [AxitinibPeriod(day(5), "5 MG BID", "axi")],
            [Infusion(day(5), "GIVEN", "t")],
            Origin(day(5), "fx5"),
        ),  # a tie: SABR, then axitinib, then toripalimab
        ([fx(9, protocol=False)], [], [Infusion(day(12), "GIVEN", "t")], Origin(day(12), "t")),
    ],
)
def test_treatment_start_d1(fractions, periods, infusions, expected):
    assert treatment_start(fractions=fractions, periods=periods, infusions=infusions) == expected
