"""Demo patients for the enrollment forms (run by ``manage.py setup_demo``; idempotent)."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from enrollment.models import Patient
from enrollment.services import patient_register, patient_screen

DEMO_PATIENT_COUNT = 6


def load(*, users: dict[str, Any], stdout: Any) -> None:
    if Patient.objects.exists():
        stdout.write("Demo patients already present: skipped.")
        return
    coordinator = users["coordinator"]
    today = timezone.localdate()
    for i in range(DEMO_PATIENT_COUNT):
        screened = today - datetime.timedelta(days=400 - i * 60)
        patient = patient_screen(screening_date=screened, acting_user=coordinator)
        if i < DEMO_PATIENT_COUNT - 1:
            patient_register(
                patient=patient,
                registration_date=screened + datetime.timedelta(days=7),
                acting_user=coordinator,
            )
    stdout.write(f"Created {DEMO_PATIENT_COUNT} demo patients.")
