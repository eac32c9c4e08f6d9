"""Cross-field edit checks of the treatment CRFs (CRF-SPEC forms 10-16: EC-SB, EC-ST, EC-FX, EC-AX, EC-TO,
EC-CM, EC-SU) plus the global date checks EC-G2..G4 applied to treatment dates.

Hard checks raise ``ValidationError({field: "message (EC-..)"})``; soft checks are ``*_warnings`` functions
returning messages that the CRF pages show after saving (the row is kept). The clinical maths is in the pure
modules ``treatment.radiobiology`` and ``treatment.dosing``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from enrollment.rules import check_not_after_death, check_not_before_consent
from enrollment.selectors import end_of_study_date
from ruletext import say
from sabr_trial import patient_facts, pipeline
from treatment import dosing
from treatment.models import (
    AxitinibPeriod,
    Immunosuppressant,
    SabrCourse,
    SabrFraction,
    SabrTarget,
    SubsequentTherapy,
    ToripalimabInfusion,
)
from treatment.selectors import patient_infusions, treatment_start

#: Trial settings (CRF-SPEC; DOMAIN.md section 0 and R4.x). Named here, passed to the pure functions.
MAX_TOTAL_DOSE_WITHOUT_OVERRIDE_GY = Decimal("80")  # EC-ST-1
FRACTION_WINDOW_DAYS = 21  # EC-FX-2 soft: a fraction > 21 days after the course's first fraction
AXITINIB_TITRATION_MIN_WEEKS = 6  # R4.3 with a PD-1 antibody
AXITINIB_AE_MATCH_DAYS = 7  # EC-AX-4
PFS2_EVENT_REASONS = frozenset({"PROGRESSION", "CLINICAL DETERIORATION"})  # D2


def _num(value: Decimal | None) -> str:
    """A decimal for a message without exponent notation (250, 2.5, 7)."""
    return "" if value is None else f"{Decimal(value).normalize():f}"


def _raise(errors: dict[str, Any]) -> None:
    if errors:
        raise ValidationError(errors)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


# --- Global date checks (EC-G2, EC-G3, EC-G4) and registration -------------------------------------------


def _messages_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)


def _call_check(check: Callable[..., Any], patient: Any, field: str, value: datetime.date) -> list[str]:
    """Run an enrollment date check (EC-G2, EC-G3) and return its messages."""
    try:
        check(patient, value, field)
    except ValidationError as exc:
        return _messages_of(exc)
    return []


def end_of_study(patient: Any) -> datetime.date | None:
    return end_of_study_date(patient)


def date_errors(
    patient: Any,
    dates: dict[str, datetime.date | None],
    *,
    labels: dict[str, str],
    registration_rule: str | None = None,
    treatment: bool = True,
) -> dict[str, list[str]]:
    """Return the errors of the patient-level date checks for each named date field.

    ``registration_rule`` (e.g. "EC-TO-1") refuses a date before registration and a patient not registered.
    EC-G3 (before consent), EC-G2 (after death) use the enrollment rules; EC-G4 refuses a
    treatment record after the end of study.
    """
    errors: dict[str, list[str]] = {}
    eos = end_of_study(patient) if treatment else None
    for field, value in dates.items():
        if value is None:
            continue
        label = labels.get(field, field)
        if registration_rule:
            if not getattr(patient, "registration_date", None):
                _add(
                    errors,
                    field,
                    _("The patient is not registered: no treatment can be recorded (%(r)s).")
                    % {"r": registration_rule},
                )
            elif value < patient.registration_date:
                _add(
                    errors,
                    field,
                    _("%(label)s %(d)s is before registration on %(reg)s (%(r)s).")
                    % {
                        "label": label,
                        "d": value.isoformat(),
                        "reg": patient.registration_date.isoformat(),
                        "r": registration_rule,
                    },
                )
        for check in (check_not_before_consent, check_not_after_death):
            for message in _call_check(check, patient, field, value):
                _add(errors, field, message)
        if eos is not None and value > eos:
            _add(
                errors,
                field,
                _(
                    "%(label)s %(d)s is after the end of study on %(eos)s: no treatment record after it (EC-G4)."
                )
                % {"label": label, "d": value.isoformat(), "eos": eos.isoformat()},
            )
    return errors


def _same_patient(row: Any, parent: Any, field: str, errors: dict[str, list[str]]) -> None:
    if parent is not None and row.patient_id and parent.patient_id != row.patient_id:
        _add(errors, field, _("This belongs to another patient."))


def _ae_of_patient(row: Any, errors: dict[str, list[str]]) -> Any:
    """Return the linked AE (or None), refusing an AE of another patient."""
    if getattr(row, "adverse_event_id", None) is None:
        return None
    ae = row.adverse_event
    _same_patient(row, ae, "adverse_event", errors)
    return ae


RELATED = ("POSSIBLE", "PROBABLE", "DEFINITE")  # R7.1: attributable


# --- Form 10: SABR course ------------------------------------------------------------------------------------


def check_course(course: SabrCourse) -> None:
    """EC-SB-1: simulation on or before the first fraction; the course starts on or after registration;
    a stop reason when the course ended with changes or early."""
    errors: dict[str, list[str]] = {}
    if course.completion_status in ("WITH CHANGES", "STOPPED EARLY") and not course.stop_reason:
        _add(errors, "stop_reason", _("Say why the course was changed or stopped early."))
    if course.stop_reason and not course.completion_status:
        _add(errors, "completion_status", _("A stop reason needs the way the course ended."))
    if course.simulation_date and course.patient_id:
        errors.update(
            date_errors(
                course.patient,
                {"simulation_date": course.simulation_date},
                labels={"simulation_date": _("Planning CT date")},
            )
        )
        if course.pk:
            first = _first_fraction_date_of_course(course)
            if first is not None and course.simulation_date > first:
                _add(
                    errors,
                    "simulation_date",
                    _("The planning CT date %(s)s is after the first fraction on %(f)s (EC-SB-1).")
                    % {"s": course.simulation_date, "f": first},
                )
    _raise(errors)


def _first_fraction_date_of_course(course: SabrCourse) -> datetime.date | None:

    row = SabrFraction.objects.filter(target__course=course).order_by("fraction_date").first()
    return row.fraction_date if row else None


def course_warnings(course: SabrCourse) -> list[str]:
    """EC-SB-3 (soft) and the fraction-log flags of the course (EC-FX-1/2): what the course's page lists."""
    warnings = course_own_warnings(course)
    for target in course.targets.select_related("lesion").prefetch_related("fractions"):
        for fraction in target.fractions.all():
            warnings.extend(fraction_warnings(fraction, target_label=str(target)))
    return warnings


def course_own_warnings(course: SabrCourse) -> list[str]:
    """EC-SB-3 (soft) only: the course's own finding. The edit checks raise each fraction's flags on the fraction
    (``fraction_warnings``); the course's list repeated them, and each became a second query on the course."""
    warnings: list[str] = []
    needs_link = course.is_protocol == "N" or course.indication == course.Indication.OLIGOPROGRESSION
    if needs_link and not course.subsequent_therapies.exists():
        warnings.append(
            say(
                gettext_noop(
                    "A non-protocol or oligoprogression SABR course needs a linked subsequent-therapy form "
                    "(local therapy, not a PFS2 next line) (EC-SB-3)."
                )
            )
        )
    return warnings


# --- Form 11: SABR target -------------------------------------------------------------------------------------


def check_target(target: SabrTarget) -> None:
    """EC-ST-1: one target per lesion per course, re-irradiation with a reason, 1-15 fractions,
    > 80 Gy with an override reason; the number of fractions not below a recorded fraction number."""

    errors: dict[str, list[str]] = {}
    course = target.course if target.course_id else None
    _same_patient(target, course, "course", errors)
    dose = target.prescribed_dose_gy
    if (
        dose is not None
        and dose > MAX_TOTAL_DOSE_WITHOUT_OVERRIDE_GY
        and not target.dose_override_reason.strip()
    ):
        _add(
            errors,
            "dose_override_reason",
            _("A total dose of %(d)s Gy is over %(max)s Gy: give the override reason (EC-ST-1).")
            % {"d": _num(dose), "max": MAX_TOTAL_DOSE_WITHOUT_OVERRIDE_GY},
        )
    n = target.n_fractions
    if n is not None and not 1 <= n <= 15:
        _add(errors, "n_fractions", _("%(n)s fractions: SABR has 1 to 15 fractions (EC-ST-1).") % {"n": n})
    if target.is_reirradiation == "Y" and not target.reirradiation_reason:
        _add(errors, "reirradiation_reason", _("A re-irradiation needs its reason (EC-ST-1)."))
    if target.is_reirradiation == "N" and target.reirradiation_reason:
        _add(errors, "reirradiation_reason", _("A reason is recorded only for a re-irradiation (EC-ST-1)."))
    lesion_id = getattr(target, "lesion_id", None)
    if lesion_id is not None:
        lesion = target.lesion
        if target.patient_id and getattr(lesion, "patient_id", target.patient_id) != target.patient_id:
            _add(errors, "lesion", _("This lesion belongs to another patient."))
        others = SabrTarget.objects.filter(lesion_id=lesion_id).exclude(pk=target.pk)
        if course is not None and others.filter(course=course).exists():
            _add(
                errors,
                "lesion",
                _(
                    "Lesion %(l)s already has a target in this course: one target per lesion "
                    "per course (EC-ST-1)."
                )
                % {"l": lesion},
            )
        elif others.exists() and target.is_reirradiation != "Y":
            _add(
                errors,
                "is_reirradiation",
                _(
                    "Lesion %(l)s was already treated with SABR: record this target "
                    "as a re-irradiation with its reason (EC-ST-1)."
                )
                % {"l": lesion},
            )
    if target.pk and n:
        highest = (
            target.fractions.order_by("-fraction_number").values_list("fraction_number", flat=True).first()
        )
        if highest is not None and highest > n:
            _add(
                errors,
                "n_fractions",
                _("Fraction %(f)s is already recorded: the number of fractions cannot be below it (EC-FX-1).")
                % {"f": highest},
            )
    _raise(errors)


# --- Form 12: SABR fraction -------------------------------------------------------------------------------------


def check_fraction(fraction: SabrFraction) -> None:
    """EC-FX-1: fraction number 1..n_fractions and unique per target; date on or after registration and
    simulation. EC-FX-2: delivered => dose; not delivered => reason (TOXICITY => AE link when the AE app is
    there). EC-G2..G4 on the date."""

    errors: dict[str, list[str]] = {}
    target = fraction.target if fraction.target_id else None
    _same_patient(fraction, target, "target", errors)
    if target is not None and fraction.fraction_number:
        if fraction.fraction_number > target.n_fractions:
            _add(
                errors,
                "fraction_number",
                _("Fraction %(f)s is beyond the %(n)s planned fractions of this target (EC-FX-1).")
                % {"f": fraction.fraction_number, "n": target.n_fractions},
            )
        elif any(
            other.fraction_number == fraction.fraction_number and other.pk != fraction.pk
            for other in pipeline.batch_rows(SabrFraction, "target_id", target.pk)
        ):
            _add(
                errors,
                "fraction_number",
                _("Fraction %(f)s of this target is already recorded (EC-FX-1).")
                % {"f": fraction.fraction_number},
            )
    if fraction.delivered == "Y":
        if fraction.dose_delivered_gy is None:
            _add(errors, "dose_delivered_gy", _("A delivered fraction needs its dose (EC-FX-2)."))
        if fraction.not_delivered_reason:
            _add(
                errors,
                "not_delivered_reason",
                _("A reason is recorded only when the fraction was not delivered (EC-FX-2)."),
            )
    elif fraction.delivered == "N":
        if not fraction.not_delivered_reason:
            _add(errors, "not_delivered_reason", _("A fraction not delivered needs the reason (EC-FX-2)."))
        if fraction.dose_delivered_gy is not None:
            _add(errors, "dose_delivered_gy", _("A fraction not delivered has no delivered dose (EC-FX-2)."))
        if (
            fraction.not_delivered_reason == "TOXICITY"
            and hasattr(fraction, "adverse_event_id")
            and fraction.adverse_event_id is None
        ):
            _add(
                errors,
                "adverse_event",
                _("A fraction not delivered for toxicity needs the adverse event (EC-FX-2)."),
            )
    _ae_of_patient(fraction, errors)
    if fraction.fraction_date and fraction.patient_id:
        errors_dates = date_errors(
            fraction.patient,
            {"fraction_date": fraction.fraction_date},
            labels={"fraction_date": _("Fraction date")},
            registration_rule="EC-FX-1",
        )
        for field, messages in errors_dates.items():
            for message in messages:
                _add(errors, field, message)
        if target is not None and fraction.fraction_date < target.course.simulation_date:
            _add(
                errors,
                "fraction_date",
                _("The fraction date %(d)s is before the planning CT on %(s)s (EC-FX-1, EC-SB-1).")
                % {"d": fraction.fraction_date, "s": target.course.simulation_date},
            )
    _raise(errors)


def fraction_warnings(fraction: SabrFraction, *, target_label: str = "") -> list[str]:
    """EC-FX-2 (soft): a delivered dose other than the planned dose per fraction; a date more than 21 days
    after the course's first fraction. Also flags a fraction beyond the planned number (EC-FX-1).

    Each warning is a ``ruletext`` message, preceded by ``target_label`` when given (the course's list)."""
    found: list[str] = []
    target = fraction.target
    planned = target.planned_dose_per_fraction
    delivered = fraction.dose_delivered_gy if fraction.delivered == "Y" else None
    if (
        delivered is not None
        and planned is not None
        and abs(Decimal(delivered) - planned) >= Decimal("0.005")
    ):
        found.append(
            say(
                gettext_noop("Fraction %(f)s: %(d)s Gy delivered, planned %(p)s Gy per fraction (EC-FX-2)."),
                f=fraction.fraction_number,
                d=fraction.dose_delivered_gy,
                p=round(planned, 2),
            )
        )
    if fraction.fraction_number and fraction.fraction_number > target.n_fractions:
        found.append(
            say(
                gettext_noop("Fraction %(f)s is beyond the %(n)s planned fractions (EC-FX-1)."),
                f=fraction.fraction_number,
                n=target.n_fractions,
            )
        )
    first = target.course.start_date
    if first is not None and fraction.fraction_date:
        days = (fraction.fraction_date - first).days
        if days > FRACTION_WINDOW_DAYS:
            found.append(
                say(
                    gettext_noop(
                        "Fraction %(f)s on %(d)s is %(n)s days after the course's first fraction %(s)s: "
                        "outside the %(w)s-day course window (EC-FX-2)."
                    ),
                    f=fraction.fraction_number,
                    d=fraction.fraction_date,
                    n=days,
                    s=first,
                    w=FRACTION_WINDOW_DAYS,
                )
            )
        elif days < 0:
            found.append(
                say(
                    gettext_noop(
                        "Fraction %(f)s on %(d)s is before the course's first delivered fraction %(s)s."
                    ),
                    f=fraction.fraction_number,
                    d=fraction.fraction_date,
                    s=first,
                )
            )
    if target_label:
        return [say(gettext_noop("%(target)s: %(warning)s"), target=target_label, warning=w) for w in found]
    return found


# --- Form 13: axitinib -----------------------------------------------------------------------------------------


def _patient_rows(model: Any, row: Any) -> list[Any]:
    if not row.patient_id:
        return []
    return [other for other in pipeline.batch_rows(model, "patient_id", row.patient_id) if other.pk != row.pk]


def check_axitinib_period(period: AxitinibPeriod) -> None:
    """EC-AX-1 (overlap, order, only the last open, first start >= registration, nothing after PERMANENTLY
    DISCONTINUED) and EC-AX-2 (an off-list dose only through other_dose_mg with a reason; a toxicity
    reason needs an AE link once the AE app is there)."""

    errors: dict[str, list[str]] = {}
    if period.dose_level and period.dose_level not in dosing.AxitinibDose._value2member_map_:
        _add(
            errors,
            "dose_level",
            _(
                "'%(v)s' is not an axitinib dose level: only 10, 7, 5, 3 or 2 mg BID, "
                "interrupted or permanently discontinued (R4.2, EC-AX-2)."
            )
            % {"v": period.dose_level},
        )
    elif period.other_dose_mg is not None and Decimal(period.other_dose_mg) <= 0:
        pass  # refused by the field's own validator (POSITIVE); the pure module would raise DosingError on it
    elif period.other_dose_mg is not None:
        if dosing.axitinib_level(dosing.AxitinibDose(period.dose_level)) is None:
            _add(
                errors,
                "other_dose_mg",
                _(
                    "An other dose is recorded with a dose level, not with an "
                    "interruption or discontinuation (EC-AX-2)."
                ),
            )
        listed = dosing.axitinib_dose_for_mg(Decimal(period.other_dose_mg))
        if listed is not None:
            _add(
                errors,
                "other_dose_mg",
                _("%(mg)s mg BID is a dose level: choose it in 'Dose level' instead (EC-AX-2).")
                % {"mg": _num(period.other_dose_mg)},
            )
        if not period.other_dose_reason:
            _add(
                errors, "other_dose_reason", _("A dose off the level list needs its reason (R4.2, EC-AX-2).")
            )
    elif period.other_dose_reason:
        _add(errors, "other_dose_reason", _("A reason is recorded only with an other dose (EC-AX-2)."))
    if (
        period.dose_change_reason in ("REDUCTION FOR TOXICITY", "INTERRUPTION FOR TOXICITY")
        and hasattr(period, "adverse_event_id")
        and period.adverse_event_id is None
    ):
        _add(errors, "adverse_event", _("A change for toxicity needs the adverse event (EC-AX-2)."))
    _ae_of_patient(period, errors)
    if period.dose_change_reason == "TITRATION UP" and not period.bp_ok_no_antihtn:
        _add(errors, "bp_ok_no_antihtn", _("Answer this for a titration up (R4.3)."))
    if period.end_date and period.start_date and period.end_date < period.start_date:
        _add(
            errors,
            "end_date",
            _("The end %(e)s is before the start %(s)s (EC-AX-1).")
            % {"e": period.end_date, "s": period.start_date},
        )
    valid_level = period.dose_level in dosing.AxitinibDose._value2member_map_
    if period.start_date and period.patient_id and valid_level and not errors:
        others = _patient_rows(AxitinibPeriod, period)
        for other in others:
            end = other.end_date
            if other.start_date == period.start_date or (
                other.start_date < period.start_date and (end is None or end >= period.start_date)
            ):
                _add(
                    errors, "start_date", _("This period overlaps the period %(o)s (EC-AX-1).") % {"o": other}
                )
                break
            if other.start_date > period.start_date:
                if period.end_date is None:
                    _add(
                        errors,
                        "end_date",
                        _("Only the last period may be open: the period %(o)s follows this one (EC-AX-1).")
                        % {"o": other},
                    )
                    break
                if period.end_date >= other.start_date:
                    _add(
                        errors,
                        "end_date",
                        _("This period overlaps the period %(o)s (EC-AX-1).") % {"o": other},
                    )
                    break
        earlier_stop = [
            o
            for o in others
            if o.dose_level == "PERMANENTLY DISCONTINUED" and o.start_date < period.start_date
        ]
        if earlier_stop:
            _add(
                errors,
                "start_date",
                _("Axitinib was permanently discontinued on %(d)s: no later period (EC-AX-1).")
                % {"d": earlier_stop[0].start_date},
            )
        if period.dose_level == "PERMANENTLY DISCONTINUED":
            later = [o for o in others if o.start_date > period.start_date]
            if later:
                _add(
                    errors,
                    "dose_level",
                    _(
                        "A period starts after this one (%(o)s): permanent discontinuation is "
                        "the last period (EC-AX-1)."
                    )
                    % {"o": later[0]},
                )
        if not errors:
            # the pure module is the reference for the whole set (EC-AX-1)
            pure = [o.as_pure() for o in others] + [period.as_pure()]
            for message in dosing.axitinib_period_errors(pure):
                _add(errors, "start_date", message)
    dates = {"start_date": period.start_date, "end_date": period.end_date}
    if period.patient_id:
        for field, messages in date_errors(
            period.patient,
            dates,
            labels={"start_date": _("Start"), "end_date": _("End")},
            registration_rule="EC-AX-1",
        ).items():
            for message in messages:
                _add(errors, field, message)
    _raise(errors)


def _axitinib_aes(patient: Any) -> list[dosing.AxitinibAe]:
    """The patient's AEs for EC-AX-3 (R4.3), answered by the AE app (``patient_facts``: it sits above us)."""
    return list(patient_facts.fact("axitinib_aes", patient))


def axitinib_ae_action_warnings(patient: Any) -> list[str]:
    """EC-AX-4 (soft): an AE with axitinib action DOSE REDUCED or DRUG INTERRUPTED has no period starting
    within 7 days of its onset with a lower dose or an interruption.

    A fact of the patient (each period's warnings repeat it): read once per edit-check run or save
    (``pipeline.read_once``)."""
    return list(
        pipeline.read_once(
            ("axitinib-ae-action-warnings", patient.pk), lambda: _axitinib_ae_action_warnings(patient)
        )
    )


def _axitinib_ae_action_warnings(patient: Any) -> list[str]:
    warnings = []
    periods = list(AxitinibPeriod.objects.filter(patient=patient).order_by("start_date"))
    window = datetime.timedelta(days=AXITINIB_AE_MATCH_DAYS)
    # (the AE, its pk, onset, axitinib action shown) of AEs that reduced or interrupted axitinib: the AE app answers.
    for ae, ae_pk, onset, _action in patient_facts.fact("axitinib_ae_actions", patient):
        match = [
            p
            for p in periods
            if abs(p.start_date - onset) <= window
            and (
                p.dose_change_reason in ("REDUCTION FOR TOXICITY", "INTERRUPTION FOR TOXICITY")
                or p.dose_level == "INTERRUPTED"
                or p.adverse_event_id == ae_pk
            )
        ]
        if not match:
            name = ae.verbatim or (ae.ctcae_term.term if ae.ctcae_term_id else "?")
            label = say(
                gettext_noop("AE %(n)s: %(term)s, grade %(g)s"), n=ae.ae_number or "-", term=name, g=ae.grade
            )
            warnings.append(
                say(
                    gettext_noop(
                        "%(ae)s (onset %(d)s) says axitinib was %(a)s, but no axitinib period with that "
                        "change starts within %(n)s days (EC-AX-4)."
                    ),
                    ae=label,
                    d=onset,
                    a=_english_action(ae),
                    n=AXITINIB_AE_MATCH_DAYS,
                )
            )
    return warnings


#: The two axitinib actions EC-AX-4 checks, in words that fit its sentence (rendered in the reader's language).
_AXITINIB_ACTIONS = {
    "DOSE REDUCED": gettext_noop("dose reduced"),
    "DRUG INTERRUPTED": gettext_noop("interrupted"),
}


def _english_action(ae: Any) -> Any:
    """The AE's axitinib action in words: a message id for the two EC-AX-4 checks, the CRF code otherwise."""
    words = _AXITINIB_ACTIONS.get(ae.acn_axitinib)
    return say(words) if words else ae.acn_axitinib


def axitinib_warnings(period: AxitinibPeriod) -> list[str]:
    """EC-AX-3 (soft, R4.3): a step up that does not meet the titration rule; EC-AX-4 for the patient."""

    if not period.patient_id or period.dose_level not in dosing.AxitinibDose._value2member_map_:
        return []
    if dosing.axitinib_level(dosing.AxitinibDose(period.dose_level)) is None:
        return axitinib_ae_action_warnings(period.patient)
    earlier = list(
        AxitinibPeriod.objects.filter(patient_id=period.patient_id, start_date__lt=period.start_date)
        .exclude(pk=period.pk)
        .order_by("-start_date")
    )
    dosed = [p for p in earlier if dosing.axitinib_level(dosing.AxitinibDose(p.dose_level)) is not None]
    if not dosed:
        return axitinib_ae_action_warnings(period.patient)
    current = dosed[0]
    level_start = current.start_date
    for p in dosed[1:]:  # the run of consecutive periods at the current level (interruptions included)
        if p.dose_level != current.dose_level:
            break
        level_start = p.start_date
    bp = {"Y": True, "N": False}.get(period.bp_ok_no_antihtn or "")
    return axitinib_ae_action_warnings(period.patient) + dosing.axitinib_titration_warnings(
        current=dosing.AxitinibDose(current.dose_level),
        proposed=dosing.AxitinibDose(period.dose_level),
        current_level_start=level_start,
        change_date=period.start_date,
        adverse_events=_axitinib_aes(period.patient),
        bp_ok_no_antihtn=bp,
        min_weeks_at_level=AXITINIB_TITRATION_MIN_WEEKS,
    )


# --- Form 14: toripalimab ------------------------------------------------------------------------------------------


def check_infusion(infusion: ToripalimabInfusion) -> None:
    """EC-TO-1 (unique consecutive cycles, date on or after registration, later than the previous given one,
    nothing after PERMANENTLY DISCONTINUED), EC-TO-2 (240 mg or a reason; no reductions), EC-TO-4 (a reason
    for anything but GIVEN; AE link when the AE app is there)."""

    errors: dict[str, list[str]] = {}
    given = infusion.infusion_status == "GIVEN"
    if given:
        if infusion.infusion_date is None:
            _add(errors, "infusion_date", _("A given infusion needs its date (EC-TO-1)."))
        if infusion.dose_mg is None:
            _add(errors, "dose_mg", _("A given infusion needs its dose (R4.6)."))
        if infusion.status_reason:
            _add(
                errors,
                "status_reason",
                _("A reason is recorded only for a delayed, omitted or stopped cycle."),
            )
    elif infusion.infusion_status:
        if not infusion.status_reason:
            _add(errors, "status_reason", _("Give the reason for the delay, omission or stop (EC-TO-4)."))
        infusion.dose_mg = None  # a cycle that was not given has no dose (the form's default 240 is dropped)
    if infusion.dose_mg is not None and given:
        reduction = infusion.dose_mg < dosing.TORIPALIMAB_DOSE_MG and infusion.infusion_interrupted != "Y"
        for message in dosing.toripalimab_dose_errors(
            dose_mg=Decimal(infusion.dose_mg),
            deviation_reason=infusion.dose_deviation_reason,
            reduction_for_toxicity=reduction,
        ):
            if "reduction" in message:
                _add(
                    errors,
                    "dose_mg",
                    _(
                        "%(d)s mg is a dose reduction: toripalimab is never reduced, only "
                        "withheld (delayed or omitted) or stopped; a lower dose is recorded only for an interrupted "
                        "infusion (R4.7, EC-TO-2)."
                    )
                    % {"d": _num(infusion.dose_mg)},
                )
            else:
                _add(
                    errors,
                    "dose_deviation_reason",
                    _("The dose is %(d)s mg, not 240 mg: give the reason (R4.7, EC-TO-2).")
                    % {"d": _num(infusion.dose_mg)},
                )
    if (
        infusion.status_reason == "ADVERSE EVENT"
        and hasattr(infusion, "adverse_event_id")
        and infusion.adverse_event_id is None
    ):
        _add(
            errors,
            "adverse_event",
            _("A delay, omission or stop for an adverse event needs the AE (EC-TO-4)."),
        )
    ae = _ae_of_patient(infusion, errors)
    if ae is not None:
        expected = {
            "DELAYED": "DRUG INTERRUPTED",
            "OMITTED": "DRUG INTERRUPTED",
            "PERMANENTLY DISCONTINUED": "DRUG WITHDRAWN",
        }.get(infusion.infusion_status)
        if expected and ae.acn_toripalimab != expected:
            _add(
                errors,
                "adverse_event",
                _(
                    "%(ae)s records toripalimab action '%(a)s': a %(s)s cycle needs an AE "
                    "whose toripalimab action is '%(e)s' (EC-TO-4)."
                )
                % {
                    "ae": ae,
                    "a": ae.get_acn_toripalimab_display(),
                    "s": infusion.get_infusion_status_display().lower(),
                    "e": expected,
                },
            )
    if given and infusion.infusion_interrupted not in ("Y", "N"):
        _add(errors, "infusion_interrupted", _("Answer this for a given infusion (R4.8)."))
    if infusion.patient_id and infusion.cycle_number:
        others = [o for o in patient_infusions(infusion.patient_id) if o.pk != infusion.pk]
        if any(o.cycle_number == infusion.cycle_number for o in others):
            _add(
                errors,
                "cycle_number",
                _("Cycle %(n)s is already recorded for this patient (EC-TO-1).")
                % {"n": infusion.cycle_number},
            )
        else:
            numbers = sorted([o.cycle_number for o in others] + [infusion.cycle_number])
            if numbers != list(range(1, len(numbers) + 1)):
                expected = len(others) + 1
                _add(
                    errors,
                    "cycle_number",
                    _("Cycles are consecutive: the next cycle is %(e)s, not %(n)s (EC-TO-1).")
                    % {"e": expected, "n": infusion.cycle_number},
                )
        stopped = [
            o
            for o in others
            if o.infusion_status == "PERMANENTLY DISCONTINUED" and o.cycle_number < infusion.cycle_number
        ]
        if stopped:
            _add(
                errors,
                "infusion_status",
                _("Toripalimab was permanently discontinued at cycle %(n)s: no later cycle (EC-TO-1).")
                % {"n": stopped[0].cycle_number},
            )
        if infusion.infusion_status == "PERMANENTLY DISCONTINUED" and any(
            o.cycle_number > infusion.cycle_number for o in others
        ):
            _add(
                errors,
                "infusion_status",
                _("Later cycles are recorded: permanent discontinuation is the last cycle (EC-TO-1)."),
            )
        if given and infusion.infusion_date:
            for o in others:
                if o.infusion_status != "GIVEN" or o.infusion_date is None:
                    continue
                if o.cycle_number < infusion.cycle_number and o.infusion_date >= infusion.infusion_date:
                    _add(
                        errors,
                        "infusion_date",
                        _("Cycle %(c)s was given on %(d)s: this cycle must be later (EC-TO-1).")
                        % {"c": o.cycle_number, "d": o.infusion_date},
                    )
                    break
                if o.cycle_number > infusion.cycle_number and o.infusion_date <= infusion.infusion_date:
                    _add(
                        errors,
                        "infusion_date",
                        _("Cycle %(c)s was given on %(d)s: this cycle must be earlier (EC-TO-1).")
                        % {"c": o.cycle_number, "d": o.infusion_date},
                    )
                    break
        for field, messages in date_errors(
            infusion.patient,
            {"infusion_date": infusion.infusion_date},
            labels={"infusion_date": _("Infusion date")},
            registration_rule="EC-TO-1",
        ).items():
            for message in messages:
                _add(errors, field, message)
    _raise(errors)


def infusion_warnings(infusion: ToripalimabInfusion) -> list[str]:
    """EC-TO-3 (soft): the interval from the previous given infusion is outside 18-24 days (q3w +/- 3)."""

    if infusion.infusion_status != "GIVEN" or infusion.infusion_date is None:
        return []
    given = pipeline.read_once(
        ("given infusions", infusion.patient_id),
        lambda: list(
            ToripalimabInfusion.objects.filter(patient_id=infusion.patient_id, infusion_status="GIVEN")
            .order_by("-cycle_number")
            .only("pk", "cycle_number", "infusion_date")
        ),
    )  # one read per edit-check run, not one per infusion
    previous = next(
        (
            i
            for i in given
            if i.pk != infusion.pk
            and infusion.cycle_number is not None
            and i.cycle_number is not None
            and i.cycle_number < infusion.cycle_number
        ),
        None,
    )
    if previous is None or previous.infusion_date is None:
        return []
    warning = dosing.toripalimab_interval_warning(previous.infusion_date, infusion.infusion_date)
    if warning is None:
        return []
    days = (infusion.infusion_date - previous.infusion_date).days
    return [
        say(
            gettext_noop(
                "%(n)s days since the previous given infusion on %(p)s: outside q3w ± 3 days "
                "(%(lo)s-%(hi)s days) (EC-TO-3)."
            ),
            n=days,
            p=previous.infusion_date,
            lo=dosing.TORIPALIMAB_MIN_INTERVAL_DAYS,
            hi=dosing.TORIPALIMAB_MAX_INTERVAL_DAYS,
        )
    ]


# --- Form 15: immunosuppressants -------------------------------------------------------------------------------------


def check_immunosuppressant(row: Immunosuppressant) -> None:
    """EC-CM-1: end >= start; ongoing = Y <=> no end date; OTHER drug needs a name; irAE or infusion-reaction
    indication needs an AE link once the AE app is there."""
    errors: dict[str, list[str]] = {}
    if row.drug == "OTHER" and not row.drug_other.strip():
        _add(errors, "drug_other", _("Name the drug when it is 'Other'."))
    # An ongoing drug has no stop date: the CRF's branching (treatment.crfs).
    if row.ongoing == "N" and row.end_date is None:
        _add(errors, "end_date", _("A stopped drug needs its stop date (EC-CM-1)."))
    if row.end_date and row.start_date and row.end_date < row.start_date:
        _add(
            errors,
            "end_date",
            _("The stop %(e)s is before the start %(s)s (EC-CM-1).")
            % {"e": row.end_date, "s": row.start_date},
        )
    if (
        row.indication in ("IMMUNE-RELATED AE", "INFUSION REACTION")
        and hasattr(row, "adverse_event_id")
        and row.adverse_event_id is None
    ):
        _add(
            errors,
            "adverse_event",
            _("An immune-related or infusion-reaction indication needs the AE (EC-CM-1)."),
        )
    _ae_of_patient(row, errors)
    if row.patient_id:
        for field, messages in date_errors(
            row.patient,
            {"start_date": row.start_date, "end_date": row.end_date},
            labels={"start_date": _("Start"), "end_date": _("Stop")},
            treatment=False,
        ).items():
            for message in messages:
                _add(errors, field, message)
    _raise(errors)


def immunosuppressant_warnings(row: Immunosuppressant) -> list[str]:
    """EC-CM-2 (soft, R4.8): > 10 mg/day prednisone-equivalent after 12 weeks while toripalimab continues."""

    out: list[str] = []
    if (
        row.indication == "IMMUNE-RELATED AE"
        and row.adverse_event_id
        and row.adverse_event.immune_related == "N"
    ):
        out.append(say(gettext_noop("The linked AE is not marked immune-related (EC-CM-1).")))
    if row.pred_equiv_mg_day is None:
        return out
    continues = not ToripalimabInfusion.objects.filter(
        patient_id=row.patient_id, infusion_status="PERMANENTLY DISCONTINUED"
    ).exists()
    warning = dosing.steroid_taper_warning(
        course_start=row.start_date,
        on_date=row.end_date or timezone.localdate(),
        pred_equiv_mg_day=Decimal(row.pred_equiv_mg_day),
        toripalimab_continues=continues,
    )
    if warning is None:
        return out
    return out + [
        say(
            gettext_noop(
                "%(mg)s mg/day prednisone-equivalent more than %(w)s weeks after the start while toripalimab "
                "continues: not tapered to ≤ %(t)s mg/day (R4.8, EC-CM-2)."
            ),
            mg=_num(row.pred_equiv_mg_day),
            w=dosing.STEROID_MAX_WEEKS,
            t=dosing.STEROID_THRESHOLD_MG_DAY,
        )
    ]


# --- Form 16: subsequent therapy -------------------------------------------------------------------------------------


def pfs2_event(reason: str, local_on_protocol: str) -> bool:
    """EC-SU-2 / D2: a PFS2 event iff the reason is progression or clinical deterioration and it is not local
    therapy given while the protocol drugs continue."""
    return reason in PFS2_EVENT_REASONS and local_on_protocol == "N"


def check_subsequent_therapy(row: SubsequentTherapy) -> None:
    """EC-SU-1: start on or after treatment start (D1) and not after death; the SABR course belongs to the
    patient; a SABR course only for radiotherapy; radiotherapy or surgery names the lesions treated. EC-SU-4: the
    new lesions treated are the patient's and seen by the start. The many-to-many links are read as submitted
    (``pipeline.m2m_values``), so the form, the API, the importer and the services refuse alike."""

    errors: dict[str, list[str]] = {}
    if row.sabr_course_id is not None:
        _same_patient(row, row.sabr_course, "sabr_course", errors)
        if row.therapy_type != "RADIOTHERAPY":
            _add(errors, "sabr_course", _("A SABR course is linked only to radiotherapy."))
    if row.end_date and row.start_date and row.end_date < row.start_date:
        _add(errors, "end_date", _("The end is before the start."))
    lesions = pipeline.m2m_values(row, "lesions_treated")
    new_lesions = pipeline.m2m_values(row, "new_lesions_treated")
    for (
        lesion
    ) in lesions:  # the form offers only the patient's lesions; the API and the importer name any row
        if row.patient_id and getattr(lesion, "patient_id", row.patient_id) != row.patient_id:
            _add(
                errors,
                "lesions_treated",
                _("Lesion %(code)s belongs to another patient (EC-SU-1).") % {"code": lesion.lesion_code},
            )
    for field, messages in {
        **lesions_treated_errors(row.therapy_type, [*lesions, *new_lesions]),
        **new_lesions_treated_errors(row, new_lesions),
    }.items():
        for message in messages:
            _add(errors, field, message)
    if row.patient_id and row.start_date:
        start = treatment_start(row.patient)
        if start is None:
            _add(
                errors,
                "start_date",
                _(
                    "No study treatment is recorded yet: a subsequent therapy starts on or after "
                    "treatment start (EC-SU-1)."
                ),
            )
        elif row.start_date < start:
            _add(
                errors,
                "start_date",
                _("%(d)s is before treatment start on %(s)s (D1, EC-SU-1).")
                % {"d": row.start_date, "s": start},
            )
        for field, messages in date_errors(
            row.patient,
            {"start_date": row.start_date, "end_date": row.end_date},
            labels={"start_date": _("Start"), "end_date": _("End")},
            treatment=False,
        ).items():
            for message in messages:
                _add(errors, field, message)
    _raise(errors)


def lesions_treated_errors(therapy_type: str, lesions: Iterable[Any] | None) -> dict[str, list[str]]:
    """EC-SU-1: RADIOTHERAPY or SURGERY needs the lesions treated: registry lesions, new lesions or both
    (``lesions``: the two links together). The message stands on the registry field, the first of the two."""
    if therapy_type in ("RADIOTHERAPY", "SURGERY") and not list(lesions or []):
        return {
            "lesions_treated": [
                _(
                    "Radiotherapy or surgery needs the lesions treated: a registry lesion or a new lesion "
                    "(EC-SU-1)."
                )
            ]
        }
    return {}


def new_lesions_treated_errors(row: SubsequentTherapy, new_lesions: Iterable[Any]) -> dict[str, list[str]]:
    """EC-SU-4: a new lesion treated is one of this patient's (form 9) and was first seen on or before the start
    of the therapy (a lesion is treated after a scan showed it)."""
    out: dict[str, list[str]] = {}
    for new in new_lesions:
        if row.patient_id and new.assessment.patient_id != row.patient_id:
            out.setdefault("new_lesions_treated", []).append(
                _("New lesion %(code)s belongs to another patient (EC-SU-4).") % {"code": new.code}
            )
        elif row.start_date and new.first_seen_date and new.first_seen_date > row.start_date:
            out.setdefault("new_lesions_treated", []).append(
                _("New lesion %(code)s was first seen on %(seen)s, after the start on %(start)s (EC-SU-4).")
                % {"code": new.code, "seen": new.first_seen_date, "start": row.start_date}
            )
    return out


def subsequent_therapy_warnings(row: SubsequentTherapy) -> list[str]:
    """EC-SU-3 (soft): reason PROGRESSION without a prior RECIST PD (the dates of the patient's PD time points
    come from the assessments app through ``patient_facts``)."""
    if row.reason != "PROGRESSION" or row.start_date is None:
        return []
    if any(day <= row.start_date for day in patient_facts.fact("recist_pd_dates", row.patient)):
        return []
    return [
        say(
            gettext_noop("Reason 'progression' but no RECIST PD is recorded on or before %(d)s (EC-SU-3)."),
            d=row.start_date,
        )
    ]
