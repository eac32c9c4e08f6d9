"""The casebook's sections follow the patient's course (issue 19): tumour assessments and the lesion registry
come after baseline, never under "End of study"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import RegisteredPatientFactory

pytestmark = pytest.mark.django_db


def test_casebook_sections_are_in_the_order_of_the_trial(as_coordinator):
    patient = RegisteredPatientFactory()
    page = as_coordinator.get(reverse("casebook", args=[patient.pk])).text
    sections = re.findall(r'<section class="crf-section">\s*<h2>([^<]+)</h2>', page)
    assert sections == [
        "Enrollment",
        "Baseline",
        "Tumour assessments",
        "Treatment",
        "Adverse events",
        "End of study and survival",
    ]
