"""One time point: lesion values, sum of diameters, target, non-target, new-lesion and overall response
(R1.7-R1.22). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from assessments.recist.types import (
    DEFAULT_SETTINGS,
    NODE_PATHOLOGICAL_SA_MM,
    PR_FACTOR,
    ZERO,
    CategoryResult,
    DetectionMethod,
    Lesion,
    LesionResult,
    NewLesion,
    NewLesionResult,
    NonTargetState,
    OverallResult,
    PetBaseline,
    RecistError,
    RecistSettings,
    Response,
    ResultStatus,
    SplitMerge,
    SumOfDiameters,
    TargetResult,
    _codes,
    _mm,
    _num,
    _signed,
)
from ruletext import Msg, define, gettext_noop, join

# --- One time point: values, sum, categories (R1.7-R1.22) ---------------------------------------------------------
_E_TARGET_BY_STATE = define(
    "recist.err.target_by_state",
    gettext_noop("%(code)s: a target is recorded by measurement, not by a non-target state (R1.8)"),
)
_E_NO_RESULT = define(
    "recist.err.no_result",
    gettext_noop("%(code)s: no result; record NOT EVALUABLE rather than leaving it blank (R1.17)"),
)
_E_FRAGMENTS_NOT_SPLIT = define(
    "recist.err.fragments_not_split",
    gettext_noop("%(code)s: fragments are recorded only for a SPLIT lesion (R1.11)"),
)
_E_MERGED_NO_HOST = define(
    "recist.err.merged_no_host", gettext_noop("%(code)s: MERGED needs the lesion it merged into (R1.11)")
)
_E_MERGED_VALUE = define(
    "recist.err.merged_value",
    gettext_noop(
        "%(code)s: merged into %(into)s: record the merged diameter on %(into)s and 0 mm here (R1.11)"
    ),
)
_E_MERGED_INTO_NOT_MERGED = define(
    "recist.err.merged_into_not_merged",
    gettext_noop("%(code)s: merged_into is set but the lesion is not MERGED (R1.11)"),
)
_E_SPLIT_NOT_MEASURED = define(
    "recist.err.split_not_measured",
    gettext_noop("%(code)s: a SPLIT lesion is MEASURED as the sum of its fragments (R1.11)"),
)
_E_NEGATIVE = define("recist.err.negative", gettext_noop("%(code)s: a diameter cannot be negative"))
_E_TOO_SMALL_VALUE = define(
    "recist.err.too_small_value",
    gettext_noop(
        "%(code)s: TOO SMALL TO MEASURE counts as %(counts)s mm; record MEASURED for %(v)s mm (R1.10)"
    ),
)
_E_DISAPPEARED_VALUE = define(
    "recist.err.disappeared_value",
    gettext_noop("%(code)s: DISAPPEARED counts as 0 mm; a diameter was recorded (R1.10)"),
)
_E_NE_WITH_VALUE = define(
    "recist.err.ne_with_value", gettext_noop("%(code)s: NOT EVALUABLE with a diameter; choose one (R1.17)")
)
_E_FRAGMENT_NEGATIVE = define(
    "recist.err.fragment_negative", gettext_noop("%(code)s: a fragment diameter cannot be negative")
)
_E_FRAGMENT_SUM = define(
    "recist.err.fragment_sum",
    gettext_noop("%(code)s: value %(v)s mm is not the sum of the fragments %(total)s mm (R1.11)"),
)
_E_MEASURED_NO_VALUE = define(
    "recist.err.measured_no_value",
    gettext_noop("%(code)s: MEASURED without a diameter; record NOT EVALUABLE if it was not measured (R1.9)"),
)
_E_TWO_RESULTS = define("recist.err.two_results", gettext_noop("%(code)s: two results at one time point"))
_E_NO_RESULT_AT_TP = define(
    "recist.err.no_result_at_tp",
    gettext_noop(
        "%(code)s: no result at this time point; record NOT EVALUABLE rather than leave it blank (R1.17)"
    ),
)
_E_MERGED_NOT_TARGET = define(
    "recist.err.merged_not_target",
    gettext_noop("%(code)s: merged into %(into)s, which is not a target lesion (R1.11)"),
)
_E_MERGED_INTO_MERGED = define(
    "recist.err.merged_into_merged",
    gettext_noop("%(code)s: merged into %(into)s, which is itself merged (R1.11)"),
)
_T_MERGED_IRRADIATED = define(
    "recist.target.merged_irradiated", gettext_noop("%(code)s merged into irradiated %(into)s")
)


def lesion_value_mm(
    lesion: Lesion, result: LesionResult, *, settings: RecistSettings = DEFAULT_SETTINGS
) -> Decimal | None:
    """Return the millimetres a target adds to the SOD, or None if it is NOT EVALUABLE (R1.9-R1.11)."""
    code = lesion.code
    if result.nontarget_state is not None:
        raise RecistError(_E_TARGET_BY_STATE(code=code))
    status = result.status
    if status is None:
        raise RecistError(_E_NO_RESULT(code=code))
    if result.fragments_mm and result.split_merge is not SplitMerge.SPLIT:
        raise RecistError(_E_FRAGMENTS_NOT_SPLIT(code=code))
    if result.split_merge is SplitMerge.MERGED:
        if result.merged_into is None:
            raise RecistError(_E_MERGED_NO_HOST(code=code))
        if result.value_mm is not None and result.value_mm != 0:
            raise RecistError(_E_MERGED_VALUE(code=code, into=result.merged_into))
        # R1.11: the merged lesion is measured once, on the lesion it merged into; this one counts 0 mm.
        return None if status is ResultStatus.NOT_EVALUABLE else ZERO
    if result.merged_into is not None:
        raise RecistError(_E_MERGED_INTO_NOT_MERGED(code=code))
    if result.split_merge is SplitMerge.SPLIT and status is not ResultStatus.MEASURED:
        raise RecistError(_E_SPLIT_NOT_MEASURED(code=code))
    if (
        status is ResultStatus.MEASURED
    ):  # R1.9: the actual measurement; nodes keep their short axis below 10 mm
        value = _measured_value(code, result)
        if value < 0:
            raise RecistError(_E_NEGATIVE(code=code))
        return value  # R1.10: a real measurement is used even below 5 mm
    if status is ResultStatus.TOO_SMALL:
        if result.value_mm is not None and result.value_mm != settings.too_small_mm:
            raise RecistError(
                _E_TOO_SMALL_VALUE(code=code, counts=_mm(settings.too_small_mm), v=_mm(result.value_mm))
            )
        return settings.too_small_mm  # R1.10
    if status is ResultStatus.DISAPPEARED:
        if result.value_mm is not None and result.value_mm != 0:
            raise RecistError(_E_DISAPPEARED_VALUE(code=code))
        return ZERO  # R1.10
    if result.value_mm is not None:
        raise RecistError(_E_NE_WITH_VALUE(code=code))
    return None


def _measured_value(code: str, result: LesionResult) -> Decimal:
    if result.split_merge is SplitMerge.SPLIT and result.fragments_mm:
        if any(fragment < 0 for fragment in result.fragments_mm):
            raise RecistError(_E_FRAGMENT_NEGATIVE(code=code))
        total = sum(result.fragments_mm, ZERO)  # R1.11: split lesion = sum of its fragments
        if result.value_mm is not None and result.value_mm != total:
            raise RecistError(_E_FRAGMENT_SUM(code=code, v=_mm(result.value_mm), total=_mm(total)))
        return total
    if result.value_mm is None:
        raise RecistError(_E_MEASURED_NO_VALUE(code=code))
    return result.value_mm


def _results_by_code(results: Sequence[LesionResult]) -> dict[str, LesionResult]:
    by_code: dict[str, LesionResult] = {}
    for result in results:
        if result.lesion_code in by_code:
            raise RecistError(_E_TWO_RESULTS(code=result.lesion_code))
        by_code[result.lesion_code] = result
    return by_code


def _target_values(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    settings: RecistSettings,
    excluded: frozenset[str] = frozenset(),
) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    codes = {t.code for t in targets}
    values: dict[str, Decimal | None] = {}
    notes: dict[str, str] = {}
    for target in targets:
        result = results.get(target.code)
        if result is None:
            raise RecistError(_E_NO_RESULT_AT_TP(code=target.code))
        value = lesion_value_mm(target, result, settings=settings)
        into = result.merged_into
        if result.split_merge is SplitMerge.MERGED and into is not None:
            if into in excluded:
                value = None
                notes[target.code] = _T_MERGED_IRRADIATED(code=target.code, into=into)
            elif into == target.code or into not in codes:
                raise RecistError(_E_MERGED_NOT_TARGET(code=target.code, into=into))
            else:
                host = results.get(into)
                if host is not None and host.split_merge is SplitMerge.MERGED:
                    raise RecistError(_E_MERGED_INTO_MERGED(code=target.code, into=into))
        values[target.code] = value
    return values, notes


def sum_of_diameters(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> SumOfDiameters:
    """Return the SOD: LD of non-nodal plus short axis of nodal targets (R1.7, R1.10, R1.11)."""
    values, _ = _target_values(targets, results, settings=settings)
    return _sum(values)


def _sum(values: Mapping[str, Decimal | None]) -> SumOfDiameters:
    not_evaluable = tuple(code for code, value in values.items() if value is None)
    evaluated = sum((value for value in values.values() if value is not None), ZERO)
    return SumOfDiameters(
        sum_mm=None if not_evaluable else evaluated,
        evaluated_sum_mm=evaluated,
        not_evaluable=not_evaluable,
        values_mm=MappingProxyType(dict(values)),
    )


_PD_REL = define("recist.pd.rel", gettext_noop("%(factor)s x %(label)s %(ref)s mm"))
_PD_BOTH = define("recist.pd.both", gettext_noop("%(v)s mm >= %(rel)s and %(inc)s mm >= %(min)s mm"))
_PD_REL_ONLY = define("recist.pd.rel_only", gettext_noop("%(v)s mm >= %(rel)s but %(inc)s mm < %(min)s mm"))
_PD_BELOW = define("recist.pd.below", gettext_noop("%(v)s mm < %(rel)s"))
_NADIR: Final = define("recist.label.nadir", gettext_noop("nadir"))()
_LESION_NADIR: Final = define("recist.label.lesion_nadir", gettext_noop("lesion nadir"))()


def _pd_test(
    value: Decimal, reference: Decimal, *, fraction: Decimal, min_increase: Decimal, label: Msg
) -> tuple[bool, Msg]:
    """Test value against reference with both PD conditions (R1.14; D5 for LF); exact, inclusive (R1.16)."""
    factor = 1 + fraction
    increase = value - reference
    relative = (
        value >= factor * reference
    )  # R1.16: exact Decimal product, inclusive, never a rounded percentage
    absolute = increase >= min_increase
    head = _mm(value)
    rel_text = _PD_REL(factor=f"{factor:.2f}", label=label, ref=_mm(reference))
    if relative and absolute:
        return True, _PD_BOTH(v=head, rel=rel_text, inc=_signed(increase), min=_num(min_increase))
    if relative:
        return False, _PD_REL_ONLY(v=head, rel=rel_text, inc=_signed(increase), min=_num(min_increase))
    return False, _PD_BELOW(v=head, rel=rel_text)


_T_SIZE = define("recist.target.size", gettext_noop("%(code)s %(v)s mm"))
_T_PD_REAPPEARED = define(
    "recist.target.pd_reappeared", gettext_noop("PD: target %(sizes)s reappeared after confirmed CR (R1.21)")
)
_T_PD_PARTIAL = define(
    "recist.target.pd_partial",
    gettext_noop("PD: evaluable targets %(test)s although %(missing)s not evaluable (R1.17)"),
)
_T_NE = define(
    "recist.target.ne",
    gettext_noop("NE: %(missing)s not evaluable; evaluable targets (%(sum)s mm) do not meet PD (R1.17)"),
)
_T_CR_NODES = define(
    "recist.target.cr_nodes",
    gettext_noop("CR: non-nodal targets 0 mm and nodal targets < 10 mm short axis (SOD %(sod)s mm) (R1.12)"),
)
_T_CR_NODES_GROWTH = define(
    "recist.target.cr_nodes_growth",
    gettext_noop(
        "CR: non-nodal targets 0 mm and nodal targets < 10 mm short axis (SOD %(sod)s mm); "
        "not PD although %(test)s (D10) (R1.12)"
    ),
)
_T_CR = define("recist.target.cr", gettext_noop("CR: all target lesions disappeared (R1.12)"))
_T_PD = define("recist.target.pd", gettext_noop("PD: SOD %(test)s (R1.14)"))
_T_PR = define("recist.target.pr", gettext_noop("PR: SOD %(sod)s mm <= 0.70 x baseline %(base)s mm (R1.13)"))
_T_SD = define(
    "recist.target.sd",
    gettext_noop("SD: SOD %(sod)s mm > 0.70 x baseline %(base)s mm; not PD: %(test)s (R1.15)"),
)
_T_NO_TARGET = define("recist.target.none", gettext_noop("no target lesion at baseline: Table 2 applies"))
_E_NADIR_ABOVE_BASELINE = define(
    "recist.err.nadir_above_baseline",
    gettext_noop("the nadir includes baseline, so it cannot exceed the baseline SOD (R1.14)"),
)


@dataclass(frozen=True)
class _TargetEval:
    response: Response
    rule: str
    sums: SumOfDiameters
    reappeared: tuple[str, ...]
    notes: Mapping[str, str]


def _reappeared(lesion: Lesion, value: Decimal) -> bool:
    # R1.21 (S2): a node has reappeared only at SA >= 10 mm; any other lesion as soon as it is seen again.
    return value >= NODE_PATHOLOGICAL_SA_MM if lesion.is_nodal else value > 0


def _evaluate_targets(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    baseline_sum_mm: Decimal,
    nadir_mm: Decimal,
    confirmed_cr: bool,
    settings: RecistSettings,
    excluded: frozenset[str] = frozenset(),
) -> _TargetEval:
    values, notes = _target_values(targets, results, settings=settings, excluded=excluded)
    sums = _sum(values)
    by_code = {t.code: t for t in targets}

    def done(response: Response, rule: str, reappeared: tuple[str, ...] = ()) -> _TargetEval:
        return _TargetEval(response, rule, sums, reappeared, MappingProxyType(notes))

    if confirmed_cr:  # R1.21: after a confirmed CR any reappearing lesion is PD
        back = tuple(
            code for code, value in values.items() if value is not None and _reappeared(by_code[code], value)
        )
        if back:
            sizes = join(", ", [_T_SIZE(code=code, v=_mm(values[code] or ZERO)) for code in back])
            return done(Response.PD, _T_PD_REAPPEARED(sizes=sizes), back)
    evaluated = sums.evaluated_sum_mm
    is_pd, pd_text = _pd_test(
        evaluated,
        nadir_mm,
        fraction=settings.pd_increase_fraction,
        min_increase=settings.pd_min_increase_mm,
        label=_NADIR,
    )
    if sums.not_evaluable:
        missing = join(", ", [notes.get(code, code) for code in sums.not_evaluable])
        if is_pd:  # R1.17: the measured lesions already meet PD
            return done(Response.PD, _T_PD_PARTIAL(test=pd_text, missing=missing))
        return done(Response.NE, _T_NE(missing=missing, sum=_mm(evaluated)))
    sod = evaluated
    nodal = [t for t in targets if t.is_nodal]
    non_nodal_clear = all((values[t.code] or ZERO) == 0 for t in targets if not t.is_nodal)
    nodes_normal = all((values[t.code] or ZERO) < NODE_PATHOLOGICAL_SA_MM for t in nodal)
    # D10: R1.12 before R1.14. Nodes < 10 mm short axis are normal (S2, "Abnormal lymph node"), so a sum that rose
    # only through nodes still below 10 mm is CR, not PD; a node back at >= 10 mm leaves CR and R1.14 decides.
    if non_nodal_clear and nodes_normal:  # R1.12
        if nodal:
            if is_pd:
                return done(Response.CR, _T_CR_NODES_GROWTH(sod=_mm(sod), test=pd_text))
            return done(Response.CR, _T_CR_NODES(sod=_mm(sod)))
        return done(Response.CR, _T_CR())
    if is_pd:  # R1.14
        return done(Response.PD, _T_PD(test=pd_text))
    pr_limit = PR_FACTOR * baseline_sum_mm
    if sod <= pr_limit:  # R1.13: against baseline, inclusive
        return done(Response.PR, _T_PR(sod=_mm(sod), base=_mm(baseline_sum_mm)))
    return done(  # R1.15: neither PR (baseline) nor PD (nadir)
        Response.SD, _T_SD(sod=_mm(sod), base=_mm(baseline_sum_mm), test=pd_text)
    )


def target_response(
    targets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    baseline_sum_mm: Decimal,
    nadir_mm: Decimal,
    confirmed_cr: bool = False,
    settings: RecistSettings = DEFAULT_SETTINGS,
) -> TargetResult:
    """Return the target response CR/PR/SD/PD/NE (R1.12-R1.17); None when there is no target at baseline.

    ``nadir_mm`` is the smallest earlier SOD including baseline; ``confirmed_cr`` says the patient is in a
    confirmed CR, so any reappearing target is PD (R1.21).
    """
    if not targets:
        return TargetResult(None, _T_NO_TARGET())
    if nadir_mm > baseline_sum_mm:
        raise RecistError(_E_NADIR_ABOVE_BASELINE())
    result = _evaluate_targets(
        targets,
        results,
        baseline_sum_mm=baseline_sum_mm,
        nadir_mm=nadir_mm,
        confirmed_cr=confirmed_cr,
        settings=settings,
    )
    return TargetResult(result.response, result.rule, result.sums.sum_mm, result.sums.evaluated_sum_mm)


_N_NONE = define("recist.nontarget.none", gettext_noop("no non-target lesion at baseline"))
_E_NO_STATE = define(
    "recist.err.no_state",
    gettext_noop("%(code)s: no non-target state; record NOT EVALUABLE if not assessed (R1.18)"),
)
_E_NONTARGET_BY_STATUS = define(
    "recist.err.nontarget_by_status",
    gettext_noop("%(code)s: a non-target is recorded by state, not by a result status (R1.8)"),
)
_N_PD = define(
    "recist.nontarget.pd", gettext_noop("PD: unequivocal progression of non-target %(codes)s (R1.18)")
)
_N_PD_REAPPEARED = define(
    "recist.nontarget.pd_reappeared",
    gettext_noop("PD: non-target %(codes)s reappeared after confirmed CR (R1.21)"),
)
_N_NE = define("recist.nontarget.ne", gettext_noop("NE: non-target %(codes)s not evaluated (R1.18)"))
_N_PRESENT = define(
    "recist.nontarget.present", gettext_noop("NON-CR/NON-PD: non-target %(codes)s present (R1.18)")
)
_N_MARKERS = define(
    "recist.nontarget.markers",
    gettext_noop("NON-CR/NON-PD: non-targets absent but tumour markers not normal (R1.18)"),
)
_N_CR = define(
    "recist.nontarget.cr", gettext_noop("CR: all non-target lesions absent, nodes non-pathological (R1.18)")
)


def nontarget_response(
    nontargets: Sequence[Lesion],
    results: Mapping[str, LesionResult],
    *,
    confirmed_cr: bool = False,
    tumour_markers_normal: bool | None = None,
) -> CategoryResult:
    """Return the non-target response CR / NON-CR/NON-PD / PD / NE (R1.18); None when there is none at baseline."""
    if not nontargets:
        return CategoryResult(None, _N_NONE())
    states: dict[str, NonTargetState] = {}
    for lesion in nontargets:
        result = results.get(lesion.code)
        if result is None or result.nontarget_state is None:
            raise RecistError(_E_NO_STATE(code=lesion.code))
        if result.status is not None and not (
            lesion.irradiated_protocol and result.status is not ResultStatus.NOT_EVALUABLE
        ):
            # R1.8: the state decides; an irradiated lesion may also carry its size for local control (D5, D12).
            raise RecistError(_E_NONTARGET_BY_STATUS(code=lesion.code))
        states[lesion.code] = result.nontarget_state  # R1.8: present, absent or unequivocal progression
    progressed = [code for code, state in states.items() if state is NonTargetState.UNEQUIVOCAL_PROGRESSION]
    if progressed:  # R1.18
        return CategoryResult(Response.PD, _N_PD(codes=_codes(progressed)))
    if confirmed_cr:
        # R1.21: a non-nodal non-target seen again after a confirmed CR is PD; a node only by unequivocal growth (S2).
        back = [
            lesion.code
            for lesion in nontargets
            if not lesion.is_nodal and states[lesion.code] is NonTargetState.PRESENT
        ]
        if back:
            return CategoryResult(Response.PD, _N_PD_REAPPEARED(codes=_codes(back)))
    missing = [code for code, state in states.items() if state is NonTargetState.NOT_EVALUABLE]
    if missing:  # R1.18: not all evaluated
        return CategoryResult(Response.NE, _N_NE(codes=_codes(missing)))
    present = [code for code, state in states.items() if state is NonTargetState.PRESENT]
    if present:
        return CategoryResult(Response.NON_CR_NON_PD, _N_PRESENT(codes=_codes(present)))
    if tumour_markers_normal is False:
        return CategoryResult(Response.NON_CR_NON_PD, _N_MARKERS())
    return CategoryResult(Response.CR, _N_CR())


_L_GONE = define("recist.new.gone", gettext_noop("%(code)s no longer seen"))
_L_EQUIVOCAL = define("recist.new.equivocal", gettext_noop("%(code)s equivocal: keep following (R1.19)"))
_L_REAPPEARED_CR = define(
    "recist.new.reappeared_cr", gettext_noop("%(code)s (%(origin)s reappearing after confirmed CR, R1.21)")
)
_L_REAPPEARED = define(
    "recist.new.reappeared",
    gettext_noop("%(code)s is %(origin)s reappearing: not PD by itself without a confirmed CR (R1.21)"),
)
_E_PET_BASELINE = define(
    "recist.err.pet_baseline",
    gettext_noop("%(code)s: a PET-detected new lesion needs the baseline PET status (R1.20)"),
)
_L_PET_EXISTING = define(
    "recist.new.pet_existing",
    gettext_noop("%(code)s PET-positive at a site positive at baseline: existing disease, not new (R1.20)"),
)
_L_PET_UNCONFIRMED = define(
    "recist.new.pet_unconfirmed",
    gettext_noop("%(code)s PET-positive without baseline PET, not yet confirmed on CT (R1.20)"),
)
_L_PET_NEGATIVE_BASELINE = define("recist.new.pet_negative_baseline", gettext_noop("negative baseline PET"))
_L_PET_CT_CONFIRMED = define("recist.new.pet_ct_confirmed", gettext_noop("no baseline PET, confirmed on CT"))
_L_PET_NEW = define(
    "recist.new.pet_new", gettext_noop("%(code)s (first seen %(date)s; PET-positive, %(why)s, R1.20)")
)
_L_NEW = define("recist.new.new", gettext_noop("%(code)s (first seen %(date)s, R1.19)"))
_L_PD = define("recist.new.pd", gettext_noop("PD: new lesion %(items)s"))
_L_NONE_COUNTS = define("recist.new.none_counts", gettext_noop("no new lesion that counts: %(items)s"))
_L_NONE = define("recist.new.none", gettext_noop("no new lesion"))


def _new_lesion_counts(lesion: NewLesion, *, confirmed_cr: bool) -> tuple[bool, Msg]:
    code = lesion.code
    if not lesion.present:
        return False, _L_GONE(code=code)
    if not lesion.unequivocal:
        return False, _L_EQUIVOCAL(code=code)
    if lesion.reappearance_of is not None:
        if confirmed_cr:
            return True, _L_REAPPEARED_CR(code=code, origin=lesion.reappearance_of)
        return False, _L_REAPPEARED(code=code, origin=lesion.reappearance_of)
    if lesion.detected_by is DetectionMethod.PET_CT:  # R1.20
        baseline = lesion.pet_baseline
        if baseline is None:
            raise RecistError(_E_PET_BASELINE(code=code))
        if baseline is PetBaseline.POSITIVE:
            return False, _L_PET_EXISTING(code=code)
        if baseline is PetBaseline.NO_BASELINE_PET and not lesion.ct_confirmed:
            return False, _L_PET_UNCONFIRMED(code=code)
        why = _L_PET_NEGATIVE_BASELINE() if baseline is PetBaseline.NEGATIVE else _L_PET_CT_CONFIRMED()
        return True, _L_PET_NEW(code=code, date=lesion.first_seen_date, why=why)
    return True, _L_NEW(code=code, date=lesion.first_seen_date)


def new_lesion_response(new_lesions: Sequence[NewLesion], *, confirmed_cr: bool = False) -> NewLesionResult:
    """Return whether any new lesion counts as progression at this time point (R1.19-R1.21)."""
    counted: list[NewLesion] = []
    texts: list[Msg] = []
    others: list[Msg] = []
    for lesion in new_lesions:
        counts, text = _new_lesion_counts(lesion, confirmed_cr=confirmed_cr)
        (texts if counts else others).append(text)
        if counts:
            counted.append(lesion)
    if counted:
        return NewLesionResult(
            present=True,
            rule=_L_PD(items=join("; ", texts)),
            codes=tuple(lesion.code for lesion in counted),
            first_seen_date=min(lesion.first_seen_date for lesion in counted),
        )
    if others:
        return NewLesionResult(present=False, rule=_L_NONE_COUNTS(items=join("; ", others)))
    return NewLesionResult(present=False, rule=_L_NONE())


_E_NOT_TARGET_RESPONSE = define(
    "recist.err.not_target_response", gettext_noop("%(r)s is not a target response (R1.12-R1.17)")
)
_E_NOT_NONTARGET_RESPONSE = define(
    "recist.err.not_nontarget_response", gettext_noop("%(r)s is not a non-target response (R1.18)")
)
_O_NO_IMAGING = define("recist.overall.no_imaging", gettext_noop("NE: no imaging at this time point (R1.22)"))
_TABLE_1_NAME: Final = define("recist.overall.table1", gettext_noop("Table 1"))()
_TABLE_2_NAME: Final = define("recist.overall.table2", gettext_noop("Table 2"))()
_O_TARGET_PD = define("recist.overall.target_pd", gettext_noop("PD: target lesions PD (%(table)s)"))
_O_NONTARGET_PD = define("recist.overall.nontarget_pd", gettext_noop("PD: non-target lesions PD (%(table)s)"))
_O_NEW_PD = define("recist.overall.new_pd", gettext_noop("PD: new lesion (%(table)s)"))
_O_NO_LESION = define(
    "recist.overall.no_lesion", gettext_noop("NE: no baseline lesion to assess and no new lesion")
)
_O_TABLE2_LABELS: Final[Mapping[Response, Msg]] = MappingProxyType(
    {
        Response.CR: define("recist.overall.t2_cr", gettext_noop("CR: non-target lesions CR"))(),
        Response.NON_CR_NON_PD: define(
            "recist.overall.t2_noncr", gettext_noop("NON-CR/NON-PD: non-target lesions persist")
        )(),
        Response.NE: define(
            "recist.overall.t2_ne", gettext_noop("NE: non-target lesions not all evaluated")
        )(),
    }
)
_O_TABLE2 = define("recist.overall.t2", gettext_noop("%(reason)s; no new lesion (Table 2)"))
_O_NO_NONTARGET = define("recist.overall.no_nontarget", gettext_noop("no non-target lesion"))
_O_NONTARGET = define("recist.overall.nontarget", gettext_noop("non-target %(r)s"))
_O_T1_TARGETS_CR = define("recist.overall.t1_targets_cr", gettext_noop("CR: targets CR"))
_O_TABLE1 = define("recist.overall.t1", gettext_noop("%(target)s; %(nt)s; no new lesion (Table 1)"))
_O_T1_PR_FROM_CR = define(
    "recist.overall.t1_pr_from_cr",
    gettext_noop("PR: targets CR but %(nt)s (R1.12, R1.18); no new lesion (Table 1)"),
)
_O_TABLE1_LABELS: Final[Mapping[Response, Msg]] = MappingProxyType(
    {
        Response.PR: define("recist.overall.t1_pr", gettext_noop("PR: targets PR"))(),
        Response.SD: define("recist.overall.t1_sd", gettext_noop("SD: targets SD"))(),
        Response.NE: define("recist.overall.t1_ne", gettext_noop("NE: targets not all evaluated"))(),
    }
)

_TARGET_VALUES: Final = frozenset({Response.CR, Response.PR, Response.SD, Response.PD, Response.NE})
_NONTARGET_VALUES: Final = frozenset({Response.CR, Response.NON_CR_NON_PD, Response.PD, Response.NE})


def overall_response(
    *,
    target: Response | None,
    nontarget: Response | None,
    new_lesion: bool,
    imaging_done: bool = True,
    target_rule: str = "",
    nontarget_rule: str = "",
    new_lesion_rule: str = "",
) -> OverallResult:
    """Return the time-point response by Table 1 (targets at baseline) or Table 2 (non-targets only).

    ``None`` means no lesion of that kind at baseline. The optional ``*_rule`` texts are the category reasons,
    carried into the returned rule.
    """
    if target is not None and target not in _TARGET_VALUES:
        raise RecistError(_E_NOT_TARGET_RESPONSE(r=target))
    if nontarget is not None and nontarget not in _NONTARGET_VALUES:
        raise RecistError(_E_NOT_NONTARGET_RESPONSE(r=nontarget))
    if not imaging_done:  # R1.22
        return OverallResult(Response.NE, _O_NO_IMAGING())
    table = _TABLE_1_NAME if target is not None else _TABLE_2_NAME
    progression: list[str] = []
    if target is Response.PD:
        progression.append(target_rule or _O_TARGET_PD(table=table))
    if nontarget is Response.PD:
        progression.append(nontarget_rule or _O_NONTARGET_PD(table=table))
    if new_lesion:
        progression.append(new_lesion_rule or _O_NEW_PD(table=table))
    if progression:  # Tables 1 and 2: any PD category, or any new lesion
        return OverallResult(Response.PD, join("; ", progression))
    if target is None:
        if nontarget is None:
            return OverallResult(Response.NE, _O_NO_LESION())
        # Table 2: non-target disease only; never labelled SD.
        return OverallResult(nontarget, _O_TABLE2(reason=nontarget_rule or _O_TABLE2_LABELS[nontarget]))
    # Table 1
    nt_text = _O_NO_NONTARGET() if nontarget is None else _O_NONTARGET(r=nontarget.value)
    if target is Response.CR:
        if nontarget in (None, Response.CR):
            return OverallResult(Response.CR, _O_TABLE1(target=target_rule or _O_T1_TARGETS_CR(), nt=nt_text))
        return OverallResult(Response.PR, _O_T1_PR_FROM_CR(nt=nt_text))
    return OverallResult(target, _O_TABLE1(target=target_rule or _O_TABLE1_LABELS[target], nt=nt_text))
