"""Writes of the assessment CRFs: the tumour assessment with its lesion grid, and the recompute of derived results.

Every write goes through ``sabr_trial.services`` (permission, lock, full_clean, version, history, audit); this module
adds the per-lesion rows and then recomputes ALL of the patient's time points with ``assessments.recist`` in the
same transaction (EC-TA-3: the nadir moves when an earlier assessment or the registry is corrected).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

import ruletext
from assessments import adapters, recist
from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment, next_code
from assessments.rules import derive_lesion
from sabr_trial import pipeline, services
from sabr_trial.crf import CrfStatus

log = logging.getLogger(__name__)


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(getattr(value, "lesion_code", value))


def entries_summary(rows: Sequence[dict[str, Any]], new_lesions: Sequence[dict[str, Any]]) -> str:
    """A readable line per lesion and per new lesion, stored on the form so the audit trail shows row changes."""
    lines = []
    for row in rows:
        lesion = row["lesion"]
        if lesion.role == Lesion.Role.TARGET:
            text = f"{lesion.lesion_code}: {row['result_status']} {_fmt(row['value_mm'])}"
            if row.get("split_merge") not in (None, "", "NONE"):
                text += f" {row['split_merge']} {_fmt(row.get('merged_into'))}"
        else:
            text = f"{lesion.lesion_code}: {row['nontarget_state']}"
            if row.get("result_status"):  # an irradiated lesion's size as a status (D12)
                text += f" {row['result_status']}"
            if row.get("value_mm") is not None:
                text += f" {row['value_mm']}"
        # Every entered value is in the line, so changing any one of them is a change (never a silent no-op).
        for key, label in (
            ("infield_progression", "in-field"),
            ("lf_confirmation", "LF confirmed by"),
            ("further_increase", "further increase"),
        ):
            if row.get(key):
                text += f" {label}={row[key]}"
        lines.append(text)
    for new in new_lesions:
        extra = " ".join(
            f"{key}={new[key]}"
            for key in (
                "laterality",
                "detected_by",
                "pet_baseline",
                "ct_confirmed",
                "new_value_mm",
                "present",
            )
            if new.get(key) not in (None, "")
        )
        lines.append(
            f"{new.get('code') or 'N?'}: {new['organ']} {new['location_text']} first seen {new['first_seen_date']} "
            f"unequivocal={new['unequivocal']} {extra}".rstrip()
        )
    return "\n".join(lines)


def check_rows(patient: Any, data: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
    """EC-TA-1: with imaging done, every registered lesion has exactly one row."""
    if data.get("imaging_done") != "Y":
        return
    registered = set(Lesion.objects.filter(patient=patient).exclude(role="NEW").values_list("pk", flat=True))
    given = [row["lesion"].pk for row in rows]
    if len(given) != len(set(given)) or set(given) != registered:
        raise ValidationError(
            _(
                "Every registered lesion needs one row at this time point (EC-TA-1). Reload the form and try again."
            )
        )


def save_assessment(
    *,
    patient: Any,
    instance: TumourAssessment | None,
    data: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    new_lesions: Sequence[dict[str, Any]],
    acting_user: Any,
    reason: str = "",
    expected_version: int = 0,
    submit: bool = False,
) -> tuple[TumourAssessment, bool]:
    """Create or change one tumour assessment with its lesion rows and new lesions, then recompute the patient.

    Returns the row and whether anything changed. Raises what ``sabr_trial.services`` raises (StaleVersion,
    CrfLocked, ValidationError, PermissionDenied); nothing is written then. A stale save's refusal is audited
    after the rollback of this save (``crf_update``'s own audit row is rolled back with the grid's block).
    """
    try:
        # In a bulk batch (``import_study``) the caller gives each time point its own savepoint.
        atomic = transaction.atomic() if pipeline.bulk_batch() is None else contextlib.nullcontext()
        with atomic:
            return _save_assessment(
                patient=patient,
                instance=instance,
                data=data,
                rows=rows,
                new_lesions=new_lesions,
                acting_user=acting_user,
                reason=reason,
                expected_version=expected_version,
                submit=submit,
            )
    except services.StaleVersion as exc:
        services.audit_stale(exc, acting_user=acting_user)
        raise


def _save_assessment(
    *,
    patient: Any,
    instance: TumourAssessment | None,
    data: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    new_lesions: Sequence[dict[str, Any]],
    acting_user: Any,
    reason: str,
    expected_version: int,
    submit: bool,
) -> tuple[TumourAssessment, bool]:
    check_rows(patient, data, rows)
    if data.get("imaging_done") != "Y":
        rows, new_lesions = [], []
    coded = _with_codes(
        patient, instance, new_lesions
    )  # nothing below writes a new lesion before _write_rows
    data = {**data, "entries_summary": entries_summary(rows, coded)}
    if instance is None:
        assessment = services.crf_create(
            model=TumourAssessment,
            patient=patient,
            data=data,
            acting_user=acting_user,
            status=CrfStatus.SUBMITTED if submit else CrfStatus.DRAFT,
        )
        changed = True
    else:
        assessment, changes = services.crf_update(
            instance=instance,
            expected_version=expected_version,
            data=data,
            reason=reason,
            acting_user=acting_user,
        )
        changed = bool(changes)
        if not changed:
            return assessment, False
    # The time point's own derived results join the history row of this save; other time points get theirs.
    with pipeline.caused_by(services.cause_of(assessment, user=acting_user)):
        _write_rows(assessment, rows, coded, acting_user, reason, new=instance is None)
        # In a batch (import_study): once per patient when the batch flushes, after all its time points.
        pipeline.once_per_batch(recompute_key(assessment), lambda: recompute_patient(patient))
    assessment.refresh_from_db()
    return assessment, changed


def derive_lesion_row(lesion: Lesion) -> None:
    """Pipeline stage 4 of the registry: organ group, nodal flag, measurability (R1.1-R1.6), and the code."""
    derive_lesion(lesion)
    if not lesion.lesion_code:
        lesion.lesion_code = next_code(
            Lesion.objects.filter(patient_id=lesion.patient_id), "lesion_code", "L"
        )


def recompute_key(row: Any) -> tuple[str, Any]:
    """The batch key of a patient's recompute (one per patient, whichever row asked for it)."""
    return ("assessments.recompute_patient", row.patient_id)


def recompute_after_change(row: Any) -> None:
    """Pipeline stage 8: a registry lesion (EC-TA-3) or a SABR target (D4) moves the stored responses."""
    if TumourAssessment.objects.filter(patient_id=row.patient_id).exists():
        recompute_patient(row.patient)


def _with_codes(
    patient: Any, instance: TumourAssessment | None, new_lesions: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Give a code N1, N2... to each new lesion seen for the first time (a blank code)."""
    taken = NewLesion.objects.filter(assessment__patient=patient)
    if instance is not None:
        taken = taken.exclude(assessment=instance)
    used = set(taken.values_list("code", flat=True)) | {n.get("code") for n in new_lesions if n.get("code")}
    out = []
    for new in new_lesions:
        new = dict(new)
        if not new.get("code"):
            number = 1
            while f"N{number}" in used:
                number += 1
            new["code"] = f"N{number}"
            used.add(new["code"])
        out.append(new)
    return out


def _write_rows(
    assessment: TumourAssessment,
    rows: Sequence[dict[str, Any]],
    new_lesions: Sequence[dict[str, Any]],
    user: Any,
    reason: str,
    *,
    new: bool = False,
) -> None:
    """Write the time point's lesion rows and new lesions (``new``: the time point was created by this save, so it
    has no rows yet to compare with or remove)."""
    keep = []
    created = []
    for row in rows:
        lesion = row["lesion"]
        values = {k: v for k, v in row.items() if k != "lesion"}
        found = None if new else LesionResult.objects.filter(assessment=assessment, lesion=lesion).first()
        obj = found or LesionResult(assessment=assessment, lesion=lesion)
        if obj.pk and all(getattr(obj, k) == v for k, v in values.items()):
            keep.append(obj.pk)
            continue
        for k, v in values.items():
            setattr(obj, k, v)
        obj._history_user = user  # type: ignore[attr-defined]
        obj._change_reason = reason or _("Entered")  # type: ignore[attr-defined]
        obj.full_clean(exclude=["assessment", "lesion"])
        if new:  # rows of a new time point: one insert (in a bulk batch), after every row is checked
            created.append(obj)
            continue
        services.save_with_history(obj)
        keep.append(obj.pk)
    services.insert_with_history(created)
    stale_rows = [] if new else LesionResult.objects.filter(assessment=assessment).exclude(pk__in=keep)
    for stale in stale_rows:
        stale._history_user = user  # type: ignore[attr-defined]
        stale._change_reason = reason  # type: ignore[attr-defined]
        stale.delete()
    codes = []
    for item in new_lesions:
        found_new = (
            None if new else NewLesion.objects.filter(assessment=assessment, code=item["code"]).first()
        )
        obj_new = found_new or NewLesion(assessment=assessment)
        for k, v in item.items():
            setattr(obj_new, k, v)
        obj_new._history_user = user  # type: ignore[attr-defined]
        obj_new._change_reason = reason or _("Entered")  # type: ignore[attr-defined]
        services.save_with_history(obj_new)
        codes.append(obj_new.code)
    stale_new = [] if new else NewLesion.objects.filter(assessment=assessment).exclude(code__in=codes)
    for stale in stale_new:
        # A subsequent therapy that treated it links this record (EC-SU-4): removing it would drop the link unseen.
        therapy = stale.subsequent_therapies.order_by("start_date").first()
        if therapy is not None:
            raise ValidationError(
                _(
                    "New lesion %(code)s is named as treated by the subsequent therapy started on %(date)s "
                    "(form 16): remove it there first (EC-SU-4)."
                )
                % {"code": stale.code, "date": therapy.start_date}
            )
        stale._history_user = user  # type: ignore[attr-defined]
        stale._change_reason = reason  # type: ignore[attr-defined]
        stale.delete()


# --- Recompute (EC-TA-3) ------------------------------------------------------------------------------------------
def _q(value: Decimal | None, places: str = "0.1") -> Decimal | None:
    return None if value is None else value.quantize(Decimal(places))


def first_fraction_dates(lesions: Sequence[Lesion]) -> dict[str, datetime.date]:
    """Each protocol-irradiated lesion's first SABR fraction (read lazily from the treatment app, D1)."""
    out: dict[str, datetime.date] = {}
    for lesion in lesions:
        dates = [getattr(t, "first_fraction_date", None) for t in lesion.sabr_target_rows]
        dates = [d for d in dates if d]
        if dates:
            out[lesion.lesion_code] = min(dates)
        elif lesion.sabr_target_rows:
            out[lesion.lesion_code] = lesion.baseline_date  # placeholder until a fraction is delivered
    return out


def patient_series(patient: Any, *, followup: bool = False) -> dict[str, Any]:
    """Load the patient's registry and assessments as recist inputs (chronological). ``followup``: the time points
    are read to be re-derived (``services.followup_rows``; ``locked`` says whether they were read for update)."""
    lesions = Lesion.objects.filter(patient=patient).exclude(role="NEW").order_by("id")
    if hasattr(
        Lesion, "sabr_targets"
    ):  # the reverse relation the treatment app adds (read once, not per lesion)
        lesions = lesions.prefetch_related("sabr_targets")
    lesions = list(lesions)
    rows, locked = TumourAssessment.objects.filter(patient=patient), False
    if followup:
        rows, locked = services.followup_rows(rows)
    assessments = sorted(
        rows.prefetch_related("results__lesion", "results__merged_into", "new_lesions__reappearance_of"),
        key=lambda a: (a.assessment_date or datetime.date.max, a.pk),
    )
    pure_lesions = [adapters.to_lesion(lesion) for lesion in lesions]
    pure_assessments = [
        adapters.to_assessment(a, list(a.results.all()), list(a.new_lesions.all())) for a in assessments
    ]
    return {
        "lesions": lesions,
        "assessments": assessments,
        "pure_lesions": pure_lesions,
        "pure_assessments": pure_assessments,
        "locked": locked,
    }


DERIVED = (
    "visit_label",
    "sum_mm",
    "baseline_sum_mm",
    "nadir_mm",
    "pct_chg_baseline",
    "pct_chg_nadir",
    "chg_nadir_mm",
    "target_resp",
    "target_rule",
    "nontarget_resp",
    "nontarget_rule",
    "new_lesion_ind",
    "new_lesion_rule",
    "overall_resp",
    "deciding_rule",
    "overall_resp_nonirr",
    "irecist_resp",
    "irecist_rule",
    "pd_date",
    "derivation_error",
)


#: The stored form of a time point's label (English; ``gettext_noop`` so the pages find its translation).
WEEK_LABEL = gettext_noop("Week %(w)s")


def _visit_label(when: datetime.date | None, origin: datetime.date | None) -> str:
    """The time point's label, stored in English whoever saved it (SDTM VISIT); pages show it translated
    (``TumourAssessment.visit_label_text``)."""
    if when is None or origin is None:
        return ""
    return WEEK_LABEL % {"w": max(0, round((when - origin).days / 7))}


def recompute_patient(patient: Any) -> None:
    """Recompute and store every derived result of the patient's time points and lesion rows (EC-TA-3)."""
    from assessments.selectors import treatment_start

    s = patient_series(patient, followup=True)
    assessments: list[TumourAssessment] = s["assessments"]
    if not assessments:
        return
    start = treatment_start(patient)
    error = ""
    series = nonirr = None
    irecist: tuple[recist.IRecistTimePoint, ...] = ()
    lc: dict[str, recist.LocalControlResult] = {}
    try:
        series = recist.evaluate_series(s["pure_lesions"], s["pure_assessments"])
        if any(lesion.irradiated_protocol for lesion in s["pure_lesions"]):
            nonirr = recist.evaluate_series_non_irradiated(s["pure_lesions"], s["pure_assessments"])
        else:
            nonirr = series
        irecist = recist.irecist_series(s["pure_lesions"], s["pure_assessments"])
        ffd = first_fraction_dates(s["lesions"])
        for result in recist.local_control(
            s["pure_lesions"], s["pure_assessments"], first_fraction_dates=ffd
        ):
            lc[result.lesion_code] = result
    except recist.RecistError as exc:
        error = ruletext.dumps(exc.msg)  # a message id with parameters, shown in the reader's language
        log.info("RECIST not computable for patient %s: %s", patient.pk, exc)
    for index, assessment in enumerate(assessments):
        values: dict[str, Any] = dict.fromkeys(DERIVED, "")
        values.update(
            dict.fromkeys(
                (
                    "sum_mm",
                    "baseline_sum_mm",
                    "nadir_mm",
                    "pct_chg_baseline",
                    "pct_chg_nadir",
                    "chg_nadir_mm",
                    "pd_date",
                )
            )
        )
        values["visit_label"] = _visit_label(assessment.assessment_date, start)
        if series is not None and nonirr is not None:
            tp = series.timepoints[index]
            values.update(
                sum_mm=_q(tp.sum_mm),
                baseline_sum_mm=_q(tp.baseline_sum_mm),
                nadir_mm=_q(tp.nadir_mm),
                pct_chg_baseline=_q(tp.pct_change_baseline, "0.01"),
                pct_chg_nadir=_q(tp.pct_change_nadir, "0.01"),
                chg_nadir_mm=_q(tp.change_nadir_mm),
                target_resp=tp.target.value if tp.target else "",
                target_rule=ruletext.dumps(tp.target_rule),
                nontarget_resp=tp.nontarget.value if tp.nontarget else "",
                nontarget_rule=ruletext.dumps(tp.nontarget_rule),
                new_lesion_ind="Y" if tp.new_lesion else "N",
                new_lesion_rule=ruletext.dumps(tp.new_lesion_rule),
                overall_resp=tp.overall.value,
                deciding_rule=ruletext.dumps(tp.rule),
                overall_resp_nonirr=nonirr.timepoints[index].overall.value,
                pd_date=tp.pd_date,
            )
            if index < len(irecist):
                values.update(
                    irecist_resp=irecist[index].response.value,
                    irecist_rule=ruletext.dumps(irecist[index].rule),
                )
        else:
            values["derivation_error"] = error
        if any(getattr(assessment, name) != value for name, value in values.items()):
            services.crf_system_update(instance=assessment, values=values, cascade=False, locked=s["locked"])
        _store_lesion_rows(assessment, lc)


def _store_lesion_rows(assessment: TumourAssessment, lc: dict[str, recist.LocalControlResult]) -> None:
    from assessments.selectors import lesion_value_used

    when = assessment.assessment_date
    for row in assessment.results.all():
        step = None
        result = lc.get(row.lesion.lesion_code)
        if result is not None:
            step = next((st for st in result.steps if st.scan_date == when), None)
        services.child_system_update(
            row=row,
            values={
                "value_used_mm": lesion_value_used(row),
                "local_failure": ("Y" if step.local_failure else "N") if step else "",
                "lesion_nadir_mm": _q(step.nadir_mm) if step else None,
            },
        )


__all__ = ["next_code", "recompute_after_change", "recompute_patient", "save_assessment"]
