"""The enrollment CRFs as the casebook lists them (CRF-SPEC order), and their dated facts (patient_dates)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from enrollment import forms, models, rules, selectors, views
from enrollment.rules import pdate_floor
from sabr_trial import patient_dates, patient_facts, pipeline
from sabr_trial.crf import Branch, CrfSpec, Missing, registry
from sabr_trial.patient_dates import PatientDate

ENROLLMENT = _("Enrollment")
BASELINE = _("Baseline")
FOLLOW_UP = _("End of study and survival")


def _needs_consent(patient: Any) -> str | None:
    if not models.Consent.objects.filter(patient=patient).exists():
        return str(
            _("Record the informed consent first: consent comes before every study procedure (EC-G3).")
        )
    return None


def _needs_registration(patient: Any) -> str | None:
    if not patient.is_registered:
        return str(_("Register the patient first."))
    return None


SPECS = [
    CrfSpec(
        slug="screening",
        model=models.ScreeningLog,
        form_class=forms.ScreeningLogForm,
        title=_("Screening log"),
        section=ENROLLMENT,
        order=10,
        many=False,
    ),
    CrfSpec(
        slug="consent",
        model=models.Consent,
        form_class=forms.ConsentForm,
        title=_("Informed consent"),
        section=ENROLLMENT,
        order=20,
        description=_("One row per signature; a re-consent on a newer form version is a new row."),
        branching=(
            Branch(
                fields=("withdrawal_date", "withdrawal_scope"), when=("withdrawn", ("Y",)), rule="EC-IC-2"
            ),
        ),
    ),
    CrfSpec(
        slug="eligibility",
        model=models.Eligibility,
        form_class=forms.EligibilityForm,
        title=_("Eligibility checklist"),
        section=ENROLLMENT,
        order=30,
        many=False,
        can_add=_needs_consent,
        views={
            "create": views.eligibility_create,
            "update": views.eligibility_update,
            "detail": views.eligibility_detail,
        },
    ),
    CrfSpec(
        slug="baseline",
        model=models.Baseline,
        form_class=forms.BaselineForm,
        title=_("Baseline: demographics, disease, IMDC"),
        section=BASELINE,
        order=50,
        many=False,
        can_add=_needs_consent,
        feeds_endpoints=True,
        views={"detail": views.baseline_detail},
        branching=(Branch(fields=("histology_other",), when=("histology", ("OTHER",)), rule="EC-BL-2"),),
        missing=(
            Missing(fields=("ecog",), codes=("ND", "UNK")),
            Missing(
                fields=(
                    "kps",
                    "hgb_below_lln",
                    "calcium_above_uln",
                    "neutrophils_above_uln",
                    "platelets_above_uln",
                ),
                codes=("ND", "UNK"),
                feeds=_("IMDC risk group"),
            ),
        ),
    ),
    CrfSpec(
        slug="medical-history",
        model=models.MedicalHistory,
        form_class=forms.MedicalHistoryForm,
        title=_("Medical history"),
        section=BASELINE,
        order=60,
        branching=(
            Branch(fields=("end_date",), when=("ongoing", ("N",)), rule="EC-MH-1"),
            Branch(fields=("baseline_grade",), when=("ongoing", ("Y",)), rule="EC-MH-1"),
        ),
        missing=(
            Missing(fields=("start_date",), codes=("UNK",)),
            Missing(fields=("baseline_grade",), codes=("UNK",)),
        ),
    ),
    CrfSpec(
        slug="prior-therapy",
        model=models.PriorTherapy,
        form_class=forms.PriorTherapyForm,
        title=_("Prior cancer therapy"),
        section=BASELINE,
        order=70,
    ),
    CrfSpec(
        slug="disposition",
        model=models.Disposition,
        form_class=forms.DispositionForm,
        title=_("Off-study / disposition"),
        section=FOLLOW_UP,
        order=180,
        many=False,
        can_add=_needs_registration,
        feeds_endpoints=True,
        branching=(
            Branch(fields=("eot_reason_text",), when=("eot_reason", ("OTHER",))),
            Branch(fields=("eot_adverse_event",), when=("eot_reason", ("ADVERSE EVENT",))),
            Branch(fields=("eos_reason_text",), when=("eos_reason", ("OTHER",))),
        ),
    ),
    CrfSpec(
        slug="death",
        model=models.DeathReport,
        form_class=forms.DeathReportForm,
        title=_("Death report"),
        section=FOLLOW_UP,
        order=190,
        many=False,
        feeds_endpoints=True,
        branching=(
            Branch(fields=("adverse_event",), when=("primary_cause", ("ADVERSE EVENT",)), rule="EC-DD-2"),
        ),
    ),
    CrfSpec(
        slug="survival",
        model=models.SurvivalContact,
        form_class=forms.SurvivalContactForm,
        title=_("Survival follow-up contact"),
        section=FOLLOW_UP,
        order=200,
        can_add=_needs_registration,
        feeds_endpoints=True,
        branching=(Branch(fields=("survival_status",), when=("reached", ("Y",)), rule="EC-SV-1"),),
    ),
]

for _spec in SPECS:
    registry.register(_spec)
patient_facts.register_patients(model=models.Patient, get_for_user=selectors.get_patient_for_user)


def _field(model: Any, name: str) -> str:
    return str(model._meta.get_field(name).verbose_name)


def _pd(row: Any, title: Any, name: str, date: Any, kind: str = "procedure") -> PatientDate:
    return PatientDate(
        form=str(title), field=_field(type(row), name), date=date, url=row.get_absolute_url(), kind=kind
    )


@patient_dates.register
def enrollment_dates(patient: Any) -> Iterator[PatientDate]:
    """Yield every dated fact of the enrollment CRFs (EC-DD-1, EC-DS-2, last known alive)."""
    for log in models.ScreeningLog.objects.filter(patient=patient):
        yield _pd(log, _g("Screening log"), "screening_date", log.screening_date)
        if log.outcome_date:
            yield _pd(log, _g("Screening log"), "outcome_date", log.outcome_date)
    for c in models.Consent.objects.filter(patient=patient):
        title = _g("Informed consent %(v)s") % {"v": c.icf_version}
        yield _pd(c, title, "consent_datetime", timezone.localtime(c.consent_datetime).date())
        if c.withdrawal_date:
            yield _pd(c, title, "withdrawal_date", c.withdrawal_date)
    if patient.registration_date:
        yield PatientDate(
            form=_g("Registration"),
            field=_g("Date of registration"),
            date=patient.registration_date,
            url=patient.get_absolute_url(),
        )
    for e in models.Eligibility.objects.filter(patient=patient, confirmed_at__isnull=False):
        yield _pd(e, _g("Eligibility checklist"), "confirmed_at", timezone.localtime(e.confirmed_at).date())
    for b in models.Baseline.objects.filter(patient=patient):
        title = _g("Baseline")
        yield _pd(b, title, "assessment_date", b.assessment_date)
        yield _pd(b, title, "imdc_lab_date", b.imdc_lab_date)
        yield _pd(b, title, "diagnosis_date", b.diagnosis_date, "history")
        if b.nephrectomy_date:
            yield _pd(b, title, "nephrectomy_date", b.nephrectomy_date, "history")
    for mh in models.MedicalHistory.objects.filter(patient=patient):
        title = _g("Medical history: %(t)s") % {"t": mh.mh_term}
        for name in ("start_date", "end_date"):
            day = pdate_floor(getattr(mh, name))
            if day:
                yield _pd(mh, title, name, day, "history")
    for pt in models.PriorTherapy.objects.filter(patient=patient):
        title = _g("Prior cancer therapy: %(t)s") % {"t": pt}
        for name in ("start_date", "end_date"):
            day = pdate_floor(getattr(pt, name))
            if day:
                yield _pd(pt, title, name, day, "history")
    for d in models.Disposition.objects.filter(patient=patient, eos_date__isnull=False):
        yield _pd(d, _g("Off-study / disposition"), "eos_date", d.eos_date, "end_of_study")
    for dr in models.DeathReport.objects.filter(patient=patient):
        yield _pd(dr, _g("Death report"), "death_date", dr.death_date, "death")
    for sc in models.SurvivalContact.objects.filter(patient=patient):
        kind = "contact" if sc.survival_status == models.SurvivalContact.Status.ALIVE else "contact_other"
        yield _pd(sc, _g("Survival follow-up contact"), "contact_date", sc.contact_date, kind)


# --- The write pipeline's hooks (sabr_trial.pipeline) ----------------------------------------------------------
for _model, _check in (
    (models.ScreeningLog, rules.check_screening),
    (models.Eligibility, rules.check_eligibility),
    (models.Consent, rules.check_consent),
    (models.Baseline, rules.check_baseline),
    (models.MedicalHistory, rules.check_medical_history),
    (models.PriorTherapy, rules.check_prior_therapy),
    (models.Disposition, rules.check_disposition),
    (models.DeathReport, rules.check_death),
    (models.SurvivalContact, rules.check_survival_contact),
):
    pipeline.rules.register(_model, _check)
