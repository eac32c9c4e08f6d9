"""A synthetic study for the recompute benchmark and tests that need many patients fast: N patients in bulk.

Bench and test tooling, not part of the product (``reports/generated_study.py`` writes complete casebooks that
go through ``import_study``; the demo study and ``bench/import.py`` use it).

Rows are written with ``bulk_create`` straight into the tables, bypassing the CRF services (no history rows, no
edit checks, no audit events): a benchmark needs 5,000 patients in seconds, not hours. The data are still shaped
like the trial's: 1-5 lesions (up to 3 targets) all treated with SABR in 1-5 fractions, axitinib from SABR start
with a titration step, toripalimab every 3 weeks, q8w CT assessments with the derived RECIST fields stored
(sum, nadir, % change, target and overall response, PD date, per-lesion local failure), new lesions at some PDs,
adverse events, next-line therapies after progression and deaths, and a baseline form (age, sex, IMDC factors,
derived with ``enrollment.imdc``). Every date is on or before ``today``.
Patients get study numbers ``<prefix>00001``...; ``delete_synthetic`` removes them again.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

DAY = datetime.timedelta(days=1)
FRACTIONATIONS = [(Decimal(30), 3), (Decimal(35), 5), (Decimal(24), 1), (Decimal(40), 5), (Decimal(45), 3)]
ORGANS = ["LUNG", "LIVER", "ADRENAL GLAND", "LYMPH NODE", "BONE", "PANCREAS", "SOFT TISSUE", "KIDNEY"]
AE_TERMS = [
    "Hypertension",
    "Diarrhea",
    "Fatigue",
    "Palmar-plantar erythrodysesthesia syndrome",
    "Hypothyroidism",
    "Proteinuria",
    "Pneumonitis",
    "Dysphonia",
    "Rash maculo-papular",
    "Alanine aminotransferase increased",
]
BATCH = 2000


@dataclass
class _Rows:
    """Unsaved model instances per table, in dependency order."""

    tables: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, obj: Any) -> Any:
        self.tables.setdefault(name, []).append(obj)
        return obj


def _models() -> dict[str, Any]:
    from adverse_events.models import AdverseEvent, CtcaeTerm
    from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment
    from enrollment.models import Baseline, Consent, DeathReport, Patient
    from treatment.models import (
        AxitinibPeriod,
        SabrCourse,
        SabrFraction,
        SabrTarget,
        SubsequentTherapy,
        ToripalimabInfusion,
    )

    return {
        "Patient": Patient,
        "Consent": Consent,
        "Baseline": Baseline,
        "DeathReport": DeathReport,
        "Lesion": Lesion,
        "TumourAssessment": TumourAssessment,
        "LesionResult": LesionResult,
        "NewLesion": NewLesion,
        "SabrCourse": SabrCourse,
        "SabrTarget": SabrTarget,
        "SabrFraction": SabrFraction,
        "AxitinibPeriod": AxitinibPeriod,
        "ToripalimabInfusion": ToripalimabInfusion,
        "SubsequentTherapy": SubsequentTherapy,
        "AdverseEvent": AdverseEvent,
        "CtcaeTerm": CtcaeTerm,
    }


def _pct(value: Decimal, reference: Decimal) -> Decimal:
    return ((value - reference) / reference * 100).quantize(Decimal("0.01")) if reference else Decimal(0)


def delete_synthetic(prefix: str = "BN") -> None:
    """Remove every patient whose study number starts with ``prefix`` and all their rows."""
    m = _models()
    ids = list(m["Patient"].objects.filter(study_number__startswith=prefix).values_list("pk", flat=True))
    with transaction.atomic():
        # Plain DELETEs in dependency order (no cascade collection, no signals): synthetic rows have no history.
        for name in ("LesionResult", "NewLesion"):
            qs = m[name].objects.filter(assessment__patient_id__in=ids)
            qs._raw_delete(qs.db)
        for name in (
            "SabrFraction",
            "SabrTarget",
            "SabrCourse",
            "TumourAssessment",
            "Lesion",
            "AxitinibPeriod",
            "ToripalimabInfusion",
            "SubsequentTherapy",
            "DeathReport",
            "AdverseEvent",
            "Baseline",
            "Consent",
        ):
            qs = m[name].objects.filter(patient_id__in=ids)
            qs._raw_delete(qs.db)
        qs = m["Patient"].objects.filter(pk__in=ids)
        qs._raw_delete(qs.db)


def generate(
    n: int, *, user: Any, seed: int = 7, today: datetime.date | None = None, prefix: str = "BN"
) -> dict[str, int]:
    """Insert ``n`` synthetic registered patients with their CRF rows; return the row count per table."""
    m = _models()
    today = today or timezone.localdate()
    rng = random.Random(seed)
    terms = list(m["CtcaeTerm"].objects.filter(term__in=AE_TERMS).values_list("pk", flat=True)) or list(
        m["CtcaeTerm"].objects.values_list("pk", flat=True)[:10]
    )
    now = timezone.now()
    crf = {"status": "submitted", "created_by": user, "updated_by": user, "submitted_at": now}

    patients = [
        m["Patient"](
            screening_number=f"Z{prefix[:2]}{i + 1:05d}",
            study_number=f"{prefix[:2]}{i + 1:05d}",
            registration_date=today - rng.randint(45, 1000) * DAY,
            registered_by=user,
            created_by=user,
        )
        for i in range(n)
    ]
    counts: dict[str, int] = {}
    with transaction.atomic():
        m["Patient"].objects.bulk_create(patients, batch_size=BATCH)
        counts["Patient"] = n
        plans = [_Plan(p, rng, today) for p in patients]
        stage1 = _Rows()
        for plan in plans:
            plan.first_stage(m, stage1, crf, user)
        _save(m, stage1, counts)
        stage2 = _Rows()
        for plan in plans:
            plan.second_stage(m, stage2, crf, terms)
        _save(m, stage2, counts)
        stage3 = _Rows()
        for plan in plans:
            plan.third_stage(m, stage3, crf)
        _save(m, stage3, counts)
    return counts


def _save(m: dict[str, Any], rows: _Rows, counts: dict[str, int]) -> None:
    for name, objs in rows.tables.items():
        m[name].objects.bulk_create(objs, batch_size=BATCH)
        counts[name] = counts.get(name, 0) + len(objs)


class _Plan:
    """One patient's course, decided up front from the random stream, then written in three stages."""

    def __init__(self, patient: Any, rng: random.Random, today: datetime.date) -> None:
        self.p, self.rng, self.today = patient, rng, today
        reg = patient.registration_date
        self.start = reg + rng.randint(3, 10) * DAY  # SABR, axitinib and toripalimab start
        self.kind = rng.choices(["responder", "stable", "progressor"], weights=[40, 35, 25])[0]
        self.n_lesions = rng.randint(1, 5)
        # progression after 2-11 assessments (q8w); a third of the others never progress by the cut-off
        later = rng.randint(3, 10) if self.kind == "responder" else rng.randint(2, 6)
        self.pd_index = rng.randint(1, 3) if self.kind == "progressor" else rng.choice([None, later, later])
        self.dies = rng.random() < 0.35
        self.last_day = today

    def first_stage(self, m: dict[str, Any], rows: _Rows, crf: dict[str, Any], user: Any) -> None:
        p, rng = self.p, self.rng
        rows.add(
            "Consent",
            m["Consent"](
                patient=p,
                consent_type="INITIAL",
                icf_version="2.0",
                obtained_by=user,
                consent_datetime=timezone.make_aware(
                    datetime.datetime.combine(p.registration_date - 5 * DAY, datetime.time(9))
                ),
                **crf,
            ),
        )
        self._baseline(m, rows, crf)
        self.lesions = []
        organs = rng.sample(ORGANS, self.n_lesions)
        for i, organ in enumerate(organs):
            target = i < 3 and organ != "BONE"
            size = Decimal(rng.randint(15 if organ == "LYMPH NODE" else 12, 60))
            lesion = rows.add(
                "Lesion",
                m["Lesion"](
                    patient=p,
                    lesion_code=f"L{i + 1}",
                    role="TARGET" if target else "NON-TARGET",
                    organ=organ,
                    location_text=f"site {i + 1}",
                    organ_group=organ,
                    is_nodal="Y" if organ == "LYMPH NODE" else "N",
                    method="CT SCAN",
                    slice_thickness_mm=Decimal("2.5"),
                    baseline_date=p.registration_date - 7 * DAY,
                    baseline_value_mm=size if target else None,
                    nonmeasurable_type="" if target else "BLASTIC BONE",
                    measurable="Y" if target else "N",
                    **crf,
                ),
            )
            self.lesions.append(lesion)
        self.course = rows.add(
            "SabrCourse",
            m["SabrCourse"](
                patient=p,
                course_number=1,
                is_protocol="Y",
                indication="INITIAL PROTOCOL SABR",
                simulation_date=self.start - 5 * DAY,
                technique="VMAT",
                image_guidance="CBCT",
                start_date=self.start,
                **crf,
            ),
        )

    def _baseline(self, m: dict[str, Any], rows: _Rows, crf: dict[str, Any]) -> None:
        """Baseline form (form 5) with its derived IMDC values, as ``enrollment.rules.derive_imdc`` stores them."""
        from enrollment.imdc import ImdcInputs, imdc_risk

        p = self.p
        rng = random.Random(p.screening_number)  # its own stream: the rest of the study stays as it was
        day = p.registration_date - 2 * DAY
        diagnosed = day - rng.randint(90, 2500) * DAY
        age = rng.randint(38, 82)
        kps = rng.choice([100, 90, 90, 80, 80, 70])
        factors = {
            name: rng.choice("NNNY")
            for name in ("hgb_below_lln", "calcium_above_uln", "neutrophils_above_uln", "platelets_above_uln")
        }
        imdc = imdc_risk(
            ImdcInputs(
                kps=kps,
                diagnosis_date=diagnosed,
                assessment_date=day,
                first_systemic_dose_date=self.start,
                **{k: v == "Y" for k, v in factors.items()},
            )
        )
        nephrectomy = rng.random() < 0.8
        rows.add(
            "Baseline",
            m["Baseline"](
                patient=p,
                birth_year=(p.registration_date - 5 * DAY).year - age,
                sex=rng.choice("MMF"),
                age_at_consent=age,
                assessment_date=day,
                ecog=0 if kps >= 90 else 1,
                kps=kps,
                histology="CLEAR CELL",
                sarcomatoid="N",
                diagnosis_date=diagnosed,
                prior_nephrectomy="Y" if nephrectomy else "N",
                nephrectomy_date=diagnosed + 30 * DAY if nephrectomy else None,
                prior_systemic_lines=0,
                metastatic_lesion_count=self.n_lesions,
                imdc_lab_date=day,
                **factors,
                kps_below_80="Y" if imdc.kps_below_80 else "N",
                dx_to_systemic_lt_1y="Y" if imdc.dx_to_systemic_lt_1y else "N",
                imdc_score=imdc.score,
                imdc_group=imdc.group.value,
                imdc_provisional=imdc.provisional,
                **crf,
            ),
        )

    def _timeline(self) -> None:
        """Assessment dates and target sizes; PD, death and next line follow from them."""
        rng, start = self.rng, self.start
        self.scans: list[tuple[datetime.date, list[Decimal]]] = []
        sizes = [lz.baseline_value_mm or Decimal(20) for lz in self.lesions]
        factor = {"responder": 0.55, "stable": 0.9, "progressor": 1.0}[self.kind]
        self.pd_day: datetime.date | None = None
        self.new_lesion_day: datetime.date | None = None
        j = 1
        while True:
            day = start + (56 * j + rng.randint(-5, 5)) * DAY
            if day > self.today:
                break
            shrink = max(factor, 1 - 0.15 * j) if self.kind == "responder" else factor
            values = [
                (s * Decimal(str(round(shrink * rng.uniform(0.95, 1.05), 3)))).quantize(Decimal("1"))
                for s in sizes
            ]
            if self.pd_index is not None and j == self.pd_index + 1:
                values = [(v * Decimal("1.45")).quantize(Decimal("1")) for v in values]
                self.pd_day = day
                if rng.random() < 0.4:
                    self.new_lesion_day = day - rng.randint(0, 6) * DAY
            self.scans.append((day, values))
            if self.pd_day is not None and rng.random() < 0.6:
                break  # follow-up imaging usually stops after PD
            j += 1
        end = self.scans[-1][0] if self.scans else start + 30 * DAY
        self.next_line = (
            self.pd_day + rng.randint(10, 40) * DAY if self.pd_day and rng.random() < 0.6 else None
        )
        if self.dies:
            death = max(end, self.next_line or end) + rng.randint(20, 200) * DAY
            self.death = death if death <= self.today else None
        else:
            self.death = None
        self.last_day = min(self.today, self.death or self.today)
        self.drug_end = min(self.last_day, (self.pd_day or self.today) + 14 * DAY)

    def second_stage(self, m: dict[str, Any], rows: _Rows, crf: dict[str, Any], terms: list[int]) -> None:
        p, rng, start = self.p, self.rng, self.start
        self._timeline()
        self.targets = []
        for i, lesion in enumerate(self.lesions):
            dose, nfx = FRACTIONATIONS[(p.pk + i) % len(FRACTIONATIONS)]
            self.targets.append(
                rows.add(
                    "SabrTarget",
                    m["SabrTarget"](
                        patient=p,
                        course=self.course,
                        lesion=lesion,
                        prescribed_dose_gy=dose,
                        n_fractions=nfx,
                        dose_per_fraction_gy=(dose / nfx).quantize(Decimal("0.01")),
                        isodose_pct=80,
                        ptv_cc=Decimal("20.5"),
                        first_fraction_date=start,
                        last_fraction_date=start + 2 * (nfx - 1) * DAY,
                        **crf,
                    ),
                )
            )
        # axitinib: 5 mg for 6 weeks, then 7 mg until two weeks after PD (or ongoing)
        step = start + 42 * DAY
        if step <= self.drug_end:
            rows.add(
                "AxitinibPeriod",
                m["AxitinibPeriod"](
                    patient=p,
                    start_date=start,
                    end_date=step - DAY,
                    dose_level="5 MG BID",
                    dose_change_reason="START",
                    missed_doses=rng.randint(0, 3),
                    **crf,
                ),
            )
            ongoing = self.drug_end >= self.today and self.death is None
            rows.add(
                "AxitinibPeriod",
                m["AxitinibPeriod"](
                    patient=p,
                    start_date=step,
                    end_date=None if ongoing else self.drug_end,
                    dose_level="7 MG BID",
                    dose_change_reason="TITRATION UP",
                    missed_doses=rng.randint(0, 5),
                    bp_ok_no_antihtn="Y",
                    **crf,
                ),
            )
        else:
            rows.add(
                "AxitinibPeriod",
                m["AxitinibPeriod"](
                    patient=p,
                    start_date=start,
                    end_date=None,
                    dose_level="5 MG BID",
                    dose_change_reason="START",
                    missed_doses=0,
                    **crf,
                ),
            )
        cycle, day = 1, start
        while day <= self.drug_end and cycle <= 35:
            rows.add(
                "ToripalimabInfusion",
                m["ToripalimabInfusion"](
                    patient=p,
                    cycle_number=cycle,
                    planned_date=day,
                    infusion_status="GIVEN",
                    infusion_date=day,
                    dose_mg=Decimal(240),
                    infusion_interrupted="N",
                    lot_number=f"TP{cycle:03d}",
                    **crf,
                ),
            )
            cycle += 1
            day += 21 * DAY
        self.assessments = []
        baseline_sum = sum(
            (lz.baseline_value_mm or 0 for lz in self.lesions if lz.role == "TARGET"), Decimal(0)
        )
        nadir = baseline_sum
        for k, (day, values) in enumerate(self.scans):
            total = sum(
                (v for v, lz in zip(values, self.lesions, strict=True) if lz.role == "TARGET"), Decimal(0)
            )
            if baseline_sum == 0:
                target = ""
            elif day == self.pd_day:
                target = "PD"
            elif total == 0:
                target = "CR"
            elif total <= baseline_sum * Decimal("0.7"):
                target = "PR"
            else:
                target = "SD"
            overall = "PD" if day == self.pd_day else (target or "NON-CR/NON-PD")
            pd_date = (
                min(day, self.new_lesion_day)
                if day == self.pd_day and self.new_lesion_day
                else (day if day == self.pd_day else None)
            )
            self.assessments.append(
                rows.add(
                    "TumourAssessment",
                    m["TumourAssessment"](
                        patient=p,
                        visit_label=f"Week {8 * (k + 1)}",
                        imaging_done="Y",
                        scan_date_first=day,
                        modality="CT SCAN",
                        clinical_deterioration="N",
                        sum_mm=total,
                        baseline_sum_mm=baseline_sum,
                        nadir_mm=nadir,
                        pct_chg_baseline=_pct(total, baseline_sum) if baseline_sum else None,
                        pct_chg_nadir=_pct(total, nadir) if nadir else None,
                        chg_nadir_mm=total - nadir,
                        target_resp=target,
                        nontarget_resp="NON-CR/NON-PD",
                        new_lesion_ind="Y" if pd_date and self.new_lesion_day else "N",
                        overall_resp=overall,
                        overall_resp_nonirr=overall,
                        pd_date=pd_date,
                        **crf,
                    ),
                )
            )
            nadir = min(nadir, total)
        if self.next_line and self.next_line <= self.last_day:
            rows.add(
                "SubsequentTherapy",
                m["SubsequentTherapy"](
                    patient=p,
                    therapy_type="SYSTEMIC",
                    regimen="Cabozantinib 60 mg QD",
                    start_date=self.next_line,
                    reason="PROGRESSION",
                    local_on_protocol="N",
                    pfs2_event="Y",
                    **crf,
                ),
            )
        if self.death:
            rows.add(
                "DeathReport",
                m["DeathReport"](
                    patient=p,
                    death_date=self.death,
                    primary_cause="DISEASE PROGRESSION",
                    autopsy="N",
                    source="HOSPITAL RECORD",
                    **crf,
                ),
            )
        for _ in range(rng.choices([0, 1, 2, 3, 4, 6], weights=[10, 20, 25, 20, 15, 10])[0]):
            if not terms:
                break
            onset = start + rng.randint(1, max(1, (self.last_day - start).days)) * DAY
            grade = rng.choices([1, 2, 3, 4], weights=[45, 35, 17, 3])[0]
            resolved = onset + rng.randint(3, 60) * DAY
            ongoing = resolved > self.last_day
            rows.add(
                "AdverseEvent",
                m["AdverseEvent"](
                    patient=p,
                    ctcae_term_id=rng.choice(terms),
                    grade=grade,
                    onset_date=onset,
                    ongoing="Y" if ongoing else "N",
                    resolution_date=None if ongoing else resolved,
                    serious="Y" if grade >= 4 else "N",
                    rel_sabr="UNLIKELY",
                    rel_axitinib="PROBABLE",
                    rel_toripalimab="POSSIBLE",
                    immune_related="N",
                    acn_axitinib="DOSE NOT CHANGED",
                    acn_toripalimab="DOSE NOT CHANGED",
                    acn_sabr="NOT APPLICABLE",
                    treatment_given="N",
                    outcome="RECOVERING/RESOLVING" if ongoing else "RECOVERED/RESOLVED",
                    aesdth="N",
                    aeslife="Y" if grade == 4 else "N",
                    aeshosp="N",
                    aesdisab="N",
                    aescong="N",
                    aesmie="N",
                    sae_due_at=timezone.now() if grade >= 4 else None,
                    **crf,
                ),
            )

    def third_stage(self, m: dict[str, Any], rows: _Rows, crf: dict[str, Any]) -> None:
        p, start = self.p, self.start
        for target in self.targets:
            for number in range(1, target.n_fractions + 1):
                day = start + 2 * (number - 1) * DAY
                if day > self.today:
                    break
                rows.add(
                    "SabrFraction",
                    m["SabrFraction"](
                        patient=p,
                        target=target,
                        fraction_number=number,
                        fraction_date=day,
                        delivered="Y",
                        dose_delivered_gy=target.dose_per_fraction_gy,
                        **crf,
                    ),
                )
        nadirs = [lz.baseline_value_mm or Decimal(20) for lz in self.lesions]
        failed = [False] * len(self.lesions)
        for assessment, (_, values) in zip(self.assessments, self.scans, strict=True):
            for i, (lesion, value) in enumerate(zip(self.lesions, values, strict=True)):
                lf = not failed[i] and value >= nadirs[i] * Decimal("1.2") and value - nadirs[i] >= 5
                failed[i] = failed[i] or lf
                if lesion.role == "TARGET":
                    data = {"result_status": "MEASURED", "value_mm": value, "value_used_mm": value}
                else:
                    data = {"nontarget_state": "PRESENT"}
                rows.add(
                    "LesionResult",
                    m["LesionResult"](
                        assessment=assessment,
                        lesion=lesion,
                        split_merge="NONE",
                        local_failure="Y" if lf else "N",
                        lesion_nadir_mm=nadirs[i],
                        **data,
                    ),
                )
                nadirs[i] = min(nadirs[i], value)
            if assessment.scan_date_first == self.pd_day and self.new_lesion_day:
                rows.add(
                    "NewLesion",
                    m["NewLesion"](
                        assessment=assessment,
                        code="N1",
                        organ="LUNG",
                        location_text="new nodule",
                        detected_by="CT SCAN",
                        first_seen_date=self.new_lesion_day,
                        unequivocal="Y",
                        present="Y",
                    ),
                )
