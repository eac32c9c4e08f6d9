"""Trial design data sets: TS (trial summary, with the standards and terminology versions), TE and TA (the one arm's
elements: screening, treatment, follow-up, the epochs of every record), TV (the planned visits of
``visits/schedule.py``), and the subject-level SE (elements each subject went through, from DM's reference dates)
and SV (visits that took place: toripalimab cycles and tumour assessments)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.conf import settings

from reports.exports import metadata as md
from reports.exports.common import Row
from visits import schedule

ARM = ("SABRAT", "SABR + axitinib + toripalimab")
#: (ETCD, ELEMENT, EPOCH, start rule, end rule, planned duration)
ELEMENTS = (
    ("SCRN", "Screening", "SCREENING", "Informed consent", "First study treatment", "P28D"),
    (
        "TRT",
        "SABR + axitinib + toripalimab",
        "TREATMENT",
        "First dose of any study treatment (D1)",
        "Last dose of any study treatment",
        "",
    ),
    (
        "FU",
        "Follow-up",
        "FOLLOW-UP",
        "Day after the last dose of study treatment",
        "End of study (3-year follow-up cap, D7)",
        "P3Y",
    ),
)
SCREENING_VISIT, SABR_VISIT, SURVIVAL_VISIT = 1, 2, 9000
_WEEK = re.compile(r"^\s*week\s+(\d+)\s*$", re.IGNORECASE)


def cycle_visitnum(n: int) -> int:
    return 100 + n


def imaging_visitnum(week: int) -> int:
    return 1000 + week


def ts_rows(
    *, cutoff: datetime.date, first_consent: datetime.date | None, registered: int
) -> list[list[Any]]:
    ct = ("CDISC CT", md.CT_VERSION)
    params: list[tuple[str, str, Any, tuple[str, str]]] = [
        ("TITLE", "Trial Title", settings.STUDY_TITLE, ("", "")),
        ("STYPE", "Study Type", "INTERVENTIONAL", ct),
        ("TBLIND", "Trial Blinding Schema", "OPEN LABEL", ct),
        ("RANDOM", "Trial is Randomized", "N", ct),
        ("NARMS", "Planned Number of Arms", 1, ("", "")),
        ("ADDON", "Added on to Existing Treatments", "N", ct),
        ("AGEMIN", "Planned Minimum Age of Subjects", "P18Y", ("ISO 8601", "")),
        ("SEXPOP", "Sex of Participants", "BOTH", ct),
        ("INDIC", "Trial Disease/Condition Indication", "Renal Cell Carcinoma", ("", "")),
        ("TRT", "Investigational Therapy or Treatment", "AXITINIB", ("", "")),
        ("TRT", "Investigational Therapy or Treatment", "TORIPALIMAB", ("", "")),
        ("TRT", "Investigational Therapy or Treatment", "STEREOTACTIC ABLATIVE RADIOTHERAPY", ("", "")),
        ("LENGTH", "Trial Length", "P3Y", ("ISO 8601", "")),
        ("SDTIGVER", "SDTM IG Version", md.SDTMIG_VERSION, ("", "")),
        ("SDTMVER", "SDTM Version", md.SDTM_MODEL_VERSION, ("", "")),
        ("ACTSUB", "Actual Number of Subjects", registered, ("", "")),
        ("SSTDTC", "Study Start Date", first_consent, ("ISO 8601", "")),
        ("DCUTDTC", "Data Cutoff Date", cutoff, ("ISO 8601", "")),
        ("REGID", "Registry Identifier", settings.STUDY_REGISTRY_ID, ("", "")),
    ]  # fmt: skip
    rows = []
    seq: dict[str, int] = {}
    for code, name, value, (ref, ver) in params:
        seq[code] = seq.get(code, 0) + 1
        missing = value in (None, "")
        rows.append(
            [
                settings.STUDY_ID,
                "TS",
                seq[code],
                code,
                name,
                "" if missing else value,
                "NI" if missing else "",
                ref,
                ver,
            ]
        )
    return rows


def te_rows() -> list[list[Any]]:
    return [[settings.STUDY_ID, "TE", cd, el, start, end, dur] for cd, el, _ep, start, end, dur in ELEMENTS]


def ta_rows() -> list[list[Any]]:
    return [
        [settings.STUDY_ID, "TA", ARM[0], ARM[1], order, cd, el, "", "", epoch]
        for order, (cd, el, epoch, _s, _e, _d) in enumerate(ELEMENTS, start=1)
    ]


def tv_rows(s: schedule.ScheduleSettings = schedule.DEFAULT_SETTINGS) -> list[list[Any]]:
    """The planned visits of the visit schedule: screening, the SABR course, every toripalimab cycle (q3w to the
    maximum duration), every scheduled imaging (D6) and the survival follow-up."""
    rows: list[list[Any]] = [
        [
            SCREENING_VISIT,
            "SCREENING",
            -s.screening_days_before,
            f"Within {s.screening_days_before} days before the first study treatment (R1.5)",
            "",
        ],
        [SABR_VISIT, "SABR", 1, f"SABR course starts within {s.start_within_days} days of registration", ""],
    ]
    n = 1
    while (n - 1) * s.cycle_days <= s.toripalimab_max_days:
        day = 1 + (n - 1) * s.cycle_days
        rows.append(
            [cycle_visitnum(n), f"CYCLE {n}", day, f"Study day {day} +/- {s.cycle_window_days} days", ""]
        )
        n += 1
    for day in schedule.imaging_days(s):
        week = day // 7
        rows.append(
            [
                imaging_visitnum(week),
                f"WEEK {week}",
                day + 1,
                f"Study day {day + 1} +/- {s.imaging_window_days} days (D6)",
                "",
            ]
        )
    rows.append(
        [
            SURVIVAL_VISIT,
            "SURVIVAL FOLLOW-UP",
            None,
            f"Every {s.survival_interval_days} days after the end of treatment",
            "End of study",
        ]
    )
    return [
        [settings.STUDY_ID, "TV", num, visit, dy, ARM[0], start, end] for num, visit, dy, start, end in rows
    ]


def se_rows(dm: list[Row], as_date: Any, study_day: Any) -> list[Row]:
    """SE: SCRN from consent to the day before the first dose (or to the end of participation), TRT from the first
    to the last dose (open while treatment goes on), FU from the day after the last dose."""
    rows: list[Row] = []
    day = datetime.timedelta(days=1)
    for d in dm:
        consent, start = as_date(d["RFICDTC"]), as_date(d["RFXSTDTC"])
        last, end = as_date(d["RFXENDTC"]), as_date(d["RFPENDTC"])
        origin = as_date(d["RFSTDTC"])
        spans: list[tuple[int, datetime.date, datetime.date | None]] = []
        if consent:
            spans.append((0, consent, (start - day) if start else end))
        if start:
            spans.append((1, start, last))
            if last:
                spans.append((2, last + day, end))
        for seq, (i, st, en) in enumerate(spans, start=1):
            cd, el, epoch = ELEMENTS[i][:3]
            if en is not None and en < st:
                en = st
            rows.append(
                {
                    "USUBJID": d["USUBJID"],
                    "SESEQ": seq,
                    "ETCD": cd,
                    "ELEMENT": el,
                    "TAETORD": i + 1 if d.get("ARMCD") else None,
                    "EPOCH": epoch,
                    "SESTDTC": st,
                    "SEENDTC": en,
                    "SESTDY": study_day(st, origin),
                    "SEENDY": study_day(en, origin),
                }
            )
    return rows


def sv_rows(
    ec: list[Row], rs: list[Row], references: dict[str, Any], as_date: Any, study_day: Any, epoch: Any
) -> list[Row]:
    """SV: each toripalimab cycle given (CYCLE n) and each tumour assessment's visit (WEEK n, from its label; an
    unscheduled label gets a number of its own after 9000), one record per subject and visit."""
    planned_weeks = {day // 7 for day in schedule.imaging_days()}
    visits: dict[tuple[str, float], Row] = {}
    extra: dict[tuple[str, str], int] = {}

    def add(u: str, num: float, name: str, planned: bool, day: datetime.date | None) -> None:
        if day is None:
            return
        row = visits.setdefault(
            (u, num),
            {
                "USUBJID": u,
                "VISITNUM": num,
                "VISIT": name,
                "SVPRESP": "Y" if planned else "",
                "SVOCCUR": "Y" if planned else "",
                "SVSTDTC": day,
                "SVENDTC": day,
            },
        )
        row["SVSTDTC"], row["SVENDTC"] = min(row["SVSTDTC"], day), max(row["SVENDTC"], day)

    for r in ec:
        if (
            r["ECTRT"] == "TORIPALIMAB"
            and r.get("ECOCCUR") == "Y"
            and str(r.get("ECSPID", "")).startswith("C")
        ):
            n = int(str(r["ECSPID"])[1:])
            add(r["USUBJID"], cycle_visitnum(n), f"CYCLE {n}", True, as_date(r.get("ECSTDTC")))
    for r in rs:
        label = str(r.get("VISIT") or "")
        m = _WEEK.match(label)
        if m:
            week = int(m.group(1))
            add(
                r["USUBJID"],
                imaging_visitnum(week),
                f"WEEK {week}",
                week in planned_weeks,
                as_date(r.get("RSDTC")),
            )
        elif label:
            key = (r["USUBJID"], label.upper())
            extra.setdefault(key, 9900 + len([k for k in extra if k[0] == r["USUBJID"]]) + 1)
            add(r["USUBJID"], extra[key], label.upper()[:40], False, as_date(r.get("RSDTC")))
    out = sorted(visits.values(), key=lambda v: (v["USUBJID"], v["VISITNUM"]))
    for v in out:
        ref = references.get(v["USUBJID"], (None, None, None))
        v["EPOCH"] = epoch(v["SVSTDTC"], ref)
        v["SVSTDY"], v["SVENDY"] = study_day(v["SVSTDTC"], ref[0]), study_day(v["SVENDTC"], ref[0])
    return out
