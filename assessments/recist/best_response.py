"""Best overall response, unconfirmed and confirmed (R1.23-R1.26). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

from assessments.recist.types import (
    _NO_POST_BASELINE,
    CONFIRM_MAX_INTERVENING_NE,
    RESPONSE_ORDER,
    BestOverallResponse,
    RecistError,
    Response,
    TimePointResponse,
)
from ruletext import Msg, define, gettext_noop, join

# --- Best overall response (R1.23-R1.26) --------------------------------------------------------------------------
_RESPONSE_LIKE: Final = frozenset({Response.CR, Response.PR, Response.SD, Response.NON_CR_NON_PD})
_B_NO_POST_BASELINE_BEFORE = define(
    "recist.bor.no_post_baseline_before",
    gettext_noop("no post-baseline assessment before the next anticancer therapy on %(date)s (R5.8)"),
)
_E_BOR_MIXED_TABLES = define(
    "recist.err.bor_mixed_tables",
    gettext_noop("time points mix NON-CR/NON-PD (Table 2) with PR or SD (Table 1)"),
)
_E_BOR_NT_ONLY = define(
    "recist.err.bor_nt_only",
    gettext_noop("nontarget_only contradicts the time-point labels (Table 1 vs Table 2)"),
)
_E_BOR_SAME_DATE = define("recist.err.bor_same_date", gettext_noop("two time points on %(date)s"))
_B_EARLY = define(
    "recist.bor.early", gettext_noop("%(r)s at %(date)s was %(days)s d < %(min)s d after start")
)
_B_UNCONFIRMED = define("recist.bor.unconfirmed", gettext_noop("%(r)s at %(date)s (unconfirmed BOR, R1.23)"))
_B_STABLE = define(
    "recist.bor.stable",
    gettext_noop("%(r)s at %(date)s, %(days)s d >= %(min)s d after treatment start (R1.25)"),
)
_B_PD_EARLY = define("recist.bor.pd_early", gettext_noop("PD at %(date)s; %(early)s (R1.25)"))
_B_PD = define("recist.bor.pd", gettext_noop("PD at %(date)s (R1.23)"))
_B_NE_EARLY = define(
    "recist.bor.ne_early", gettext_noop("NE: %(early)s and no later evaluable response (R1.25)")
)
_B_NE = define("recist.bor.ne", gettext_noop("NE: no evaluable time point (R1.23)"))
_B_AFTER_CR = define(
    "recist.bor.after_cr", gettext_noop("%(r)s at %(date)s after CR at %(cr)s counts as PD (R1.26)")
)
_B_CR_CONFIRMED = define(
    "recist.bor.cr_confirmed",
    gettext_noop("CR confirmed at %(end)s (%(days)s d >= %(min)s d after %(start)s, R1.24)"),
)
_B_PR_CONFIRMED = define(
    "recist.bor.pr_confirmed",
    gettext_noop("PR confirmed by %(by)s at %(end)s (%(days)s d >= %(min)s d after %(start)s, R1.24)"),
)
_B_NOT_CONFIRMED = define("recist.bor.not_confirmed", gettext_noop("%(r)s at %(date)s not confirmed (R1.24)"))
_B_MET = define(
    "recist.bor.met",
    gettext_noop("%(label)s met at %(date)s, %(days)s d >= %(min)s d after start (R1.25, R1.26)"),
)
_B_NOT_MET = define("recist.bor.not_met", gettext_noop("SD not met >= %(min)s d after start (R1.25, R1.26)"))
_B_CONFIRMED_STABLE = define("recist.bor.confirmed_stable", gettext_noop("%(label)s: %(parts)s"))
_B_CONFIRMED_PD = define("recist.bor.confirmed_pd", gettext_noop("PD at %(date)s: %(parts)s"))
_B_CONFIRMED_NE = define("recist.bor.confirmed_ne", gettext_noop("NE: %(parts)s"))


def best_overall_response(
    timepoints: Sequence[TimePointResponse],
    *,
    treatment_start: date,
    confirm: bool,
    sd_min_days: int = 42,
    confirm_min_days: int = 28,
    stop_date: date | None = None,
    nontarget_only: bool | None = None,
) -> BestOverallResponse:
    """Return the best overall response (R1.23-R1.26).

    Window (R1.23): time points dated after ``treatment_start``, before ``stop_date`` (start of the next anticancer
    therapy, exclusive), in date order, up to and including the first PD. No time point in the window gives
    ``response=None`` (no post-baseline assessment, R5.8).

    Unconfirmed: the best by CR > PR > SD > NON-CR/NON-PD > PD > NE. SD and NON-CR/NON-PD count only when dated
    >= ``treatment_start + sd_min_days`` (R1.25); an earlier one counts as NE, so the BOR falls to PD if PD follows
    and to NE otherwise (admiralonco ``derive_param_bor``).

    Confirmed (Table 3 of R1.26), read as follows:
    - CR: a CR followed by another CR >= ``confirm_min_days`` later, with only CR or NE in between.
    - PR: a PR followed by a PR or CR >= ``confirm_min_days`` later, with only PR, CR or NE in between (PR->CR = PR).
    - Intervening NE (EORTC/admiralonco reading): one NE time point between the response and its confirmation does
      not break it (CR-NE-CR = CR, PR-NE-PR = PR); two or more do. An intervening SD does (PR-SD-PR is not a
      confirmation by that pair).
    - Table 3 footnote: after a CR, a later PR, SD or NON-CR/NON-PD means disease came back, so it counts as PD
      and ends the window (CR->PR and CR->SD = SD if the SD duration was met before it, else PD). Only correcting
      the data makes such a CR a PR.
    - Otherwise SD when any CR, PR, SD or NON-CR/NON-PD in the window is dated >= the SD minimum (PR->SD = SD,
      PR->NE = SD, CR->NE = SD), else PD if the window ends in PD, else NE. For a patient with non-target disease
      only (Table 2) the label is NON-CR/NON-PD, never SD.

    ``nontarget_only`` (optional) says the patient had no target lesion at baseline; when None it is inferred from
    the labels (NON-CR/NON-PD => True; PR or SD => False; otherwise False). Pass it for Table 2 patients whose
    series holds only CR, PD or NE.
    """
    nt_only = _nontarget_only(timepoints, nontarget_only)
    window, stopped_on = _bor_window(timepoints, treatment_start=treatment_start, stop_date=stop_date)
    if not window:
        rule = _NO_POST_BASELINE() if stopped_on is None else _B_NO_POST_BASELINE_BEFORE(date=stopped_on)
        return BestOverallResponse(None, None, rule)
    floor = treatment_start + timedelta(days=sd_min_days)
    if confirm:
        return _confirmed_bor(
            window,
            treatment_start=treatment_start,
            floor=floor,
            sd_min_days=sd_min_days,
            confirm_min_days=confirm_min_days,
            nt_only=nt_only,
        )
    return _unconfirmed_bor(window, treatment_start=treatment_start, floor=floor, sd_min_days=sd_min_days)


def _nontarget_only(timepoints: Sequence[TimePointResponse], declared: bool | None) -> bool:
    labels = {tp.response for tp in timepoints}
    table2 = Response.NON_CR_NON_PD in labels
    table1 = bool(labels & {Response.PR, Response.SD})
    if table1 and table2:
        raise RecistError(_E_BOR_MIXED_TABLES())
    if declared is None:
        return table2
    if (declared and table1) or (not declared and table2):
        raise RecistError(_E_BOR_NT_ONLY())
    return declared


def _bor_window(
    timepoints: Sequence[TimePointResponse], *, treatment_start: date, stop_date: date | None
) -> tuple[list[TimePointResponse], date | None]:
    """The BOR window and, when it is empty because of the next anticancer therapy, that therapy's date."""
    ordered = sorted(timepoints, key=lambda tp: tp.assessment_date)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.assessment_date == later.assessment_date:
            raise RecistError(_E_BOR_SAME_DATE(date=later.assessment_date))
    window: list[TimePointResponse] = []
    late = False
    for tp in ordered:
        if tp.assessment_date <= treatment_start:
            continue
        if stop_date is not None and tp.assessment_date >= stop_date:  # R1.23: next anticancer therapy
            late = True
            break
        window.append(tp)
        if tp.response is Response.PD:  # R1.23: up to the first PD
            break
    return window, stop_date if late and not window else None


def _unconfirmed_bor(
    window: Sequence[TimePointResponse], *, treatment_start: date, floor: date, sd_min_days: int
) -> BestOverallResponse:
    early = [tp for tp in window if tp.response in _STABLE and tp.assessment_date < floor]

    def effective(tp: TimePointResponse) -> Response:
        return Response.NE if tp in early else tp.response  # R1.25

    best = min(window, key=lambda tp: (RESPONSE_ORDER[effective(tp)], tp.assessment_date))
    response, when = effective(best), best.assessment_date
    early_note: Msg | None = None
    if early:
        first = early[0]
        days = (first.assessment_date - treatment_start).days
        early_note = _B_EARLY(r=first.response.value, date=first.assessment_date, days=days, min=sd_min_days)
    rule: Msg
    if response in (Response.CR, Response.PR):
        rule = _B_UNCONFIRMED(r=response.value, date=when)
    elif response in _STABLE:
        days = (when - treatment_start).days
        rule = _B_STABLE(r=response.value, date=when, days=days, min=sd_min_days)
    elif response is Response.PD:
        rule = _B_PD_EARLY(date=when, early=early_note) if early_note is not None else _B_PD(date=when)
    elif early_note is not None:
        rule = _B_NE_EARLY(early=early_note)
    else:
        rule = _B_NE()
    return BestOverallResponse(response, when, rule)


_STABLE: Final = frozenset({Response.SD, Response.NON_CR_NON_PD})


def _find_confirmation(
    sequence: Sequence[tuple[date, Response]],
    *,
    starts: frozenset[Response],
    confirms: frozenset[Response],
    min_days: int,
) -> tuple[int, int] | None:
    for i, (first_date, first) in enumerate(sequence):
        if first not in starts:
            continue
        intervening_ne = 0
        for j in range(i + 1, len(sequence)):
            when, response = sequence[j]
            if response in confirms:
                if (when - first_date).days >= min_days:  # R1.24
                    return i, j
                continue
            if response is Response.NE and intervening_ne < CONFIRM_MAX_INTERVENING_NE:
                intervening_ne += 1
                continue
            break
    return None


def _confirmed_bor(
    window: Sequence[TimePointResponse],
    *,
    treatment_start: date,
    floor: date,
    sd_min_days: int,
    confirm_min_days: int,
    nt_only: bool,
) -> BestOverallResponse:
    sequence = [(tp.assessment_date, tp.response) for tp in window]
    notes: list[Msg] = []
    first_cr: date | None = None
    for index, (when, response) in enumerate(sequence):
        if response is Response.CR and first_cr is None:
            first_cr = when
        elif first_cr is not None and response in (Response.PR, *_STABLE):
            # R1.26 Table 3 footnote: disease seen after a CR is progression at that point.
            notes.append(_B_AFTER_CR(r=response.value, date=when, cr=first_cr))
            sequence = [*sequence[:index], (when, Response.PD)]
            break

    pair = _find_confirmation(
        sequence,
        starts=frozenset({Response.CR}),
        confirms=frozenset({Response.CR}),
        min_days=confirm_min_days,
    )
    if pair is not None:
        (start, _), (end, _) = sequence[pair[0]], sequence[pair[1]]
        return BestOverallResponse(
            Response.CR,
            start,
            _B_CR_CONFIRMED(end=end, days=(end - start).days, min=confirm_min_days, start=start),
        )
    pair = _find_confirmation(
        sequence,
        starts=frozenset({Response.PR}),
        confirms=frozenset({Response.PR, Response.CR}),
        min_days=confirm_min_days,
    )
    if pair is not None:
        (start, _), (end, confirming) = sequence[pair[0]], sequence[pair[1]]
        return BestOverallResponse(
            Response.PR,
            start,
            _B_PR_CONFIRMED(
                by=confirming.value, end=end, days=(end - start).days, min=confirm_min_days, start=start
            ),
        )

    unconfirmed = next(((when, r) for when, r in sequence if r in (Response.CR, Response.PR)), None)
    if unconfirmed is not None:
        notes.insert(0, _B_NOT_CONFIRMED(r=unconfirmed[1].value, date=unconfirmed[0]))
    stable = next(((when, r) for when, r in sequence if r in _RESPONSE_LIKE and when >= floor), None)
    if stable is not None:
        label = Response.NON_CR_NON_PD if nt_only else Response.SD
        when = stable[0]
        met = _B_MET(label=label.value, date=when, days=(when - treatment_start).days, min=sd_min_days)
        return BestOverallResponse(
            label, when, _B_CONFIRMED_STABLE(label=label.value, parts=join("; ", [*notes, met]))
        )
    last_date, last = sequence[-1]
    not_met = _B_NOT_MET(min=sd_min_days)
    if last is Response.PD:
        return BestOverallResponse(
            Response.PD, last_date, _B_CONFIRMED_PD(date=last_date, parts=join("; ", [*notes, not_met]))
        )
    first_date = sequence[0][0]
    return BestOverallResponse(Response.NE, first_date, _B_CONFIRMED_NE(parts=join("; ", [*notes, not_met])))
