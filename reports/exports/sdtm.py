"""SDTM domains (``sdtm/*.csv``): DM, DS, EX, EC, AE, CM, PR, MH, IE, DD, SS, TU, TR, RS, their SUPP-- files,
RELREC and TI. Columns, labels and types come from ``reports.exports.metadata`` (one table per domain)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from assessments.models import Lesion, LesionResult, NewLesion, TumourAssessment
from endpoints.models import EndpointSnapshot
from enrollment.models import DeathReport, Disposition
from reports.exports import metadata as md
from reports.exports import trial_design
from reports.exports.common import KeyMap, Row, fmt, to_csv
from reports.exports.metadata import SUPP_QUALIFIERS, Dataset
from treatment.models import AxitinibPeriod, Immunosuppressant, SabrFraction, SabrTarget, ToripalimabInfusion


def _cols(ds: Dataset) -> list[str]:
    """The columns of a domain after STUDYID, DOMAIN, USUBJID (what the row functions fill)."""
    return [c for c in ds.columns if c not in ("STUDYID", "DOMAIN", "USUBJID")]


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


def dataset_rows(ds: Dataset, rows: list[Row]) -> list[list[Any]]:
    """The records of a domain as lists in the metadata's column order (STUDYID and DOMAIN filled in)."""
    fixed = {"STUDYID": settings.STUDY_ID, "DOMAIN": ds.name}
    return [[fixed[c] if c in fixed else r.get(c) for c in ds.columns] for r in rows]


def _domain_csv(ds: Dataset, rows: list[Row]) -> bytes:
    return to_csv(ds.columns, dataset_rows(ds, rows))


#: The trial's one arm (CRF-SPEC forms 3-4: single-arm study, SITEID 01).
ARM = ("SABRAT", "SABR + axitinib + toripalimab")
SITEID = "01"


def last_exposure(ex_rows: list[Row]) -> dict[str, datetime.date | None]:
    """USUBJID -> date of the last study treatment (RFXENDTC, the end-of-treatment DS date): the latest EX end (or
    start) date, or None while an axitinib period is still open at the cut-off (the last dose is not yet known)."""
    out: dict[str, datetime.date | None] = {}
    open_: set[str] = set()
    for r in ex_rows:
        u = r["USUBJID"]
        if r["EXTRT"] == "AXITINIB" and not r.get("EXENDTC"):
            open_.add(u)
        day = r.get("EXENDTC") or r.get("EXSTDTC")
        if isinstance(day, datetime.date) and (out.get(u) is None or day > out[u]):  # type: ignore[operator]
            out[u] = day
    return {u: (None if u in open_ else d) for u, d in out.items()}


def _dm_rows(
    cutoff: datetime.date, snap: EndpointSnapshot, keys: KeyMap, last_dose: dict[str, Any]
) -> list[Row]:
    """DM as SDTMIG 3.4 asks: a subject screened out, not (yet) registered, or registered and never treated has
    ARMCD, ARM, ACTARMCD and ACTARM null and the reason in ARMNRS (SCREEN FAILURE, NOT ASSIGNED, ASSIGNED, NOT
    TREATED); ACTARMUD stays null (no unplanned treatment is possible in a single-arm trial). SEX is U (CT SEX)
    while the baseline form is not entered; RACE is not collected by this protocol (NOT REPORTED)."""
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
        u = _usubjid(keys.subjid[p.pk])
        t = tte.get(p.pk, {})
        rfst = (t.get("os") or {}).get("origin", "")
        treated = bool(rfst)
        consent = timezone.localtime(first_consent[p.pk]) if p.pk in first_consent else None
        age = b.age_at_consent if b else None
        if age is None and b and consent:
            age = consent.year - b.birth_year  # EC-IC-3: age from the consent year and the year of birth
        eos = ds.eos_date if ds and ds.eos_date and ds.eos_date <= cutoff else None
        last = last_dose.get(u)
        row: Row = {
            "USUBJID": u,
            "SUBJID": keys.subjid[p.pk],
            "RFSTDTC": rfst,
            "RFENDTC": eos or last or "",
            "RFXSTDTC": rfst,
            "RFXENDTC": last or "",
            "RFICDTC": consent.date() if consent else "",
            "RFPENDTC": eos or "",
            "DTHDTC": d.death_date if d else "",
            "DTHFL": "Y" if d else "",
            "SITEID": SITEID,
            "BRTHDTC": b.birth_year if b else "",
            "AGE": age,
            "AGEU": "YEARS" if age is not None else "",
            "SEX": b.sex if b else "U",
            "RACE": "NOT REPORTED",
            "COUNTRY": settings.STUDY_COUNTRY,
        }
        if p.pk in failed:
            row["ARMNRS"] = "SCREEN FAILURE"
        elif not p.study_number:
            row["ARMNRS"] = "NOT ASSIGNED"
        elif not treated:
            row["ARMNRS"] = "ASSIGNED, NOT TREATED"
        else:
            row.update({"ARMCD": ARM[0], "ARM": ARM[1], "ACTARMCD": ARM[0], "ACTARM": ARM[1]})
        rows.append(row)
    return rows


def sdtm_dm(cutoff: datetime.date, snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    return _domain_csv(md.DM, _dm_rows(cutoff, snap, keys, last_exposure(_ex_rows(cutoff, keys))))


def _src(obj: models.Model) -> tuple[str, int]:
    """The CRF row a domain record comes from, as (model label, pk): what RELREC and SUPP-- join on."""
    return (obj._meta.label, obj.pk)


def _in_cut(day: Any, cutoff: datetime.date) -> bool:
    """True for a date on or before the cut-off; an undated record is kept."""
    return not isinstance(day, datetime.date) or day <= cutoff


def _ds_rows(cutoff: datetime.date, keys: KeyMap, last_dose: dict[str, Any] | None = None) -> list[Row]:
    """DS: consent, screening outcome, registration, withdrawal, end of treatment (dated by the last study
    treatment, as DM.RFXENDTC), end of study, and death: one record per death, the END OF STUDY one when the
    off-study form says DEATH, else a record of its own."""
    from enrollment.models import Consent, DeathReport, Disposition, Patient, ScreeningLog

    rows: list[Row] = []

    def add(
        pid: int, term: str, decod: str, cat: str, scat: str, day: Any, order: int, src: Any = None
    ) -> None:
        if day and (day if isinstance(day, datetime.date) else cutoff) <= cutoff:
            rows.append(
                {
                    "USUBJID": _usubjid(keys.subjid[pid]),
                    "DSTERM": term,
                    "DSDECOD": decod,
                    "DSCAT": cat,
                    "DSSCAT": scat,
                    "DSSTDTC": day,
                    "_order": order,
                    "_src": src,
                }
            )

    for c in Consent.objects.all():
        add(
            c.patient_id,
            "INFORMED CONSENT OBTAINED",
            "INFORMED CONSENT OBTAINED",
            "PROTOCOL MILESTONE",
            "",
            timezone.localtime(c.consent_datetime).date(),
            1,
        )
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
    last_dose = last_dose if last_dose is not None else last_exposure(_ex_rows(cutoff, keys))
    death_closes_study: set[int] = set()
    for d in Disposition.objects.all():
        if d.eot_reason:
            add(
                d.patient_id,
                d.eot_reason_text or d.eot_reason,
                d.eot_reason,
                "DISPOSITION EVENT",
                "END OF TREATMENT",
                last_dose.get(_usubjid(keys.subjid[d.patient_id])) or d.eos_date or "",
                6,
                _src(d),
            )
        if d.eos_date and d.eos_reason == "DEATH" and d.eos_date <= cutoff:
            death_closes_study.add(d.patient_id)
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
    for dr in DeathReport.objects.exclude(patient_id__in=death_closes_study):
        add(dr.patient_id, "DEATH", "DEATH", "DISPOSITION EVENT", "END OF STUDY", dr.death_date, 7)
    return _seq_rows(rows, "DS")


DS_COLS = _cols(md.DS)


def sdtm_ds(cutoff: datetime.date, keys: KeyMap) -> bytes:
    return _domain_csv(md.DS, _ds_rows(cutoff, keys))


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
    rows: list[Row] = []
    fraction, axitinib, infusion = SabrFraction, AxitinibPeriod, ToripalimabInfusion
    for f in fraction.objects.filter(delivered="Y", fraction_date__lte=cutoff).select_related(
        "target__lesion"
    ):
        lesion = f.target.lesion
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[f.patient_id]),
                "EXTRT": "SABR",
                "EXDOSE": f.dose_delivered_gy,
                "EXDOSU": "Gy",
                "EXROUTE": "",
                "EXLOC": lesion.organ if lesion else "",
                "EXLAT": lesion.laterality if lesion else "",
                "EXLNKID": lesion.lesion_code if lesion else "",
                "EXSTDTC": f.fraction_date,
                "EXENDTC": f.fraction_date,
                "EXADJ": "",
                "EXSPID": f"F{f.fraction_number}",
                "_src": _src(f),
            }
        )
    for a in axitinib.objects.filter(start_date__lte=cutoff):
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[a.patient_id]),
                "EXTRT": "AXITINIB",
                "EXDOSE": _axitinib_mg(a),
                "EXDOSU": "mg",
                "EXDOSFRQ": "BID",
                "EXDOSFRM": "TABLET",
                "EXROUTE": "ORAL",
                "EXSTDTC": a.start_date,
                "EXENDTC": a.end_date if a.end_date and a.end_date <= cutoff else "",
                "EXADJ": a.dose_change_reason,
                "EXSPID": a.dose_level,
                "_src": _src(a),
            }
        )
    for i in infusion.objects.filter(infusion_status="GIVEN", infusion_date__lte=cutoff):
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[i.patient_id]),
                "EXTRT": "TORIPALIMAB",
                "EXDOSE": i.dose_mg,
                "EXDOSU": "mg",
                "EXDOSFRQ": "ONCE",
                "EXDOSFRM": "INJECTION, SOLUTION",
                "EXROUTE": "INTRAVENOUS",
                "EXSTDTC": i.infusion_date,
                "EXENDTC": i.infusion_date,
                "EXADJ": i.dose_deviation_reason,
                "EXLOT": i.lot_number,
                "EXSPID": f"C{i.cycle_number}",
                "_src": _src(i),
            }
        )
    return _seq_rows(rows, "EX")


EX_COLS = _cols(md.EX)


def sdtm_ex(cutoff: datetime.date, keys: KeyMap) -> bytes:
    return _domain_csv(md.EX, _ex_rows(cutoff, keys))


_REL_ORDER = ["NOT APPLICABLE", "UNRELATED", "UNLIKELY", "POSSIBLE", "PROBABLE", "DEFINITE"]


def soc_codes() -> dict[str, int]:
    """MedDRA SOC name -> SOC code: CTCAE 5.0 codes each SOC's "<SOC> - Other, specify" term with the SOC's own
    MedDRA code (R6.4)."""
    from adverse_events.models import CtcaeTerm

    return dict(CtcaeTerm.objects.filter(is_other_specify=True).values_list("soc", "meddra_code"))


def _ae_outcome(ae: Any, ended: bool, next_grade: int | None) -> str:
    """AEOUT of one grade record as of the cut-off. A record closed by a grade change carries the episode's
    outcome on the form; SDTM wants the outcome of this record: RECOVERING/RESOLVING when the AE went on at a
    lower grade, none when it worsened (the later record says how it ended). An AE still going at the cut-off
    is NOT RECOVERED/NOT RESOLVED whatever happened later."""
    if not ended:
        return str(ae.outcome) if ae.ongoing == "Y" else "NOT RECOVERED/NOT RESOLVED"
    if next_grade is not None and ae.outcome in ("NOT RECOVERED/NOT RESOLVED", "RECOVERING/RESOLVING", ""):
        return "RECOVERING/RESOLVING" if next_grade < ae.grade else ""
    if ae.outcome == "NOT RECOVERED/NOT RESOLVED":
        return ""  # an end date and "not recovered" contradict; the end date is the collected fact
    return str(ae.outcome)


def _ae_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """AE: one record per grade; AEDECOD, AEPTCD are the CTCAE 5.0 term and its code (a MedDRA 20.1 LLT that is also
    the PT, NCI's CTCAE v5.0 mapping), AEBODSYS/AESOC and AEBDSYCD/AESOCCD its SOC. HLT and HLGT need the licensed
    MedDRA hierarchy, which the EDC does not hold: they are present and empty."""
    from adverse_events.models import AdverseEvent

    socs = soc_codes()
    aes = list(
        AdverseEvent.objects.filter(onset_date__lte=cutoff).select_related("ctcae_term", "parent_episode")
    )
    next_grade = {ae.parent_episode_id: ae.grade for ae in aes if ae.parent_episode_id}
    rows = []
    for ae in aes:
        rels = [ae.rel_sabr, ae.rel_axitinib, ae.rel_toripalimab]
        strongest = max(rels, key=lambda r: _REL_ORDER.index(r) if r in _REL_ORDER else -1)
        ended = bool(ae.resolution_date and ae.resolution_date <= cutoff)
        term = ae.ctcae_term
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[ae.patient_id]),
                "AESPID": ae.ae_number,
                "AEGRPID": ae.parent_episode.ae_number if ae.parent_episode_id else "",
                "AETERM": ae.verbatim or term.term,
                "AELLT": term.term,
                "AELLTCD": term.meddra_code,
                "AEDECOD": term.term,
                "AEPTCD": term.meddra_code,
                "AEBODSYS": term.soc,
                "AEBDSYCD": socs.get(term.soc),
                "AESOC": term.soc,
                "AESOCCD": socs.get(term.soc),
                "AETOXGR": ae.grade,
                "AESTDTC": ae.onset_date,
                "AEENDTC": ae.resolution_date if ended else "",
                "AEENRTPT": "" if ended else "ONGOING",
                "AEENTPT": "" if ended else cutoff,
                "AESER": ae.serious,
                "AEREL": strongest,
                "AEACN": "MULTIPLE",
                "AEOUT": _ae_outcome(ae, ended, next_grade.get(ae.pk)),
                "AESDTH": ae.aesdth,
                "AESLIFE": ae.aeslife,
                "AESHOSP": ae.aeshosp,
                "AESDISAB": ae.aesdisab,
                "AESCONG": ae.aescong,
                "AESMIE": ae.aesmie,
                "AECONTRT": ae.treatment_given,
                "_src": _src(ae),
                "_supp": {
                    "AERELSAB": ae.rel_sabr,
                    "AERELAXI": ae.rel_axitinib,
                    "AERELTOR": ae.rel_toripalimab,
                    "AEACN1": ae.acn_axitinib,
                    "AEACN2": ae.acn_toripalimab,
                    "AEACN3": ae.acn_sabr,
                    "AEIRFL": ae.immune_related,
                    "TOXGRV": ae.ctcae_version,
                    "AWARDTC": ae.awareness_at
                    if ae.awareness_at and timezone.localtime(ae.awareness_at).date() <= cutoff
                    else None,
                    "REPDTC": ae.reported_at
                    if ae.reported_at and timezone.localtime(ae.reported_at).date() <= cutoff
                    else None,
                    "EXPECTFL": ae.expected,
                    "TRTEMFL": ae.treatment_emergent,
                },
            }
        )
    return _seq_rows(rows, "AE")


AE_COLS = _cols(md.AE)


def sdtm_ae(cutoff: datetime.date, keys: KeyMap) -> bytes:
    return _domain_csv(md.AE, _ae_rows(cutoff, keys))


def _scan_day(a: Any) -> datetime.date | None:
    """The date of a time point: its last scan, or its only scan when all were on one day (form 9)."""
    return a.scan_date_last or a.scan_date_first


def _assessments_to(model: type[models.Model], cutoff: datetime.date) -> Any:
    """Tumour assessments with imaging dated on or before the cut-off (annotated ``scan_day``)."""
    return model.objects.annotate(scan_day=Coalesce("scan_date_last", "scan_date_first")).filter(
        scan_day__lte=cutoff
    )


def _tu_tr_rs_rows(cutoff: datetime.date, keys: KeyMap) -> tuple[list[Row], list[Row], list[Row]]:
    lesion, assessment, result = Lesion, TumourAssessment, LesionResult
    tu: list[Row] = []
    tr: list[Row] = []
    rs: list[Row] = []
    courses: dict[int, set[int]] = defaultdict(set)  # lesion id -> protocol SABR course numbers (D4)
    for lesion_id, course_number in SabrTarget.objects.filter(lesion__isnull=False).values_list(
        "lesion_id", "course__course_number"
    ):
        courses[lesion_id].add(course_number)
    for les in lesion.objects.filter(baseline_date__lte=cutoff):
        u = _usubjid(keys.subjid[les.patient_id])
        tu.append(
            {
                "USUBJID": u,
                "TULNKID": les.lesion_code,
                "TUTESTCD": "TUMIDENT",
                "TUTEST": "Tumor Identification",
                "TUORRES": les.role,
                "TUSTRESC": les.role,
                "TULOC": les.organ,
                "TULAT": les.laterality,
                "TUMETHOD": les.method,
                "TUDTC": les.baseline_date,
                "VISIT": "BASELINE",
                "_src": _src(les),
                "_supp": {
                    "IRRADFL": "Y" if courses.get(les.pk) else "N",
                    "SABRTGT": ";".join(f"C{n}" for n in sorted(courses.get(les.pk, ()))),
                    "PRIRRFL": les.previously_irradiated,
                    "MEASFL": les.measurable,
                    "LOCDTL": les.location_text,
                },
            }
        )
        if les.baseline_value_mm is not None:
            code = "SAXIS" if les.is_nodal == "Y" else "LDIAM"
            tr.append(
                {
                    "USUBJID": u,
                    "TRLNKID": les.lesion_code,
                    "TRTESTCD": code,
                    "TRORRES": les.baseline_value_mm,
                    "TRORRESU": "mm",
                    "TRSTRESN": les.baseline_value_mm,
                    "TRSTRESU": "mm",
                    "TRDTC": les.baseline_date,
                    "VISIT": "BASELINE",
                }
            )
    # New lesions (R1.19): TU TUMIDENT with TUORRES NEW, identified at the time point that first showed them
    # (CRF-SPEC form 9: TULNKID = the new lesion's code, TUORRES = NEW, SUPPTU.LOCDTL).
    for nl in (
        NewLesion.objects.annotate(
            scan_day=Coalesce("assessment__scan_date_last", "assessment__scan_date_first")
        )
        .filter(scan_day__lte=cutoff)
        .select_related("assessment")
        .order_by("assessment__patient_id", "scan_day", "code")
    ):
        a = nl.assessment
        tu.append(
            {
                "USUBJID": _usubjid(keys.subjid[a.patient_id]),
                "TULNKID": nl.code,
                "TUTESTCD": "TUMIDENT",
                "TUTEST": "Tumor Identification",
                "TUORRES": "NEW",
                "TUSTRESC": "NEW",
                "TULOC": nl.organ,
                "TULAT": nl.laterality,
                "TUMETHOD": nl.detected_by,
                "TUDTC": nl.first_seen_date or _scan_day(a),
                "VISIT": a.visit_label,
                "_src": _src(nl),
                "_supp": {"LOCDTL": nl.location_text},
            }
        )
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
            tr.append(
                {
                    "USUBJID": u,
                    "TRLNKID": r.lesion.lesion_code,
                    "TRTESTCD": "SAXIS" if r.lesion.is_nodal == "Y" else "LDIAM",
                    "TRORRES": getattr(r, value_field),
                    "TRORRESU": "mm",
                    "TRSTRESN": getattr(r, value_field),
                    "TRSTRESU": "mm",
                    "TRDTC": _scan_day(a),
                    "VISIT": a.visit_label,
                }
            )
        if r.nontarget_state:
            tr.append(
                {
                    "USUBJID": u,
                    "TRLNKID": r.lesion.lesion_code,
                    "TRTESTCD": "TUMSTATE",
                    "TRORRES": r.nontarget_state,
                    "TRDTC": _scan_day(a),
                    "VISIT": a.visit_label,
                }
            )
    for a in _assessments_to(assessment, cutoff):
        u = _usubjid(keys.subjid[a.patient_id])
        if a.sum_mm is not None:
            tr.append(
                {
                    "USUBJID": u,
                    "TRLNKID": "",
                    "TRTESTCD": "SUMDIAM",
                    "TRORRES": a.sum_mm,
                    "TRORRESU": "mm",
                    "TRSTRESN": a.sum_mm,
                    "TRSTRESU": "mm",
                    "TRDTC": _scan_day(a),
                    "VISIT": a.visit_label,
                }
            )
        for code, test, value in (
            ("TRGRESP", "Target Response", a.target_resp),
            ("NTRGRESP", "Non-target Response", a.nontarget_resp),
            ("NEWLIND", "New Lesion Indicator", a.new_lesion_ind),
            ("OVRLRESP", "Overall Response", a.overall_resp),
        ):
            if value:
                row = {
                    "USUBJID": u,
                    "RSTESTCD": code,
                    "RSTEST": test,
                    "RSCAT": "RECIST 1.1",
                    "RSORRES": value,
                    "RSSTRESC": value,
                    "RSDTC": _scan_day(a),
                    "VISIT": a.visit_label,
                }
                # D4: the response of the non-irradiated lesions rides on the overall response record
                if code == "OVRLRESP":
                    row["_src"] = _src(a)
                    row["_supp"] = {
                        "OVRNIRR": a.overall_resp_nonirr,
                        "CLINDET": a.clinical_deterioration,
                        "CLINSTB": a.clinically_stable,
                    }
                rs.append(row)
        if (
            a.irecist_resp
        ):  # R1.50-R1.53, exploratory: the iRECIST time-point response (CRF-SPEC: RS, RSCAT iRECIST)
            rs.append(
                {
                    "USUBJID": u,
                    "RSTESTCD": "OVRLRESP",
                    "RSTEST": "Overall Response",
                    "RSCAT": "iRECIST",
                    "RSORRES": a.irecist_resp,
                    "RSSTRESC": a.irecist_resp,
                    "RSDTC": _scan_day(a),
                    "VISIT": a.visit_label,
                }
            )
    rs += _performance_rows(cutoff, keys)
    for row in tr:
        row["TRTEST"] = TR_TESTS[row["TRTESTCD"]]
        numeric = row.get("TRSTRESN")
        row["TRSTRESC"] = fmt(numeric) if numeric is not None else row["TRORRES"]
    return _seq_rows(tu, "TU"), _seq_rows(tr, "TR"), _seq_rows(rs, "RS")


#: ECOG and Karnofsky at baseline in RS (CRF-SPEC form 5: RSCAT ECOG / KARNOFSKY): field, RSTESTCD, RSTEST, RSCAT.
PERFORMANCE_TESTS = (
    ("ecog", "ECOG101", "ECOG1-Performance Status", "ECOG"),
    ("kps", "KPS101", "KPS1-Karnofsky Performance Status", "KARNOFSKY"),
)
#: RSREASND of each missing-data code (issue 19 item 9): a coded finding is RSSTAT = NOT DONE with its reason.
REASON_NOT_DONE = {"ND": "NOT DONE", "UNK": "UNKNOWN", "NA": "NOT APPLICABLE", "NASK": "NOT ASKED"}


def _performance_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """RS: the baseline ECOG and Karnofsky scores; a score left empty with a missing-data code is a record with
    RSSTAT = NOT DONE and RSREASND the code's reason (SDTMIG findings: --STAT/--REASND), never a silent gap."""
    from enrollment.models import Baseline

    rows: list[Row] = []
    for b in Baseline.objects.filter(assessment_date__lte=cutoff).order_by("patient_id"):
        u = _usubjid(keys.subjid[b.patient_id])
        for name, code, test, cat in PERFORMANCE_TESTS:
            value, missing = getattr(b, name), b.missing_code(name)
            if value is None and not missing:
                continue
            row = {"USUBJID": u, "RSTESTCD": code, "RSTEST": test, "RSCAT": cat, "RSDTC": b.assessment_date}
            if value is None:
                row.update({"RSSTAT": "NOT DONE", "RSREASND": REASON_NOT_DONE.get(missing, missing)})
            else:
                row.update({"RSORRES": str(value), "RSSTRESC": str(value)})
            rows.append(row)
    return rows


#: TRTEST of each TRTESTCD (CDISC CT codelists TRTESTCD/TRTEST).
TR_TESTS = {
    "LDIAM": "Longest Diameter",
    "SAXIS": "Short Axis",
    "SUMDIAM": "Sum of Diameter",
    "TUMSTATE": "Tumor State",
}


TU_COLS = _cols(md.TU)
TR_COLS = _cols(md.TR)
RS_COLS = _cols(md.RS)


def sdtm_tu_tr_rs(cutoff: datetime.date, keys: KeyMap) -> tuple[bytes, bytes, bytes]:
    tu, tr, rs = _tu_tr_rs_rows(cutoff, keys)
    return _domain_csv(md.TU, tu), _domain_csv(md.TR, tr), _domain_csv(md.RS, rs)


# --- More SDTM domains: IE, TI, CM, PR, MH, DD, SS, EC; SUPP-- and RELREC ------------------------------------

SUPP_COLS = [v.name for v in md.SUPP_VARIABLES]
RELREC_COLS = md.RELREC.columns
TI_COLS = md.TI.columns


def supp_csv(domain: str, rows: list[Row]) -> bytes:
    return to_csv(SUPP_COLS, supp_rows(domain, rows))


def supp_rows(domain: str, rows: list[Row]) -> list[list[Any]]:
    """SUPP-- of one domain: one row per non-empty qualifier of each record, keyed by --SEQ."""
    meta = SUPP_QUALIFIERS[domain]
    out = []
    for r in rows:
        for qnam, value in (r.get("_supp") or {}).items():
            if value is None or value == "":
                continue
            label, orig, evaluator = meta[qnam]
            out.append(
                [
                    settings.STUDY_ID,
                    domain,
                    r["USUBJID"],
                    f"{domain}SEQ",
                    r[f"{domain}SEQ"],
                    qnam,
                    label,
                    value,
                    orig,
                    evaluator,
                ]
            )
    return out


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
        day = (
            timezone.localtime(elig.confirmed_at).date()
            if elig.confirmed_at
            else (log.outcome_date or log.screening_date)
            if log
            else None
        )
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
            rows.append(
                {
                    "USUBJID": _usubjid(keys.subjid[pid]),
                    "IETESTCD": cid,
                    "IETEST": test,
                    "IECAT": cat,
                    "IEORRES": result,
                    "IESTRESC": result,
                    "IEDTC": day,
                    "_order": order,
                }
            )
    return _seq_rows(rows, "IE")


def ti_csv() -> bytes:
    return to_csv(TI_COLS, ti_rows())


def ti_rows() -> list[list[Any]]:
    """TI: every eligibility criterion of every protocol version (the texts IE refers to)."""
    from enrollment import criteria

    rows = [
        [settings.STUDY_ID, "TI", c.id, str(c.text), c.category, c.protocol_version]
        for c in criteria.CRITERIA
    ]
    return rows


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
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[m.patient_id]),
                "CMTRT": m.drug_other if m.drug == "OTHER" and m.drug_other else m.drug,
                "CMCAT": "IMMUNOSUPPRESSANT",
                "CMINDC": m.indication,
                "CMDOSE": m.dose,
                "CMDOSU": m.dose_unit,
                "CMDOSFRQ": m.frequency,
                "CMROUTE": m.route,
                "CMSTDTC": m.start_date,
                "CMENDTC": "" if ongoing else m.end_date,
                "CMENRTPT": "ONGOING" if ongoing else "",
                "CMENTPT": cutoff if ongoing else "",
                "_order": 1,
                "_src": _src(m),
                "_supp": {"PREDEQD": m.pred_equiv_mg_day},
            }
        )
    for t in PriorTherapy.objects.filter(therapy_type__in=["SYSTEMIC", "OTHER"]):
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[t.patient_id]),
                "CMTRT": t.agent or t.therapy_type,
                "CMCAT": "PRIOR CANCER THERAPY",
                "CMSTDTC": t.start_date,
                "CMENDTC": t.end_date,
                "_order": 0,
                "_src": _src(t),
                "_supp": {"SETTING": t.setting, "PD1FL": t.pd1_pdl1, "BESTRSP": t.best_response},
            }
        )
    for s in SubsequentTherapy.objects.filter(therapy_type__in=["SYSTEMIC", "OTHER"], start_date__lte=cutoff):
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[s.patient_id]),
                "CMTRT": s.regimen,
                "CMCAT": "SUBSEQUENT ANTICANCER THERAPY",
                "CMSTDTC": s.start_date,
                "CMENDTC": s.end_date if s.end_date and s.end_date <= cutoff else "",
                "_order": 2,
                "_src": _src(s),
                "_supp": {"NLREAS": s.reason, "LOCONPR": s.local_on_protocol},
            }
        )
    return _seq_rows(rows, "CM")


CM_COLS = _cols(md.CM)


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
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[t.patient_id]),
                "PRGRPID": f"C{t.course.course_number}",
                "PRLNKID": les.lesion_code if les else "",
                "PRTRT": "SABR",
                "PRCAT": "PROTOCOL SABR" if t.course.is_protocol == "Y" else "NON-PROTOCOL SABR",
                "PRSCAT": t.course.indication,
                "PRDOSE": t.prescribed_dose_gy,
                "PRDOSU": "Gy",
                "PRDOSRGM": f"{t.n_fractions} FRACTIONS",
                "PRLOC": les.organ if les else "",
                "PRLAT": les.laterality if les else "",
                "PRSTDTC": d["first"],
                "PRENDTC": d["last"],
                "_order": 2,
                "_src": _src(t),
                "_supp": {
                    "NFRAC": t.n_fractions,
                    "NFRACDEL": d["n"],
                    "BED10": t.bed10_gy,
                    "REIRRFL": t.is_reirradiation,
                },
            }
        )
    for b in Baseline.objects.all():
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[b.patient_id]),
                "PRTRT": "NEPHRECTOMY",
                "PRCAT": "PRIOR CANCER THERAPY",
                "PRPRESP": "Y",
                "PROCCUR": b.prior_nephrectomy,
                "PRSTDTC": b.nephrectomy_date,
                "_order": 0,
                "_src": _src(b),
            }
        )
    for p in PriorTherapy.objects.filter(therapy_type__in=["RADIOTHERAPY", "SURGERY"]):
        rt = p.therapy_type == "RADIOTHERAPY"
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[p.patient_id]),
                "PRTRT": "RADIOTHERAPY" if rt else p.procedure,
                "PRCAT": "PRIOR CANCER THERAPY",
                "PRDOSE": p.rt_dose_gy,
                "PRDOSU": "Gy" if rt else "",
                "PRDOSRGM": f"{p.rt_fractions} FRACTIONS" if p.rt_fractions else "",
                "PRLOC": p.rt_site,
                "PRLAT": p.rt_laterality,
                "PRSTDTC": p.start_date,
                "PRENDTC": p.end_date,
                "_order": 1,
                "_src": _src(p),
                "_supp": {"NFRAC": p.rt_fractions},
            }
        )
    # Subsequent local therapy (form 16): one record per lesion treated, as for SABR, so that PRLNKID names the TU
    # record (TULNKID: the registry lesion's code L<n>, or the new lesion's code N<n>, R1.19); the records of one
    # therapy share PRGRPID SU<FORMSEQ>. A therapy with no lesion recorded (before EC-SU-1 held) keeps one record.
    for s in SubsequentTherapy.objects.filter(
        therapy_type__in=["RADIOTHERAPY", "SURGERY"], start_date__lte=cutoff
    ).prefetch_related("lesions_treated", "new_lesions_treated"):
        sites = [(les.lesion_code, les.organ, les.laterality) for les in s.lesions_treated.all()]
        sites += sorted((new.code, new.organ, new.laterality) for new in s.new_lesions_treated.all())
        for code, organ, laterality in sites or [("", "", "")]:
            rows.append(
                {
                    "USUBJID": _usubjid(keys.subjid[s.patient_id]),
                    "PRGRPID": f"SU{keys.seq[(SubsequentTherapy, s.pk)]}" if sites else "",
                    "PRLNKID": code,
                    "PRTRT": s.regimen,
                    "PRCAT": "SUBSEQUENT ANTICANCER THERAPY",
                    "PRSCAT": s.therapy_type,
                    "PRLOC": organ,
                    "PRLAT": laterality,
                    "PRSTDTC": s.start_date,
                    "PRENDTC": s.end_date if s.end_date and s.end_date <= cutoff else "",
                    "_order": 3,
                    "_src": _src(s),
                    "_supp": {"NLREAS": s.reason, "LOCONPR": s.local_on_protocol},
                }
            )
    return _seq_rows(rows, "PR")


PR_COLS = _cols(md.PR)


def _mh_rows(keys: KeyMap) -> list[Row]:
    """MH: the RCC diagnosis (baseline form 5) and every condition of the history form (6); partial dates kept."""
    from enrollment.models import Baseline, MedicalHistory

    consent = _first_consent_dates()
    rows: list[Row] = []
    for b in Baseline.objects.all():
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[b.patient_id]),
                "MHTERM": "RENAL CELL CARCINOMA",
                "MHCAT": "PRIMARY DIAGNOSIS",
                "MHSTDTC": b.diagnosis_date,
                "_order": 0,
                "_src": _src(b),
                "_supp": {"HISTOL": b.histology, "HISTOTH": b.histology_other, "SARCFL": b.sarcomatoid},
            }
        )
    for h in MedicalHistory.objects.all():
        ongoing = h.ongoing == "Y"
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[h.patient_id]),
                "MHTERM": h.mh_term,
                "MHCAT": h.mh_category,
                "MHSTDTC": h.start_date,
                "MHENDTC": h.end_date,
                "MHENRTPT": "ONGOING" if ongoing else "",
                "MHENTPT": consent.get(h.patient_id, "") if ongoing else "",
                "MHTOXGR": h.baseline_grade,
                "_order": 1,
                "_src": _src(h),
                "_supp": {"SYSTXFL": h.systemic_tx_needed},
            }
        )
    return _seq_rows(rows, "MH")


MH_COLS = _cols(md.MH)


def _dd_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """DD: primary cause (PRCDTH), the specified or contributing cause (SECDTH) and autopsy (AUTOPIND)."""
    from enrollment.models import DeathReport

    rows: list[Row] = []
    for d in DeathReport.objects.filter(death_date__lte=cutoff):
        u = _usubjid(keys.subjid[d.patient_id])
        tests = [
            ("PRCDTH", "Primary Cause of Death", d.primary_cause),
            ("SECDTH", "Secondary Cause of Death", d.cause_text),
            ("AUTOPIND", "Autopsy Indicator", d.autopsy),
        ]
        for order, (code, test, value) in enumerate(tests):
            if not value:
                continue
            row: Row = {
                "USUBJID": u,
                "DDTESTCD": code,
                "DDTEST": test,
                "DDORRES": value,
                "DDSTRESC": value,
                "DDDTC": d.death_date,
                "_order": order,
            }
            if code == "PRCDTH":
                row.update({"_src": _src(d), "_supp": {"DTHSRC": d.source}})
            rows.append(row)
    return _seq_rows(rows, "DD")


DD_COLS = _cols(md.DD)


def _ss_rows(cutoff: datetime.date, keys: KeyMap) -> list[Row]:
    """SS: one SURVSTAT record per survival contact; an unreached contact is SSSTAT = NOT DONE (form 20)."""
    from enrollment.models import SurvivalContact

    rows: list[Row] = []
    for c in SurvivalContact.objects.filter(contact_date__lte=cutoff):
        reached = c.reached == "Y"
        rows.append(
            {
                "USUBJID": _usubjid(keys.subjid[c.patient_id]),
                "SSTESTCD": "SURVSTAT",
                "SSTEST": "Survival Status",
                "SSORRES": c.survival_status if reached else "",
                "SSSTRESC": c.survival_status if reached else "",
                "SSSTAT": "" if reached else "NOT DONE",
                "SSREASND": "" if reached else "SUBJECT NOT REACHED",
                "SSDTC": c.contact_date,
                "_src": _src(c),
                "_supp": {
                    "CONTMETH": c.method,
                    "NEWTXFL": c.new_anticancer_tx,
                    "PROGFL": c.progression_reported,
                },
            }
        )
    return _seq_rows(rows, "SS")


SS_COLS = _cols(md.SS)


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
        rows.append(
            {
                **base,
                "USUBJID": _usubjid(keys.subjid[f.patient_id]),
                "ECTRT": "SABR",
                "ECGRPID": f"C{f.target.course.course_number}",
                "ECLNKID": les.lesion_code if les else "",
                "ECOCCUR": f.delivered,
                "ECREASOC": "" if given else f.not_delivered_reason,
                "ECDOSE": f.dose_delivered_gy if given else None,
                "ECDOSU": "Gy",
                "ECLOC": les.organ if les else "",
                "ECLAT": les.laterality if les else "",
                "ECSPID": f"F{f.fraction_number}",
                "ECSTDTC": f.fraction_date,
                "ECENDTC": f.fraction_date,
                "_src": _src(f),
            }
        )
    for a in AxitinibPeriod.objects.filter(start_date__lte=cutoff):
        given = a.dose_level not in ("INTERRUPTED", "PERMANENTLY DISCONTINUED")
        rows.append(
            {
                **base,
                "USUBJID": _usubjid(keys.subjid[a.patient_id]),
                "ECTRT": "AXITINIB",
                "ECOCCUR": "Y" if given else "N",
                "ECREASOC": "" if given else a.dose_change_reason,
                "ECDOSE": _axitinib_mg(a) if given else None,
                "ECDOSU": "mg",
                "ECDOSFRQ": "BID",
                "ECDOSFRM": "TABLET",
                "ECROUTE": "ORAL",
                "ECADJ": a.dose_change_reason,
                "ECSPID": a.dose_level,
                "ECSTDTC": a.start_date,
                "ECENDTC": a.end_date if a.end_date and a.end_date <= cutoff else "",
                "_src": _src(a),
                "_supp": {"MISSDOS": a.missed_doses if given else None},
            }
        )
    for i in ToripalimabInfusion.objects.all():
        day = i.infusion_date or i.planned_date
        if not _in_cut(day, cutoff):
            continue
        given = i.infusion_status == "GIVEN"
        rows.append(
            {
                **base,
                "USUBJID": _usubjid(keys.subjid[i.patient_id]),
                "ECTRT": "TORIPALIMAB",
                "ECOCCUR": "Y" if given else "N",
                "ECREASOC": "" if given else i.status_reason,
                "ECDOSE": i.dose_mg if given else None,
                "ECDOSU": "mg",
                "ECDOSFRQ": "ONCE",
                "ECDOSFRM": "INJECTION, SOLUTION",
                "ECROUTE": "INTRAVENOUS",
                "ECLOT": i.lot_number,
                "ECADJ": i.dose_deviation_reason,
                "ECSPID": f"C{i.cycle_number}",
                "ECSTDTC": day,
                "ECENDTC": day,
                "_order": i.cycle_number,
                "_src": _src(i),
                "_supp": {
                    "INFSTAT": i.infusion_status,
                    "INFINT": i.infusion_interrupted,
                    "PLANDT": i.planned_date,
                },
            }
        )
    return _seq_rows(rows, "EC")


EC_COLS = _cols(md.EC)

#: The foreign keys RELREC follows: (model, field) whose value is an adverse event. The record of that row
#: (in EC and EX, CM, DD or DS) and the AE record share one RELID.
AE_LINKS: list[tuple[type[models.Model], str]] = [
    (Immunosuppressant, "adverse_event"),
    (SabrFraction, "adverse_event"),
    (AxitinibPeriod, "adverse_event"),
    (ToripalimabInfusion, "adverse_event"),
    (DeathReport, "adverse_event"),
    (Disposition, "eot_adverse_event"),
]
#: Dataset-level links: the lesion code (TULNKID) is the --LNKID of the SABR records.
LNKID_LINKS = [("EX", "TUEX"), ("EC", "TUEC"), ("PR", "TUPR")]


def relrec_csv(domains: dict[str, list[Row]]) -> bytes:
    return to_csv(RELREC_COLS, relrec_rows(domains))


def relrec_rows(domains: dict[str, list[Row]]) -> list[list[Any]]:
    """RELREC: each AE with the records its foreign keys point from (steroid, dose change or interruption,
    undelivered fraction, death, end of treatment), one RELID per pair; plus the dataset-level TU--LNKID links."""
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
    for model, field in AE_LINKS:
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
    return out


DM_COLS = _cols(md.DM)


def as_date(value: Any) -> datetime.date | None:
    """A complete date from a date or an ISO 8601 text; None for a partial or empty one."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def study_day(day: datetime.date | None, origin: datetime.date | None) -> int | None:
    """SDTMIG 3.4 section 4.4.4: day 1 is RFSTDTC, the day before it -1; there is no day 0 (D9's day 0 is for
    time-to-event analysis, not for --DY)."""
    if day is None or origin is None:
        return None
    delta = (day - origin).days
    return delta + 1 if delta >= 0 else delta


def epoch(day: datetime.date | None, ref: tuple[datetime.date | None, ...]) -> str:
    """SCREENING from consent to the first study treatment, TREATMENT to the last dose (open while treatment goes
    on), FOLLOW-UP after it; none for a record before consent (history) or undated."""
    start, last, consent = ref
    if day is None or consent is None or day < consent:
        return ""
    if start is None or day < start:
        return "SCREENING"
    if last is None or day <= last:
        return "TREATMENT"
    return "FOLLOW-UP"


def add_timing(ds: Dataset, rows: list[Row], references: dict[str, tuple[datetime.date | None, ...]]) -> None:
    """Fill EPOCH and the --DY/--STDY/--ENDY variables the metadata gives the domain."""
    d = ds.name
    names = set(ds.columns)
    first = f"{d}DTC" if f"{d}DTC" in names else f"{d}STDTC"
    days = [var for var in (f"{d}DTC", f"{d}STDTC", f"{d}ENDTC") if f"{var[:-3]}DY" in names]
    for r in rows:
        ref = references.get(r["USUBJID"], (None, None, None))
        if "EPOCH" in names:
            r["EPOCH"] = epoch(as_date(r.get(first)), ref)
        for var in days:
            r[f"{var[:-3]}DY"] = study_day(as_date(r.get(var)), ref[0])


#: One SDTM data set ready to write: its metadata and its records in column order.
Table = tuple[Dataset, list[list[Any]]]


def sdtm_tables(cutoff: datetime.date, snap: EndpointSnapshot, keys: KeyMap) -> dict[str, Table]:
    """Every SDTM data set by name (DM, the domains, their SUPP--, RELREC, TI): what the CSV, XPT, define.xml and
    the conformance check are written from."""
    tu, tr, rs = _tu_tr_rs_rows(cutoff, keys)
    ex = _ex_rows(cutoff, keys)
    last_dose = last_exposure(ex)
    # EC before EX: an AE link's RELID names the as-collected record, the one that carries the foreign key
    domains: dict[str, list[Row]] = {
        "DS": _ds_rows(cutoff, keys, last_dose),
        "EC": _ec_rows(cutoff, keys),
        "EX": ex,
        "AE": _ae_rows(cutoff, keys),
        "CM": _cm_rows(cutoff, keys),
        "PR": _pr_rows(cutoff, keys),
        "MH": _mh_rows(keys),
        "IE": _ie_rows(cutoff, keys),
        "DD": _dd_rows(cutoff, keys),
        "SS": _ss_rows(cutoff, keys),
        "TU": tu,
        "TR": tr,
        "RS": rs,
    }
    dm = _dm_rows(cutoff, snap, keys, last_dose)
    references = {
        r["USUBJID"]: (as_date(r["RFSTDTC"]), as_date(r["RFXENDTC"]), as_date(r["RFICDTC"])) for r in dm
    }
    for name, rows in domains.items():
        add_timing(md.SDTM[name], rows, references)
    tables: dict[str, Table] = {"DM": (md.DM, dataset_rows(md.DM, dm))}
    for domain, rows in domains.items():
        tables[domain] = (md.SDTM[domain], dataset_rows(md.SDTM[domain], rows))
        if domain in SUPP_QUALIFIERS:
            tables[f"SUPP{domain}"] = (md.SDTM[f"SUPP{domain}"], supp_rows(domain, rows))
    tables["RELREC"] = (md.RELREC, relrec_rows(domains))
    tables["TI"] = (md.TI, ti_rows())
    consents = [c for c in (as_date(r["RFICDTC"]) for r in dm) if c]
    enrolled = sum(1 for r in dm if r.get("ARMNRS") not in ("SCREEN FAILURE", "NOT ASSIGNED"))
    tables["TS"] = (
        md.TS,
        trial_design.ts_rows(cutoff=cutoff, first_consent=min(consents, default=None), registered=enrolled),
    )
    tables["TA"] = (md.TA, trial_design.ta_rows())
    tables["TE"] = (md.TE, trial_design.te_rows())
    tables["TV"] = (md.TV, trial_design.tv_rows())
    tables["SE"] = (md.SE, dataset_rows(md.SE, trial_design.se_rows(dm, as_date, study_day)))
    sv = trial_design.sv_rows(domains["EC"], domains["RS"], references, as_date, study_day, epoch)
    tables["SV"] = (md.SV, dataset_rows(md.SV, sv))
    return tables


def sdtm_dictionary_csv(datasets: list[Dataset]) -> bytes:
    """``_dictionary.csv``: every variable of every data set (from the metadata), and each SUPP-- QNAM."""
    rows: list[list[Any]] = []
    for ds in datasets:
        for v in ds.variables:
            rows.append(
                [ds.name, v.name, v.label, v.data_type, v.length, v.core, v.origin, v.source, v.codelist]
            )
    for domain, meta in SUPP_QUALIFIERS.items() if any(d.name.startswith("SUPP") for d in datasets) else ():
        for qnam, (label, orig, _evaluator) in meta.items():
            rows.append([f"SUPP{domain}", f"QNAM={qnam}", label, "text", 200, "", orig, "", ""])
    return to_csv(
        ["domain", "variable", "label", "type", "length", "core", "origin", "source", "codelist"], rows
    )


def codelists_csv() -> bytes:
    """``_codelists.csv``: every term of every codelist; ``extended`` = Y marks a sponsor term added to an
    extensible CDISC codelist, ``cdisc`` = N a codelist the sponsor defines."""
    rows = [
        [c.name, c.label, term, "Y" if term in c.extensions else "N", "Y" if c.cdisc else "N"]
        for c in md.CODELISTS.values()
        for term in (*c.terms, *c.extensions)
    ]
    return to_csv(["codelist", "label", "term", "extended", "cdisc"], rows)


def sdtm_files(cutoff: datetime.date, snap: EndpointSnapshot, keys: KeyMap) -> dict[str, bytes]:
    """Every ``sdtm/`` CSV: the domains, their SUPP-- files, RELREC, TI, the data dictionary and the codelists."""
    tables = sdtm_tables(cutoff, snap, keys)
    files = {f"sdtm/{name.lower()}.csv": to_csv(ds.columns, rows) for name, (ds, rows) in tables.items()}
    files["sdtm/_dictionary.csv"] = sdtm_dictionary_csv([ds for ds, _rows in tables.values()])
    files["sdtm/_codelists.csv"] = codelists_csv()
    return files
