"""The data generation moves once per committed transaction, however many rows it changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from sabr_trial import generation

pytestmark = pytest.mark.django_db


def test_many_changes_in_one_transaction_bump_once(
    django_capture_on_commit_callbacks: Any, monkeypatch
) -> None:
    bumps: list[int] = []
    monkeypatch.setattr(generation, "bump", lambda: bumps.append(1))
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(50):
            generation.bump_after_commit()
    assert bumps == [1]
    with django_capture_on_commit_callbacks(execute=True):  # the next transaction bumps again
        generation.bump_after_commit()
    assert bumps == [1, 1]


def test_a_rolled_back_savepoint_does_not_swallow_the_bump(
    django_capture_on_commit_callbacks: Any, monkeypatch
) -> None:
    bumps: list[int] = []
    monkeypatch.setattr(generation, "bump", lambda: bumps.append(1))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                generation.bump_after_commit()
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        generation.bump_after_commit()  # a change that stays
    assert bumps == [1]


def test_a_transaction_that_rolls_back_does_not_bump(
    django_capture_on_commit_callbacks: Any, monkeypatch
) -> None:
    bumps: list[int] = []
    monkeypatch.setattr(generation, "bump", lambda: bumps.append(1))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                generation.bump_after_commit()
                raise RuntimeError("refused")
        except RuntimeError:
            pass
    assert bumps == []
