"""Cross-field edit checks of the enrollment CRFs (CRF-SPEC EC-SC, EC-EL, EC-IC, EC-RG, EC-BL, EC-MH, EC-PT,
EC-DS, EC-DD, EC-SV) and the global date checks other apps call from their ``clean()`` (EC-G2, EC-G3).

Each check raises ``ValidationError({field: "message (EC-XX-n)"})`` naming the field and citing the rule.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import criteria, imdc
from enrollment.models import (
    Baseline,
    Consent,
    DeathReport,
    Disposition,
    Eligibility,
    MedicalHistory,
    PriorTherapy,
    ScreeningLog,
    SurvivalContact,
    YesNo,
)
from enrollment.models import Consent as ConsentModel
from enrollment.selectors import (
    consent_date,
    consent_datetime,
    death_date,
    first_consent,
    first_systemic_dose_date,
)
from sabr_trial.crf import CrfStatus
from sabr_trial.patient_dates import dates_after
from sabr_trial.roles import Role, roles_of
from sabr_trial.sitetime import stamp
from sabr_trial.validators import in_range, local_date

# --- global checks other apps call -------------------------------------------------------------------------


def check_not_after_death(patient: Any, date: datetime.date | None, field: str) -> None:
    """EC-G2: refuse a date after the patient's recorded death, naming ``field``."""

    if date is None or patient is None or getattr(patient, "pk", None) is None:
        return
    died = death_date(patient)
    if died is not None and date > died:
        raise ValidationError(
            {
                field: _("%(d)s is after the patient's death on %(death)s (EC-G2).")
                % {"d": date, "death": died}
            }
        )


def check_not_before_consent(patient: Any, date: datetime.date | None, field: str) -> None:
    """EC-G3: refuse a study procedure dated before informed consent, naming ``field``.

    With no consent recorded at all, the procedure is refused too: consent comes before every study procedure.
    """

    if date is None or patient is None or getattr(patient, "pk", None) is None:
        return
    consented = consent_date(patient)
    if consented is None:
        raise ValidationError(
            {field: _("No informed consent is recorded: consent comes before every study procedure (EC-G3).")}
        )
    # A consent row stored before EC-G1 bounded dates is read clamped (sabr_trial.dbtypes): name it, never crash.
    if not in_range(consented):
        raise ValidationError(
            {
                field: _(
                    "The consent on record is dated %(c)s, out of range: correct the consent form first "
                    "(EC-G1, EC-G3)."
                )
                % {"c": consented}
            }
        )
    if date < consented:
        raise ValidationError(
            {field: _("%(d)s is before informed consent on %(c)s (EC-G3).") % {"d": date, "c": consented}}
        )


def _collect(errors: dict[str, list[str]], check: Any, *args: Any) -> None:
    try:
        check(*args)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _pdate_before(earlier: str, later: str) -> bool:
    """Return True if partial ISO date ``later`` is certainly before ``earlier`` (compared at the common precision)."""
    n = min(len(earlier), len(later))
    return bool(earlier and later) and later[:n] < earlier[:n]


def pdate_floor(value: str) -> datetime.date | None:
    """Return the earliest day a partial ISO date can mean (2019 -> 2019-01-01), or None if malformed."""
    parts = value.split("-") if value else []
    try:
        nums = [int(p) for p in parts] + [1] * (3 - len(parts))
        return datetime.date(nums[0], nums[1], nums[2])
    except (ValueError, IndexError):
        return None


# --- form 1: screening log ---------------------------------------------------------------------------------


def check_screening(log: ScreeningLog) -> None:
    """EC-SC-1: a screen failure needs a reason; criteria not met needs the criteria; an outcome needs a date."""
    errors: dict[str, list[str]] = {}
    outcome = log.Outcome
    if log.outcome == outcome.SCREEN_FAILURE and not log.failure_reason:
        _add(errors, "failure_reason", _("A screen failure needs its main reason (EC-SC-1)."))
    if log.outcome != outcome.SCREEN_FAILURE and log.failure_reason:
        _add(errors, "failure_reason", _("A failure reason is only recorded for a screen failure (EC-SC-1)."))
    if log.failure_reason == log.FailureReason.OTHER and not log.failure_text.strip():
        _add(errors, "failure_text", _("Specify the reason when it is 'Other' (EC-SC-1)."))
    if log.pk and type(log).objects.filter(pk=log.pk, outcome=outcome.ELIGIBLE).exists():
        # EC-SC-2: registration set ELIGIBLE; the screening row is then read-only.
        before = type(log).objects.get(pk=log.pk)
        fields = (
            "screening_date",
            "outcome",
            "outcome_date",
            "failure_reason",
            "failed_criteria",
            "failure_text",
        )
        for name in fields:
            if getattr(before, name) != getattr(log, name):
                _add(errors, name, _("The patient is registered: the screening log is read-only (EC-SC-2)."))
    elif log.outcome == outcome.ELIGIBLE:
        _add(errors, "outcome", _("Only registration sets the outcome ELIGIBLE (EC-SC-2)."))
    failed = list(log.failed_criteria or [])
    if log.failure_reason == log.FailureReason.CRITERIA and not failed:
        _add(
            errors, "failed_criteria", _("'Criteria not met' needs at least one criterion not met (EC-SC-1).")
        )
    if failed and log.failure_reason != log.FailureReason.CRITERIA:
        _add(
            errors,
            "failed_criteria",
            _("Criteria are only listed when the reason is 'Criteria not met' (EC-SC-1)."),
        )
    known = {c.id for c in criteria.CRITERIA}
    unknown = [c for c in failed if c not in known]
    if unknown:
        _add(errors, "failed_criteria", _("Unknown criterion id: %(ids)s.") % {"ids": ", ".join(unknown)})
    if log.outcome != outcome.PENDING:
        if not log.outcome_date:
            _add(errors, "outcome_date", _("An outcome needs its date (EC-SC-1)."))
        elif log.screening_date and log.outcome_date < log.screening_date:
            _add(
                errors,
                "outcome_date",
                _("The outcome date is before the screening date %(d)s (EC-SC-1).")
                % {"d": log.screening_date.isoformat()},
            )
    elif log.outcome_date:
        _add(errors, "outcome_date", _("Leave the outcome date blank while the outcome is pending."))
    _raise(errors)


# --- form 2: eligibility -----------------------------------------------------------------------------------


def parse_answers(summary: str) -> dict[str, str]:
    """Return {criterion id: answer} from the stored summary "INCL01=Y;INCL02=N;..."."""
    out: dict[str, str] = {}
    for item in (summary or "").split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def format_answers(answers: dict[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in answers.items())


def all_met(answers: dict[str, str], version: str) -> str:
    """Return "Y" if every criterion of ``version`` has its qualifying answer, "N" if one fails, "" if incomplete."""
    items = criteria.criteria_for(version)
    if any(answers.get(c.id, "") not in ("Y", "N") for c in items):
        return "N" if any(answers.get(c.id) not in ("", None, c.qualifying_answer) for c in items) else ""
    return "Y" if all(answers[c.id] == c.qualifying_answer for c in items) else "N"


def unanswered(answers: dict[str, str], version: str) -> list[criteria.Criterion]:
    return [c for c in criteria.criteria_for(version) if answers.get(c.id, "") not in ("Y", "N")]


def failing(answers: dict[str, str], version: str) -> list[criteria.Criterion]:
    return [
        c
        for c in criteria.criteria_for(version)
        if answers.get(c.id, "") in ("Y", "N") and answers[c.id] != c.qualifying_answer
    ]


def holds_investigator_role(user: Any) -> bool:

    return Role.INVESTIGATOR.value in roles_of(user)


def check_eligibility(elig: Eligibility) -> None:
    """EC-EL-1: every criterion answered (to submit or confirm); the confirming user is an investigator;
    confirmation is on or after consent."""

    errors: dict[str, list[str]] = {}
    answers = parse_answers(elig.answers_summary)
    missing = unanswered(answers, elig.criteria_version or criteria.CURRENT_VERSION)
    if missing and (elig.status != CrfStatus.DRAFT or elig.confirmed_by_id):
        _add(
            errors,
            "answers_summary",
            _("Every criterion must be answered; unanswered: %(ids)s (EC-EL-1).")
            % {"ids": ", ".join(c.id for c in missing)},
        )
    if elig.confirmed_by_id is not None and not holds_investigator_role(elig.confirmed_by):
        _add(
            errors,
            "confirmed_by",
            _(
                "%(u)s does not hold the investigator role: only an investigator confirms eligibility (EC-EL-1)."
            )
            % {"u": elig.confirmed_by.get_username()},
        )
    if bool(elig.confirmed_by_id) != bool(elig.confirmed_at):
        _add(errors, "confirmed_at", _("A confirmation needs both the investigator and the time (EC-EL-1)."))
    if elig.confirmed_at and elig.patient_id:
        log = ScreeningLog.objects.filter(patient_id=elig.patient_id).first()
        if log is not None and local_date(elig.confirmed_at) < log.screening_date:
            _add(
                errors,
                "confirmed_at",
                _("The confirmation (%(c)s) is before the screening visit (%(s)s) (EC-EL-1).")
                % {"c": stamp(elig.confirmed_at), "s": log.screening_date},
            )

        consented = consent_datetime(elig.patient) or getattr(
            first_consent(elig.patient), "consent_datetime", None
        )
        if consented is None:
            _add(
                errors,
                "confirmed_at",
                _("Eligibility is confirmed only after informed consent (EC-EL-1, EC-G3)."),
            )
        elif elig.confirmed_at < consented:
            _add(
                errors,
                "confirmed_at",
                _("The confirmation (%(c)s) is before consent (%(s)s) (EC-EL-1).")
                % {
                    "c": stamp(elig.confirmed_at),
                    "s": stamp(consented),
                },
            )
    _raise(errors)


# --- form 3: consent ---------------------------------------------------------------------------------------


def check_consent(consent: Consent) -> None:
    """EC-IC-1 (one active consent per version; re-consent needs a newer version) and EC-IC-2 (withdrawal)."""

    errors: dict[str, list[str]] = {}
    if consent.icf_version and consent.icf_version not in criteria.ICF_VERSIONS:
        _add(
            errors,
            "icf_version",
            _("Version %(v)s is not an approved consent form version (%(all)s).")
            % {"v": consent.icf_version, "all": ", ".join(criteria.ICF_VERSIONS)},
        )
    others = ConsentModel.objects.filter(patient_id=consent.patient_id).exclude(pk=consent.pk)
    active_same = others.filter(icf_version=consent.icf_version).exclude(withdrawn=YesNo.YES)
    if consent.icf_version and consent.withdrawn != YesNo.YES and active_same.exists():
        _add(
            errors,
            "icf_version",
            _("The patient already has an active consent on form version %(v)s (EC-IC-1).")
            % {"v": consent.icf_version},
        )
    if consent.consent_type == ConsentModel.ConsentType.RECONSENT and consent.icf_version:
        earlier = [
            c.icf_version
            for c in others
            if consent.consent_datetime is None or c.consent_datetime <= consent.consent_datetime
        ]
        if not earlier:
            _add(
                errors, "consent_type", _("A re-consent needs an earlier consent of this patient (EC-IC-1).")
            )
        else:
            newest = max(earlier, key=criteria.icf_version_key)
            if criteria.icf_version_key(consent.icf_version) <= criteria.icf_version_key(newest):
                _add(
                    errors,
                    "icf_version",
                    _("A re-consent needs a newer form version than %(v)s (EC-IC-1).") % {"v": newest},
                )
    if (
        consent.consent_type == ConsentModel.ConsentType.INITIAL
        and others.filter(consent_type=ConsentModel.ConsentType.INITIAL).exists()
    ):
        _add(
            errors,
            "consent_type",
            _("The patient already has an initial consent: record a re-consent (EC-IC-1)."),
        )
    if consent.withdrawn == YesNo.YES:
        if not consent.withdrawal_date:
            _add(errors, "withdrawal_date", _("A withdrawal needs its date (EC-IC-2)."))
        elif consent.consent_datetime and consent.withdrawal_date < local_date(consent.consent_datetime):
            _add(errors, "withdrawal_date", _("The withdrawal date is before the consent date (EC-IC-2)."))
        if not consent.withdrawal_scope:
            _add(errors, "withdrawal_scope", _("A withdrawal needs its scope (EC-IC-2)."))
    # Without a withdrawal the withdrawal fields hold nothing: the consent CRF's branching (enrollment.crfs) says so.
    if consent.consent_datetime and consent.patient_id:
        _collect(
            errors,
            check_not_after_death,
            consent.patient,
            local_date(consent.consent_datetime),
            "consent_datetime",
        )
    _raise(errors)


# --- form 4: registration (EC-RG-1, appended to enrollment.services.REGISTRATION_CHECKS) ------------------


def registration_consent_problems(patient: Any, registration_date: datetime.date) -> list[str]:
    """EC-RG-1: an active, non-withdrawn, submitted consent dated on or before registration."""

    consents = list(Consent.objects.filter(patient=patient).order_by("consent_datetime", "id"))
    if not consents:
        return [_("Informed consent: no signed consent is recorded (EC-RG-1).")]
    submitted = [c for c in consents if c.status != CrfStatus.DRAFT]
    if not submitted:
        return [_("Informed consent: the consent form is still a draft; submit it first (EC-RG-1).")]
    active = [c for c in submitted if c.withdrawn != YesNo.YES]
    if not active:
        return [_("Informed consent: the patient has withdrawn consent (EC-RG-1).")]
    if not any(local_date(c.consent_datetime) <= registration_date for c in active):
        first = local_date(active[0].consent_datetime)
        return [
            _("Informed consent: consent was signed on %(c)s, after the registration date %(r)s (EC-RG-1).")
            % {"c": first, "r": registration_date}
        ]
    return []


def registration_eligibility_problems(patient: Any, registration_date: datetime.date) -> list[str]:
    """EC-RG-1: a submitted checklist, every criterion answered and met, confirmed by an investigator."""

    elig = Eligibility.objects.filter(patient=patient).first()
    if elig is None:
        return [_("Eligibility checklist: not filled in (EC-RG-1).")]
    problems: list[str] = []
    answers = parse_answers(elig.answers_summary)
    version = elig.criteria_version or criteria.CURRENT_VERSION
    for c in unanswered(answers, version):
        problems.append(_("Criterion %(c)s: not answered (EC-RG-1).") % {"c": criteria.label(c.id)})
    for c in failing(answers, version):
        problems.append(_("Criterion not met: %(c)s (EC-RG-1).") % {"c": criteria.label(c.id)})
    if elig.status == CrfStatus.DRAFT:
        problems.append(_("Eligibility checklist: still a draft; submit it first (EC-RG-1)."))
    if not elig.confirmed_by_id:
        problems.append(_("Eligibility checklist: not yet confirmed by an investigator (EC-EL-1)."))
    elif local_date(elig.confirmed_at) > registration_date:
        problems.append(_("Eligibility checklist: confirmed after the registration date (EC-RG-1)."))
    return problems


def registration_prior_therapy_problems(patient: Any, registration_date: datetime.date) -> list[str]:
    """EC-PT-3: a prior PD-1/PD-L1 antibody breaks exclusion EXCL01, whatever the checklist says."""

    rows = PriorTherapy.objects.filter(patient=patient, pd1_pdl1=YesNo.YES)
    return [
        _("Criterion not met: %(c)s: prior therapy '%(t)s' is a PD-1/PD-L1 antibody (EC-PT-3).")
        % {"c": criteria.label(criteria.PD1_CRITERION), "t": row.agent or row.pk}
        for row in rows
    ]


REGISTRATION_CHECKS = (
    registration_consent_problems,
    registration_eligibility_problems,
    registration_prior_therapy_problems,
)


# --- form 5: baseline --------------------------------------------------------------------------------------


def check_age(baseline: Baseline) -> None:
    """EC-IC-3: age at consent from the birth year: >= 19 passes; 18 only once the investigator confirmed
    INCL01 (age >= 18); < 18 is refused. Stores age_at_consent."""

    if not baseline.birth_year or not baseline.patient_id:
        return
    this_year = timezone.localdate().year
    if baseline.birth_year > this_year:
        raise ValidationError({"birth_year": _("The year of birth is in the future (EC-G1).")})
    consented = consent_date(baseline.patient)
    if consented is None:
        raise ValidationError(
            {"birth_year": _("Age is computed at consent: record the informed consent first (EC-IC-3).")}
        )
    age = consented.year - baseline.birth_year
    baseline.age_at_consent = age
    if age < 18:
        raise ValidationError(
            {
                "birth_year": _(
                    "Born in %(y)s, the patient was at most %(a)s at consent: the minimum age is 18 (EC-IC-3)."
                )
                % {"y": baseline.birth_year, "a": age}
            }
        )
    if age == 18:
        elig = Eligibility.objects.filter(patient=baseline.patient).first()
        confirmed = (
            elig is not None
            and elig.confirmed_by_id is not None
            and parse_answers(elig.answers_summary).get(criteria.AGE_CRITERION) == "Y"
        )
        if not confirmed:
            raise ValidationError(
                {
                    "birth_year": _(
                        "Born in %(y)s, the patient may be 17 at consent: an investigator must first confirm "
                        "%(c)s on the eligibility checklist (EC-IC-3)."
                    )
                    % {"y": baseline.birth_year, "c": criteria.label(criteria.AGE_CRITERION)}
                }
            )


def derive_imdc(baseline: Baseline) -> None:
    """Compute the IMDC flags, score and group with enrollment.imdc (CRF-SPEC derived values, EC-BL-4)."""

    first_dose = first_systemic_dose_date(baseline.patient) if baseline.patient_id else None

    def flag(value: str) -> bool | None:
        return None if value not in ("Y", "N") else value == "Y"  # blank: a missing-data code, not known

    result = imdc.imdc_risk(
        imdc.ImdcInputs(
            kps=None if baseline.kps is None else int(baseline.kps),
            diagnosis_date=baseline.diagnosis_date,
            assessment_date=baseline.assessment_date,
            first_systemic_dose_date=first_dose,
            hgb_below_lln=flag(baseline.hgb_below_lln),
            calcium_above_uln=flag(baseline.calcium_above_uln),
            neutrophils_above_uln=flag(baseline.neutrophils_above_uln),
            platelets_above_uln=flag(baseline.platelets_above_uln),
        )
    )
    baseline.kps_below_80 = "" if result.kps_below_80 is None else "Y" if result.kps_below_80 else "N"
    baseline.dx_to_systemic_lt_1y = "Y" if result.dx_to_systemic_lt_1y else "N"
    baseline.imdc_score = result.score
    baseline.imdc_group = result.group.value if result.group is not None else ""
    baseline.imdc_provisional = result.provisional


def check_baseline(baseline: Baseline) -> None:
    """EC-BL-1 (ECOG/KPS), EC-BL-2 (nephrectomy, diagnosis before consent, histology), EC-IC-3 (age),
    EC-G2/EC-G3 on the assessment date; then derive IMDC."""

    errors: dict[str, list[str]] = {}
    if baseline.ecog is not None and baseline.kps is not None:
        try:
            message = imdc.ecog_kps_message(int(baseline.ecog), int(baseline.kps))
        except imdc.ImdcError as exc:
            message = str(exc)
        if message:
            low, high = imdc.kps_range_for_ecog(int(baseline.ecog))
            text = _(
                "Karnofsky %(kps)s does not match ECOG %(ecog)s: ECOG %(ecog)s allows KPS %(low)s-%(high)s (EC-BL-1)."
            ) % {"kps": baseline.kps, "ecog": baseline.ecog, "low": max(low, 10), "high": min(high, 100)}
            _add(errors, "kps", text)
            _add(errors, "ecog", text)
    if baseline.prior_nephrectomy == "Y" and not baseline.nephrectomy_date:
        _add(errors, "nephrectomy_date", _("A prior nephrectomy needs its date (EC-BL-2)."))
    if baseline.prior_nephrectomy == "N" and baseline.nephrectomy_date:
        _add(errors, "nephrectomy_date", _("Leave the date blank when there was no nephrectomy (EC-BL-2)."))
    registered = baseline.patient.registration_date if baseline.patient_id else None
    if baseline.nephrectomy_date and registered and baseline.nephrectomy_date > registered:
        _add(
            errors,
            "nephrectomy_date",
            _("The nephrectomy is after registration: record it on form 16 (EC-BL-2)."),
        )
    if baseline.histology == baseline.Histology.OTHER and not baseline.histology_other.strip():
        _add(errors, "histology_other", _("Specify the histology when it is 'Other' (EC-BL-2)."))
    if baseline.diagnosis_date and baseline.patient_id:
        consented = consent_date(baseline.patient)
        if consented is not None and baseline.diagnosis_date > consented:
            _add(
                errors,
                "diagnosis_date",
                _("The diagnosis date is after consent on %(c)s (EC-BL-2).") % {"c": consented},
            )
    if (
        baseline.nephrectomy_date
        and baseline.diagnosis_date
        and baseline.nephrectomy_date < baseline.diagnosis_date
    ):
        _add(errors, "nephrectomy_date", _("The nephrectomy is before the diagnosis date (EC-BL-2)."))
    if (
        baseline.diagnosis_date
        and baseline.assessment_date
        and baseline.diagnosis_date > baseline.assessment_date
    ):
        _add(errors, "diagnosis_date", _("The diagnosis date is after the baseline assessment (EC-BL-2)."))
    _collect(errors, check_age, baseline)
    if baseline.patient_id:
        _collect(
            errors, check_not_before_consent, baseline.patient, baseline.assessment_date, "assessment_date"
        )
        _collect(errors, check_not_after_death, baseline.patient, baseline.assessment_date, "assessment_date")
    _raise(errors)
    if baseline.diagnosis_date and baseline.assessment_date:
        try:
            derive_imdc(baseline)
        except imdc.ImdcError as exc:
            raise ValidationError({"diagnosis_date": str(exc)}) from None


# --- forms 6 and 7: medical history, prior therapy ---------------------------------------------------------


def check_medical_history(mh: MedicalHistory) -> None:
    """EC-MH-1: ongoing = N needs an end date on or after the start; ongoing = Y has no end date."""
    errors: dict[str, list[str]] = {}
    if mh.ongoing == "N" and not mh.end_date:
        _add(errors, "end_date", _("A condition that is not ongoing needs its end date (EC-MH-1)."))
    if mh.ongoing == "Y" and mh.end_date:
        _add(errors, "end_date", _("An ongoing condition has no end date (EC-MH-1)."))
    if mh.end_date and mh.start_date and _pdate_before(mh.start_date, mh.end_date):
        _add(errors, "end_date", _("The end date is before the start date (EC-MH-1)."))
    if mh.baseline_grade and mh.ongoing != "Y":
        _add(
            errors,
            "baseline_grade",
            _("A baseline grade is recorded only for an ongoing condition (EC-MH-1)."),
        )
    if mh.mh_category == mh.Category.AUTOIMMUNE and mh.ongoing == "Y" and not mh.systemic_tx_needed:
        _add(
            errors,
            "systemic_tx_needed",
            _("For an ongoing autoimmune condition, say whether it needs systemic treatment."),
        )
    _raise(errors)


def check_prior_therapy(pt: PriorTherapy) -> None:
    """EC-PT-1 (fields required by type) and EC-PT-2 (end >= start; before the first study dose)."""

    errors: dict[str, list[str]] = {}
    kind = pt.TherapyType
    need: dict[str, tuple[str, ...]] = {
        kind.SYSTEMIC: ("agent", "setting", "pd1_pdl1"),
        kind.RADIOTHERAPY: ("rt_site", "rt_dose_gy", "rt_fractions"),
        kind.SURGERY: ("procedure",),
    }
    for name in need.get(pt.therapy_type, ()):
        if getattr(pt, name) in (None, ""):
            _add(
                errors,
                name,
                _("Required for %(type)s (EC-PT-1).") % {"type": pt.get_therapy_type_display().lower()},
            )
    if pt.therapy_type != kind.SYSTEMIC and pt.pd1_pdl1 == "Y":
        _add(errors, "pd1_pdl1", _("Only a systemic therapy is a PD-1/PD-L1 antibody (EC-PT-1)."))
    if pt.end_date and pt.start_date and _pdate_before(pt.start_date, pt.end_date):
        _add(errors, "end_date", _("The end date is before the start date (EC-PT-2)."))
    if pt.patient_id and pt.start_date:
        first_dose = first_systemic_dose_date(pt.patient)
        start = pdate_floor(pt.start_date)
        if first_dose is not None and start is not None and start >= first_dose:
            _add(
                errors,
                "start_date",
                _(
                    "This therapy starts on or after the first study dose (%(d)s): record it as subsequent therapy "
                    "(form 16) (EC-PT-2)."
                )
                % {"d": first_dose},
            )
    _raise(errors)


# --- forms 18-20: disposition, death, survival ------------------------------------------------------------


def _conflicts(patient: Any, limit: datetime.date, exclude: tuple[str, ...]) -> list[str]:

    return [f"{d.form}: {d.field} {d.date}" for d in dates_after(patient, limit, exclude_kinds=exclude)]


def check_disposition(disp: Disposition) -> None:
    """EC-DS-2 (off-study date after every other date except a later death; DEATH needs the death report with
    the same date) and EC-DS-3 (WITHDRAWAL BY SUBJECT needs the consent withdrawal)."""

    errors: dict[str, list[str]] = {}
    if not disp.eot_reason and not disp.eos_reason:
        _add(errors, "eot_reason", _("Record the end of treatment, the end of study, or both."))
    if disp.eot_reason == disp.EotReason.OTHER and not disp.eot_reason_text.strip():
        _add(errors, "eot_reason_text", _("Specify the reason when it is 'Other'."))
    if disp.eot_reason == disp.EotReason.ADVERSE_EVENT and disp.eot_adverse_event is None:
        _add(errors, "eot_adverse_event", _("Treatment ended for an adverse event: link it (R1.22)."))
    if disp.eot_adverse_event is not None and disp.eot_adverse_event.patient_id != disp.patient_id:
        _add(errors, "eot_adverse_event", _("This adverse event belongs to another patient."))
    if disp.eos_reason == disp.EosReason.OTHER and not disp.eos_reason_text.strip():
        _add(errors, "eos_reason_text", _("Specify the reason when it is 'Other'."))
    if bool(disp.eos_date) != bool(disp.eos_reason):
        field = "eos_reason" if disp.eos_date else "eos_date"
        _add(errors, field, _("The end of study needs both its date and its reason (EC-DS-2)."))
    if disp.eos_date and disp.patient_id:
        patient = disp.patient
        later = _conflicts(patient, disp.eos_date, ("death", "contact_other", "end_of_study"))
        if later:
            _add(
                errors,
                "eos_date",
                _("The off-study date is before other dates of this patient: %(list)s (EC-DS-2).")
                % {"list": "; ".join(later)},
            )
        death = DeathReport.objects.filter(patient=patient).first()
        if disp.eos_reason == disp.EosReason.DEATH:
            if death is None:
                _add(errors, "eos_reason", _("Reason DEATH needs the death report first (EC-DS-2)."))
            elif death.death_date != disp.eos_date:
                _add(
                    errors,
                    "eos_date",
                    _("With reason DEATH the off-study date is the date of death, %(d)s (EC-DS-2).")
                    % {"d": death.death_date},
                )
        _collect(errors, check_not_before_consent, patient, disp.eos_date, "eos_date")
    withdrawal = disp.patient_id and disp.EosReason.WITHDRAWAL in (disp.eos_reason, disp.eot_reason)
    if withdrawal and not Consent.objects.filter(patient=disp.patient, withdrawn=YesNo.YES).exists():
        field = "eos_reason" if disp.eos_reason == disp.EosReason.WITHDRAWAL else "eot_reason"
        _add(
            errors,
            field,
            _("Record the consent withdrawal on the informed consent form first (EC-DS-3)."),
        )
    _raise(errors)


def check_death(report: DeathReport) -> None:
    """EC-DD-1: the death date is on or after every other date of the patient; the refusal names them."""
    errors: dict[str, list[str]] = {}
    if report.primary_cause == report.Cause.OTHER and not report.cause_text.strip():
        _add(errors, "cause_text", _("Specify the cause when it is 'Other'."))
    ae = report.adverse_event
    if report.primary_cause == report.Cause.ADVERSE_EVENT and ae is None:
        _add(
            errors,
            "adverse_event",
            _("A death from an adverse event needs the grade 5 adverse event (EC-DD-2)."),
        )
    # An AE is linked only when it is the primary cause: the death report's branching (enrollment.crfs).
    if ae is not None and (
        ae.patient_id != report.patient_id or ae.grade != 5 or ae.onset_date != report.death_date
    ):
        _add(
            errors,
            "adverse_event",
            _("The fatal adverse event must be this patient's grade 5 event dated %(d)s (EC-DD-2).")
            % {"d": report.death_date},
        )
    if report.death_date and report.patient_id:
        later = _conflicts(report.patient, report.death_date, ("death", "contact_other"))
        if later:
            _add(
                errors,
                "death_date",
                _("The date of death is before other dates of this patient: %(list)s (EC-DD-1).")
                % {"list": "; ".join(later)},
            )
    _raise(errors)


def check_survival_contact(contact: SurvivalContact) -> None:
    """EC-SV-1/EC-SV-2: status only when reached; DEAD needs a death report on or before the contact;
    ALIVE cannot follow a recorded death; a contact follows consent (EC-G3)."""

    errors: dict[str, list[str]] = {}
    if contact.reached == "Y" and not contact.survival_status:
        _add(errors, "survival_status", _("Record the survival status obtained (EC-SV-1)."))
    if contact.reached == "N" and contact.survival_status:
        _add(errors, "survival_status", _("No status when the patient's status was not obtained (EC-SV-1)."))
    if contact.patient_id and contact.contact_date:
        death = DeathReport.objects.filter(patient=contact.patient).first()
        if contact.survival_status == contact.Status.DEAD:
            if death is None:
                _add(errors, "survival_status", _("Status DEAD needs the death report first (EC-SV-2)."))
            elif death.death_date > contact.contact_date:
                _add(
                    errors,
                    "survival_status",
                    _("The death report date %(d)s is after this contact (EC-SV-2).")
                    % {"d": death.death_date},
                )
        if (
            contact.survival_status == contact.Status.ALIVE
            and death is not None
            and contact.contact_date > death.death_date
        ):
            _add(
                errors,
                "survival_status",
                _("Status ALIVE after the recorded death on %(d)s (EC-DD-1).") % {"d": death.death_date},
            )
        _collect(errors, check_not_before_consent, contact.patient, contact.contact_date, "contact_date")
    _raise(errors)
