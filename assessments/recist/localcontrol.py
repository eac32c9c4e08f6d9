"""Local control of irradiated lesions (D5, R2.1-R2.3). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from assessments.recist.series import _check_assessments
from assessments.recist.timepoint import _LESION_NADIR, _pd_test, _results_by_code, lesion_value_mm
from assessments.recist.types import (
    DEFAULT_SETTINGS,
    ZERO,
    Assessment,
    InterventionKind,
    LcCensorReason,
    Lesion,
    LesionIntervention,
    LesionResult,
    LesionRole,
    LfConfirmation,
    LocalControlResult,
    LocalControlStep,
    NonTargetState,
    RecistError,
    RecistSettings,
    ResultStatus,
    SplitMerge,
)
from ruletext import Msg, define, gettext_noop

# --- Local control of irradiated lesions (D5, R2.1-R2.3) ---------------------------------------------------------
_E_LC_NO_STATE = define(
    "recist.err.lc_no_state", gettext_noop("%(code)s: no non-target state at this scan (R1.18)")
)
_E_LC_NOT_IRRADIATED = define(
    "recist.err.lc_not_irradiated",
    gettext_noop("%(code)s: not treated with protocol SABR; local control is for irradiated lesions (D4)"),
)
_E_LC_NO_RESULT = define(
    "recist.err.lc_no_result", gettext_noop("%(code)s: no result at the time point of %(date)s (EC-TA-1)")
)
_E_LC_INTERVENTION_WITHOUT_LF = define(
    "recist.err.lc_intervention_without_lf",
    gettext_noop(
        "%(code)s: %(kind)s for local failure on %(date)s, but no scan shows local failure; record in-field "
        "progression on the scan that showed it (D5, R2.3)"
    ),
)
_E_LC_NO_FIRST_FRACTION = define(
    "recist.err.lc_no_first_fraction", gettext_noop("%(code)s: irradiated but no first fraction date (D1)")
)
_C_PRE_SABR = define(
    "recist.lc.pre_sabr",
    gettext_noop("before the first fraction on %(date)s: sets the pre-SABR baseline (D1, R2.1)"),
)
#: Why a scan shows local failure (the step's rule is "LF: <why>"; the lesion's rule quotes the same why).
_C_WHY_SIZE = define("recist.lc.why_size", gettext_noop("%(test)s (D5, R2.1)"))
_C_WHY_FLAG = define(
    "recist.lc.why_flag", gettext_noop("investigator-marked unequivocal in-field progression (D5)")
)
_C_LF = define("recist.lc.lf", gettext_noop("LF: %(why)s"))
_C_FLAG_QUERY = define(
    "recist.lc.flag_query",
    gettext_noop(
        "no LF: UNEQUIVOCAL PROGRESSION without the in-field progression flag is RECIST non-target PD, "
        "not local failure; query: should in-field progression be set? (D12)"
    ),
)
_C_NO_LF = define("recist.lc.no_lf", gettext_noop("no LF: %(test)s (D5)"))
_C_NOT_EVALUATED = define(
    "recist.lc.not_evaluated", gettext_noop("not evaluated for size at this scan (R2.3)")
)
_C_LF_AT = define("recist.lc.lf_at", gettext_noop("LF at %(date)s (first scan showing it): %(why)s"))
_C_KIND: Final[Mapping[InterventionKind, Msg]] = MappingProxyType(
    {
        InterventionKind.REIRRADIATION: define(
            "recist.lc.kind_reirradiation", gettext_noop("re-irradiation")
        )(),
        InterventionKind.RESECTION: define("recist.lc.kind_resection", gettext_noop("resection"))(),
    }
)
_C_CENSORED_INTERVENTION = define(
    "recist.lc.censored_intervention",
    gettext_noop("censored at %(kind)s on %(date)s, done for a reason other than LF (R2.3)"),
)
_C_CENSORED_LAST = define(
    "recist.lc.censored_last",
    gettext_noop("censored at the last scan evaluating %(code)s on %(date)s, without LF (R2.3)"),
)
_C_CENSORED_NO_SCAN = define(
    "recist.lc.censored_no_scan",
    gettext_noop("censored at the first fraction: no scan after SABR evaluated %(code)s (R2.3)"),
)


def _lc_value(lesion: Lesion, result: LesionResult, settings: RecistSettings) -> Decimal | None:
    """Return the lesion's own size (mm) at this scan, or None when no diameter was recorded (D12).

    A non-target carries a diameter only when one was recorded for local control: a measured value, TOO SMALL TO
    MEASURE (5 mm) or DISAPPEARED (0 mm) (R1.10, CRF-SPEC form 9). Its RECIST status alone (PRESENT, ABSENT,
    UNEQUIVOCAL PROGRESSION) gives no diameter, so it does not evaluate the lesion for local control (D12).
    """
    if lesion.role is LesionRole.TARGET:
        if result.split_merge is SplitMerge.MERGED:
            return None  # its own diameter is no longer separable (R1.11): follow-up for LC ends
        return lesion_value_mm(lesion, result, settings=settings)
    if result.nontarget_state is None:
        raise RecistError(_E_LC_NO_STATE(code=lesion.code))
    if result.nontarget_state is NonTargetState.NOT_EVALUABLE:
        return None
    status = result.status
    if status is ResultStatus.TOO_SMALL:
        return settings.too_small_mm  # R1.10
    if status is ResultStatus.DISAPPEARED:
        return ZERO  # R1.10
    if status is ResultStatus.NOT_EVALUABLE:
        return None
    return result.value_mm


def lesion_local_control(
    lesion: Lesion,
    assessments: Sequence[Assessment],
    *,
    first_fraction_date: date,
    interventions: Sequence[LesionIntervention] = (),
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> LocalControlResult:
    """Return local failure or censoring of one protocol-irradiated lesion (D5, R2.1-R2.3).

    LF at a scan after the first fraction: the lesion's diameter (short axis for nodes) >= 1.20 x its own nadir
    **and** >= 5 mm above it, the nadir being its smallest value since SABR including the pre-SABR baseline (its
    latest value before the first fraction: the registry baseline unless a later pre-SABR scan measured it); or the
    investigator's unequivocal in-field progression (``infield_progression``), and nothing else (D12): a
    non-target's UNEQUIVOCAL PROGRESSION without the flag is RECIST non-target PD, not LF, and marks the step with
    ``flag_query`` so the investigator is asked whether to set the flag. Dated to the first scan that shows it.
    Follow-up does not stop at patient-level PD (R2.3). Without LF the lesion is censored at re-irradiation or
    resection done for another reason, else at the last scan that evaluated it: a scan that recorded its diameter
    or set the in-field flag (D12). Death as a competing event is the caller's (R2.4).
    """
    code = lesion.code
    if not lesion.irradiated_protocol:
        raise RecistError(_E_LC_NOT_IRRADIATED(code=code))
    _check_assessments(assessments)
    own = [iv for iv in interventions if iv.lesion_code == code]
    other = sorted((iv for iv in own if not iv.for_local_failure), key=lambda iv: iv.on)
    stop = other[0] if other else None
    nadir = lesion.baseline_value_mm
    steps: list[LocalControlStep] = []
    failure: LocalControlStep | None = None
    failure_nadir: Decimal | None = None
    failure_why: Msg | None = None
    last_evaluated: date | None = None
    for assessment in assessments:
        if not assessment.imaging_done:
            continue
        result = _results_by_code(assessment.results).get(code)
        if result is None:
            raise RecistError(_E_LC_NO_RESULT(code=code, date=assessment.assessment_date))
        scan = result.scan_date or assessment.assessment_date
        if stop is not None and scan > stop.on:
            break
        value = _lc_value(lesion, result, settings)
        after_sabr = scan > first_fraction_date
        flag = result.infield_progression  # D12: D5 alone decides LF
        evaluated = value is not None or flag  # D12: a diameter recorded or the in-field flag set
        size_lf, size_text = False, None
        if value is not None and nadir is not None:
            size_lf, size_text = _pd_test(
                value,
                nadir,
                fraction=settings.lf_increase_fraction,
                min_increase=settings.lf_min_increase_mm,
                label=_LESION_NADIR,
            )
        is_lf = after_sabr and (size_lf or flag)
        flag_query = (
            after_sabr
            and not is_lf
            and lesion.role is not LesionRole.TARGET
            and result.nontarget_state is NonTargetState.UNEQUIVOCAL_PROGRESSION
        )
        why: Msg | None = None
        if not after_sabr:
            rule = _C_PRE_SABR(date=first_fraction_date)
        elif size_lf:
            why = _C_WHY_SIZE(test=size_text)
            rule = _C_LF(why=why)
        elif flag:
            why = _C_WHY_FLAG()
            rule = _C_LF(why=why)
        elif flag_query:
            rule = _C_FLAG_QUERY()
        elif size_text is not None:
            rule = _C_NO_LF(test=size_text)
        else:
            rule = _C_NOT_EVALUATED()
        step = LocalControlStep(
            scan, value, nadir, is_lf, rule, result.lf_confirmation, flag_query, after_sabr and evaluated
        )
        steps.append(step)
        if is_lf and failure is None:
            failure, failure_nadir, failure_why = step, nadir, why
        if after_sabr and evaluated:
            last_evaluated = scan
        if value is not None and failure is None:
            # R2.1: before the first fraction the latest value is the pre-SABR baseline; after it, the nadir.
            nadir = value if not after_sabr or nadir is None else min(nadir, value)

    if failure is not None:
        after = steps[steps.index(failure) :]
        confirmation = next(
            (
                s.lf_confirmation
                for s in after
                if s.lf_confirmation is not None and s.lf_confirmation is not LfConfirmation.NOT_YET
            ),
            None,
        )
        return LocalControlResult(
            lesion_code=code,
            origin=first_fraction_date,
            event=True,
            date=failure.scan_date,
            censor_reason=None,
            nadir_mm=failure_nadir,
            confirmation=confirmation,
            rule=_C_LF_AT(date=failure.scan_date, why=failure_why),
            steps=tuple(steps),
        )
    for_lf = [iv for iv in own if iv.for_local_failure]
    if for_lf:
        raise RecistError(
            _E_LC_INTERVENTION_WITHOUT_LF(code=code, kind=_C_KIND[for_lf[0].kind], date=for_lf[0].on)
        )
    if stop is not None:
        reason = (
            LcCensorReason.REIRRADIATION
            if stop.kind is InterventionKind.REIRRADIATION
            else LcCensorReason.RESECTION
        )
        return LocalControlResult(
            code,
            first_fraction_date,
            False,
            stop.on,
            reason,
            nadir,
            None,
            _C_CENSORED_INTERVENTION(kind=_C_KIND[stop.kind], date=stop.on),
            tuple(steps),
        )
    if last_evaluated is not None:
        return LocalControlResult(
            code,
            first_fraction_date,
            False,
            last_evaluated,
            LcCensorReason.LAST_EVALUATING_SCAN,
            nadir,
            None,
            _C_CENSORED_LAST(code=code, date=last_evaluated),
            tuple(steps),
        )
    return LocalControlResult(
        code,
        first_fraction_date,
        False,
        first_fraction_date,
        LcCensorReason.NO_EVALUATING_SCAN,
        nadir,
        None,
        _C_CENSORED_NO_SCAN(code=code),
        tuple(steps),
    )


def local_control(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    first_fraction_dates: Mapping[str, date],
    interventions: Sequence[LesionIntervention] = (),
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> tuple[LocalControlResult, ...]:
    """Return local control for every lesion treated with protocol SABR, in registry order (D4, D5, R2.2)."""
    out: list[LocalControlResult] = []
    for lesion in lesions:  # R2.2: patient-level LF = LF in any of these rows (derived by the caller)
        if not lesion.irradiated_protocol:
            continue
        first = first_fraction_dates.get(lesion.code)
        if first is None:
            raise RecistError(_E_LC_NO_FIRST_FRACTION(code=lesion.code))
        out.append(
            lesion_local_control(
                lesion, assessments, first_fraction_date=first, interventions=interventions, settings=settings
            )
        )
    return tuple(out)
