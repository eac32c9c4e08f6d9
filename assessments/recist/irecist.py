"""iRECIST: time points and best overall response (R1.50-R1.53). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from assessments.recist.best_response import _RESPONSE_LIKE
from assessments.recist.series import evaluate_series
from assessments.recist.types import (
    _NO_POST_BASELINE,
    DEFAULT_SETTINGS,
    ZERO,
    Assessment,
    IRecistBestOverallResponse,
    IRecistTimePoint,
    IResponse,
    Lesion,
    LesionRole,
    RecistSettings,
    Response,
    TimePointResult,
    _codes,
    _mm,
    _signed,
)
from ruletext import Msg, define, gettext_noop, join

# --- iRECIST (R1.50-R1.53) ----------------------------------------------------------------------------------------
_I_OF: Final[Mapping[Response, IResponse]] = MappingProxyType(
    {
        Response.CR: IResponse.ICR,
        Response.PR: IResponse.IPR,
        Response.SD: IResponse.ISD,
        Response.NON_CR_NON_PD: IResponse.INN,
        Response.PD: IResponse.IUPD,
        Response.NE: IResponse.INE,
    }
)


_I_SOD_UP = define("recist.i.sod_up", gettext_noop("SOD %(sod)s mm is %(inc)s mm over %(ref)s mm at iUPD"))
_I_TARGET_PD = define("recist.i.target_pd", gettext_noop("target lesions now meet RECIST 1.1 PD"))
_I_NT_GREW = define("recist.i.nt_grew", gettext_noop("non-target %(codes)s increased further"))
_I_NT_PD = define("recist.i.nt_pd", gettext_noop("non-target unequivocal progression"))
_I_ANOTHER_NEW = define("recist.i.another_new", gettext_noop("another new lesion %(codes)s"))
_I_NEW_TARGETS_UP = define(
    "recist.i.new_targets_up", gettext_noop("new target lesions %(inc)s mm since iUPD")
)
_I_NEW_NT_GREW = define("recist.i.new_nt_grew", gettext_noop("new non-target %(codes)s grew"))
_I_CONFIRMED_EARLIER = define(
    "recist.i.confirmed_earlier", gettext_noop("iCPD confirmed on %(date)s (R1.51)")
)
_I_NOT_DONE = define("recist.i.not_done", gettext_noop("iNE: imaging not done (R1.22)"))
_I_IUPD = define("recist.i.iupd", gettext_noop("iUPD: %(rule)s (R1.50)"))
_I_AS_RECIST = define("recist.i.as_recist", gettext_noop("%(i)s: as RECIST 1.1 %(r)s"))
_I_SYMPTOMS = define(
    "recist.i.symptoms",
    gettext_noop("iCPD: scan for symptoms %(days)s d after iUPD shows another new lesion %(codes)s (R1.50)"),
)
_I_TOO_EARLY = define(
    "recist.i.too_early",
    gettext_noop("iUPD: scan %(days)s d after iUPD of %(ref)s (< 4 weeks) ignored for confirmation (R1.50)"),
)
_I_ICPD = define("recist.i.icpd", gettext_noop("iCPD: %(reasons)s (vs iUPD of %(ref)s, R1.51)"))
_I_ICPD_LATE = define(
    "recist.i.icpd_late",
    gettext_noop(
        "iCPD: %(reasons)s (vs iUPD of %(ref)s, R1.51) (confirmation %(days)s d after iUPD, beyond the 4-8 week "
        "window)"
    ),
)
_I_RESET = define("recist.i.reset", gettext_noop("%(i)s: iUPD of %(ref)s not confirmed; bar reset (R1.53)"))
_I_STILL_UNCONFIRMED = define(
    "recist.i.still_unconfirmed", gettext_noop("iNE: iUPD of %(ref)s still unconfirmed (R1.50)")
)
_I_NO_FURTHER = define(
    "recist.i.no_further", gettext_noop("iUPD: no further increase vs iUPD of %(ref)s (R1.51)")
)
_I_NO_FURTHER_LATE = define(
    "recist.i.no_further_late",
    gettext_noop(
        "iUPD: no further increase vs iUPD of %(ref)s (R1.51) (confirmation %(days)s d after iUPD, beyond the "
        "4-8 week window)"
    ),
)
_I_BEST = define("recist.i.best", gettext_noop("%(i)s at %(date)s (iBOR, R1.53)"))


@dataclass(frozen=True)
class _IupdRef:
    when: date
    sod: Decimal | None
    triggers: frozenset[str]
    new_codes: frozenset[str]
    new_target_sum: Decimal


def _new_target_sum(assessment: Assessment, codes: Sequence[str] | frozenset[str]) -> Decimal:
    # R1.52: new target lesions have their own sum; they are never added to the baseline SOD.
    return sum(
        (
            nl.value_mm
            for nl in assessment.new_lesions
            if nl.code in codes and nl.present and nl.value_mm is not None
        ),
        ZERO,
    )


def _iupd_ref(row: TimePointResult, assessment: Assessment) -> _IupdRef:
    triggers = {
        name
        for name, hit in (
            ("target", row.target is Response.PD),
            ("non-target", row.nontarget is Response.PD),
            ("new lesion", row.new_lesion),
        )
        if hit
    }
    codes = frozenset(row.new_lesion_codes)
    return _IupdRef(
        row.assessment_date, row.sum_mm, frozenset(triggers), codes, _new_target_sum(assessment, codes)
    )


def _icpd_reasons(
    ref: _IupdRef,
    row: TimePointResult,
    assessment: Assessment,
    nontarget_codes: frozenset[str],
    settings: RecistSettings,
) -> list[Msg]:
    """R1.51: what, compared with the iUPD time point, confirms progression."""
    reasons: list[Msg] = []
    step = settings.irecist_further_increase_mm
    current = row.sum_mm if row.sum_mm is not None else row.evaluated_sum_mm
    if ref.sod is not None and current is not None and current - ref.sod >= step:
        # Increases add up: always measured against the iUPD SOD (4 mm + 2 mm = 6 mm).
        reasons.append(_I_SOD_UP(sod=_mm(current), inc=_signed(current - ref.sod), ref=_mm(ref.sod)))
    elif "target" not in ref.triggers and row.target is Response.PD:
        reasons.append(_I_TARGET_PD())
    grown = [
        r.lesion_code for r in assessment.results if r.further_increase and r.lesion_code in nontarget_codes
    ]
    if "non-target" in ref.triggers and grown:
        reasons.append(_I_NT_GREW(codes=_codes(grown)))
    elif "non-target" not in ref.triggers and row.nontarget is Response.PD:
        reasons.append(_I_NT_PD())
    another = [code for code in row.new_lesion_codes if code not in ref.new_codes]
    if another:
        reasons.append(_I_ANOTHER_NEW(codes=_codes(another)))
    if ref.new_codes:
        new_sum = _new_target_sum(assessment, ref.new_codes)
        if new_sum - ref.new_target_sum >= step:
            reasons.append(_I_NEW_TARGETS_UP(inc=_signed(new_sum - ref.new_target_sum)))
        grown_new = [
            nl.code
            for nl in assessment.new_lesions
            if nl.code in ref.new_codes and nl.further_increase and nl.value_mm is None
        ]
        if grown_new:
            reasons.append(_I_NEW_NT_GREW(codes=_codes(grown_new)))
    return reasons


def irecist_series(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> tuple[IRecistTimePoint, ...]:
    """Return the iRECIST time-point responses, an exploratory read-out beside RECIST 1.1 (R1.50-R1.53).

    The first RECIST 1.1 PD is iUPD. The next assessment >= 4 weeks later (an earlier one is ignored unless done
    for symptoms and showing another new lesion) confirms iCPD when, against the iUPD time point, the SOD rises a
    further >= 5 mm, a non-target that drove iUPD increases further, the new target lesions rise >= 5 mm, a new
    non-target grows, another new lesion appears, or a category that did not drive iUPD now meets RECIST 1.1 PD.
    Increases add up. If the time point no longer meets RECIST 1.1 PD in any category it is iCR/iPR/iSD/non-iCR/
    non-iUPD and the bar resets (R1.53); otherwise iUPD persists (iNE when not evaluable). A confirming scan later
    than 8 weeks is still used and says so. New lesions are never added to the SOD (R1.52).
    """
    series = evaluate_series(lesions, assessments, settings=settings)
    nontarget_codes = frozenset(lesion.code for lesion in lesions if lesion.role is LesionRole.NON_TARGET)
    out: list[IRecistTimePoint] = []
    ref: _IupdRef | None = None
    confirmed_on: date | None = None
    assessed_since_iupd = 0  # the 4-8 week window concerns the first assessment after iUPD only
    for row, assessment in zip(series.timepoints, assessments, strict=True):
        when = row.assessment_date
        if confirmed_on is not None:
            out.append(IRecistTimePoint(when, IResponse.ICPD, _I_CONFIRMED_EARLIER(date=confirmed_on)))
            continue
        if not row.imaging_done:
            out.append(IRecistTimePoint(when, IResponse.INE, _I_NOT_DONE()))
            continue
        if ref is None:
            if row.overall is Response.PD:
                ref = _iupd_ref(row, assessment)
                assessed_since_iupd = 0
                out.append(IRecistTimePoint(when, IResponse.IUPD, _I_IUPD(rule=row.rule)))
            else:
                response = _I_OF[row.overall]
                out.append(
                    IRecistTimePoint(when, response, _I_AS_RECIST(i=response.value, r=row.overall.value))
                )
            continue
        days = (when - ref.when).days
        reasons = _icpd_reasons(ref, row, assessment, nontarget_codes, settings)
        if days < settings.irecist_confirm_min_days:
            another = [code for code in row.new_lesion_codes if code not in ref.new_codes]
            if assessment.for_symptoms and another:
                confirmed_on = when
                text = _I_SYMPTOMS(days=days, codes=_codes(another))
                out.append(IRecistTimePoint(when, IResponse.ICPD, text))
            else:
                text = _I_TOO_EARLY(days=days, ref=ref.when)
                out.append(IRecistTimePoint(when, IResponse.IUPD, text, ignored=True))
            continue
        late = days > settings.irecist_confirm_max_days and assessed_since_iupd == 0
        assessed_since_iupd += 1
        if reasons:
            confirmed_on = when
            why = join("; ", reasons)
            text = (
                _I_ICPD_LATE(reasons=why, ref=ref.when, days=days)
                if late
                else _I_ICPD(reasons=why, ref=ref.when)
            )
            out.append(IRecistTimePoint(when, IResponse.ICPD, text))
        elif row.overall in _RESPONSE_LIKE:
            response = _I_OF[row.overall]
            out.append(IRecistTimePoint(when, response, _I_RESET(i=response.value, ref=ref.when)))
            ref = None
        elif row.overall is Response.NE:
            out.append(IRecistTimePoint(when, IResponse.INE, _I_STILL_UNCONFIRMED(ref=ref.when)))
        else:
            text = _I_NO_FURTHER_LATE(ref=ref.when, days=days) if late else _I_NO_FURTHER(ref=ref.when)
            out.append(IRecistTimePoint(when, IResponse.IUPD, text))
    return tuple(out)


_I_ORDER: Final[Mapping[IResponse, int]] = MappingProxyType(
    {
        IResponse.ICR: 1,
        IResponse.IPR: 2,
        IResponse.ISD: 3,
        IResponse.INN: 4,
        IResponse.ICPD: 5,  # a confirmed iUPD ranks as the progression it is (S3 Table 3, example 6)
        IResponse.IUPD: 6,
        IResponse.INE: 7,
    }
)


def irecist_best_overall_response(
    timepoints: Sequence[IRecistTimePoint],
    *,
    treatment_start: date,
    sd_min_days: int = 42,
    stop_date: date | None = None,
) -> IRecistBestOverallResponse:
    """Return iBOR without confirmation of response (S3 Table 3): best of iCR > iPR > iSD > non-iCR/non-iUPD >
    iCPD > iUPD > iNE, up to the first iCPD, ignoring scans set aside under R1.50; iSD needs ``sd_min_days``.
    """
    floor = treatment_start + timedelta(days=sd_min_days)
    window: list[IRecistTimePoint] = []
    for tp in sorted(timepoints, key=lambda tp: tp.assessment_date):
        if tp.assessment_date <= treatment_start or tp.ignored:
            continue
        if stop_date is not None and tp.assessment_date >= stop_date:
            break
        window.append(tp)
        if tp.response is IResponse.ICPD:
            break
    if not window:
        return IRecistBestOverallResponse(None, None, _NO_POST_BASELINE())

    def effective(tp: IRecistTimePoint) -> IResponse:
        early = tp.response in (IResponse.ISD, IResponse.INN) and tp.assessment_date < floor
        return IResponse.INE if early else tp.response

    best = min(window, key=lambda tp: (_I_ORDER[effective(tp)], tp.assessment_date))
    response = effective(best)
    return IRecistBestOverallResponse(
        response, best.assessment_date, _I_BEST(i=response.value, date=best.assessment_date)
    )
