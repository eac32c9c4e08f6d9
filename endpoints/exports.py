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
from django.db.models.functions import Coalesce
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
    tte = {p["patient_id"]: p for p in snap.patient_rows()}
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
    return _domain_csv("DM", DM_COLS, rows)


Row = dict[str, Any]


def _src(obj: models.Model) -> tuple[str, int]:
    """The CRF row a domain record comes from, as (model label, pk): what RELREC and SUPP-- join on."""
    return (obj._meta.label, obj.pk)


def _in_cut(day: Any, cutoff: datetime.date) -> bool:
    """True for a date on or before the cut-off; an undated record is kept."""
    return not isinstance(day, datetime.date) or day <= cutoff


def _ds_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    from enrollment.models import Consent, DeathReport, Disposition, Patient, ScreeningLog

    rows: list[Row] = []

    def add(
        pid: int, term: str, decod: str, cat: str, scat: str, day: Any, order: int, src: Any = None
    ) -> None:
        if day and (day if isinstance(day, datetime.date) else cutoff) <= cutoff:
            rows.append({"USUBJID": _usubjid(keys.subjid[pid]), "DSTERM": term, "DSDECOD": decod, "DSCAT": cat,
                         "DSSCAT": scat, "DSSTDTC": day, "_order": order, "_src": src})  # fmt: skip

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
                getattr(d, "last_dose_date", None) or d.eos_date or "", 6, _src(d))  # fmt: skip
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
    return _seq_rows(rows, "DS")


DS_COLS = ["DSSEQ", "DSTERM", "DSDECOD", "DSCAT", "DSSCAT", "DSSTDTC"]


def sdtm_ds(cutoff: datetime.date, keys: KeyMap) -> bytes:
    return _domain_csv("DS", DS_COLS, _ds_rows(cutoff, keys))


def _axitinib_mg(a: Any) -> Any:
    """mg per administration of an axitinib period: the other dose, else the level's dose (0 when interrupted)."""
    if a.other_dose_mg is not None:
        return a.other_dose_mg
    from treatment import dosing

    try:
        return dosing.axitinib_dose_mg(dosing.AxitinibDose(a.dose_level))
    except Exception:
        return None


def _ex_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    from django.apps import apps

    rows: list[Row] = []
    try:
        fraction = apps.get_model("treatment", "SabrFraction")
        axitinib = apps.get_model("treatment", "AxitinibPeriod")
        infusion = apps.get_model("treatment", "ToripalimabInfusion")
    except LookupError:
        return rows
    for f in fraction.objects.filter(delivered="Y", fraction_date__lte=cutoff).select_related(
        "target__lesion"
    ):
        lesion = f.target.lesion
        rows.append({"USUBJID": _usubjid(keys.subjid[f.patient_id]), "EXTRT": "SABR", "EXDOSE": f.dose_delivered_gy,
                     "EXDOSU": "Gy", "EXROUTE": "", "EXLOC": lesion.organ if lesion else "",
                     "EXLAT": lesion.laterality if lesion else "", "EXLNKID": lesion.lesion_code if lesion else "",
                     "EXSTDTC": f.fraction_date, "EXENDTC": f.fraction_date, "EXADJ": "", "EXSPID": f"F{f.fraction_number}",
                     "_src": _src(f)})  # fmt: skip
    for a in axitinib.objects.filter(start_date__lte=cutoff):
        rows.append({"USUBJID": _usubjid(keys.subjid[a.patient_id]), "EXTRT": "AXITINIB", "EXDOSE": _axitinib_mg(a),
                     "EXDOSU": "mg", "EXDOSFRQ": "BID", "EXROUTE": "ORAL", "EXSTDTC": a.start_date,
                     "EXENDTC": a.end_date if a.end_date and a.end_date <= cutoff else "", "EXADJ": a.dose_change_reason,
                     "EXSPID": a.dose_level, "_src": _src(a)})  # fmt: skip
    for i in infusion.objects.filter(infusion_status="GIVEN", infusion_date__lte=cutoff):
        rows.append({"USUBJID": _usubjid(keys.subjid[i.patient_id]), "EXTRT": "TORIPALIMAB", "EXDOSE": i.dose_mg,
                     "EXDOSU": "mg", "EXDOSFRQ": "ONCE", "EXROUTE": "INTRAVENOUS", "EXSTDTC": i.infusion_date,
                     "EXENDTC": i.infusion_date, "EXADJ": i.dose_deviation_reason, "EXLOT": i.lot_number,
                     "EXSPID": f"C{i.cycle_number}", "_src": _src(i)})  # fmt: skip
    return _seq_rows(rows, "EX")


EX_COLS = ["EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXDOSFRQ", "EXROUTE", "EXLOC", "EXLAT", "EXLNKID", "EXLOT",
           "EXADJ", "EXSPID", "EXSTDTC", "EXENDTC"]  # fmt: skip


def sdtm_ex(cutoff: datetime.date, keys: KeyMap) -> bytes:
    return _domain_csv("EX", EX_COLS, _ex_rows(cutoff, keys))


_REL_ORDER = ["NOT APPLICABLE", "UNRELATED", "UNLIKELY", "POSSIBLE", "PROBABLE", "DEFINITE"]


def _ae_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
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
            "_src": _src(ae),
            "_supp": {"AERELSAB": ae.rel_sabr, "AERELAXI": ae.rel_axitinib, "AERELTOR": ae.rel_toripalimab,
                      "AEACN1": ae.acn_axitinib, "AEACN2": ae.acn_toripalimab, "AEACN3": ae.acn_sabr,
                      "AEIRFL": ae.immune_related, "TOXGRV": ae.ctcae_version,
                      "AWARDTC": ae.awareness_at if ae.awareness_at and timezone.localtime(ae.awareness_at).date() <= cutoff else None,
                      "REPDTC": ae.reported_at if ae.reported_at and timezone.localtime(ae.reported_at).date() <= cutoff else None,
                      "EXPECTFL": ae.expected, "TRTEMFL": ae.treatment_emergent},
        })  # fmt: skip
    return _seq_rows(rows, "AE")


AE_COLS = ["AESEQ", "AESPID", "AEGRPID", "AETERM", "AELLT", "AELLTCD", "AESOC", "AETOXGR", "AESTDTC", "AEENDTC",
           "AEENRTPT", "AESER", "AEREL", "AEACN", "AEOUT", "AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG",
           "AESMIE", "AECONTRT"]  # fmt: skip


def sdtm_ae(cutoff: datetime.date, keys: KeyMap) -> bytes:
    return _domain_csv("AE", AE_COLS, _ae_rows(cutoff, keys))


def _scan_day(a: Any) -> datetime.date | None:
    """The date of a time point: its last scan, or its only scan when all were on one day (form 9)."""
    return a.scan_date_last or a.scan_date_first


def _assessments_to(model: type[models.Model], cutoff: datetime.date) -> Any:
    """Tumour assessments with imaging dated on or before the cut-off (annotated ``scan_day``)."""
    return model.objects.annotate(scan_day=Coalesce("scan_date_last", "scan_date_first")).filter(
        scan_day__lte=cutoff
    )


def _tu_tr_rs_rows(cutoff: datetime.date, keys: KeyMap) -> tuple[list[Row], list[Row], list[Row]]:
    from django.apps import apps

    try:
        lesion = apps.get_model("assessments", "Lesion")
        assessment = apps.get_model("assessments", "TumourAssessment")
        result = apps.get_model("assessments", "LesionResult")
    except LookupError:
        return [], [], []
    tu: list[Row] = []
    tr: list[Row] = []
    rs: list[Row] = []
    courses: dict[int, set[int]] = defaultdict(set)  # lesion id -> protocol SABR course numbers (D4)
    try:
        target = apps.get_model("treatment", "SabrTarget")
        for lesion_id, course_number in target.objects.filter(lesion__isnull=False).values_list(
            "lesion_id", "course__course_number"
        ):
            courses[lesion_id].add(course_number)
    except LookupError:
        pass
    for les in lesion.objects.filter(baseline_date__lte=cutoff):
        u = _usubjid(keys.subjid[les.patient_id])
        tu.append({"USUBJID": u, "TULNKID": les.lesion_code, "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
                   "TUORRES": les.role, "TULOC": les.organ, "TULAT": les.laterality, "TUMETHOD": les.method,
                   "TUDTC": les.baseline_date, "VISIT": "BASELINE", "_src": _src(les),
                   "_supp": {"IRRADFL": "Y" if courses.get(les.pk) else "N",
                             "SABRTGT": ";".join(f"C{n}" for n in sorted(courses.get(les.pk, ()))),
                             "PRIRRFL": les.previously_irradiated, "MEASFL": les.measurable,
                             "LOCDTL": les.location_text}})  # fmt: skip
        if les.baseline_value_mm is not None:
            code = "SAXIS" if les.is_nodal == "Y" else "LDIAM"
            tr.append({"USUBJID": u, "TRLNKID": les.lesion_code, "TRTESTCD": code, "TRORRES": les.baseline_value_mm,
                       "TRORRESU": "mm", "TRSTRESN": les.baseline_value_mm, "TRSTRESU": "mm", "TRDTC": les.baseline_date,
                       "VISIT": "BASELINE"})  # fmt: skip
    # New lesions (R1.19): TU TUMIDENT with TUORRES NEW, identified at the time point that first showed them
    # (CRF-SPEC form 9: TULNKID = the new lesion's code, TUORRES = NEW, SUPPTU.LOCDTL).
    try:
        new_lesion = apps.get_model("assessments", "NewLesion")
    except LookupError:
        new_lesion = None
    if new_lesion is not None:
        for nl in (
            new_lesion.objects.annotate(scan_day=Coalesce("assessment__scan_date_last", "assessment__scan_date_first"))
            .filter(scan_day__lte=cutoff)
            .select_related("assessment")
            .order_by("assessment__patient_id", "scan_day", "code")
        ):
            a = nl.assessment
            tu.append({"USUBJID": _usubjid(keys.subjid[a.patient_id]), "TULNKID": nl.code, "TUTESTCD": "TUMIDENT",
                       "TUTEST": "Tumor Identification", "TUORRES": "NEW", "TULOC": nl.organ, "TULAT": nl.laterality,
                       "TUMETHOD": nl.detected_by, "TUDTC": nl.first_seen_date or _scan_day(a), "VISIT": a.visit_label,
                       "_src": _src(nl), "_supp": {"LOCDTL": nl.location_text}})  # fmt: skip
    value_field = next(
        (
            f.name
            for f in result._meta.concrete_fields
            if f.name in ("value_mm", "measurement_mm", "diameter_mm")
        ),
        None,
    )
    for r in (
        result.objects.annotate(
            scan_day=Coalesce("assessment__scan_date_last", "assessment__scan_date_first")
        )
        .filter(scan_day__lte=cutoff)
        .select_related("lesion", "assessment")
    ):
        u = _usubjid(keys.subjid[r.lesion.patient_id])
        a = r.assessment
        if value_field and getattr(r, value_field) is not None:
            tr.append({"USUBJID": u, "TRLNKID": r.lesion.lesion_code, "TRTESTCD": "SAXIS" if r.lesion.is_nodal == "Y" else "LDIAM",
                       "TRORRES": getattr(r, value_field), "TRORRESU": "mm", "TRSTRESN": getattr(r, value_field), "TRSTRESU": "mm",
                       "TRDTC": _scan_day(a), "VISIT": a.visit_label})  # fmt: skip
        if r.nontarget_state:
            tr.append({"USUBJID": u, "TRLNKID": r.lesion.lesion_code, "TRTESTCD": "TUMSTATE", "TRORRES": r.nontarget_state,
                       "TRDTC": _scan_day(a), "VISIT": a.visit_label})  # fmt: skip
    for a in _assessments_to(assessment, cutoff):
        u = _usubjid(keys.subjid[a.patient_id])
        if a.sum_mm is not None:
            tr.append({"USUBJID": u, "TRLNKID": "", "TRTESTCD": "SUMDIAM", "TRORRES": a.sum_mm, "TRORRESU": "mm",
                       "TRSTRESN": a.sum_mm, "TRSTRESU": "mm", "TRDTC": _scan_day(a), "VISIT": a.visit_label})  # fmt: skip
        for code, test, value in (("TRGRESP", "Target Response", a.target_resp), ("NTRGRESP", "Non-target Response", a.nontarget_resp),
                                  ("NEWLIND", "New Lesion Indicator", a.new_lesion_ind), ("OVRLRESP", "Overall Response", a.overall_resp)):  # fmt: skip
            if value:
                row = {"USUBJID": u, "RSTESTCD": code, "RSTEST": test, "RSCAT": "RECIST 1.1", "RSORRES": value,
                       "RSSTRESC": value, "RSDTC": _scan_day(a), "VISIT": a.visit_label}  # fmt: skip
                # D4: the response of the non-irradiated lesions rides on the overall response record
                if code == "OVRLRESP":
                    row["_src"] = _src(a)
                    row["_supp"] = {"OVRNIRR": a.overall_resp_nonirr, "CLINDET": a.clinical_deterioration,
                                    "CLINSTB": a.clinically_stable}  # fmt: skip
                rs.append(row)
        if a.irecist_resp:  # R1.50-R1.53, exploratory: the iRECIST time-point response (CRF-SPEC: RS, RSCAT iRECIST)
            rs.append({"USUBJID": u, "RSTESTCD": "OVRLRESP", "RSTEST": "Overall Response", "RSCAT": "iRECIST",
                       "RSORRES": a.irecist_resp, "RSSTRESC": a.irecist_resp, "RSDTC": _scan_day(a),
                       "VISIT": a.visit_label})  # fmt: skip
    return _seq_rows(tu, "TU"), _seq_rows(tr, "TR"), _seq_rows(rs, "RS")


TU_COLS = ["TUSEQ", "TULNKID", "TUTESTCD", "TUTEST", "TUORRES", "TULOC", "TULAT", "TUMETHOD", "VISIT",
           "TUDTC"]  # fmt: skip
TR_COLS = ["TRSEQ", "TRLNKID", "TRTESTCD", "TRORRES", "TRORRESU", "TRSTRESN", "TRSTRESU", "VISIT", "TRDTC"]
RS_COLS = ["RSSEQ", "RSTESTCD", "RSTEST", "RSCAT", "RSORRES", "RSSTRESC", "VISIT", "RSDTC"]


def sdtm_tu_tr_rs(cutoff: datetime.date, keys: KeyMap) -> tuple[bytes, bytes, bytes]:
    tu, tr, rs = _tu_tr_rs_rows(cutoff, keys)
    return _domain_csv("TU", TU_COLS, tu), _domain_csv("TR", TR_COLS, tr), _domain_csv("RS", RS_COLS, rs)


# --- More SDTM domains: IE, TI, CM, PR, MH, DD, SS, EC; SUPP-- and RELREC ------------------------------------

#: SUPP-- qualifiers per parent domain: QNAM -> (QLABEL, QORIG, QEVAL). A record carries its values in ``_supp``;
#: an empty value writes no SUPP row. QNAMs are CRF-SPEC's EXT names.
SUPP_QUALIFIERS: dict[str, dict[str, tuple[str, str, str]]] = {
    "AE": {"AERELSAB": ("Relationship to SABR", "CRF", "INVESTIGATOR"),
           "AERELAXI": ("Relationship to Axitinib", "CRF", "INVESTIGATOR"),
           "AERELTOR": ("Relationship to Toripalimab", "CRF", "INVESTIGATOR"),
           "AEACN1": ("Action Taken with Axitinib", "CRF", ""),
           "AEACN2": ("Action Taken with Toripalimab", "CRF", ""),
           "AEACN3": ("Action Taken with SABR", "CRF", ""),
           "AEIRFL": ("Immune-Related AE Flag", "CRF", "INVESTIGATOR"),
           "TOXGRV": ("Toxicity Grade Version (CTCAE)", "ASSIGNED", ""),
           "AWARDTC": ("Date/Time Site Aware of SAE", "CRF", ""),
           "REPDTC": ("Date/Time SAE Reported to Sponsor", "CRF", ""),
           "EXPECTFL": ("Expected per Reference Safety Info", "CRF", "INVESTIGATOR"),
           "TRTEMFL": ("Treatment Emergent Flag", "DERIVED", "")},
    "TU": {"IRRADFL": ("Irradiated by Protocol SABR Flag", "DERIVED", ""),
           "SABRTGT": ("SABR Courses Treating the Lesion", "DERIVED", ""),
           "PRIRRFL": ("Irradiated Before Enrolment Flag", "CRF", ""),
           "MEASFL": ("Measurable at Baseline Flag", "DERIVED", ""),
           "LOCDTL": ("Location Detail", "CRF", "")},
    "RS": {"OVRNIRR": ("Overall Resp Non-Irradiated Lesions", "DERIVED", ""),
           "CLINDET": ("Symptomatic Deterioration Without PD", "CRF", "INVESTIGATOR"),
           "CLINSTB": ("Clinically Stable Beyond iUPD", "CRF", "INVESTIGATOR")},
    "CM": {"PREDEQD": ("Prednisone-Equivalent Dose per Day mg", "DERIVED", ""),
           "SETTING": ("Setting of Prior Therapy", "CRF", ""),
           "PD1FL": ("PD-1/PD-L1 Antibody Flag", "CRF", ""),
           "BESTRSP": ("Best Response to This Therapy", "CRF", "INVESTIGATOR"),
           "NLREAS": ("Reason for Next-Line Therapy", "CRF", "INVESTIGATOR"),
           "LOCONPR": ("Local Therapy on Protocol Drugs Flag", "CRF", "")},
    "PR": {"NFRAC": ("Number of Fractions Prescribed", "CRF", ""),
           "NFRACDEL": ("Number of Fractions Delivered", "DERIVED", ""),
           "BED10": ("BED10 of the Prescription (Gy)", "DERIVED", ""),
           "REIRRFL": ("Re-irradiation Flag", "CRF", ""),
           "NLREAS": ("Reason for Next-Line Therapy", "CRF", "INVESTIGATOR"),
           "LOCONPR": ("Local Therapy on Protocol Drugs Flag", "CRF", "")},
    "MH": {"HISTOL": ("Histology", "CRF", ""), "HISTOTH": ("Histology, Other", "CRF", ""),
           "SARCFL": ("Sarcomatoid Features Flag", "CRF", ""),
           "SYSTXFL": ("Needs Systemic Treatment Flag", "CRF", "")},
    "DD": {"DTHSRC": ("Source of Death Information", "CRF", "")},
    "SS": {"CONTMETH": ("Contact Method", "CRF", ""),
           "NEWTXFL": ("New Anticancer Therapy Flag", "CRF", ""),
           "PROGFL": ("Progression Reported Flag", "CRF", "")},
    "EC": {"INFSTAT": ("Infusion Status", "CRF", ""), "INFINT": ("Infusion Slowed or Interrupted", "CRF", ""),
           "PLANDT": ("Planned Infusion Date", "DERIVED", ""),
           "MISSDOS": ("Doses Missed or Vomited", "CRF", "")},
}  # fmt: skip

SUPP_COLS = ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL", "QORIG", "QEVAL"]
RELREC_COLS = ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE", "RELID"]
TI_COLS = ["STUDYID", "DOMAIN", "IETESTCD", "IETEST", "IECAT", "TIVERS"]


def supp_csv(domain: str, rows: list[Row]) -> bytes:
    """SUPP-- of one domain: one row per non-empty qualifier of each record, keyed by --SEQ."""
    meta = SUPP_QUALIFIERS[domain]
    out = []
    for r in rows:
        for qnam, value in (r.get("_supp") or {}).items():
            if value is None or value == "":
                continue
            label, orig, evaluator = meta[qnam]
            out.append([settings.STUDY_ID, domain, r["USUBJID"], f"{domain}SEQ", r[f"{domain}SEQ"], qnam, label,
                        value, orig, evaluator])  # fmt: skip
    return to_csv(SUPP_COLS, out)


def _first_consent_dates() -> dict[int, datetime.date]:
    from enrollment.models import Consent

    out: dict[int, datetime.date] = {}
    for pid, moment in Consent.objects.order_by("consent_datetime").values_list(
        "patient_id", "consent_datetime"
    ):
        out.setdefault(pid, timezone.localtime(moment).date())
    return out


def _ie_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """IE: only the criteria not met (CRF-SPEC form 2), from the checklist answers and the screening log's failed
    criteria; IEORRES is the answer given (N for an inclusion not met, Y for an exclusion present)."""
    from enrollment import criteria
    from enrollment.models import Eligibility, ScreeningLog

    logs = {s.patient_id: s for s in ScreeningLog.objects.all()}
    failed: dict[int, dict[str, Any]] = defaultdict(dict)
    for elig in Eligibility.objects.prefetch_related("answers"):
        log = logs.get(elig.patient_id)
        day = (timezone.localtime(elig.confirmed_at).date() if elig.confirmed_at else
               (log.outcome_date or log.screening_date) if log else None)  # fmt: skip
        for answer in elig.answers.all():
            try:
                not_met = bool(answer.answer) and not answer.qualifies
            except KeyError:
                not_met = False
            if not_met:
                failed[elig.patient_id][answer.criterion_id] = day
    for log in logs.values():
        for cid in log.failed_criteria or []:
            failed[log.patient_id].setdefault(str(cid), log.outcome_date or log.screening_date)
    rows: list[Row] = []
    for pid, items in failed.items():
        for order, (cid, day) in enumerate(sorted(items.items())):
            if not _in_cut(day, cutoff):
                continue
            try:
                c = criteria.get(cid)
                test, cat = str(c.text), c.category
                result = "N" if c.qualifying_answer == "Y" else "Y"
            except KeyError:
                test, cat, result = cid, "", ""
            rows.append({"USUBJID": _usubjid(keys.subjid[pid]), "IETESTCD": cid, "IETEST": test, "IECAT": cat,
                         "IEORRES": result, "IESTRESC": result, "IEDTC": day, "_order": order})  # fmt: skip
    return _seq_rows(rows, "IE")


def ti_csv() -> bytes:
    """TI: every eligibility criterion of every protocol version (the texts IE refers to)."""
    from enrollment import criteria

    rows = [
        [settings.STUDY_ID, "TI", c.id, str(c.text), c.category, c.protocol_version]
        for c in criteria.CRITERIA
    ]
    return to_csv(TI_COLS, rows)


def _ongoing_at_cutoff(ongoing: str, end: datetime.date | None, cutoff: datetime.date) -> bool:
    return ongoing == "Y" or (end is not None and end > cutoff)


def _cm_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """CM: steroids/immunosuppressants (form 15), prior systemic therapy (form 7), subsequent systemic therapy
    (form 16)."""
    from enrollment.models import PriorTherapy
    from treatment.models import Immunosuppressant, SubsequentTherapy

    rows: list[Row] = []
    for m in Immunosuppressant.objects.filter(start_date__lte=cutoff):
        ongoing = _ongoing_at_cutoff(m.ongoing, m.end_date, cutoff)
        rows.append({"USUBJID": _usubjid(keys.subjid[m.patient_id]),
                     "CMTRT": m.drug_other if m.drug == "OTHER" and m.drug_other else m.drug, "CMCAT": "IMMUNOSUPPRESSANT",
                     "CMINDC": m.indication, "CMDOSE": m.dose, "CMDOSU": m.dose_unit, "CMDOSFRQ": m.frequency,
                     "CMROUTE": m.route, "CMSTDTC": m.start_date, "CMENDTC": "" if ongoing else m.end_date,
                     "CMENRTPT": "ONGOING" if ongoing else "", "CMENTPT": cutoff if ongoing else "", "_order": 1,
                     "_src": _src(m), "_supp": {"PREDEQD": m.pred_equiv_mg_day}})  # fmt: skip
    for t in PriorTherapy.objects.filter(therapy_type__in=["SYSTEMIC", "OTHER"]):
        rows.append({"USUBJID": _usubjid(keys.subjid[t.patient_id]), "CMTRT": t.agent or t.therapy_type,
                     "CMCAT": "PRIOR CANCER THERAPY", "CMSTDTC": t.start_date, "CMENDTC": t.end_date, "_order": 0,
                     "_src": _src(t), "_supp": {"SETTING": t.setting, "PD1FL": t.pd1_pdl1, "BESTRSP": t.best_response}})  # fmt: skip
    for s in SubsequentTherapy.objects.filter(therapy_type__in=["SYSTEMIC", "OTHER"], start_date__lte=cutoff):
        rows.append({"USUBJID": _usubjid(keys.subjid[s.patient_id]), "CMTRT": s.regimen,
                     "CMCAT": "SUBSEQUENT ANTICANCER THERAPY", "CMSTDTC": s.start_date,
                     "CMENDTC": s.end_date if s.end_date and s.end_date <= cutoff else "", "_order": 2,
                     "_src": _src(s), "_supp": {"NLREAS": s.reason, "LOCONPR": s.local_on_protocol}})  # fmt: skip
    return _seq_rows(rows, "CM")


CM_COLS = ["CMSEQ", "CMTRT", "CMCAT", "CMINDC", "CMDOSE", "CMDOSU", "CMDOSFRQ", "CMROUTE", "CMSTDTC", "CMENDTC",
           "CMENRTPT", "CMENTPT"]  # fmt: skip


def _pr_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """PR: each SABR target (one lesion in one course) with a fraction delivered by the cut-off, the baseline
    nephrectomy question (pre-specified), prior radiotherapy and surgery (form 7), subsequent local therapy (16)."""
    from django.db.models import Count, Max, Min

    from enrollment.models import Baseline, PriorTherapy
    from treatment.models import SabrFraction, SabrTarget, SubsequentTherapy

    rows: list[Row] = []
    delivered = {
        d["target_id"]: d
        for d in SabrFraction.objects.filter(delivered="Y", fraction_date__lte=cutoff)
        .values("target_id")
        .annotate(first=Min("fraction_date"), last=Max("fraction_date"), n=Count("pk"))
    }
    for t in SabrTarget.objects.filter(pk__in=delivered).select_related("course", "lesion"):
        d, les = delivered[t.pk], t.lesion
        rows.append({"USUBJID": _usubjid(keys.subjid[t.patient_id]), "PRGRPID": f"C{t.course.course_number}",
                     "PRLNKID": les.lesion_code if les else "", "PRTRT": "SABR",
                     "PRCAT": "PROTOCOL SABR" if t.course.is_protocol == "Y" else "NON-PROTOCOL SABR",
                     "PRSCAT": t.course.indication, "PRDOSE": t.prescribed_dose_gy, "PRDOSU": "Gy",
                     "PRDOSRGM": f"{t.n_fractions} FRACTIONS", "PRLOC": les.organ if les else "",
                     "PRLAT": les.laterality if les else "", "PRSTDTC": d["first"], "PRENDTC": d["last"], "_order": 2,
                     "_src": _src(t), "_supp": {"NFRAC": t.n_fractions, "NFRACDEL": d["n"], "BED10": t.bed10_gy,
                                                "REIRRFL": t.is_reirradiation}})  # fmt: skip
    for b in Baseline.objects.all():
        rows.append({"USUBJID": _usubjid(keys.subjid[b.patient_id]), "PRTRT": "NEPHRECTOMY",
                     "PRCAT": "PRIOR CANCER THERAPY", "PRPRESP": "Y", "PROCCUR": b.prior_nephrectomy,
                     "PRSTDTC": b.nephrectomy_date, "_order": 0, "_src": _src(b)})  # fmt: skip
    for p in PriorTherapy.objects.filter(therapy_type__in=["RADIOTHERAPY", "SURGERY"]):
        rt = p.therapy_type == "RADIOTHERAPY"
        rows.append({"USUBJID": _usubjid(keys.subjid[p.patient_id]), "PRTRT": "RADIOTHERAPY" if rt else p.procedure,
                     "PRCAT": "PRIOR CANCER THERAPY", "PRDOSE": p.rt_dose_gy, "PRDOSU": "Gy" if rt else "",
                     "PRDOSRGM": f"{p.rt_fractions} FRACTIONS" if p.rt_fractions else "", "PRLOC": p.rt_site,
                     "PRLAT": p.rt_laterality, "PRSTDTC": p.start_date, "PRENDTC": p.end_date, "_order": 1,
                     "_src": _src(p), "_supp": {"NFRAC": p.rt_fractions}})  # fmt: skip
    for s in SubsequentTherapy.objects.filter(
        therapy_type__in=["RADIOTHERAPY", "SURGERY"], start_date__lte=cutoff
    ):
        rows.append({"USUBJID": _usubjid(keys.subjid[s.patient_id]), "PRTRT": s.regimen,
                     "PRCAT": "SUBSEQUENT ANTICANCER THERAPY", "PRSCAT": s.therapy_type, "PRSTDTC": s.start_date,
                     "PRENDTC": s.end_date if s.end_date and s.end_date <= cutoff else "", "_order": 3,
                     "_src": _src(s), "_supp": {"NLREAS": s.reason, "LOCONPR": s.local_on_protocol}})  # fmt: skip
    return _seq_rows(rows, "PR")


PR_COLS = ["PRSEQ", "PRGRPID", "PRLNKID", "PRTRT", "PRCAT", "PRSCAT", "PRPRESP", "PROCCUR", "PRDOSE", "PRDOSU",
           "PRDOSRGM", "PRLOC", "PRLAT", "PRSTDTC", "PRENDTC"]  # fmt: skip


def _mh_rows(keys: KeyMap) -> list[Row]:
    """MH: the RCC diagnosis (baseline form 5) and every condition of the history form (6); partial dates kept."""
    from enrollment.models import Baseline, MedicalHistory

    consent = _first_consent_dates()
    rows: list[Row] = []
    for b in Baseline.objects.all():
        rows.append({"USUBJID": _usubjid(keys.subjid[b.patient_id]), "MHTERM": "RENAL CELL CARCINOMA",
                     "MHCAT": "PRIMARY DIAGNOSIS", "MHSTDTC": b.diagnosis_date, "_order": 0, "_src": _src(b),
                     "_supp": {"HISTOL": b.histology, "HISTOTH": b.histology_other, "SARCFL": b.sarcomatoid}})  # fmt: skip
    for h in MedicalHistory.objects.all():
        ongoing = h.ongoing == "Y"
        rows.append({"USUBJID": _usubjid(keys.subjid[h.patient_id]), "MHTERM": h.mh_term, "MHCAT": h.mh_category,
                     "MHSTDTC": h.start_date, "MHENDTC": h.end_date, "MHENRTPT": "ONGOING" if ongoing else "",
                     "MHENTPT": consent.get(h.patient_id, "") if ongoing else "", "MHTOXGR": h.baseline_grade,
                     "_order": 1, "_src": _src(h), "_supp": {"SYSTXFL": h.systemic_tx_needed}})  # fmt: skip
    return _seq_rows(rows, "MH")


MH_COLS = ["MHSEQ", "MHTERM", "MHCAT", "MHSTDTC", "MHENDTC", "MHENRTPT", "MHENTPT", "MHTOXGR"]


def _dd_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """DD: primary cause (PRCDTH), the specified or contributing cause (SECDTH) and autopsy (AUTOPIND)."""
    from enrollment.models import DeathReport

    rows: list[Row] = []
    for d in DeathReport.objects.filter(death_date__lte=cutoff):
        u = _usubjid(keys.subjid[d.patient_id])
        tests = [("PRCDTH", "Primary Cause of Death", d.primary_cause),
                 ("SECDTH", "Secondary Cause of Death", d.cause_text), ("AUTOPIND", "Autopsy Indicator", d.autopsy)]  # fmt: skip
        for order, (code, test, value) in enumerate(tests):
            if not value:
                continue
            row: Row = {"USUBJID": u, "DDTESTCD": code, "DDTEST": test, "DDORRES": value, "DDSTRESC": value,
                        "DDDTC": d.death_date, "_order": order}  # fmt: skip
            if code == "PRCDTH":
                row.update({"_src": _src(d), "_supp": {"DTHSRC": d.source}})
            rows.append(row)
    return _seq_rows(rows, "DD")


DD_COLS = ["DDSEQ", "DDTESTCD", "DDTEST", "DDORRES", "DDSTRESC", "DDDTC"]


def _ss_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """SS: one SURVSTAT record per survival contact; an unreached contact is SSSTAT = NOT DONE (form 20)."""
    from enrollment.models import SurvivalContact

    rows: list[Row] = []
    for c in SurvivalContact.objects.filter(contact_date__lte=cutoff):
        reached = c.reached == "Y"
        rows.append({"USUBJID": _usubjid(keys.subjid[c.patient_id]), "SSTESTCD": "SURVSTAT", "SSTEST": "Survival Status",
                     "SSORRES": c.survival_status if reached else "", "SSSTRESC": c.survival_status if reached else "",
                     "SSSTAT": "" if reached else "NOT DONE", "SSDTC": c.contact_date, "_src": _src(c),
                     "_supp": {"CONTMETH": c.method, "NEWTXFL": c.new_anticancer_tx, "PROGFL": c.progression_reported}})  # fmt: skip
    return _seq_rows(rows, "SS")


SS_COLS = ["SSSEQ", "SSTESTCD", "SSTEST", "SSORRES", "SSSTRESC", "SSSTAT", "SSDTC"]


def _ec_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """EC (exposure as collected): every SABR fraction (ECOCCUR = N when not delivered), every axitinib period
    (N when interrupted or permanently discontinued) and every toripalimab cycle (N unless GIVEN)."""
    from treatment.models import AxitinibPeriod, SabrFraction, ToripalimabInfusion

    rows: list[Row] = []
    base = {"ECMOOD": "PERFORMED", "ECPRESP": "Y"}
    for f in SabrFraction.objects.filter(fraction_date__lte=cutoff).select_related(
        "target__lesion", "target__course"
    ):
        les, given = f.target.lesion, f.delivered == "Y"
        rows.append({**base, "USUBJID": _usubjid(keys.subjid[f.patient_id]), "ECTRT": "SABR",
                     "ECGRPID": f"C{f.target.course.course_number}", "ECLNKID": les.lesion_code if les else "",
                     "ECOCCUR": f.delivered, "ECREASOC": "" if given else f.not_delivered_reason,
                     "ECDOSE": f.dose_delivered_gy if given else None, "ECDOSU": "Gy", "ECLOC": les.organ if les else "",
                     "ECLAT": les.laterality if les else "", "ECSPID": f"F{f.fraction_number}",
                     "ECSTDTC": f.fraction_date, "ECENDTC": f.fraction_date, "_src": _src(f)})  # fmt: skip
    for a in AxitinibPeriod.objects.filter(start_date__lte=cutoff):
        given = a.dose_level not in ("INTERRUPTED", "PERMANENTLY DISCONTINUED")
        rows.append({**base, "USUBJID": _usubjid(keys.subjid[a.patient_id]), "ECTRT": "AXITINIB",
                     "ECOCCUR": "Y" if given else "N", "ECREASOC": "" if given else a.dose_change_reason,
                     "ECDOSE": _axitinib_mg(a) if given else None, "ECDOSU": "mg", "ECDOSFRQ": "BID",
                     "ECDOSFRM": "TABLET", "ECROUTE": "ORAL", "ECADJ": a.dose_change_reason, "ECSPID": a.dose_level,
                     "ECSTDTC": a.start_date, "ECENDTC": a.end_date if a.end_date and a.end_date <= cutoff else "",
                     "_src": _src(a), "_supp": {"MISSDOS": a.missed_doses if given else None}})  # fmt: skip
    for i in ToripalimabInfusion.objects.all():
        day = i.infusion_date or i.planned_date
        if not _in_cut(day, cutoff):
            continue
        given = i.infusion_status == "GIVEN"
        rows.append({**base, "USUBJID": _usubjid(keys.subjid[i.patient_id]), "ECTRT": "TORIPALIMAB",
                     "ECOCCUR": "Y" if given else "N", "ECREASOC": "" if given else i.status_reason,
                     "ECDOSE": i.dose_mg if given else None, "ECDOSU": "mg", "ECDOSFRQ": "ONCE",
                     "ECROUTE": "INTRAVENOUS", "ECLOT": i.lot_number, "ECADJ": i.dose_deviation_reason,
                     "ECSPID": f"C{i.cycle_number}", "ECSTDTC": day, "ECENDTC": day, "_order": i.cycle_number,
                     "_src": _src(i), "_supp": {"INFSTAT": i.infusion_status, "INFINT": i.infusion_interrupted,
                                                "PLANDT": i.planned_date}})  # fmt: skip
    return _seq_rows(rows, "EC")


EC_COLS = ["ECSEQ", "ECGRPID", "ECLNKID", "ECTRT", "ECMOOD", "ECPRESP", "ECOCCUR", "ECREASOC", "ECDOSE", "ECDOSU",
           "ECDOSFRQ", "ECDOSFRM", "ECROUTE", "ECLOC", "ECLAT", "ECLOT", "ECADJ", "ECSPID", "ECSTDTC", "ECENDTC"]  # fmt: skip

#: The foreign keys RELREC follows: (app, model, field) whose value is an adverse event. The record of that row
#: (in EC and EX, CM, DD or DS) and the AE record share one RELID.
AE_LINKS = [("treatment", "Immunosuppressant", "adverse_event"), ("treatment", "SabrFraction", "adverse_event"),
            ("treatment", "AxitinibPeriod", "adverse_event"), ("treatment", "ToripalimabInfusion", "adverse_event"),
            ("enrollment", "DeathReport", "adverse_event"), ("enrollment", "Disposition", "eot_adverse_event")]  # fmt: skip
#: Dataset-level links: the lesion code (TULNKID) is the --LNKID of the SABR records.
LNKID_LINKS = [("EX", "TUEX"), ("EC", "TUEC"), ("PR", "TUPR")]


def relrec_csv(domains: dict[str, list[Row]]) -> bytes:
    """RELREC: each AE with the records its foreign keys point from (steroid, dose change or interruption,
    undelivered fraction, death, end of treatment), one RELID per pair; plus the dataset-level TU--LNKID links."""
    from django.apps import apps

    index: dict[tuple[str, int], list[tuple[str, Row]]] = defaultdict(list)
    for dom, rows in domains.items():
        for r in rows:
            if r.get("_src"):
                index[r["_src"]].append((dom, r))
    out: list[list[Any]] = []
    for dom, relid in LNKID_LINKS:
        if domains.get("TU") and any(r.get(f"{dom}LNKID") for r in domains.get(dom, [])):
            out.append([settings.STUDY_ID, "TU", "", "TULNKID", "", "ONE", relid])
            out.append([settings.STUDY_ID, dom, "", f"{dom}LNKID", "", "MANY", relid])
    groups: list[tuple[str, str, list[tuple[str, Row]]]] = []
    for app, name, field in AE_LINKS:
        model = apps.get_model(app, name)
        ae_label = model._meta.get_field(field).related_model._meta.label
        for pk, ae_pk in model.objects.filter(**{f"{field}__isnull": False}).values_list("pk", f"{field}_id"):
            ae = [x for x in index.get((ae_label, ae_pk), []) if x[0] == "AE"]
            others = index.get((model._meta.label, pk), [])
            if not ae or not others:
                continue  # one end is after the cut-off
            dom, rec = others[0]
            relid = f"AE{ae[0][1]['AESEQ']}-{dom}{rec[f'{dom}SEQ']}"
            groups.append((ae[0][1]["USUBJID"], relid, ae[:1] + others))
    groups.sort(key=lambda g: (g[0], g[1]))
    for usubjid, relid, members in groups:
        for dom, rec in members:
            out.append([settings.STUDY_ID, dom, usubjid, f"{dom}SEQ", rec[f"{dom}SEQ"], "", relid])
    return to_csv(RELREC_COLS, out)


#: Labels of the SDTM variables written (SDTMIG wording); --xxx variables are labelled by their suffix.
_VARIABLE_LABELS = {
    "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
    "SUBJID": "Subject Identifier for the Study", "RFSTDTC": "Subject Reference Start Date/Time",
    "RFXSTDTC": "Date/Time of First Study Treatment", "RFXENDTC": "Date/Time of Last Study Treatment",
    "RFICDTC": "Date/Time of Informed Consent", "RFPENDTC": "Date/Time of End of Participation",
    "DTHDTC": "Date/Time of Death", "DTHFL": "Subject Death Flag", "SITEID": "Study Site Identifier",
    "BRTHDTC": "Date/Time of Birth (year)", "AGE": "Age", "AGEU": "Age Units", "SEX": "Sex",
    "ARMCD": "Planned Arm Code", "ARM": "Description of Planned Arm", "ACTARMCD": "Actual Arm Code",
    "ACTARM": "Description of Actual Arm", "VISIT": "Visit Name", "AELLT": "Lowest Level Term",
    "AELLTCD": "Lowest Level Term Code", "AESOC": "Primary System Organ Class", "AESER": "Serious Event",
    "AEREL": "Causality (strongest of the three agents)", "AEACN": "Action Taken with Study Treatment",
    "AEOUT": "Outcome of Adverse Event", "AESDTH": "Results in Death", "AESLIFE": "Is Life Threatening",
    "AESHOSP": "Requires or Prolongs Hospitalization", "AESDISAB": "Persist or Signif Disability/Incapacity",
    "AESCONG": "Congenital Anomaly or Birth Defect", "AESMIE": "Other Medically Important Serious Event",
    "AECONTRT": "Concomitant or Additional Trtmnt Given", "IETESTCD": "Incl/Excl Criterion Short Name",
    "IETEST": "Inclusion/Exclusion Criterion", "IECAT": "Inclusion/Exclusion Category",
    "TIVERS": "Protocol Criteria Versions", "RDOMAIN": "Related Domain Abbreviation",
    "IDVAR": "Identifying Variable", "IDVARVAL": "Identifying Variable Value", "QNAM": "Qualifier Variable Name",
    "QLABEL": "Qualifier Variable Label", "QVAL": "Data Value", "QORIG": "Origin", "QEVAL": "Evaluator",
    "RELTYPE": "Relationship Type", "RELID": "Relationship Identifier",
}  # fmt: skip
_SUFFIX_LABELS = {
    "SEQ": "Sequence Number", "SPID": "Sponsor-Defined Identifier", "GRPID": "Group ID", "LNKID": "Link ID",
    "TERM": "Reported Term", "DECOD": "Standardized Term", "CAT": "Category", "SCAT": "Subcategory",
    "TRT": "Name of Treatment", "MOOD": "Mood", "PRESP": "Pre-specified", "OCCUR": "Occurrence",
    "REASOC": "Reason for Occur Value", "INDC": "Indication", "DOSE": "Dose", "DOSU": "Dose Units",
    "DOSFRQ": "Dosing Frequency per Interval", "DOSFRM": "Dose Form", "DOSRGM": "Intended Dose Regimen",
    "ROUTE": "Route of Administration", "LOC": "Location", "LAT": "Laterality", "LOT": "Lot Number",
    "ADJ": "Reason for Dose Adjustment", "STDTC": "Start Date/Time", "ENDTC": "End Date/Time",
    "DTC": "Date/Time of Collection", "ENRTPT": "End Relative to Reference Time Point",
    "ENTPT": "End Reference Time Point", "TOXGR": "Standard Toxicity Grade", "TESTCD": "Short Name of Test",
    "TEST": "Name of Test", "ORRES": "Result or Finding in Original Units", "ORRESU": "Original Units",
    "STRESC": "Character Result/Finding in Std Format", "STRESN": "Numeric Result/Finding in Standard Units",
    "STRESU": "Standard Units", "STAT": "Completion Status", "METHOD": "Method of Identification",
}  # fmt: skip


def _variable_type(var: str) -> str:
    if var.endswith("DTC"):
        return "date (ISO 8601)"
    if var.endswith(("SEQ", "STRESN")) or var in ("AGE", "AETOXGR", "MHTOXGR", "AESPID", "AELLTCD"):
        return "integer" if not var.endswith("STRESN") else "decimal"
    if var.endswith("DOSE"):
        return "decimal"
    return "text"


def sdtm_dictionary_csv(columns: dict[str, list[str]]) -> bytes:
    """``sdtm/_dictionary.csv``: every variable of every SDTM file (label, type), and each SUPP-- QNAM."""
    rows: list[list[Any]] = []
    for domain, cols in columns.items():
        for var in cols:
            label = _VARIABLE_LABELS.get(var) or _SUFFIX_LABELS.get(var[2:], "")
            rows.append([domain, var, label, _variable_type(var), ""])
    for domain, meta in SUPP_QUALIFIERS.items():
        for qnam, (label, orig, _evaluator) in meta.items():
            rows.append([f"SUPP{domain}", f"QNAM={qnam}", label, "text", orig])
    return to_csv(["domain", "variable", "label", "type", "origin"], rows)


DM_COLS = ["SUBJID", "RFSTDTC", "RFXSTDTC", "RFXENDTC", "RFICDTC", "RFPENDTC", "DTHDTC", "DTHFL", "SITEID",
           "BRTHDTC", "AGE", "AGEU", "SEX", "ARMCD", "ARM", "ACTARMCD", "ACTARM"]  # fmt: skip
_KEYS = ["STUDYID", "DOMAIN", "USUBJID"]


def sdtm_files(cutoff: datetime.date, snap: EndpointSnapshot, keys: KeyMap) -> dict[str, bytes]:
    """Every ``sdtm/`` file: the domains, their SUPP-- files, RELREC, TI and the SDTM data dictionary."""
    tu, tr, rs = _tu_tr_rs_rows(cutoff, keys)
    # EC before EX: an AE link's RELID names the as-collected record, the one that carries the foreign key
    domains: dict[str, tuple[list[str], list[Row]]] = {
        "DS": (DS_COLS, _ds_rows(cutoff, keys)), "EC": (EC_COLS, _ec_rows(cutoff, keys)),
        "EX": (EX_COLS, _ex_rows(cutoff, keys)), "AE": (AE_COLS, _ae_rows(cutoff, keys)),
        "CM": (CM_COLS, _cm_rows(cutoff, keys)), "PR": (PR_COLS, _pr_rows(cutoff, keys)),
        "MH": (MH_COLS, _mh_rows(keys)), "IE": (["IESEQ", "IETESTCD", "IETEST", "IECAT", "IEORRES", "IESTRESC", "IEDTC"],
                                               _ie_rows(cutoff, keys)),
        "DD": (DD_COLS, _dd_rows(cutoff, keys)), "SS": (SS_COLS, _ss_rows(cutoff, keys)),
        "TU": (TU_COLS, tu), "TR": (TR_COLS, tr), "RS": (RS_COLS, rs),
    }  # fmt: skip
    files = {"sdtm/dm.csv": sdtm_dm(cutoff, snap, keys)}
    for domain, (cols, rows) in domains.items():
        files[f"sdtm/{domain.lower()}.csv"] = _domain_csv(domain, cols, rows)
        if domain in SUPP_QUALIFIERS:
            files[f"sdtm/supp{domain.lower()}.csv"] = supp_csv(domain, rows)
    files["sdtm/relrec.csv"] = relrec_csv({d: rows for d, (_cols, rows) in domains.items()})
    files["sdtm/ti.csv"] = ti_csv()
    columns = {"DM": _KEYS + DM_COLS, **{d: _KEYS + cols for d, (cols, _rows) in domains.items()}}
    columns.update({f"SUPP{d}": SUPP_COLS for d in SUPP_QUALIFIERS})
    columns.update({"RELREC": RELREC_COLS, "TI": TI_COLS})
    files["sdtm/_dictionary.csv"] = sdtm_dictionary_csv(columns)
    return files


# --- ADaM-style data sets (from the snapshot) --------------------------------------------------------------


def _rdi(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


def relative_dose_intensity(cutoff: datetime.date) -> dict[int, tuple[Decimal | None, Decimal | None]]:
    """Per patient id: (axitinib RDI %, toripalimab RDI %) at the cut-off, one decimal, from the casebook's
    exposure panel (``treatment.selectors.exposure``: R4.1, R4.6); nothing for an untreated patient."""
    try:
        from treatment.selectors import exposures
    except ImportError:
        return {}
    from enrollment.models import Patient

    ids = list(Patient.objects.filter(study_number__isnull=False).order_by("pk").values_list("pk", flat=True))
    # One bulk read (four queries), the same rules as the casebook panel and the report's exposure section.
    return {
        pid: (_rdi(e.axitinib_rdi_pct), _rdi(e.toripalimab_rdi_pct))
        for pid, e in zip(ids, exposures(ids, cutoff), strict=True)
    }


def adam_adsl(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    from enrollment.models import Baseline, DeathReport, Disposition

    cutoff = snap.data_cutoff
    rdi = relative_dose_intensity(cutoff)
    base = {b.patient_id: b for b in Baseline.objects.all()}
    deaths = {d.patient_id: d for d in DeathReport.objects.filter(death_date__lte=cutoff)}
    disp = {d.patient_id: d for d in Disposition.objects.all()}
    rows = []
    for p in snap.patient_rows():
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
    for p in snap.patient_rows():
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
            _assessments_to(assessment, cutoff).exclude(overall_resp="").order_by("patient_id", "scan_day")
        ):
            subj = keys.subjid[a.patient_id]
            rows.append([settings.STUDY_ID, _usubjid(subj), "OVRLRESP", "Overall Response by Investigator (RECIST 1.1)",
                         a.overall_resp, RESPONSE_RANK.get(a.overall_resp, 7), _scan_day(a), "Y", cutoff])  # fmt: skip
            if a.overall_resp_nonirr:
                rows.append([settings.STUDY_ID, _usubjid(subj), "OVRNIRR", "Overall Response, non-irradiated lesions",
                             a.overall_resp_nonirr, RESPONSE_RANK.get(a.overall_resp_nonirr, 7), _scan_day(a), "Y", cutoff])  # fmt: skip
    except LookupError:
        pass
    for p in snap.patient_rows():
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
    files.update(sdtm_files(cutoff, snap, keys))
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
