"""Demo AEs for the registered demo patients (run by ``manage.py setup_demo``; idempotent).

A realistic axitinib + PD-1 profile: hypertension, diarrhoea, fatigue, PPE, hypothyroidism, ALT increased
and proteinuria, with two SAEs, three irAEs and one grade change (EC-AE-4). Rows are written through the
CRF services, so they pass every hard check and carry history. The treatment rows these AEs caused are linked
to them afterwards (the treatment demo runs first): SR-003's delayed toripalimab cycle 3 is put down to the ALT
increase, and SR-004's toripalimab is permanently discontinued for the grade 3 colitis (EC-TO-4); each AE whose
axitinib action is an interruption or a reduction splits the axitinib log at its onset (EC-AX-2, EC-AX-4).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from adverse_events.models import AdverseEvent, CtcaeTerm
from adverse_events.services import record_grade_change
from enrollment.models import Patient
from sabr_trial import services as crf_services
from sabr_trial.crf import CrfStatus
from treatment.models import AxitinibPeriod, ToripalimabInfusion

# (patient index, MedDRA code, grade, onset day after registration, resolved after n days or None,
#  serious criterion or "", immune-related, rel (sabr, axitinib, toripalimab), action (axitinib, toripalimab), grade change)
PROFILE = [
    (0, 10020772, 2, 14, None, "", "N", ("UNRELATED", "PROBABLE", "UNLIKELY"), ("DOSE NOT CHANGED", "DOSE NOT CHANGED"), 3),
    (0, 10012727, 2, 30, 10, "", "N", ("UNRELATED", "PROBABLE", "POSSIBLE"), ("DRUG INTERRUPTED", "DOSE NOT CHANGED"), None),
    (0, 10016256, 1, 21, None, "", "N", ("UNLIKELY", "POSSIBLE", "POSSIBLE"), ("DOSE NOT CHANGED", "DOSE NOT CHANGED"), None),
    (1, 10054524, 2, 25, 21, "", "N", ("UNRELATED", "DEFINITE", "UNLIKELY"), ("DOSE REDUCED", "DOSE NOT CHANGED"), None),
    (1, 10021114, 2, 63, None, "", "Y", ("UNRELATED", "UNLIKELY", "PROBABLE"), ("DOSE NOT CHANGED", "DOSE NOT CHANGED"), None),
    (2, 10001551, 3, 42, 20, "aeshosp", "Y", ("UNRELATED", "POSSIBLE", "PROBABLE"), ("DRUG INTERRUPTED", "DRUG INTERRUPTED"), None),
    (2, 10037032, 2, 56, 35, "", "N", ("UNRELATED", "PROBABLE", "UNLIKELY"), ("DOSE NOT CHANGED", "DOSE NOT CHANGED"), None),
    (3, 10009887, 3, 48, 14, "aeshosp", "Y", ("UNLIKELY", "POSSIBLE", "PROBABLE"), ("DRUG INTERRUPTED", "DRUG WITHDRAWN"), None),
    (3, 10016256, 2, 20, 30, "", "N", ("UNLIKELY", "POSSIBLE", "POSSIBLE"), ("DOSE NOT CHANGED", "DOSE NOT CHANGED"), None),
]  # fmt: skip


def load(*, users: dict[str, Any], stdout: Any) -> None:
    if AdverseEvent.objects.exists():
        stdout.write("Demo adverse events already present: skipped.")
        return
    if not CtcaeTerm.objects.exists():
        stdout.write("CTCAE dictionary not loaded (run migrate): demo adverse events skipped.")
        return
    user = users.get("investigator") or users.get("coordinator")
    patients = list(Patient.objects.filter(study_number__isnull=False).order_by("registration_date", "pk"))
    today = timezone.localdate()
    created = 0
    for index, code, grade, onset_day, resolved_after, criterion, immune, rel, acn, change_to in PROFILE:
        if index >= len(patients):
            continue
        patient = patients[index]
        onset = patient.registration_date + datetime.timedelta(days=onset_day)
        if onset >= today:
            continue
        resolution = onset + datetime.timedelta(days=resolved_after) if resolved_after else None
        if resolution and resolution > today:
            resolution = None
        serious = "Y" if criterion else "N"
        awareness = None
        if serious == "Y":
            awareness = timezone.make_aware(
                datetime.datetime.combine(onset + datetime.timedelta(days=1), datetime.time(10, 30))
            )
        data: dict[str, Any] = {
            "ctcae_term": CtcaeTerm.objects.get(meddra_code=code),
            "grade": grade,
            "onset_date": onset,
            "ongoing": "N" if resolution else "Y",
            "resolution_date": resolution,
            "outcome": "RECOVERED/RESOLVED" if resolution else "NOT RECOVERED/NOT RESOLVED",
            "serious": serious,
            "rel_sabr": rel[0],
            "rel_axitinib": rel[1],
            "rel_toripalimab": rel[2],
            "immune_related": immune,
            "acn_axitinib": acn[0],
            "acn_toripalimab": acn[1],
            "acn_sabr": "DOSE NOT CHANGED",
            "treatment_given": "Y" if immune == "Y" or serious == "Y" else "N",
            "awareness_at": awareness,
            "reported_at": awareness + datetime.timedelta(hours=20) if awareness and index != 3 else None,
            "expected": "Y" if serious == "Y" else "",
        }
        if criterion:
            data[criterion] = "Y"
        try:
            ae = crf_services.crf_create(
                model=AdverseEvent, patient=patient, data=data, acting_user=user, status=CrfStatus.SUBMITTED
            )
            created += 1
            change_on = onset + datetime.timedelta(days=14)
            if change_to and change_on < today:
                child = record_grade_change(
                    ae=ae,
                    change_date=change_on,
                    new_grade=change_to,
                    reason="Demo: grade increased",
                    acting_user=user,
                )
                child, _changes = crf_services.crf_update(
                    instance=child,
                    expected_version=child.version,
                    acting_user=user,
                    reason="Episode completed",
                    data={"outcome": "NOT RECOVERED/NOT RESOLVED"},
                )
                crf_services.crf_submit(instance=child, acting_user=user)
                created += 1
        except ValidationError as exc:  # e.g. a demo patient's other data conflict: skip, keep the rest
            stdout.write(f"Demo AE skipped for {patient}: {exc.messages[0]}")
    stdout.write(f"Created {created} demo adverse events.")
    _link_treatment(patients, user, stdout)
    _axitinib_changes(patients, user, stdout)


#: (patient index, MedDRA code, days interrupted (0: a reduction), dose level afterwards): the axitinib log
#: change each AE caused (its acn_axitinib), entered with the AE link (EC-AX-2, EC-AX-4).
AXITINIB_CHANGES = [
    (0, 10012727, 7, "5 MG BID"),  # diarrhoea: held a week, restarted at the same dose
    (1, 10054524, 0, "3 MG BID"),  # hand-foot syndrome: reduced one level
    (2, 10001551, 21, "3 MG BID"),  # ALT grade 3: held, restarted one level lower
    (3, 10009887, 14, "5 MG BID"),  # colitis grade 3: held, restarted one level lower
]
LEVEL_MG = {"10 MG BID": 10, "7 MG BID": 7, "5 MG BID": 5, "3 MG BID": 3, "2 MG BID": 2}


def _axitinib_changes(patients: list[Patient], user: Any, stdout: Any) -> None:
    """Split the axitinib period the AE fell in: held (or reduced) from the onset, then the dose afterwards."""
    period_model = AxitinibPeriod
    for index, code, held_days, level_after in AXITINIB_CHANGES:
        if index >= len(patients):
            continue
        patient = patients[index]
        ae = AdverseEvent.objects.filter(
            patient=patient, ctcae_term__meddra_code=code, parent_episode=None
        ).first()
        if ae is None or period_model.objects.filter(patient=patient, adverse_event=ae).exists():
            continue
        day = ae.onset_date
        period = (
            period_model.objects.filter(patient=patient, start_date__lt=day, dose_level__in=list(LEVEL_MG))
            .exclude(end_date__lt=day)
            .first()
        )
        if period is None:
            continue
        old_end, old_level = period.end_date, period.dose_level
        resume = day + datetime.timedelta(days=held_days)
        try:
            with transaction.atomic():
                crf_services.crf_update(
                    instance=period,
                    expected_version=period.version,
                    acting_user=user,
                    reason=f"Axitinib changed for {ae}",
                    data={"end_date": day - datetime.timedelta(days=1)},
                )
                if held_days:
                    held_end = resume - datetime.timedelta(days=1)
                    crf_services.crf_create(
                        model=period_model,
                        patient=patient,
                        acting_user=user,
                        status=CrfStatus.SUBMITTED,
                        data={
                            "start_date": day,
                            "end_date": min(held_end, old_end) if old_end else held_end,
                            "dose_level": "INTERRUPTED",
                            "dose_change_reason": "INTERRUPTION FOR TOXICITY",
                            "adverse_event": ae,
                        },
                    )
                if old_end is None or resume <= old_end:
                    reduced = LEVEL_MG[level_after] < LEVEL_MG[old_level]
                    crf_services.crf_create(
                        model=period_model,
                        patient=patient,
                        acting_user=user,
                        status=CrfStatus.SUBMITTED,
                        data={
                            "start_date": resume,
                            "end_date": old_end,
                            "dose_level": level_after,
                            "dose_change_reason": "REDUCTION FOR TOXICITY" if reduced else "OTHER",
                            "adverse_event": ae if reduced else None,
                        },
                    )
        except ValidationError as exc:
            stdout.write(f"Axitinib change for {ae} skipped: {'; '.join(exc.messages)[:300]}")


#: (patient index, MedDRA code): the toripalimab cycle this AE delayed (status DELAYED) or stopped.
TORIPALIMAB_LINKS = [(2, 10001551), (3, 10009887)]


def _link_treatment(patients: list[Patient], user: Any, stdout: Any) -> None:
    """Record the toripalimab consequence of an AE with its link (EC-TO-4), through the CRF services."""
    infusion_model = ToripalimabInfusion
    for index, code in TORIPALIMAB_LINKS:
        if index >= len(patients):
            continue
        patient = patients[index]
        ae = AdverseEvent.objects.filter(patient=patient, ctcae_term__meddra_code=code).first()
        if ae is None:
            continue
        try:
            if ae.acn_toripalimab == "DRUG INTERRUPTED":
                cycle = infusion_model.objects.filter(patient=patient, infusion_status="DELAYED").first()
                if cycle is not None and cycle.adverse_event_id is None:
                    crf_services.crf_update(
                        instance=cycle,
                        expected_version=cycle.version,
                        acting_user=user,
                        reason="Delay was for the adverse event, not logistics",
                        data={"status_reason": "ADVERSE EVENT", "adverse_event": ae},
                    )
            elif ae.acn_toripalimab == "DRUG WITHDRAWN":
                rows = infusion_model.objects.filter(patient=patient)
                if rows.exists() and not rows.filter(infusion_status="PERMANENTLY DISCONTINUED").exists():
                    crf_services.crf_create(
                        model=infusion_model,
                        patient=patient,
                        acting_user=user,
                        status=CrfStatus.SUBMITTED,
                        data={
                            "cycle_number": rows.count() + 1,
                            "infusion_status": "PERMANENTLY DISCONTINUED",
                            "status_reason": "ADVERSE EVENT",
                            "adverse_event": ae,
                            "dose_mg": None,
                        },
                    )
        except ValidationError as exc:
            stdout.write(f"Toripalimab link to {ae} skipped: {exc.messages[0]}")
