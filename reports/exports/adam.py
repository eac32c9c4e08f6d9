"""ADaM data sets (``adam/*.csv``) from the endpoint snapshot: ADSL, ADTTE, ADRS. Columns, labels and types come
from ``reports.exports.metadata``."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

import ruletext
from assessments.models import TumourAssessment
from endpoints.models import EndpointSnapshot
from reports.exports import metadata as md
from reports.exports.common import RESPONSE_RANK, KeyMap, to_csv
from reports.exports.sdtm import Table, _assessments_to, _scan_day, _usubjid


def _rdi(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


def relative_dose_intensity(cutoff: datetime.date) -> dict[int, tuple[Decimal | None, Decimal | None]]:
    """Per patient id: (axitinib RDI %, toripalimab RDI %) at the cut-off, one decimal, from the casebook's
    exposure panel (``treatment.selectors.exposure``: R4.1, R4.6); nothing for an untreated patient."""
    from enrollment.models import Patient
    from treatment.selectors import exposures

    ids = list(Patient.objects.filter(study_number__isnull=False).order_by("pk").values_list("pk", flat=True))
    # One bulk read (four queries), the same rules as the casebook panel and the report's exposure section.
    return {
        pid: (_rdi(e.axitinib_rdi_pct), _rdi(e.toripalimab_rdi_pct))
        for pid, e in zip(ids, exposures(ids, cutoff), strict=True)
    }


def adsl_rows(snap: EndpointSnapshot, keys: KeyMap) -> list[list[Any]]:
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
        rows.append(
            {
                "USUBJID": _usubjid(subj),
                "SUBJID": subj,
                "AGE": b.age_at_consent if b else "",
                "AGEU": "YEARS",
                "SEX": b.sex if b else "U",
                "ECOGBL": b.ecog if b else "",
                "KPSBL": b.kps if b else "",
                "HISTOL": b.histology if b else "",
                "SARCFL": b.sarcomatoid if b else "",
                "NEPHRFL": b.prior_nephrectomy if b else "",
                "PRLINES": b.prior_systemic_lines if b else "",
                "IMDCGR": b.imdc_group if b else "",
                "TRTSDT": os_row.get("origin", ""),
                "SABRSDT": pfs1.get("origin", ""),
                "DTHDT": d.death_date if d else "",
                "DTHFL": "Y" if d else "N",
                "DTHCAUS": d.primary_cause if d else "",
                "LSTALVDT": os_row.get("adt", "") if os_row and not os_row.get("event") else "",
                "EOSSTT": "DISCONTINUED" if eos else "ONGOING",
                "DCSREAS": ds.eos_reason if eos else "",
                "ENRLFL": "Y",
                "SAFFL": "Y" if flags.get("saffl") else "N",
                "MDISFL": "Y" if flags.get("mdisfl") else "N",
                "RSEVFL": "Y" if flags.get("rsevfl") else "N",
                "AXIRDI": rdi.get(pid, (None, None))[0],
                "TORRDI": rdi.get(pid, (None, None))[1],
                "CUTOFFDT": cutoff,
            }
        )
    rows.sort(key=lambda r: r["USUBJID"])
    return [[settings.STUDY_ID if c == "STUDYID" else r[c] for c in md.ADSL.columns] for r in rows]


def adam_adsl(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    return to_csv(md.ADSL.columns, adsl_rows(snap, keys))


ADTTE_COLS = md.ADTTE.columns
PARAMS = {
    "PFS1": "Progression-free survival from SABR start (days)",
    "PFS2": "Second progression-free survival (days)",
    "OS": "Overall survival from treatment start (days)",
    "LC": "Local control, patient level (days)",
    "LCLES": "Local control per irradiated lesion (days)",
}


def adtte_rows(snap: EndpointSnapshot, keys: KeyMap) -> list[list[Any]]:
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
            reason = ruletext.render(t["reason"])  # ADaM is English: the rule text's English sentence
            rows.append(
                [
                    settings.STUDY_ID,
                    _usubjid(subj),
                    code,
                    PARAMS[code],
                    t.get("lesion_code") or "",
                    t["origin"],
                    t["adt"],
                    t["days"],
                    "DAYS",
                    t["cnsr"],
                    reason if event else "",
                    "" if event else reason,
                    src.get("form", ""),
                    src.get("field", ""),
                    src.get("object_id", ""),
                    "Y" if code in ("LC", "LCLES") and t["cnsr"] == 9 else "",
                    snap.data_cutoff,
                ]
            )
    rows.sort(key=lambda r: (r[1], list(PARAMS).index(r[2]), r[4]))
    return rows


def adam_adtte(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    return to_csv(ADTTE_COLS, adtte_rows(snap, keys))


def adrs_rows(snap: EndpointSnapshot, keys: KeyMap) -> list[list[Any]]:
    rows: list[list[Any]] = []
    cutoff = snap.data_cutoff
    assessment = TumourAssessment
    for a in _assessments_to(assessment, cutoff).exclude(overall_resp="").order_by("patient_id", "scan_day"):
        subj = keys.subjid[a.patient_id]
        rows.append(
            [
                settings.STUDY_ID,
                _usubjid(subj),
                "OVRLRESP",
                "Overall Response by Investigator (RECIST 1.1)",
                a.overall_resp,
                RESPONSE_RANK.get(a.overall_resp, 7),
                _scan_day(a),
                "Y",
                cutoff,
            ]
        )
        if a.overall_resp_nonirr:
            rows.append(
                [
                    settings.STUDY_ID,
                    _usubjid(subj),
                    "OVRNIRR",
                    "Overall Response, non-irradiated lesions",
                    a.overall_resp_nonirr,
                    RESPONSE_RANK.get(a.overall_resp_nonirr, 7),
                    _scan_day(a),
                    "Y",
                    cutoff,
                ]
            )
    for p in snap.patient_rows():
        subj = keys.subjid.get(p["patient_id"], p["study_number"])
        for code, label, key in (
            ("BOR", "Best Overall Response (unconfirmed)", "bor"),
            ("CBOR", "Best Overall Response (confirmed)", "cbor"),
        ):
            b = p.get(key) or {}
            if not (p.get("flags") or {}).get("saffl"):
                continue
            resp = b.get("response") or "NE"
            rows.append(
                [
                    settings.STUDY_ID,
                    _usubjid(subj),
                    code,
                    label,
                    resp,
                    RESPONSE_RANK.get(resp, 7),
                    b.get("date") or "",
                    "Y",
                    cutoff,
                ]
            )
    rows.sort(key=lambda r: (r[1], r[2], str(r[6])))
    return rows


def adam_adrs(snap: EndpointSnapshot, keys: KeyMap) -> bytes:
    return to_csv(md.ADRS.columns, adrs_rows(snap, keys))


def adam_tables(snap: EndpointSnapshot, keys: KeyMap) -> dict[str, Table]:
    """ADSL, ADTTE and ADRS with their metadata."""
    return {
        "ADSL": (md.ADSL, adsl_rows(snap, keys)),
        "ADTTE": (md.ADTTE, adtte_rows(snap, keys)),
        "ADRS": (md.ADRS, adrs_rows(snap, keys)),
    }
