"""Synthetic studies for the report and export tests: registered patients with a baseline and an
endpoint snapshot computed by the real engine from generated records (no CRF workflow, so 1,000
patients take seconds)."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.utils import timezone

from assessments.recist import Response
from endpoints import plots
from endpoints.derivation import IrradiatedLesion, PatientRecord, SourcedDate, SourceRef, TimePoint
from endpoints.engine import PatientPlotData, compute_snapshot
from endpoints.models import EndpointSnapshot
from enrollment.models import Patient

RESPONSES = ["CR", "PR", "PR", "SD", "SD", "SD", "PD"]


def _sd(day: datetime.date, form: str, oid: int, field: str) -> SourcedDate:
    return SourcedDate(day, SourceRef(form, oid, field))


def synthetic_records(patients: list[Patient], cutoff: datetime.date, seed: int = 7):
    rng = random.Random(seed)
    records, plot_data = [], []
    for p in patients:
        start = cutoff - datetime.timedelta(days=rng.randint(90, 700))
        tps, spider = [], []
        sod_pct = Decimal(0)
        progressed = None
        for k in range(1, 9):
            day = start + datetime.timedelta(days=56 * k)
            if day >= cutoff:
                break
            resp = rng.choice(RESPONSES)
            sod_pct = Decimal(rng.randint(-90, 35))
            tps.append(
                TimePoint(
                    day,
                    Response(resp),
                    SourceRef("tumour-assessment", p.pk * 10 + k, "scan_date"),
                    pct_change_baseline=sod_pct,
                )
            )
            spider.append(((day - start).days / 30.4375, float(sod_pct)))
            if resp == "PD":
                progressed = (day - start).days / 30.4375
                break
        death = None
        if rng.random() < 0.2:
            death_day = min(cutoff, start + datetime.timedelta(days=rng.randint(60, 700)))
            death = _sd(death_day, "death", p.pk, "death_date")
        lesion = IrradiatedLesion(
            "L1",
            _sd(start, "sabr-fraction", p.pk, "fraction_date"),
            evaluations=tuple(_sd(t.assessment_date, "tumour-assessment", 1, "scan_date") for t in tps),
        )
        last = tps[-1].assessment_date if tps else start
        records.append(
            PatientRecord(
                patient_id=p.pk,
                study_number=p.study_number,
                data_cutoff=cutoff,
                treatment_start=_sd(start, "sabr-fraction", p.pk, "fraction_date"),
                sabr_start=_sd(start, "sabr-fraction", p.pk, "fraction_date"),
                baseline_assessment=True,
                measurable_disease=True,
                timepoints=tuple(tps),
                lesions=(lesion,),
                death=death if death and death.value >= last else None,
                last_known_alive=_sd(last, "survival", p.pk, "contact_date"),
            )
        )
        months = (cutoff - start).days / 30.4375
        plot_data.append(
            PatientPlotData(
                p.pk,
                p.study_number,
                follow_up_months=months,
                ongoing=death is None,
                sabr=(plots.Interval(0.0, 0.3),),
                axitinib=(plots.Interval(0.0, months * 0.8),),
                toripalimab=(plots.Interval(0.0, months * 0.7),),
                progression=progressed,
                spider=tuple(spider),
            )
        )
    return records, plot_data


def synthetic_study(n: int, cutoff: datetime.date | None = None, seed: int = 7) -> EndpointSnapshot:
    """Create ``n`` registered patients and store one OK snapshot computed from synthetic records."""
    cutoff = cutoff or timezone.localdate()
    base = Patient.objects.count()
    patients = Patient.objects.bulk_create(
        [
            Patient(
                screening_number=f"Z-{base + i:05d}",
                study_number=f"SR-{base + i + 500:03d}",
                registration_date=cutoff - datetime.timedelta(days=720),
            )
            for i in range(n)
        ]
    )
    patients = list(Patient.objects.filter(screening_number__startswith="Z-").order_by("pk"))[-n:]
    records, plot_data = synthetic_records(patients, cutoff, seed)
    url = "/patients/{patient_id}/"
    result = compute_snapshot(records, plot_data, data_cutoff=cutoff, url_template=url)
    return EndpointSnapshot.objects.create(
        data_cutoff=cutoff,
        status=EndpointSnapshot.Status.OK,
        trigger="synthetic",
        data_as_of=timezone.now(),
        fingerprint=result.fingerprint,
        results=result.results,
        figures=result.figures,
        n_patients=result.results["n_patients"],
    )
