"""D10: small nodes. R1.12 is tested before R1.14, so nodes that grow but stay < 10 mm short axis keep CR.

DOMAIN.md D10: "When every non-nodal target is 0 mm and every nodal target is < 10 mm short axis, the target response
is CR, even if the sum rose >= 20 % and >= 5 mm over the nadir ... A node that grows back to >= 10 mm leaves CR, and
PD is then decided by R1.14 as usual."
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.recist import Lesion, LesionResult, Response, evaluate_series, target_response
from tests.domain.test_recist_builders import gone, measured, node, target, tp

# One time point: (targets, results, baseline SOD, nadir SOD, expected target response)
ONE_TIME_POINT = [
    pytest.param(
        [target("L1", 30), node("N1", 15)],
        [gone("L1"), measured("N1", 9)],
        45,
        3,
        Response.CR,
        id="D10-node-3-to-9-non-nodal-0-stays-CR",
    ),
    pytest.param(
        [node("N1", 20), node("N2", 20)],
        [measured("N1", 9), measured("N2", 9)],
        40,
        10,
        Response.CR,
        id="D10-two-nodes-sum-10-to-18-all-below-10-CR",
    ),
    pytest.param(
        [target("L1", 30), node("N1", 15)],
        [gone("L1"), measured("N1", "9.9")],
        45,
        0,
        Response.CR,
        id="D10-node-0-to-9.9-CR",
    ),
    pytest.param(
        [target("L1", 30), node("N1", 15)],
        [gone("L1"), measured("N1", 10)],
        45,
        3,
        Response.PD,
        id="D10-node-back-at-10-leaves-CR-PD-by-R1.14",
    ),
    pytest.param(
        [target("L1", 30), node("N1", 15)],
        [gone("L1"), measured("N1", 10)],
        45,
        8,
        Response.PR,
        id="D10-node-8-to-10-leaves-CR-not-PD-by-R1.14-PR",
    ),
    pytest.param(
        [target("L1", 30), node("N1", 15)],
        [measured("L1", 5), measured("N1", 9)],
        45,
        3,
        Response.PD,
        id="D10-non-nodal-not-0-R1.14-decides-PD",
    ),
]


@pytest.mark.parametrize(("targets", "results", "baseline", "nadir", "expected"), ONE_TIME_POINT)
def test_d10_target_response(
    targets: list[Lesion], results: list[LesionResult], baseline: int, nadir: int, expected: Response
) -> None:
    by_code = {r.lesion_code: r for r in results}
    got = target_response(targets, by_code, baseline_sum_mm=Decimal(baseline), nadir_mm=Decimal(nadir))
    assert got.response is expected


def test_d10_rule_text_names_d10_and_the_growth() -> None:
    got = target_response(
        [target("L1", 30), node("N1", 15)],
        {"L1": gone("L1"), "N1": measured("N1", 9)},
        baseline_sum_mm=Decimal(45),
        nadir_mm=Decimal(3),
    )
    assert got.rule == (
        "CR: non-nodal targets 0 mm and nodal targets < 10 mm short axis (SOD 9.0 mm); "
        "not PD although 9.0 mm >= 1.20 x nadir 3.0 mm and +6.0 mm >= 5 mm (D10) (R1.12)"
    )


LESIONS = [target("L1", 30), node("N1", 15)]
# Series (days from start, N1 short axis) with L1 disappeared at every follow-up -> target responses.
SERIES = [
    pytest.param([(56, 3), (112, 9)], [Response.CR, Response.CR], id="D10-series-3-then-9-stays-CR"),
    pytest.param(
        [(56, 3), (112, 9), (168, 10)],
        [Response.CR, Response.CR, Response.PD],
        id="D10-series-back-at-10-leaves-CR-PD",
    ),
    pytest.param(
        [(56, 8), (70, 10)], [Response.CR, Response.PR], id="D10-series-8-then-10-unconfirmed-CR-leaves-to-PR"
    ),
]


@pytest.mark.parametrize(("course", "expected"), SERIES)
def test_d10_series(course: list[tuple[int, int]], expected: list[Response]) -> None:
    series = evaluate_series(LESIONS, [tp(n, gone("L1"), measured("N1", value)) for n, value in course])
    assert [t.target for t in series.timepoints] == expected
