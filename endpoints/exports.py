"""The data export zip: one CSV per CRF with a data dictionary, SDTM-style domains and ADaM-style data sets.

Per-CRF CSVs (``crf/<slug>.csv``) are built from the CRF registry and carry stable keys instead of
database ids, so ``manage.py import_study`` can read them back and a re-export gives identical files:

* ``SUBJID``: the study number, or the screening number before registration; ``SCRNO``: the screening number;
* ``FORMSEQ``: the row's rank within the patient's rows of that form (by creation), 1, 2, ...;
* a link to another CRF row becomes ``<slug>:<FORMSEQ>`` of the same patient (``lesion:2``);
  a link to a user becomes the username; a CTCAE term its MedDRA code; many-to-many links are ``;``-joined.

SDTM domains (``sdtm/*.csv``) and ADaM data sets (``adam/*.csv``, from the endpoint snapshot) use CDISC
variable names. ``docs/exports.md`` documents every file and column.
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from endpoints.models import EndpointSnapshot
from sabr_trial.crf import CrfBase, CrfSpec, registry

Progress = Callable[[str, int], None]

KEY_COLUMNS = ["STUDYID", "SUBJID", "SCRNO", "FORMSEQ", "CRFSTAT"]

#: Responses ranked as ADRS AVAL (R1.23 order; 7 = no assessment).
RESPONSE_RANK = {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6, None: 7}


def _noop(stage: str, pct: int) -> None:
    return None


def fmt(value: Any) -> str:
    """One CSV cell: ISO dates, plain decimals, empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat()
        )
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([fmt(v) for v in row])
    return buf.getvalue().encode("utf-8")


# --- Per-CRF CSV ----------------------------------------------------------------------------------------


def export_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Data columns of a CRF in form order: every concrete non-lifecycle field (derived ones included)."""
    skip = set(CrfBase.LIFECYCLE_FIELDS)
    return [f for f in model._meta.concrete_fields if f.name not in skip] + list(model._meta.many_to_many)


def _slug_of_model(model: type[models.Model]) -> str | None:
    try:
        return registry.for_model(model).slug
    except KeyError:
        return None


class KeyMap:
    """(model, pk) -> stable ``slug:FORMSEQ`` per patient, and patient id -> SUBJID."""

    def __init__(self) -> None:
        from enrollment.models import Patient

        self.subjid: dict[int, str] = {}
        self.scrno: dict[int, str] = {}
        for pk, scr, study in Patient.objects.values_list("pk", "screening_number", "study_number"):
            self.subjid[pk] = study or scr
            self.scrno[pk] = scr
        self.seq: dict[tuple[type[models.Model], int], int] = {}
        for spec in registry.all():
            counters: dict[int, int] = defaultdict(int)
            for pk, patient_id in spec.model.objects.order_by("patient_id", "pk").values_list(
                "pk", "patient_id"
            ):
                counters[patient_id] += 1
                self.seq[(spec.model, pk)] = counters[patient_id]

    def ref(self, model: type[models.Model], pk: int | None) -> str:
        if pk is None:
            return ""
        slug = _slug_of_model(model)
        if slug is None:
            return str(pk)
        return f"{slug}:{self.seq.get((model, pk), '')}"


def _cell(row: models.Model, f: models.Field[Any, Any], keys: KeyMap) -> Any:
    if f.many_to_many:
        target = f.related_model
        return ";".join(sorted(keys.ref(target, v.pk) for v in getattr(row, f.name).all()))
    if f.is_relation:
        pk = getattr(row, f.attname)
        if pk is None:
            return ""
        target = f.related_model
        if target._meta.label == settings.AUTH_USER_MODEL or target._meta.model_name == "user":
            return getattr(row, f.name).get_username()
        if target._meta.label == "adverse_events.CtcaeTerm":
            return getattr(row, f.name).meddra_code
        return keys.ref(target, pk)
    value = getattr(row, f.attname)
    if isinstance(value, list | dict):
        return ";".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return value


#: Child tables of a CRF (rows without a lifecycle of their own, entered on the parent's page):
#: file stem -> (app label, model name, parent field). Exported as ``crf/<stem>.csv`` and read back by the import.
CHILD_TABLES: dict[str, tuple[str, str, str]] = {
    "lesion-result": ("assessments", "LesionResult", "assessment"),
    "new-lesion": ("assessments", "NewLesion", "assessment"),
    "sae-report": ("adverse_events", "SaeReport", "adverse_event"),
}
CHILD_KEY_COLUMNS = ["STUDYID", "SUBJID", "SCRNO"]
#: Bookkeeping columns of a child row (who typed it when), not data.
_CHILD_SKIP = {"id", "created_at", "created_by"}


def child_model(stem: str) -> type[models.Model] | None:
    from django.apps import apps

    app, name, _parent = CHILD_TABLES[stem]
    try:
        return apps.get_model(app, name)
    except LookupError:
        return None


def child_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Data columns of a child table: the parent link first, then every concrete field (derived ones included)."""
    return [f for f in model._meta.concrete_fields if f.name not in _CHILD_SKIP]


def child_csv(stem: str, keys: KeyMap) -> bytes:
    """One child table; rows in (subject, parent FORMSEQ, creation) order, the order the import re-creates them."""
    model = child_model(stem)
    assert model is not None
    parent_field = CHILD_TABLES[stem][2]
    parent_model = model._meta.get_field(parent_field).related_model
    fields = child_fields(model)
    fk_names = [f.name for f in fields if f.is_relation]
    rows = []
    for row in model.objects.select_related(*fk_names).order_by("pk"):
        parent = getattr(row, parent_field)
        key = [settings.STUDY_ID, keys.subjid[parent.patient_id], keys.scrno[parent.patient_id]]
        rows.append((keys.subjid[parent.patient_id], keys.seq[(parent_model, parent.pk)], row.pk,
                     key + [_cell(row, f, keys) for f in fields]))  # fmt: skip
    rows.sort(key=lambda r: (str(r[0]), r[1], r[2]))
    return to_csv(CHILD_KEY_COLUMNS + [f.name for f in fields], (r[3] for r in rows))


def crf_csv(spec: CrfSpec, keys: KeyMap) -> bytes:
    fields = export_fields(spec.model)
    qs = spec.model.objects.all().order_by("patient_id", "pk")
    if spec.model._meta.many_to_many:
        qs = qs.prefetch_related(*[f.name for f in spec.model._meta.many_to_many])
    fk_names = [f.name for f in fields if f.is_relation and not f.many_to_many]
    qs = qs.select_related(*fk_names) if fk_names else qs
    rows = []
    for row in qs:
        key = [settings.STUDY_ID, keys.subjid[row.patient_id], keys.scrno[row.patient_id],
               keys.seq[(spec.model, row.pk)], row.status]  # fmt: skip
        rows.append(key + [_cell(row, f, keys) for f in fields])
    rows.sort(key=lambda r: (str(r[1]), int(r[3])))
    return to_csv(KEY_COLUMNS + [f.name for f in fields], rows)


def _field_type(f: models.Field[Any, Any]) -> str:
    if f.many_to_many:
        return "multi-reference"
    if f.is_relation:
        return "reference"
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DateField):
        return "date"
    if isinstance(f, models.DecimalField):
        return f"decimal({f.max_digits},{f.decimal_places})"
    if isinstance(f, models.IntegerField):
        return "integer"
    if isinstance(f, models.BooleanField):
        return "boolean"
    if isinstance(f, models.JSONField):
        return "list"
    if isinstance(f, models.CharField):
        return f"text({f.max_length})"
    return "text"


def _units(f: models.Field[Any, Any]) -> str:
    for suffix, unit in (("_mm", "mm"), ("_gy", "Gy"), ("_cc", "cm3"), ("_mg", "mg"), ("_pct", "%"),
                         ("_mg_day", "mg/day"), ("_kg", "kg")):  # fmt: skip
        if f.name.endswith(suffix):
            return unit
    return ""


def _dictionary_row(form: str, f: models.Field[Any, Any]) -> list[Any]:
    choices = "; ".join(str(v) for v, _label in f.choices) if f.choices else ""
    if f.is_relation:
        target = f.related_model
        slug = _slug_of_model(target)
        choices = f"{slug}:FORMSEQ" if slug else ("username" if target._meta.model_name == "user" else
                                                   "MedDRA LLT code" if target._meta.model_name == "ctcaeterm" else "")  # fmt: skip
    required = "N" if (getattr(f, "blank", True) or getattr(f, "null", False)) else "Y"
    derived = "N" if f.editable else "Y"
    return [form, f.name, str(f.verbose_name), _field_type(f), choices, _units(f), required, derived]


def dictionary_csv() -> bytes:
    rows: list[list[Any]] = []
    for spec in registry.all():
        for col, label in (("STUDYID", _("Study identifier")), ("SUBJID", _("Study number (screening number before registration)")),
                           ("SCRNO", _("Screening number")), ("FORMSEQ", _("Rank of the row within the patient's rows of this form")),
                           ("CRFSTAT", _("CRF lifecycle status"))):  # fmt: skip
            allowed = "draft; submitted; verified; signed; locked" if col == "CRFSTAT" else ""
            rows.append([spec.slug, col, label, "key", allowed, "", "Y", "N"])
        for f in export_fields(spec.model):
            rows.append(_dictionary_row(spec.slug, f))
    for stem in CHILD_TABLES:
        model = child_model(stem)
        if model is None:
            continue
        for col, label in (("STUDYID", _("Study identifier")), ("SUBJID", _("Study number (screening number before registration)")),
                           ("SCRNO", _("Screening number"))):  # fmt: skip
            rows.append([stem, col, label, "key", "", "", "Y", "N"])
        for f in child_fields(model):
            rows.append(_dictionary_row(stem, f))
    return to_csv(["form", "field", "label", "type", "allowed_values", "units", "required", "derived"], rows)


# --- SDTM-style domains -----------------------------------------------------------------------------------


def _usubjid(subjid: str) -> str:
    return f"{settings.STUDY_ID}-{subjid}"


def _seq_rows(rows: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    counters: dict[str, int] = defaultdict(int)
    rows.sort(
        key=lambda r: (
            r["USUBJID"],
            str(r.get(f"{prefix}STDTC") or r.get(f"{prefix}DTC") or ""),
            r.get("_order", 0),
        )
    )
    for r in rows:
        counters[r["USUBJID"]] += 1
        r[f"{prefix}SEQ"] = counters[r["USUBJID"]]
    return rows


def _domain_csv(domain: str, cols: list[str], rows: list[dict[str, Any]]) -> bytes:
    header = ["STUDYID", "DOMAIN", "USUBJID"] + cols
    return to_csv(
        header, ([settings.STUDY_ID, domain, r["USUBJID"]] + [r.get(c) for c in cols] for r in rows)
    )


def sdtm_dm(cutoff: datetime.date, snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    from enrollment.models import Baseline, Consent, DeathReport, Disposition, Patient, ScreeningLog

    first_consent: dict[int, Any] = {}
    for pid, dt in Consent.objects.order_by("consent_datetime").values_list("patient_id", "consent_datetime"):
        first_consent.setdefault(pid, dt)
    base = {b.patient_id: b for b in Baseline.objects.all()}
    deaths = {d.patient_id: d for d in DeathReport.objects.filter(death_date__lte=cutoff)}
    disp = {d.patient_id: d for d in Disposition.objects.all()}
    failed = set(ScreeningLog.objects.filter(outcome="SCREEN FAILURE").values_list("patient_id", flat=True))
    tte = {p["patient_id"]: p for p in snap.results.get("patients", [])}
    rows = []
    for p in Patient.objects.order_by("screening_number"):
        b, d, ds = base.get(p.pk), deaths.get(p.pk), disp.get(p.pk)
        t = tte.get(p.pk, {})
        os_row = t.get("os") or {}
        rfst = os_row.get("origin", "")
        arm = ("SCRNFAIL", "Screen Failure") if p.pk in failed else (
            ("SABRAT", "SABR + axitinib + toripalimab") if p.study_number else ("NOTASSGN", "Not Assigned"))  # fmt: skip
        actarm = arm if t.get("flags", {}).get("saffl") or not p.study_number else ("NOTTRT", "Not Treated")
        rows.append({
            "USUBJID": _usubjid(keys.subjid[p.pk]), "SUBJID": keys.subjid[p.pk], "RFSTDTC": rfst,
            "RFXSTDTC": rfst, "RFXENDTC": ds.last_dose_date if ds and getattr(ds, "last_dose_date", None) else "",
            "RFICDTC": timezone.localtime(first_consent[p.pk]).date() if p.pk in first_consent else "",
            "RFPENDTC": ds.eos_date if ds and ds.eos_date and ds.eos_date <= cutoff else "",
            "DTHDTC": d.death_date if d else "", "DTHFL": "Y" if d else "", "SITEID": "01",
            "BRTHDTC": b.birth_year if b else "", "AGE": b.age_at_consent if b else "", "AGEU": "YEARS" if b else "",
            "SEX": b.sex if b else "", "ARMCD": arm[0], "ARM": arm[1], "ACTARMCD": actarm[0], "ACTARM": actarm[1],
        })  # fmt: skip
    cols = ["SUBJID", "RFSTDTC", "RFXSTDTC", "RFXENDTC", "RFICDTC", "RFPENDTC", "DTHDTC", "DTHFL", "SITEID",
            "BRTHDTC", "AGE", "AGEU", "SEX", "ARMCD", "ARM", "ACTARMCD", "ACTARM"]  # fmt: skip
    return _domain_csv("DM", cols, rows)


def sdtm_ds(cutoff: datetime.date, keys: KeyMap) -> bytes:
    from enrollment.models import Consent, DeathReport, Disposition, Patient, ScreeningLog

    rows: list[dict[str, Any]] = []

    def add(pid: int, term: str, decod: str, cat: str, scat: str, day: Any, order: int) -> None:
        if day and (day if isinstance(day, datetime.date) else cutoff) <= cutoff:
            rows.append({"USUBJID": _usubjid(keys.subjid[pid]), "DSTERM": term, "DSDECOD": decod, "DSCAT": cat,
                         "DSSCAT": scat, "DSSTDTC": day, "_order": order})  # fmt: skip

    for c in Consent.objects.all():
        add(c.patient_id, "INFORMED CONSENT OBTAINED", "INFORMED CONSENT OBTAINED", "PROTOCOL MILESTONE", "",
            timezone.localtime(c.consent_datetime).date(), 1)  # fmt: skip
        if c.withdrawn == "Y":
            add(
                c.patient_id,
                "WITHDRAWAL BY SUBJECT",
                "WITHDRAWAL BY SUBJECT",
                "DISPOSITION EVENT",
                "CONSENT",
                c.withdrawal_date,
                5,
            )
    for s in ScreeningLog.objects.exclude(outcome__in=["PENDING", "ELIGIBLE"]):
        add(
            s.patient_id,
            s.failure_text or s.outcome,
            s.outcome,
            "DISPOSITION EVENT",
            "SCREENING",
            s.outcome_date,
            2,
        )
    for p in Patient.objects.filter(study_number__isnull=False):
        add(p.pk, "REGISTERED", "REGISTERED", "PROTOCOL MILESTONE", "", p.registration_date, 3)
    for d in Disposition.objects.all():
        if d.eot_reason:
            add(d.patient_id, d.eot_reason_text or d.eot_reason, d.eot_reason, "DISPOSITION EVENT", "END OF TREATMENT",
                getattr(d, "last_dose_date", None) or d.eos_date or "", 6)  # fmt: skip
        if d.eos_date:
            add(
                d.patient_id,
                d.eos_reason_text or d.eos_reason,
                d.eos_reason,
                "DISPOSITION EVENT",
                "END OF STUDY",
                d.eos_date,
                8,
            )
    for dr in DeathReport.objects.all():
        add(dr.patient_id, "DEATH", "DEATH", "DISPOSITION EVENT", "", dr.death_date, 7)
    return _domain_csv(
        "DS", ["DSSEQ", "DSTERM", "DSDECOD", "DSCAT", "DSSCAT", "DSSTDTC"], _seq_rows(rows, "DS")
    )


def sdtm_ex(cutoff: datetime.date, keys: KeyMap) -> bytes:
    from django.apps import apps

    rows: list[dict[str, Any]] = []
    try:
        fraction = apps.get_model("treatment", "SabrFraction")
        axitinib = apps.get_model("treatment", "AxitinibPeriod")
        infusion = apps.get_model("treatment", "ToripalimabInfusion")
    except LookupError:
        return _domain_csv("EX", [], [])
    for f in fraction.objects.filter(delivered="Y", fraction_date__lte=cutoff).select_related(
        "target__lesion"
    ):
        lesion = f.target.lesion
        rows.append({"USUBJID": _usubjid(keys.subjid[f.patient_id]), "EXTRT": "SABR", "EXDOSE": f.dose_delivered_gy,
                     "EXDOSU": "Gy", "EXROUTE": "", "EXLOC": lesion.organ if lesion else "",
                     "EXLAT": lesion.laterality if lesion else "", "EXLNKID": lesion.lesion_code if lesion else "",
                     "EXSTDTC": f.fraction_date, "EXENDTC": f.fraction_date, "EXADJ": "", "EXSPID": f"F{f.fraction_number}"})  # fmt: skip
    for a in axitinib.objects.filter(start_date__lte=cutoff):
        mg = a.other_dose_mg
        if mg is None:
            from treatment import dosing

            try:
                mg = dosing.axitinib_dose_mg(dosing.AxitinibDose(a.dose_level))
            except Exception:
                mg = None
        rows.append({"USUBJID": _usubjid(keys.subjid[a.patient_id]), "EXTRT": "AXITINIB", "EXDOSE": mg, "EXDOSU": "mg",
                     "EXDOSFRQ": "BID", "EXROUTE": "ORAL", "EXSTDTC": a.start_date,
                     "EXENDTC": a.end_date if a.end_date and a.end_date <= cutoff else "", "EXADJ": a.dose_change_reason,
                     "EXSPID": a.dose_level})  # fmt: skip
    for i in infusion.objects.filter(infusion_status="GIVEN", infusion_date__lte=cutoff):
        rows.append({"USUBJID": _usubjid(keys.subjid[i.patient_id]), "EXTRT": "TORIPALIMAB", "EXDOSE": i.dose_mg,
                     "EXDOSU": "mg", "EXDOSFRQ": "ONCE", "EXROUTE": "INTRAVENOUS", "EXSTDTC": i.infusion_date,
                     "EXENDTC": i.infusion_date, "EXADJ": i.dose_deviation_reason, "EXLOT": i.lot_number,
                     "EXSPID": f"C{i.cycle_number}"})  # fmt: skip
    cols = ["EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXDOSFRQ", "EXROUTE", "EXLOC", "EXLAT", "EXLNKID", "EXLOT",
            "EXADJ", "EXSPID", "EXSTDTC", "EXENDTC"]  # fmt: skip
    return _domain_csv("EX", cols, _seq_rows(rows, "EX"))


_REL_ORDER = ["NOT APPLICABLE", "UNRELATED", "UNLIKELY", "POSSIBLE", "PROBABLE", "DEFINITE"]


def sdtm_ae(cutoff: datetime.date, keys: KeyMap) -> bytes:
    from adverse_events.models import AdverseEvent

    rows = []
    for ae in AdverseEvent.objects.filter(onset_date__lte=cutoff).select_related(
        "ctcae_term", "parent_episode"
    ):
        rels = [ae.rel_sabr, ae.rel_axitinib, ae.rel_toripalimab]
        strongest = max(rels, key=lambda r: _REL_ORDER.index(r) if r in _REL_ORDER else -1)
        rows.append({
            "USUBJID": _usubjid(keys.subjid[ae.patient_id]), "AESPID": ae.ae_number,
            "AEGRPID": ae.parent_episode.ae_number if ae.parent_episode_id else "",
            "AETERM": ae.verbatim or ae.ctcae_term.term, "AELLT": ae.ctcae_term.term, "AELLTCD": ae.ctcae_term.meddra_code,
            "AESOC": ae.ctcae_term.soc, "AETOXGR": ae.grade, "AESTDTC": ae.onset_date,
            "AEENDTC": ae.resolution_date if ae.resolution_date and ae.resolution_date <= cutoff else "",
            "AEENRTPT": "ONGOING" if ae.ongoing == "Y" else "", "AESER": ae.serious, "AEREL": strongest,
            "AEACN": "MULTIPLE", "AEOUT": ae.outcome, "AESDTH": ae.aesdth, "AESLIFE": ae.aeslife, "AESHOSP": ae.aeshosp,
            "AESDISAB": ae.aesdisab, "AESCONG": ae.aescong, "AESMIE": ae.aesmie, "AECONTRT": ae.treatment_given,
        })  # fmt: skip
    cols = ["AESEQ", "AESPID", "AEGRPID", "AETERM", "AELLT", "AELLTCD", "AESOC", "AETOXGR", "AESTDTC", "AEENDTC",
            "AEENRTPT", "AESER", "AEREL", "AEACN", "AEOUT", "AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG",
            "AESMIE", "AECONTRT"]  # fmt: skip
    return _domain_csv("AE", cols, _seq_rows(rows, "AE"))


def sdtm_tu_tr_rs(cutoff: datetime.date, keys: KeyMap) -> tuple[bytes, bytes, bytes]:
    from django.apps import apps

    try:
        lesion = apps.get_model("assessments", "Lesion")
        assessment = apps.get_model("assessments", "TumourAssessment")
        result = apps.get_model("assessments", "LesionResult")
    except LookupError:
        return _domain_csv("TU", [], []), _domain_csv("TR", [], []), _domain_csv("RS", [], [])
    tu, tr, rs = [], [], []
    for les in lesion.objects.filter(baseline_date__lte=cutoff):
        u = _usubjid(keys.subjid[les.patient_id])
        tu.append({"USUBJID": u, "TULNKID": les.lesion_code, "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
                   "TUORRES": les.role, "TULOC": les.organ, "TULAT": les.laterality, "TUMETHOD": les.method,
                   "TUDTC": les.baseline_date, "VISIT": "BASELINE"})  # fmt: skip
        if les.baseline_value_mm is not None:
            code = "SAXIS" if les.is_nodal == "Y" else "LDIAM"
            tr.append({"USUBJID": u, "TRLNKID": les.lesion_code, "TRTESTCD": code, "TRORRES": les.baseline_value_mm,
                       "TRORRESU": "mm", "TRSTRESN": les.baseline_value_mm, "TRSTRESU": "mm", "TRDTC": les.baseline_date,
                       "VISIT": "BASELINE"})  # fmt: skip
    value_field = next(
        (
            f.name
            for f in result._meta.concrete_fields
            if f.name in ("value_mm", "measurement_mm", "diameter_mm")
        ),
        None,
    )
    for r in result.objects.filter(assessment__scan_date_last__lte=cutoff).select_related(
        "lesion", "assessment"
    ):
        u = _usubjid(keys.subjid[r.lesion.patient_id])
        a = r.assessment
        if value_field and getattr(r, value_field) is not None:
            tr.append({"USUBJID": u, "TRLNKID": r.lesion.lesion_code, "TRTESTCD": "SAXIS" if r.lesion.is_nodal == "Y" else "LDIAM",
                       "TRORRES": getattr(r, value_field), "TRORRESU": "mm", "TRSTRESN": getattr(r, value_field), "TRSTRESU": "mm",
                       "TRDTC": a.scan_date_last, "VISIT": a.visit_label})  # fmt: skip
        if r.nontarget_state:
            tr.append({"USUBJID": u, "TRLNKID": r.lesion.lesion_code, "TRTESTCD": "TUMSTATE", "TRORRES": r.nontarget_state,
                       "TRDTC": a.scan_date_last, "VISIT": a.visit_label})  # fmt: skip
    for a in assessment.objects.filter(scan_date_last__lte=cutoff):
        u = _usubjid(keys.subjid[a.patient_id])
        if a.sum_mm is not None:
            tr.append({"USUBJID": u, "TRLNKID": "", "TRTESTCD": "SUMDIAM", "TRORRES": a.sum_mm, "TRORRESU": "mm",
                       "TRSTRESN": a.sum_mm, "TRSTRESU": "mm", "TRDTC": a.scan_date_last, "VISIT": a.visit_label})  # fmt: skip
        for code, test, value in (("TRGRESP", "Target Response", a.target_resp), ("NTRGRESP", "Non-target Response", a.nontarget_resp),
                                  ("NEWLIND", "New Lesion Indicator", a.new_lesion_ind), ("OVRLRESP", "Overall Response", a.overall_resp)):  # fmt: skip
            if value:
                rs.append({"USUBJID": u, "RSTESTCD": code, "RSTEST": test, "RSCAT": "RECIST 1.1", "RSORRES": value,
                           "RSSTRESC": value, "RSDTC": a.scan_date_last, "VISIT": a.visit_label})  # fmt: skip
    tu_cols = [
        "TUSEQ",
        "TULNKID",
        "TUTESTCD",
        "TUTEST",
        "TUORRES",
        "TULOC",
        "TULAT",
        "TUMETHOD",
        "VISIT",
        "TUDTC",
    ]
    tr_cols = [
        "TRSEQ",
        "TRLNKID",
        "TRTESTCD",
        "TRORRES",
        "TRORRESU",
        "TRSTRESN",
        "TRSTRESU",
        "VISIT",
        "TRDTC",
    ]
    rs_cols = ["RSSEQ", "RSTESTCD", "RSTEST", "RSCAT", "RSORRES", "RSSTRESC", "VISIT", "RSDTC"]
    return (_domain_csv("TU", tu_cols, _seq_rows(tu, "TU")), _domain_csv("TR", tr_cols, _seq_rows(tr, "TR")),
            _domain_csv("RS", rs_cols, _seq_rows(rs, "RS")))  # fmt: skip


# --- ADaM-style data sets (from the snapshot) --------------------------------------------------------------


def _rdi(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


def relative_dose_intensity(cutoff: datetime.date) -> dict[int, tuple[Decimal | None, Decimal | None]]:
    """Per patient id: (axitinib RDI %, toripalimab RDI %) at the cut-off, one decimal, from the casebook's
    exposure panel (``treatment.selectors.exposure``: R4.1, R4.6); nothing for an untreated patient."""
    try:
        from treatment.selectors import exposure
    except ImportError:
        return {}
    from enrollment.models import Patient

    out: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    for patient in Patient.objects.filter(study_number__isnull=False):
        e = exposure(patient, as_of=cutoff)
        out[patient.pk] = (_rdi(e.axitinib_rdi_pct), _rdi(e.toripalimab_rdi_pct))
    return out


def adam_adsl(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    from enrollment.models import Baseline, DeathReport, Disposition

    cutoff = snap.data_cutoff
    rdi = relative_dose_intensity(cutoff)
    base = {b.patient_id: b for b in Baseline.objects.all()}
    deaths = {d.patient_id: d for d in DeathReport.objects.filter(death_date__lte=cutoff)}
    disp = {d.patient_id: d for d in Disposition.objects.all()}
    rows = []
    for p in snap.results.get("patients", []):
        pid = p["patient_id"]
        b, d, ds = base.get(pid), deaths.get(pid), disp.get(pid)
        flags = p.get("flags", {})
        os_row = p.get("os") or {}
        pfs1 = p.get("pfs1") or {}
        subj = keys.subjid.get(pid, p["study_number"])
        eos = ds and ds.eos_date and ds.eos_date <= cutoff
        rows.append({
            "USUBJID": _usubjid(subj), "SUBJID": subj, "AGE": b.age_at_consent if b else "", "AGEU": "YEARS",
            "SEX": b.sex if b else "", "ECOGBL": b.ecog if b else "", "KPSBL": b.kps if b else "",
            "HISTOL": b.histology if b else "", "SARCFL": b.sarcomatoid if b else "",
            "NEPHRFL": b.prior_nephrectomy if b else "", "PRLINES": b.prior_systemic_lines if b else "",
            "IMDCGR": b.imdc_group if b else "", "TRTSDT": os_row.get("origin", ""),
            "SABRSDT": pfs1.get("origin", ""), "DTHDT": d.death_date if d else "", "DTHFL": "Y" if d else "N",
            "DTHCAUS": d.primary_cause if d else "",
            "LSTALVDT": os_row.get("adt", "") if os_row and not os_row.get("event") else "",
            "EOSSTT": "DISCONTINUED" if eos else "ONGOING", "DCSREAS": ds.eos_reason if eos else "",
            "ENRLFL": "Y", "SAFFL": "Y" if flags.get("saffl") else "N", "MDISFL": "Y" if flags.get("mdisfl") else "N",
            "RSEVFL": "Y" if flags.get("rsevfl") else "N", "AXIRDI": rdi.get(pid, (None, None))[0],
            "TORRDI": rdi.get(pid, (None, None))[1], "CUTOFFDT": cutoff,
        })  # fmt: skip
    rows.sort(key=lambda r: r["USUBJID"])
    cols = ["SUBJID", "AGE", "AGEU", "SEX", "ECOGBL", "KPSBL", "HISTOL", "SARCFL", "NEPHRFL", "PRLINES", "IMDCGR",
            "TRTSDT", "SABRSDT", "DTHDT", "DTHFL", "DTHCAUS", "LSTALVDT", "EOSSTT", "DCSREAS", "ENRLFL", "SAFFL",
            "MDISFL", "RSEVFL", "AXIRDI", "TORRDI", "CUTOFFDT"]  # fmt: skip
    header = ["STUDYID", "USUBJID"] + cols
    return to_csv(header, ([settings.STUDY_ID, r["USUBJID"]] + [r[c] for c in cols] for r in rows))


ADTTE_COLS = ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "TULNKID", "STARTDT", "ADT", "AVAL", "AVALU", "CNSR",
              "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ", "CRSKFL", "CUTOFFDT"]  # fmt: skip
PARAMS = {"PFS1": "Progression-free survival from SABR start (days)", "PFS2": "Second progression-free survival (days)",
          "OS": "Overall survival from treatment start (days)", "LC": "Local control, patient level (days)",
          "LCLES": "Local control per irradiated lesion (days)"}  # fmt: skip


def adam_adtte(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    rows = []
    for p in snap.results.get("patients", []):
        subj = keys.subjid.get(p["patient_id"], p["study_number"])
        items = [(k.upper(), p.get(k)) for k in ("pfs1", "pfs2", "os", "lc")]
        items += [("LCLES", x) for x in p.get("lc_lesions", [])]
        for code, t in items:
            if not t:
                continue
            src = t.get("source") or {}
            event = bool(t.get("event"))
            rows.append([
                settings.STUDY_ID, _usubjid(subj), code, PARAMS[code], t.get("lesion_code") or "", t["origin"], t["adt"],
                t["days"], "DAYS", t["cnsr"], t["reason"] if event else "", "" if event else t["reason"],
                src.get("form", ""), src.get("field", ""), src.get("object_id", ""),
                "Y" if code in ("LC", "LCLES") and t["cnsr"] == 9 else "", snap.data_cutoff,
            ])  # fmt: skip
    rows.sort(key=lambda r: (r[1], list(PARAMS).index(r[2]), r[4]))
    return to_csv(ADTTE_COLS, rows)


def adam_adrs(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    from django.apps import apps

    rows: list[list[Any]] = []
    cutoff = snap.data_cutoff
    try:
        assessment = apps.get_model("assessments", "TumourAssessment")
        for a in (
            assessment.objects.filter(scan_date_last__lte=cutoff)
            .exclude(overall_resp="")
            .order_by("patient_id", "scan_date_last")
        ):
            subj = keys.subjid[a.patient_id]
            rows.append([settings.STUDY_ID, _usubjid(subj), "OVRLRESP", "Overall Response by Investigator (RECIST 1.1)",
                         a.overall_resp, RESPONSE_RANK.get(a.overall_resp, 7), a.scan_date_last, "Y", cutoff])  # fmt: skip
            if a.overall_resp_nonirr:
                rows.append([settings.STUDY_ID, _usubjid(subj), "OVRNIRR", "Overall Response, non-irradiated lesions",
                             a.overall_resp_nonirr, RESPONSE_RANK.get(a.overall_resp_nonirr, 7), a.scan_date_last, "Y", cutoff])  # fmt: skip
    except LookupError:
        pass
    for p in snap.results.get("patients", []):
        subj = keys.subjid.get(p["patient_id"], p["study_number"])
        for code, label, key in (("BOR", "Best Overall Response (unconfirmed)", "bor"),
                                 ("CBOR", "Best Overall Response (confirmed)", "cbor")):  # fmt: skip
            b = p.get(key) or {}
            if not (p.get("flags") or {}).get("saffl"):
                continue
            resp = b.get("response") or "NE"
            rows.append([settings.STUDY_ID, _usubjid(subj), code, label, resp, RESPONSE_RANK.get(resp, 7),
                         b.get("date") or "", "Y", cutoff])  # fmt: skip
    rows.sort(key=lambda r: (r[1], r[2], str(r[6])))
    return to_csv(
        ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT", "ANL01FL", "CUTOFFDT"], rows
    )


# --- The zip ----------------------------------------------------------------------------------------------


def patients_csv(keys: KeyMap) -> bytes:
    """The patient registry (not a CRF): screening number, study number and registration date."""
    from enrollment.models import Patient

    rows = [
        [
            settings.STUDY_ID,
            keys.subjid[p.pk],
            p.screening_number,
            p.registration_date,
            p.registered_by.get_username() if p.registered_by else "",
        ]  # fmt: skip
        for p in Patient.objects.select_related("registered_by").order_by("screening_number")
    ]
    return to_csv(["STUDYID", "SUBJID", "SCRNO", "registration_date", "registered_by"], rows)


def crf_files() -> dict[str, bytes]:
    """Only the per-CRF CSVs, the patient registry and the dictionary (what ``import_study`` reads back)."""
    keys = KeyMap()
    files = {f"crf/{spec.slug}.csv": crf_csv(spec, keys) for spec in registry.all()}
    files.update({f"crf/{stem}.csv": child_csv(stem, keys) for stem in CHILD_TABLES if child_model(stem)})
    files["crf/_patients.csv"] = patients_csv(keys)
    files["crf/_dictionary.csv"] = dictionary_csv()
    return files


def build_files(snap: EndpointSnapshot, progress: Progress = _noop) -> dict[str, bytes]:
    keys = KeyMap()
    files: dict[str, bytes] = {}
    specs = registry.all()
    for i, spec in enumerate(specs):
        progress(_("CRF table %(form)s") % {"form": spec.title}, 5 + int(45 * i / max(len(specs), 1)))
        files[f"crf/{spec.slug}.csv"] = crf_csv(spec, keys)
    for stem in CHILD_TABLES:
        if child_model(stem):
            files[f"crf/{stem}.csv"] = child_csv(stem, keys)
    files["crf/_patients.csv"] = patients_csv(keys)
    files["crf/_dictionary.csv"] = dictionary_csv()
    cutoff = snap.data_cutoff
    progress(_("SDTM domains"), 55)
    files["sdtm/dm.csv"] = sdtm_dm(cutoff, snap, keys)
    files["sdtm/ds.csv"] = sdtm_ds(cutoff, keys)
    files["sdtm/ex.csv"] = sdtm_ex(cutoff, keys)
    files["sdtm/ae.csv"] = sdtm_ae(cutoff, keys)
    files["sdtm/tu.csv"], files["sdtm/tr.csv"], files["sdtm/rs.csv"] = sdtm_tu_tr_rs(cutoff, keys)
    progress(_("ADaM data sets"), 80)
    files["adam/adsl.csv"] = adam_adsl(snap, keys)
    files["adam/adtte.csv"] = adam_adtte(snap, keys)
    files["adam/adrs.csv"] = adam_adrs(snap, keys)
    files["README.txt"] = (
        f"{settings.STUDY_ID} data export\nData cut-off: {cutoff.isoformat()}\nEndpoint snapshot: #{snap.pk} "
        f"fingerprint {snap.fingerprint}\nGenerated: {timezone.localtime().isoformat(timespec='seconds')}\n"
        "Columns: see docs/exports.md of the EDC.\n"
    ).encode()
    return files


def build_export(snap: EndpointSnapshot, *, user: Any, progress: Progress = _noop) -> bytes:
    files = build_files(snap, progress)
    progress(_("Writing the zip"), 92)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            zf.writestr(name, files[name])
    return buf.getvalue()
