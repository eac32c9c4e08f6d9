"""Read the whole study into plain derivation records with a fixed number of queries.

One query per source table, whatever the number of patients (the benchmark counts them).
Every source model is imported (endpoints sits above the clinical apps), so a renamed model or field fails
loudly instead of dropping data. Every date carries a SourceRef (form slug, row id, field) so the dashboard can link
each derived date back to the CRF that set it.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F, Model

from adverse_events.models import AdverseEvent
from adverse_events.selectors import EPISODE_FIELDS
from assessments.models import Lesion, LesionResult, TumourAssessment
from assessments.recist import Response
from endpoints.derivation import (
    ConsentWithdrawal,
    IrradiatedLesion,
    OffStudy,
    OffStudyReason,
    PatientRecord,
    SourcedDate,
    SourceRef,
    SubsequentTherapy,
    TherapyReason,
    TherapyType,
    TimePoint,
    WithdrawalScope,
)
from endpoints.engine import PatientPlotData
from endpoints.plots import Interval
from enrollment.models import Consent, DeathReport, Disposition, Patient, SurvivalContact
from treatment import origins
from treatment.models import AxitinibPeriod, SabrFraction, SabrTarget, ToripalimabInfusion
from treatment.models import SubsequentTherapy as SubsequentTherapyModel

MONTH = 30.4375  # D9


#: The models the sources name, imported (a renamed model fails at import, never drops a source silently).
_MODELS: dict[tuple[str, str], type[Model]] = {
    (m._meta.app_label, m.__name__): m
    for m in (
        TumourAssessment,
        Lesion,
        LesionResult,
        SabrFraction,
        SabrTarget,
        AxitinibPeriod,
        ToripalimabInfusion,
        SubsequentTherapyModel,
        DeathReport,
        Disposition,
        SurvivalContact,
        Consent,
        AdverseEvent,
    )
}


def _model(app: str, name: str) -> type[Model]:
    return _MODELS[(app, name)]


def _known(model: type[Model]) -> set[str]:
    names = {"pk"}
    for f in model._meta.get_fields():
        names.add(f.name)
        names.add(getattr(f, "attname", f.name))
    return names


def _has(model: type[Model] | None, *names: str) -> bool:
    if model is None:
        return False
    known = _known(model)
    return all(n.split("__")[0] in known for n in names)


def _src(form: str, pk: Any, field: str) -> SourceRef:
    return SourceRef(form=form, object_id=pk, field=field)


def _yes(value: Any) -> bool:
    return value in ("Y", True)


def _evaluated(result: dict[str, Any]) -> bool:
    """A lesion row evaluated the lesion for local control (D12, R2.3): a diameter recorded or the in-field flag set.

    A target's result status gives its diameter (R1.10: too small = 5 mm, disappeared = 0 mm); a non-target's
    state alone (present, absent, unequivocal progression) does not evaluate it.
    """
    if _yes(result["infield_progression"]):
        return True
    status = result["result_status"]
    if status in ("TOO SMALL TO MEASURE", "DISAPPEARED"):
        return True
    if result["nontarget_state"]:
        return result["nontarget_state"] != "NOT EVALUABLE" and result["value_mm"] is not None
    return status not in ("NOT EVALUABLE", "")


class Source(NamedTuple):
    """One table the collector reads: (key, app, model, patient field, fields, filters); one query each."""

    key: str
    app: str
    model: str
    patient_field: str
    fields: tuple[str, ...]
    filters: tuple[tuple[str, Any], ...] = ()


#: Every table a patient's derivation reads, with exactly the fields it uses. The per-patient content hash
#: (``content_hashes``) covers the same fields, so a change to any of them, and to nothing else, recomputes
#: that patient (endpoints.incremental).
SOURCES: tuple[Source, ...] = (
    Source(
        "ta",
        "assessments",
        "TumourAssessment",
        "patient_id",
        (
            "pk",
            "scan_date_first",
            "visit_date",
            "overall_resp",
            "pd_date",
            "pct_chg_baseline",
            "imaging_done",
            "overall_resp_nonirr",
        ),
    ),
    Source(
        "lesion",
        "assessments",
        "Lesion",
        "patient_id",
        ("pk", "lesion_code", "role", "measurable", "baseline_date"),
    ),
    Source(
        "lres",
        "assessments",
        "LesionResult",
        "assessment__patient_id",
        (
            "lesion_id",
            "local_failure",
            "result_status",
            "nontarget_state",
            "assessment__scan_date_first",
            "assessment_id",
            "value_mm",
            "infield_progression",
        ),
    ),
    Source(
        "fx",
        "treatment",
        "SabrFraction",
        "patient_id",
        (
            "pk",
            "fraction_date",
            "delivered",
            "target__lesion_id",
            "target__course__is_protocol",
            "target__course__course_number",
            "target_id",
        ),
    ),
    Source(
        "target",
        "treatment",
        "SabrTarget",
        "patient_id",
        ("pk", "lesion_id", "is_reirradiation", "reirradiation_reason", "first_fraction_date"),
    ),
    Source(
        "axi", "treatment", "AxitinibPeriod", "patient_id", ("pk", "start_date", "end_date", "dose_level")
    ),
    Source(
        "tori", "treatment", "ToripalimabInfusion", "patient_id", ("pk", "infusion_date", "infusion_status")
    ),
    Source(
        "sub",
        "treatment",
        "SubsequentTherapy",
        "patient_id",
        ("pk", "start_date", "therapy_type", "reason", "local_on_protocol"),
    ),
    Source("death", "enrollment", "DeathReport", "patient_id", ("pk", "death_date")),
    Source("dispo", "enrollment", "Disposition", "patient_id", ("pk", "eos_date", "eos_reason")),
    Source(
        "contact", "enrollment", "SurvivalContact", "patient_id", ("pk", "contact_date", "survival_status")
    ),
    Source(
        "consent",
        "enrollment",
        "Consent",
        "patient_id",
        ("pk", "withdrawn", "withdrawal_date", "withdrawal_scope"),
    ),
)


def ae_source() -> Source:
    """The AE rows the safety summary counts (the fields of ``adverse_events.selectors.episodes``)."""
    return Source(
        "ae",
        "adverse_events",
        "AdverseEvent",
        "patient_id",
        tuple(f for f in EPISODE_FIELDS if f != "patient_id"),
    )


def _queryset(source: Source, patient_ids: Collection[int] | None = None) -> Any:
    """The source's rows as dicts in primary-key order (``patient_ids``: those patients only)."""
    model = _model(source.app, source.model)
    fields = (source.patient_field, *source.fields)
    if not _has(model, *fields):
        # A renamed field must fail the run loudly (the dashboard shows the error), never drop data silently.
        known = _known(model)
        missing = [n for n in fields if n.split("__")[0] not in known]
        raise RuntimeError(
            f"{source.app}.{source.model} has no field(s) {', '.join(missing)}: update endpoints/collect.py"
        )
    qs = model.objects.filter(**dict(source.filters))  # type: ignore[attr-defined]
    if patient_ids is not None:
        qs = qs.filter(**{f"{source.patient_field}__in": list(patient_ids)})
    return qs.values(*fields).order_by("pk")


def registered_patients(cutoff: datetime.date) -> list[dict[str, Any]]:
    """Every patient registered by the data cut-off (pk, study_number), in primary-key order: the study the
    endpoints cover at that cut-off (a patient registered later is not counted in it)."""
    return list(
        Patient.objects.filter(study_number__isnull=False, registration_date__lte=cutoff)
        .values("pk", "study_number")
        .order_by("pk")
    )


def read_rows(patient_ids: Collection[int] | None = None) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Every source's rows grouped by patient (``patient_ids``: those patients only): one query per source."""
    by: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for source in SOURCES:
        qs = _queryset(source, patient_ids)
        rows = list(qs)
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            grouped[row[source.patient_field]].append(row)
        by[source.key] = grouped
    return by


def build_patients(
    patients: Iterable[dict[str, Any]], by: dict[str, dict[int, list[dict[str, Any]]]], cutoff: datetime.date
) -> tuple[list[PatientRecord], list[PatientPlotData]]:
    """One PatientRecord (and plot data) per patient from rows grouped by ``read_rows``."""
    records: list[PatientRecord] = []
    plot_data: list[PatientPlotData] = []
    for p in patients:
        pid = p["pk"]
        record, plot = _patient(pid, p["study_number"], cutoff, {k: v.get(pid, []) for k, v in by.items()})
        records.append(record)
        plot_data.append(plot)
    return records, plot_data


def collect_study(cutoff: datetime.date) -> tuple[list[PatientRecord], list[PatientPlotData]]:
    """Return one PatientRecord (and plot data) per registered patient, at the data cut-off, reading every row
    (the recompute goes through ``endpoints.incremental``, which reads only the patients whose rows changed)."""
    return build_patients(registered_patients(cutoff), read_rows(), cutoff)


def content_hashes(sources: Sequence[Source]) -> dict[int, dict[str, str]] | None:
    """Per patient and source, a hash of that patient's rows as the collector reads them; one query in all.

    PostgreSQL computes it from each source's own query (the same fields and joins, plus the row's primary key):
    the row count and the XOR of each row's 64-bit record hash (``hash_record_extended``, PostgreSQL 14+; no text
    conversion and no sort, so it costs about half the plain read of the rows). Any change to a field the
    collector reads, an added or a deleted row changes it, except with a probability of about 2**-64.
    Returns None on other databases (the caller hashes the rows it reads instead, ``python_hashes``).
    """
    if connection.vendor != "postgresql":
        return None
    parts, params = [], []
    for source in sources:
        qs = _queryset(source)
        sql, p = (
            qs.order_by()
            .values(source.patient_field, *source.fields, hash_pk=F("pk"))
            .query.sql_with_params()
        )
        parts.append(
            f"SELECT %s AS src, q.{connection.ops.quote_name(source.patient_field)} AS pid, "
            f"count(*)::text || ':' || bit_xor(hash_record_extended(q, 7245))::text AS h FROM ({sql}) AS q GROUP BY 2"
        )
        params += [source.key, *p]
    result: dict[int, dict[str, str]] = defaultdict(dict)
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for key, pid, digest in cursor.fetchall():
                result[pid][key] = digest
    return result


def python_hashes(by: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[int, dict[str, str]]:
    """``content_hashes`` computed from rows already read (databases other than PostgreSQL)."""
    result: dict[int, dict[str, str]] = defaultdict(dict)
    for key, grouped in by.items():
        for pid, rows in grouped.items():
            result[pid][key] = hashlib.md5(repr(rows).encode(), usedforsecurity=False).hexdigest()
    return result


def _sourced(origin: origins.Origin | None) -> SourcedDate | None:
    if origin is None:
        return None
    assert isinstance(origin.ref, SourceRef)
    return SourcedDate(origin.date, origin.ref)


def _patient(
    pid: int, number: str, cutoff: datetime.date, d: dict[str, list[dict[str, Any]]]
) -> tuple[PatientRecord, PatientPlotData]:
    fractions = [f for f in d.get("fx", []) if _yes(f["delivered"])]
    # D1: the one implementation of the origins (treatment.origins), over these rows in primary-key order.
    fraction_records = [
        origins.Fraction(
            date=f["fraction_date"],
            delivered=True,
            protocol=_yes(f["target__course__is_protocol"]),
            course_number=f["target__course__course_number"],
            ref=_src("sabr-fraction", f["pk"], "fraction_date"),
        )
        for f in fractions
    ]
    axitinib_records = [
        origins.AxitinibPeriod(
            start_date=a["start_date"],
            dose_level=a["dose_level"],
            ref=_src("axitinib", a["pk"], "start_date"),
        )
        for a in d.get("axi", [])
    ]
    infusion_records = [
        origins.Infusion(
            date=t["infusion_date"],
            infusion_status=t["infusion_status"],
            ref=_src("toripalimab", t["pk"], "infusion_date"),
        )
        for t in d.get("tori", [])
    ]
    sabr_start = _sourced(origins.sabr_start(fraction_records))
    doses = [a for a in d.get("axi", []) if a["dose_level"] in origins.DOSED_AXITINIB_LEVELS]
    given = [t for t in d.get("tori", []) if t["infusion_status"] == "GIVEN" and t["infusion_date"]]
    treatment_start = _sourced(  # D1: OS origin
        origins.treatment_start(
            fractions=fraction_records, periods=axitinib_records, infusions=infusion_records
        )
    )

    lesions = d.get("lesion", [])
    timepoints = []
    for ta in sorted(
        d.get("ta", []), key=lambda r: r["scan_date_first"] or r["visit_date"] or datetime.date.min
    ):
        day = ta["scan_date_first"] or ta["visit_date"]
        if day is None or not ta["overall_resp"]:
            continue
        src = _src("tumour-assessment", ta["pk"], "overall_resp")
        pd = (
            SourcedDate(ta["pd_date"], _src("tumour-assessment", ta["pk"], "pd_date"))
            if ta["pd_date"]
            else None
        )
        pct = ta["pct_chg_baseline"]
        timepoints.append(
            TimePoint(
                assessment_date=day,
                response=Response(ta["overall_resp"]),
                source=src,
                pd_date=pd,
                pct_change_baseline=Decimal(pct) if pct is not None else None,
                imaging_done=_yes(ta["imaging_done"]),
                response_nonirr=Response(ta["overall_resp_nonirr"]) if ta["overall_resp_nonirr"] else None,
            )
        )

    irradiated: list[IrradiatedLesion] = []
    code_of = {lz["pk"]: lz["lesion_code"] for lz in lesions}
    results_by_lesion: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in d.get("lres", []):
        results_by_lesion[r["lesion_id"]].append(r)
    first_fx: dict[int, dict[str, Any]] = {}
    for f in fractions:
        lid = f["target__lesion_id"]
        if lid not in first_fx or f["fraction_date"] < first_fx[lid]["fraction_date"]:
            first_fx[lid] = f
    retreated: dict[int, SourcedDate] = {}
    targeted = {t["lesion_id"] for t in d.get("target", [])}  # D4: a SABR target row = irradiated by protocol
    for t in d.get("target", []):
        if (
            _yes(t["is_reirradiation"])
            and t["reirradiation_reason"] != "LOCAL FAILURE"
            and t["first_fraction_date"]
        ):
            retreated.setdefault(
                t["lesion_id"],
                SourcedDate(t["first_fraction_date"], _src("sabr-target", t["pk"], "first_fraction_date")),
            )
    for lid, f in first_fx.items():
        evals = sorted(
            (r for r in results_by_lesion.get(lid, []) if r["assessment__scan_date_first"] and _evaluated(r)),
            key=lambda r: r["assessment__scan_date_first"],
        )
        lf = next((r for r in evals if _yes(r["local_failure"])), None)
        irradiated.append(
            IrradiatedLesion(
                lesion_code=code_of.get(lid, str(lid)),
                first_fraction=SourcedDate(
                    f["fraction_date"], _src("sabr-fraction", f["pk"], "fraction_date")
                ),
                evaluations=tuple(
                    SourcedDate(
                        r["assessment__scan_date_first"],
                        _src("tumour-assessment", r["assessment_id"], "scan_date_first"),
                    )
                    for r in evals
                ),
                local_failure=SourcedDate(
                    lf["assessment__scan_date_first"],
                    _src("tumour-assessment", lf["assessment_id"], "local_failure"),
                )
                if lf
                else None,
                retreated_other_reason=retreated.get(lid),
            )
        )

    therapies = tuple(
        SubsequentTherapy(
            start=SourcedDate(s["start_date"], _src("subsequent-therapy", s["pk"], "start_date")),
            therapy_type=TherapyType(s["therapy_type"]),
            reason=TherapyReason(s["reason"]),
            local_on_protocol=_yes(s["local_on_protocol"]),
        )
        for s in d.get("sub", [])
    )
    death_row = next(iter(d.get("death", [])), None)
    death = (
        SourcedDate(death_row["death_date"], _src("death", death_row["pk"], "death_date"))
        if death_row
        else None
    )
    # R5.6 last known alive: the latest dated contact, imaging, fraction, infusion or axitinib record (not after
    # death). Candidates stay plain tuples; only the winner becomes a SourcedDate (a study has ~300,000 of them).
    alive: list[tuple[datetime.date, str, Any, str]] = [
        (c["contact_date"], "survival", c["pk"], "contact_date")
        for c in d.get("contact", [])
        if c["survival_status"] == "ALIVE"
    ]
    alive += [
        (tp.assessment_date, tp.source.form, tp.source.object_id, tp.source.field)
        for tp in timepoints
        if tp.imaging_done
    ]
    alive += [(f["fraction_date"], "sabr-fraction", f["pk"], "fraction_date") for f in fractions]
    alive += [(t["infusion_date"], "toripalimab", t["pk"], "infusion_date") for t in given]
    alive += [
        (a["end_date"], "axitinib", a["pk"], "end_date")
        if a["end_date"]
        else (a["start_date"], "axitinib", a["pk"], "start_date")
        for a in doses
    ]
    if death:
        alive = [c for c in alive if c[0] <= death.value]
    latest = max(alive, key=lambda c: c[0]) if alive else None  # the first of equal dates, as listed above
    last_alive = SourcedDate(latest[0], _src(latest[1], latest[2], latest[3])) if latest else None  # R5.6
    dispo = next((x for x in d.get("dispo", []) if x["eos_date"]), None)
    off = (
        OffStudy(
            dispo["eos_date"],
            OffStudyReason(dispo["eos_reason"]),
            _src("disposition", dispo["pk"], "eos_date"),
        )
        if dispo and dispo["eos_reason"]
        else None
    )
    wd = next((c for c in d.get("consent", []) if _yes(c["withdrawn"]) and c["withdrawal_date"]), None)
    withdrawal = (
        ConsentWithdrawal(
            wd["withdrawal_date"],
            WithdrawalScope(wd["withdrawal_scope"]),
            _src("consent", wd["pk"], "withdrawal_date"),
        )
        if wd and wd["withdrawal_scope"]
        else None
    )

    record = PatientRecord(
        patient_id=pid,
        study_number=number,
        data_cutoff=cutoff,
        treatment_start=treatment_start,
        sabr_start=sabr_start,
        baseline_assessment=bool(lesions),
        measurable_disease=any(lz["role"] == "TARGET" for lz in lesions),
        timepoints=tuple(timepoints),
        lesions=tuple(irradiated),
        subsequent_therapies=therapies,
        death=death,
        last_known_alive=last_alive,
        off_study=off,
        consent_withdrawal=withdrawal,
        nonirradiated_baseline=any(lz["pk"] not in targeted for lz in lesions),  # D4
        nonirradiated_target=any(lz["pk"] not in targeted and lz["role"] == "TARGET" for lz in lesions),
    )
    return record, _plot(pid, number, cutoff, record, fractions, doses, given)


def _months(origin: datetime.date, day: datetime.date) -> float:
    return (day - origin).days / MONTH


#: Infusions at most this many days apart form one continuous toripalimab bar (q3w, with a delayed cycle).
INFUSION_GAP_DAYS = 42


def _exposure(given: list[dict[str, Any]]) -> list[tuple[datetime.date, datetime.date]]:
    """Group infusion dates into exposure periods (first, last infusion) for the swimmer plot."""
    periods: list[tuple[datetime.date, datetime.date]] = []
    for day in sorted(t["infusion_date"] for t in given):
        if periods and (day - periods[-1][1]).days <= INFUSION_GAP_DAYS:
            periods[-1] = (periods[-1][0], day)
        else:
            periods.append((day, day))
    return periods


def _plot(
    pid: int,
    number: str,
    cutoff: datetime.date,
    record: PatientRecord,
    fractions: list[dict[str, Any]],
    doses: list[dict[str, Any]],
    given: list[dict[str, Any]],
) -> PatientPlotData:
    origin = record.treatment_start.value if record.treatment_start else None
    if origin is None:
        return PatientPlotData(patient_id=pid, label=number)
    end = record.death.value if record.death else (record.off_study.off_date if record.off_study else cutoff)
    end = min(end, cutoff)
    sabr = ()
    if fractions:
        days = [f["fraction_date"] for f in fractions]
        sabr = (Interval(_months(origin, min(days)), _months(origin, max(days)) + 0.1),)
    axi = tuple(
        Interval(_months(origin, a["start_date"]), _months(origin, a["end_date"]) if a["end_date"] else None)
        for a in doses
    )
    tori = tuple(
        Interval(_months(origin, first), _months(origin, last) + 0.7) for first, last in _exposure(given)
    )
    responses = tuple((_months(origin, tp.assessment_date), tp.response.value) for tp in record.timepoints)
    first_pd = next((tp for tp in record.timepoints if tp.response is Response.PD), None)
    spider = tuple(
        (_months(origin, tp.assessment_date), float(tp.pct_change_baseline))
        for tp in record.timepoints
        if tp.pct_change_baseline is not None
    )
    return PatientPlotData(
        patient_id=pid,
        label=number,
        follow_up_months=max(_months(origin, end), 0.0),
        ongoing=record.death is None and record.off_study is None,
        sabr=sabr,
        axitinib=axi,
        toripalimab=tori,
        responses=responses,
        progression=_months(origin, first_pd.progression.value) if first_pd else None,
        death=_months(origin, record.death.value) if record.death else None,
        spider=((0.0, 0.0), *spider) if spider else (),
    )
