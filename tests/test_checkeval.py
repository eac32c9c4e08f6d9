"""The check constraints evaluated in Python (``sabr_trial.checkeval``) give the database's answer.

Every check constraint of every model is evaluated on a grid of values (NULL, the condition's own literals and
their neighbours, each choice, empty and non-empty text) both ways: in Python and by PostgreSQL through Django's
``Q.check`` (what ``CheckConstraint.validate`` asks). They must agree on every row.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, Value

from sabr_trial import checkeval
from sabr_trial.crf import validate_constraints_in_python

D = datetime.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        (Q(a__gte=1) & Q(a__lte=5), {"a": 3}, True),
        (Q(a__gte=1) & Q(a__lte=5), {"a": 6}, False),
        (Q(a__gte=1) & Q(a__lte=5), {"a": None}, None),  # NULL: unknown, so the row passes
        (Q(a__isnull=True) | Q(a__gte=F("b")), {"a": D, "b": D}, True),
        (Q(a__isnull=True) | Q(a__gte=F("b")), {"a": D, "b": D + datetime.timedelta(days=1)}, False),
        (Q(a__isnull=True) | Q(a__gte=F("b")), {"a": D, "b": None}, None),
        (~Q(a="Y") | Q(b__isnull=False), {"a": "Y", "b": None}, False),
        (~Q(a="Y") | Q(b__isnull=False), {"a": None, "b": None}, None),  # NOT unknown is unknown
        (~Q(a__in=["X", "Y"]), {"a": "Y"}, False),
        (Q(a__in=["X", None]), {"a": "Z"}, None),  # x IN (.., NULL) with no match: unknown
        (Q(a=None), {"a": None}, True),  # field=None means IS NULL
        (Q(a=Decimal("80")) | Q(a__lte=80), {"a": Decimal("80.5")}, False),
    ],
)
def test_three_valued_logic(condition: Q, values: dict[str, Any], expected: bool | None) -> None:
    assert checkeval.evaluate(condition, values.__getitem__) is expected
    assert checkeval.holds(condition, values.__getitem__) is (expected is not False)


@pytest.mark.parametrize(
    "condition",
    [Q(a__gt="B"), Q(a__icontains="x"), Q(a__b__gt=1), Q(a__gt=F("b") + 1), Q(a__year=2026)],
)
def test_what_is_not_evaluated_is_left_to_the_database(condition: Q) -> None:
    values = {"a": "C", "b": 1}
    with pytest.raises(checkeval.Unsupported):
        checkeval.evaluate(condition, values.__getitem__)


def _literals(condition: Q) -> dict[str, list[Any]]:
    """The literal values each field is compared with in ``condition``."""
    found: dict[str, list[Any]] = {}
    for child in condition.children:
        if isinstance(child, Q):
            for name, vals in _literals(child).items():
                found.setdefault(name, []).extend(vals)
        else:
            name = child[0].split("__")[0]
            right = child[1]
            if isinstance(right, list | tuple):
                found.setdefault(name, []).extend(right)
            elif not isinstance(right, F | bool) and right is not None:
                found.setdefault(name, []).append(right)
    return found


def _fields(condition: Q) -> set[str]:
    names: set[str] = set()
    for child in condition.children:
        if isinstance(child, Q):
            names |= _fields(child)
        else:
            names.add(child[0].split("__")[0])
            if isinstance(child[1], F):
                names.add(child[1].name)
    return names


def _candidates(field: models.Field[Any, Any], literals: list[Any]) -> list[Any]:
    values: list[Any] = [None] if field.null else []
    if field.choices:
        values += [v for v, _label in field.choices]
    if isinstance(field, models.DateField):
        values += [D, D + datetime.timedelta(days=1), D - datetime.timedelta(days=1)]
    elif isinstance(field, models.DecimalField | models.IntegerField | models.FloatField):
        for lit in literals or [0]:
            values += (
                [lit - 1, lit, lit + 1]
                if not isinstance(lit, Decimal)
                else [lit - Decimal("0.5"), lit, lit + Decimal("0.5")]
            )
    elif isinstance(field, models.CharField | models.TextField):
        values += ["", "some text", *[v for v in literals if isinstance(v, str)]]
    elif isinstance(field, models.ForeignKey):
        values += [1]
    return list(dict.fromkeys(values))


def _constraints() -> list[tuple[type[models.Model], models.CheckConstraint]]:
    return [
        (model, c)
        for model in apps.get_models()
        for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint)
    ]


@pytest.mark.django_db
def test_every_check_constraint_gives_the_database_answer() -> None:
    checked = 0
    constraints = _constraints()
    assert len(constraints) >= 20
    for model, constraint in constraints:
        condition = Q(constraint.condition)
        names = sorted(_fields(condition))
        fields = [model._meta.get_field(n) for n in names]
        literals = _literals(condition)
        grids = [_candidates(f, literals.get(f.name, [])) for f in fields]
        for combo in itertools.islice(itertools.product(*grids), 400):
            values = dict(zip(names, combo, strict=True))
            against = {n: Value(v, output_field=f) for n, v, f in zip(names, combo, fields, strict=True)}
            in_db = condition.check(against)
            in_python = checkeval.holds(condition, values.__getitem__)
            assert in_python == in_db, f"{model.__name__}.{constraint.name} on {values}"
            checked += 1
    assert checked > 400


@pytest.mark.django_db
def test_a_crf_row_breaking_a_check_is_refused_with_the_constraint_message_and_no_query(
    django_assert_num_queries: Any,
) -> None:
    from adverse_events.models import AdverseEvent

    ae = AdverseEvent(grade=7, ongoing="Y", serious="N", acn_sabr="DOSE REDUCED", acn_toripalimab="")
    with django_assert_num_queries(0), pytest.raises(ValidationError) as refused:
        validate_constraints_in_python(ae, exclude={"patient", "ctcae_term", "parent_episode"})
    messages = " ".join(refused.value.messages)
    assert "ae_grade_1_to_5" in messages or "grade" in messages.lower()
    codes = {e.code for errors in refused.value.error_dict.values() for e in errors}
    assert len(refused.value.messages) >= 2, messages
    assert codes
