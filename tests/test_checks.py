"""The CRF field-name check refuses fields that would shadow the lifecycle machinery."""

from __future__ import annotations

import pytest
from django.db import models

from sabr_trial.checks import crf_field_names, shadowing


def named(field, name):
    field.set_attributes_from_name(name)
    return field


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param(
            named(models.CharField(max_length=20, choices=[("GIVEN", "Given")]), "status"),
            ["status"],
            id="status",
        ),
        pytest.param(
            named(models.CharField(max_length=30), "change_reason"), ["change_reason"], id="change_reason"
        ),
        pytest.param(named(models.IntegerField(), "version"), ["version"], id="version"),
        pytest.param(named(models.CharField(max_length=20), "infusion_status"), [], id="infusion_status-ok"),
    ],
)
def test_shadowing_fields_are_named(field, expected):
    assert shadowing([field]) == expected


def test_every_registered_crf_passes():
    assert crf_field_names() == []
