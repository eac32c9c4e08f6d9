"""A patient's series: every time point from baseline on, with nadir, confirmation and back-dating. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

from assessments.recist.baseline import validate_target_selection
from assessments.recist.timepoint import (
    _NADIR,
    _T_NO_TARGET,
    _evaluate_targets,
    _pd_test,
    _results_by_code,
    _TargetEval,
    new_lesion_response,
    nontarget_response,
    overall_response,
)
from assessments.recist.types import (
    DEFAULT_SETTINGS,
    ZERO,
    Assessment,
    Lesion,
    LesionResult,
    LesionRole,
    NewLesion,
    NonTargetState,
    RecistError,
    RecistSettings,
    Response,
    ResultStatus,
    SeriesResult,
    TimePointResult,
    _codes,
)
from ruletext import define, gettext_noop, join

# --- A patient's series -------------------------------------------------------------------------------------------
_E_REGISTERED_TWICE = define("recist.err.registered_twice", gettext_noop("%(code)s: registered twice"))
_E_NEW_IN_REGISTRY = define(
    "recist.err.new_in_registry",
    gettext_noop("%(code)s: new lesions are recorded as NewLesion rows of an assessment (R1.19)"),
)
_E_TARGET_NO_BASELINE = define(
    "recist.err.target_no_baseline",
    gettext_noop("%(code)s: a target needs a baseline diameter > 0 mm (R1.7)"),
)
_E_TP_NO_SCAN_DATE = define(
    "recist.err.tp_no_scan_date", gettext_noop("time point %(tp)s: imaging done but no scan date (R5.3)")
)
_E_TP_LAST_BEFORE_FIRST = define(
    "recist.err.tp_last_before_first",
    gettext_noop("time point %(tp)s: last scan date before the first (EC-TA-2)"),
)
_E_TP_ROWS_WITHOUT_IMAGING = define(
    "recist.err.tp_rows_without_imaging",
    gettext_noop("time point %(tp)s: imaging not done, so no lesion rows (EC-TA-2, R1.22)"),
)
_E_TP_ORDER = define(
    "recist.err.tp_order",
    gettext_noop("time point %(tp)s: time points must be in strictly increasing date order"),
)
_E_TP_UNREGISTERED = define(
    "recist.err.tp_unregistered",
    gettext_noop("time point %(tp)s: results for unregistered lesions %(codes)s"),
)
_E_FIRST_SEEN_DIFFERS = define(
    "recist.err.first_seen_differs",
    gettext_noop("%(code)s: first_seen_date differs between time points (R1.19)"),
)
_E_FIRST_SEEN_AFTER = define(
    "recist.err.first_seen_after",
    gettext_noop("%(code)s: first seen after the scans of the time point recording it (R1.19)"),
)
_E_REAPPEARANCE_UNKNOWN = define(
    "recist.err.reappearance_unknown",
    gettext_noop("%(code)s: reappearance of %(origin)s, which is not a registered lesion (R1.21)"),
)
_E_REAPPEARANCE_GONE = define(
    "recist.err.reappearance_gone",
    gettext_noop(
        "%(code)s: recorded as %(origin)s reappearing, but %(origin)s is recorded as gone; "
        "record %(origin)s as measured or present at this time point (R1.21)"
    ),
)
_R_NO_NONIRRADIATED = define(
    "recist.series.no_nonirradiated", gettext_noop("%(rule)s (no non-irradiated lesions at baseline, D4)")
)
_R_NOT_DONE = define("recist.series.not_done", gettext_noop("NE: imaging not done (R1.22)"))
_R_BACKDATED = define(
    "recist.series.backdated",
    gettext_noop("PD: new lesion %(code)s first seen %(seen)s, confirmed on %(on)s (R1.19)"),
)


def _check_registry(lesions: Sequence[Lesion]) -> None:
    seen: set[str] = set()
    for lesion in lesions:
        if lesion.code in seen:
            raise RecistError(_E_REGISTERED_TWICE(code=lesion.code))
        seen.add(lesion.code)
        if lesion.role is LesionRole.NEW:
            raise RecistError(_E_NEW_IN_REGISTRY(code=lesion.code))
        if lesion.role is LesionRole.TARGET and (
            lesion.baseline_value_mm is None or lesion.baseline_value_mm <= 0
        ):
            raise RecistError(_E_TARGET_NO_BASELINE(code=lesion.code))
    problems = validate_target_selection([lesion for lesion in lesions if lesion.role is LesionRole.TARGET])
    if problems:
        raise RecistError(join("; ", [problem.message for problem in problems]))


def _check_assessments(assessments: Sequence[Assessment]) -> None:
    previous: date | None = None
    for assessment in assessments:
        when = assessment.assessment_date
        if assessment.imaging_done:
            if assessment.scan_date_first is None:
                raise RecistError(_E_TP_NO_SCAN_DATE(tp=assessment.label or when))
            if (
                assessment.scan_date_last is not None
                and assessment.scan_date_last < assessment.scan_date_first
            ):
                raise RecistError(_E_TP_LAST_BEFORE_FIRST(tp=when))
        elif assessment.results or assessment.new_lesions:
            raise RecistError(_E_TP_ROWS_WITHOUT_IMAGING(tp=when))
        if previous is not None and when <= previous:
            raise RecistError(_E_TP_ORDER(tp=when))
        previous = when


def _confirmed_cr_date(history: Sequence[tuple[date, Response]], confirm_min_days: int) -> date | None:
    """Return the date CR was confirmed if the patient is still in that confirmed CR (R1.21, R1.24)."""
    crs: list[date] = []
    for when, response in reversed(history):
        if response is Response.CR:
            crs.append(when)
        elif response is not Response.NE:
            break
    if len(crs) >= 2 and (crs[0] - crs[-1]).days >= confirm_min_days:
        return crs[0]
    return None


def _pct(change: Decimal, reference: Decimal) -> Decimal | None:
    return None if reference == 0 else change / reference * 100


def _target_pd_date(
    evaluation: _TargetEval,
    results: Mapping[str, LesionResult],
    nadir_mm: Decimal,
    default: date,
    settings: RecistSettings,
) -> date:
    """R5.3: the earliest scan of the time point whose lesions already support PD."""
    values = evaluation.sums.values_mm
    if evaluation.reappeared:
        return min(results[code].scan_date or default for code in evaluation.reappeared)
    measured = [(code, value) for code, value in values.items() if value is not None]
    dated = [results[code].scan_date for code, _ in measured]
    if not measured or any(when is None for when in dated):
        return default
    for cutoff in sorted({when for when in dated if when is not None}):
        partial = sum(
            (value for (code, value) in measured if (results[code].scan_date or default) <= cutoff),
            ZERO,
        )
        supports, _ = _pd_test(
            partial,
            nadir_mm,
            fraction=settings.pd_increase_fraction,
            min_increase=settings.pd_min_increase_mm,
            label=_NADIR,
        )
        if supports:
            return cutoff
    return default


def evaluate_series(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> SeriesResult:
    """Compute every time point of a patient from the baseline registry and the ordered follow-ups (R1.7-R1.22).

    Per time point: SOD, change from baseline and nadir, the categories, the overall response, the deciding rule
    and the PD date (R5.3). A new lesion that was equivocal (or PET-only, R1.20) when first seen and is confirmed
    later makes PD from the time point whose scans first showed it, dated to its ``first_seen_date`` (R1.19):
    earlier time points are revised when the confirming one is saved (EC-TA-3).
    """
    return _evaluate(lesions, assessments, settings=settings, excluded=frozenset(), scope="all lesions")


def evaluate_series_non_irradiated(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> SeriesResult:
    """Compute the series on lesions not treated with protocol SABR (D4, R1.41 b).

    Irradiated lesions are dropped with their results; without a target left, Table 2 applies; with no lesion
    left, each time point is NE unless a new lesion appears (PD). New lesions always count.
    """
    excluded = frozenset(lesion.code for lesion in lesions if lesion.irradiated_protocol)
    kept = [lesion for lesion in lesions if not lesion.irradiated_protocol]
    filtered = [
        replace(a, results=tuple(r for r in a.results if r.lesion_code not in excluded)) for a in assessments
    ]
    return _evaluate(kept, filtered, settings=settings, excluded=excluded, scope="non-irradiated lesions")


def _evaluate(
    lesions: Sequence[Lesion],
    assessments: Sequence[Assessment],
    *,
    settings: RecistSettings,
    excluded: frozenset[str],
    scope: str,
) -> SeriesResult:
    _check_registry(lesions)
    _check_assessments(assessments)
    targets = tuple(lesion for lesion in lesions if lesion.role is LesionRole.TARGET)
    nontargets = tuple(lesion for lesion in lesions if lesion.role is LesionRole.NON_TARGET)
    codes = {lesion.code for lesion in lesions}
    baseline_sum = sum((t.baseline_value_mm or ZERO for t in targets), ZERO) if targets else None
    nadir = baseline_sum
    history: list[tuple[date, Response]] = []
    rows: list[TimePointResult] = []
    first_counted: dict[str, int] = {}
    first_seen: dict[str, date] = {}
    no_lesion_note = bool(excluded and not lesions)

    for index, assessment in enumerate(assessments):
        when = assessment.assessment_date
        if not assessment.imaging_done:
            rows.append(_not_done_row(assessment, targets, nontargets, baseline_sum, nadir))
            history.append((when, Response.NE))
            continue
        results = _results_by_code(assessment.results)
        unknown = sorted(set(results) - codes)
        if unknown:
            raise RecistError(_E_TP_UNREGISTERED(tp=when, codes=_codes(unknown)))
        for recorded in assessment.new_lesions:
            seen = first_seen.setdefault(recorded.code, recorded.first_seen_date)
            if seen != recorded.first_seen_date:
                raise RecistError(_E_FIRST_SEEN_DIFFERS(code=recorded.code))
            if recorded.first_seen_date > assessment.last_scan_date:
                raise RecistError(_E_FIRST_SEEN_AFTER(code=recorded.code))
            _check_reappearance(recorded, results, codes, excluded)
        in_cr = _confirmed_cr_date(history, settings.confirm_min_days) is not None

        target_eval: _TargetEval | None = None
        if targets:
            assert baseline_sum is not None and nadir is not None
            target_eval = _evaluate_targets(
                targets,
                results,
                baseline_sum_mm=baseline_sum,
                nadir_mm=nadir,
                confirmed_cr=in_cr,
                settings=settings,
                excluded=excluded,
            )
        nt = nontarget_response(
            nontargets, results, confirmed_cr=in_cr, tumour_markers_normal=assessment.tumour_markers_normal
        )
        new = new_lesion_response(assessment.new_lesions, confirmed_cr=in_cr)
        for code in new.codes:
            first_counted.setdefault(code, index)
        overall = overall_response(
            target=target_eval.response if target_eval else None,
            nontarget=nt.response,
            new_lesion=new.present,
            target_rule=target_eval.rule if target_eval else "",
            nontarget_rule=nt.rule,
            new_lesion_rule=new.rule,
        )
        pd_date: date | None = None
        if overall.response is Response.PD:  # R5.3: the earliest date that supports PD
            candidates: list[date] = []
            if new.first_seen_date is not None:
                candidates.append(new.first_seen_date)
            if target_eval is not None and target_eval.response is Response.PD:
                assert nadir is not None
                candidates.append(_target_pd_date(target_eval, results, nadir, when, settings))
            if nt.response is Response.PD:
                candidates.append(_nontarget_pd_date(nontargets, results, when))
            pd_date = min(candidates) if candidates else when
        sod = target_eval.sums.sum_mm if target_eval else None
        rows.append(
            TimePointResult(
                assessment_date=when,
                scan_date_first=assessment.scan_date_first,
                scan_date_last=assessment.last_scan_date,
                imaging_done=True,
                sum_mm=sod,
                evaluated_sum_mm=target_eval.sums.evaluated_sum_mm if target_eval else None,
                baseline_sum_mm=baseline_sum,
                nadir_mm=nadir,
                pct_change_baseline=_pct(sod - baseline_sum, baseline_sum)
                if sod is not None and baseline_sum is not None
                else None,
                pct_change_nadir=_pct(sod - nadir, nadir) if sod is not None and nadir is not None else None,
                change_nadir_mm=sod - nadir if sod is not None and nadir is not None else None,
                target=target_eval.response if target_eval else None,
                nontarget=nt.response,
                new_lesion=new.present,
                new_lesion_codes=new.codes,
                overall=overall.response,
                rule=_R_NO_NONIRRADIATED(rule=overall.rule)
                if no_lesion_note and overall.response is Response.NE
                else overall.rule,
                target_rule=target_eval.rule if target_eval else _T_NO_TARGET(),
                nontarget_rule=nt.rule,
                new_lesion_rule=new.rule,
                pd_date=pd_date,
                label=assessment.label,
            )
        )
        history.append((when, overall.response))
        if sod is not None and nadir is not None:
            nadir = min(nadir, sod)  # R1.14: nadir = smallest SOD so far, baseline included

    _backdate_new_lesions(rows, assessments, first_counted, first_seen)
    return SeriesResult(
        timepoints=tuple(rows),
        baseline_sum_mm=baseline_sum,
        has_targets=bool(targets),
        has_lesions=bool(lesions),
        scope=scope,
    )


def _check_reappearance(
    recorded: NewLesion, results: Mapping[str, LesionResult], codes: set[str], excluded: frozenset[str]
) -> None:
    """R1.21: a reappearing lesion is measured on its own row, so that row cannot say it is gone."""
    origin = recorded.reappearance_of
    if origin is None or not recorded.present or origin in excluded:
        return
    if origin not in codes:
        raise RecistError(_E_REAPPEARANCE_UNKNOWN(code=recorded.code, origin=origin))
    row = results.get(origin)
    gone = row is not None and (
        row.status is ResultStatus.DISAPPEARED
        or (row.status is ResultStatus.MEASURED and row.value_mm == 0)
        or row.nontarget_state is NonTargetState.ABSENT
    )
    if gone:
        raise RecistError(_E_REAPPEARANCE_GONE(code=recorded.code, origin=origin))


def _nontarget_pd_date(
    nontargets: Sequence[Lesion], results: Mapping[str, LesionResult], default: date
) -> date:
    """R5.3: the scan of the non-target that progressed (or, under R1.21, reappeared)."""
    progressed = [
        lesion.code
        for lesion in nontargets
        if results[lesion.code].nontarget_state is NonTargetState.UNEQUIVOCAL_PROGRESSION
    ]
    if not progressed:
        progressed = [
            lesion.code
            for lesion in nontargets
            if not lesion.is_nodal and results[lesion.code].nontarget_state is NonTargetState.PRESENT
        ]
    return min((results[code].scan_date or default for code in progressed), default=default)


def _not_done_row(
    assessment: Assessment,
    targets: Sequence[Lesion],
    nontargets: Sequence[Lesion],
    baseline_sum: Decimal | None,
    nadir: Decimal | None,
) -> TimePointResult:
    text = _R_NOT_DONE()
    return TimePointResult(
        assessment_date=assessment.assessment_date,
        scan_date_first=None,
        scan_date_last=None,
        imaging_done=False,
        sum_mm=None,
        evaluated_sum_mm=None,
        baseline_sum_mm=baseline_sum,
        nadir_mm=nadir,
        pct_change_baseline=None,
        pct_change_nadir=None,
        change_nadir_mm=None,
        target=Response.NE if targets else None,
        nontarget=Response.NE if nontargets else None,
        new_lesion=False,
        new_lesion_codes=(),
        overall=Response.NE,
        rule=text,
        target_rule=text,
        nontarget_rule=text,
        new_lesion_rule=text,
        pd_date=None,
        label=assessment.label,
    )


def _backdate_new_lesions(
    rows: list[TimePointResult],
    assessments: Sequence[Assessment],
    first_counted: Mapping[str, int],
    first_seen: Mapping[str, date],
) -> None:
    """R1.19, R1.20: once a new lesion counts, PD starts at the time point whose scans first showed it."""
    for code, confirmed_at in first_counted.items():
        seen = first_seen[code]
        confirmed_on = rows[confirmed_at].assessment_date
        for index in range(confirmed_at):
            assessment = assessments[index]
            if not assessment.imaging_done or assessment.last_scan_date < seen:
                continue
            row = rows[index]
            text = _R_BACKDATED(code=code, seen=seen, on=confirmed_on)
            if row.overall is Response.PD:
                rows[index] = replace(
                    row,
                    new_lesion=True,
                    new_lesion_codes=(*row.new_lesion_codes, code),
                    pd_date=min(row.pd_date or seen, seen),
                    rule=join("; ", [row.rule, text]),
                    new_lesion_rule=text,
                )
            else:
                rows[index] = replace(
                    row,
                    overall=Response.PD,
                    new_lesion=True,
                    new_lesion_codes=(*row.new_lesion_codes, code),
                    pd_date=seen,
                    rule=text,
                    new_lesion_rule=text,
                )
