"""The generated part of the demo study (``manage.py setup_demo --generated N``): N casebooks of
``reports.generated_study`` written as ``crf/`` CSV files and loaded through ``import_study``, beside the
hand-made patients of the other apps' demo modules (which show every branch one by one)."""

from __future__ import annotations

import tempfile
from typing import Any

from django.conf import settings
from django.utils import timezone

from enrollment.models import Patient
from reports.generated_study import generate
from reports.importer import import_study

#: Screening and study numbers of the generated patients start here (S-1001, SR-101), apart from the hand-made ones.
FIRST_SCREENING, FIRST_STUDY = 1001, 101
SEED = 2026


def load(*, users: dict[str, Any], stdout: Any) -> None:
    """Nothing by default: the generated patients are loaded by ``load_generated``."""


def load_generated(count: int, *, users: dict[str, Any], stdout: Any, seed: int = SEED) -> None:
    """Import ``count`` generated casebooks dated up to today; skipped when they are already there."""
    if count <= 0:
        return
    if Patient.objects.filter(screening_number=f"S-{FIRST_SCREENING:04d}").exists():
        stdout.write("Generated demo patients already present: skipped.")
        return
    study = generate(
        count,
        seed=seed,
        today=timezone.localdate(),
        study_id=settings.STUDY_ID,
        study_prefix=settings.STUDY_NUMBER_PREFIX,
        first_screening=FIRST_SCREENING,
        first_study=FIRST_STUDY,
    )
    with tempfile.TemporaryDirectory(prefix="sabr-demo-") as folder:
        study.write(folder)
        result = import_study(folder, user=users["coordinator"], partial=True)
    if not result.committed:
        stdout.write(f"Generated demo patients not loaded:\n{result.summary()}")
        return
    skipped = f"; skipped: {', '.join(sorted(result.skipped_patients))}" if result.skipped_patients else ""
    stdout.write(
        f"Imported {result.created.get('patients', 0)} generated patients "
        f"({study.count()} CRF rows){skipped}."
    )
