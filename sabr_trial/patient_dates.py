"""Every dated fact of a patient, collected from all apps, for the global date checks.

Each app registers a provider that yields ``PatientDate`` rows for one patient. The death
report (EC-DD-1) and end of study (EC-DS-2) compare their date with all of them and name the
conflicting form and field; EC-G2 (nothing after death) uses ``dates_after``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PatientDate:
    form: str  # the CRF title as the user knows it, e.g. "Toripalimab infusion cycle 3"
    field: str  # the field label, e.g. "Date of infusion"
    date: datetime.date
    url: str | None = None
    #: "history" (medical history, prior therapy), "procedure", "treatment", "death", "contact"
    kind: str = "procedure"


Provider = Callable[[Any], Iterable[PatientDate]]
_providers: list[Provider] = []


def register(provider: Provider) -> Provider:
    """Register ``provider(patient) -> Iterable[PatientDate]``; usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def dates_of(patient: Any) -> list[PatientDate]:
    """Return every dated fact of the patient, from every registered provider, oldest first."""
    out: list[PatientDate] = []
    for provider in _providers:
        out.extend(provider(patient))
    return sorted(out, key=lambda d: d.date)


def dates_after(
    patient: Any, limit: datetime.date, *, exclude_kinds: Iterable[str] = ()
) -> list[PatientDate]:
    """Return the patient's dated facts later than ``limit`` (kinds in ``exclude_kinds`` ignored)."""
    skip = set(exclude_kinds)
    return [d for d in dates_of(patient) if d.date > limit and d.kind not in skip]
