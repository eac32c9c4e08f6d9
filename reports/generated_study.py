"""A generated study: N complete, plausible casebooks of the trial, written as the ``crf/`` CSV files that
``import_study`` reads (docs/import.md), so every row goes through the services, the form rules and the
derivations like data typed in (the demo study's ~60 patients, ``bench/import.py``, ``bench/sdtm_check.py``).

Each patient is screened, consents, answers the eligibility checklist (confirmed by the investigator) and is
registered within the 28-day window, or fails screening on one criterion. A registered patient has a baseline form
(age, sex, histology, IMDC factors), medical history, a prior nephrectomy or systemic line, 1-5 metastases (up to
three measurable targets, R1.1-R1.6) scanned before treatment start, one protocol SABR course treating every lesion
(dose by site, BED10 >= 60 Gy), axitinib from treatment start (titration up at 6 weeks, a reduction for an adverse
event), toripalimab 240 mg every 3 weeks (at most 35 cycles), CT every 8 weeks (D6) with a measurement of every
lesion, adverse events with CTCAE 5.0 terms, grades and per-drug attribution (immune-related ones treated with
prednisone), and after progression: end of protocol treatment, a next line, survival contacts every 3 months and,
for some, death. The responses are the product's (RECIST computed on import): the generator only decides each
patient's course (complete, partial, stable or progressing; progression by a new lesion or by in-field growth;
isolated local failures), so the mix of CR/PR/SD/PD and local failures comes out of the real derivation.

Deterministic: the same ``seed``, ``n`` and ``today`` give byte-identical files. Every date is before ``today``;
follow-up reaches about two years.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DAY = datetime.timedelta(days=1)
KEY_COLUMNS = ["STUDYID", "SUBJID", "SCRNO", "FORMSEQ", "CRFSTAT"]
CHILD_KEY_COLUMNS = ["STUDYID", "SUBJID", "SCRNO"]
CHILD_FILES = ("lesion-result", "new-lesion", "sae-report")

#: Eligibility criteria of protocol version 1.0 (enrollment/criteria.py) with their qualifying answers.
CRITERIA = [
    ("INCL01", "Y"),
    ("INCL02", "Y"),
    ("INCL03", "Y"),
    ("INCL04", "Y"),
    ("INCL05", "Y"),
    ("INCL06", "Y"),
    ("INCL07", "Y"),
    ("EXCL01", "N"),
    ("EXCL02", "N"),
    ("EXCL03", "N"),
    ("EXCL04", "N"),
    ("EXCL05", "N"),
]
CRITERIA_VERSION = "1.0"
#: Criteria that screen failures miss, with a weight.
FAILED_CRITERIA = [("INCL06", 4), ("INCL05", 3), ("EXCL04", 2), ("INCL07", 2), ("EXCL03", 1)]

#: Metastatic sites of RCC: organ, weight, measurable target size range (mm), location texts, paired organ.
SITES: dict[str, tuple[int, tuple[int, int], list[str], bool]] = {
    "LUNG": (
        30,
        (11, 38),
        [
            "upper lobe, apical segment",
            "lower lobe, basal segment",
            "middle lobe",
            "upper lobe, posterior segment",
            "lower lobe, superior segment",
        ],
        True,
    ),
    "LYMPH NODE": (
        18,
        (15, 32),
        [
            "Mediastinal node (station 4R)",
            "Subcarinal node (station 7)",
            "Para-aortic node at L2",
            "Retrocaval node",
            "Hilar node",
        ],
        False,
    ),
    "BONE": (
        16,
        (0, 0),
        [
            "T10 vertebral body",
            "L3 vertebral body",
            "Right iliac wing",
            "Left sixth rib",
            "Sacrum",
            "Right femoral neck",
        ],
        False,
    ),
    "ADRENAL GLAND": (9, (14, 40), ["Adrenal gland"], True),
    "LIVER": (9, (12, 45), ["Segment VII", "Segment IVa", "Segment VI", "Segment II"], False),
    "KIDNEY": (7, (14, 40), ["Nephrectomy bed recurrence", "Contralateral kidney, upper pole"], True),
    "PANCREAS": (5, (12, 30), ["Pancreatic tail", "Pancreatic head"], False),
    "SOFT TISSUE": (6, (12, 35), ["Left gluteal muscle", "Right paraspinal muscle"], False),
}
#: SABR prescriptions by site: (total Gy, fractions); every one has BED10 >= 60 Gy and a total <= 80 Gy.
PRESCRIPTIONS = {
    "LUNG": [("54", 3), ("50", 5), ("48", 4)],
    "LYMPH NODE": [("40", 5), ("35", 5)],
    "BONE": [("24", 1), ("27", 3), ("35", 5)],
    "ADRENAL GLAND": [("40", 5), ("45", 5)],
    "LIVER": [("45", 3), ("50", 5)],
    "KIDNEY": [("40", 5), ("42", 3)],
    "PANCREAS": [("35", 5)],
    "SOFT TISSUE": [("40", 5), ("30", 3)],
}
#: CTCAE 5.0 terms common with axitinib + a PD-1 antibody + SABR: MedDRA code, highest grade used, weight,
#: attribution (SABR, axitinib, toripalimab), immune-related, axitinib may be reduced for it.
AE_TERMS = [
    ("10020772", 3, 20, ("UNRELATED", "PROBABLE", "UNLIKELY"), "N", True),  # Hypertension
    ("10012727", 3, 16, ("UNLIKELY", "PROBABLE", "POSSIBLE"), "N", True),  # Diarrhea
    ("10016256", 3, 16, ("POSSIBLE", "POSSIBLE", "POSSIBLE"), "N", False),  # Fatigue
    ("10054524", 3, 12, ("UNRELATED", "DEFINITE", "UNLIKELY"), "N", True),  # Palmar-plantar erythrodysesthesia
    ("10021114", 2, 10, ("UNRELATED", "UNLIKELY", "PROBABLE"), "Y", False),  # Hypothyroidism
    ("10037032", 2, 8, ("UNRELATED", "PROBABLE", "UNLIKELY"), "N", True),  # Proteinuria
    ("10001551", 3, 7, ("UNRELATED", "POSSIBLE", "PROBABLE"), "Y", False),  # ALT increased
    ("10037868", 2, 6, ("UNRELATED", "POSSIBLE", "PROBABLE"), "Y", False),  # Rash maculo-papular
    ("10002646", 2, 6, ("UNLIKELY", "PROBABLE", "POSSIBLE"), "N", False),  # Anorexia
    ("10035742", 3, 4, ("POSSIBLE", "UNLIKELY", "PROBABLE"), "Y", False),  # Pneumonitis
    ("10028130", 2, 5, ("UNRELATED", "PROBABLE", "UNLIKELY"), "N", False),  # Mucositis oral
    ("10033371", 2, 4, ("PROBABLE", "UNLIKELY", "UNLIKELY"), "N", False),  # Pain (flare after bone SABR)
]  # fmt: skip
MEDICAL_HISTORY = [
    ("Hypertension", "CARDIOVASCULAR", 1),
    ("Type 2 diabetes mellitus", "ENDOCRINE", 1),
    ("Chronic kidney disease stage 3a", "RENAL", 2),
    ("Hypercholesterolaemia", "OTHER", 1),
    ("Coronary artery disease", "CARDIOVASCULAR", 1),
    ("Gout", "OTHER", 1),
]
NEW_LESION_SITES = [
    ("LUNG", "New nodule, right lower lobe"),
    ("LIVER", "New lesion, segment VIII"),
    ("BONE", "New lytic lesion, T12"),
    ("LYMPH NODE", "New mediastinal node"),
    ("BRAIN", "New cerebellar lesion"),
    ("ADRENAL GLAND", "New contralateral adrenal nodule"),
]
NEXT_LINES = ["Cabozantinib 60 mg QD", "Lenvatinib 18 mg + everolimus 5 mg QD", "Everolimus 10 mg QD"]
#: Response course of a patient (nadir ratio of every target) and its weight.
COURSES = {"CR": 9, "PR": 38, "SD": 38, "PD": 15}
#: Median time to progression (days) by course, exponential.
MEDIAN_TTP = {"CR": 1800, "PR": 640, "SD": 330}
TORIPALIMAB_MAX_CYCLES = 35  # about two years of q3w infusions
IMAGING_DAYS, IMAGING_DAYS_LATE = 56, 84  # D6: q8w for two years, then q12w


@dataclass
class Study:
    """Rows per file stem (``consent``, ``lesion-result``, ...), each a dict of column -> cell text."""

    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add(self, stem: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(stem, []).append({k: _text(v) for k, v in row.items()})

    def files(self) -> dict[str, bytes]:
        """``crf/<stem>.csv`` -> CSV bytes (UTF-8, ``\\n`` line ends), columns in first-use order."""
        out = {}
        for stem, rows in sorted(self.rows.items()):
            columns: list[str] = []
            for row in rows:
                columns.extend(c for c in row if c not in columns)
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([row.get(c, "") for c in columns] for row in rows)
            out[f"crf/{stem}.csv"] = buf.getvalue().encode()
        return out

    def write(self, folder: Path | str) -> Path:
        """Write the files under ``folder/crf/``; return that folder."""
        for name, data in self.files().items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return Path(folder)

    def count(self) -> int:
        return sum(len(rows) for stem, rows in self.rows.items() if not stem.startswith("_"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """A moment of the site's day, written in UTC (the site is UTC+8; 02:00 UTC is 10:00 there, the same day)."""
    return datetime.datetime.combine(day, datetime.time(hour - 8, minute), datetime.UTC)


def _weighted(rng: random.Random, table: list[tuple[Any, int]]) -> Any:
    return rng.choices([k for k, _w in table], weights=[w for _k, w in table])[0]


@dataclass
class _Lesion:
    seq: int
    organ: str
    role: str
    nodal: bool
    baseline: int | None  # mm, targets (and measured non-targets)
    values: list[int | None] = field(default_factory=list)  # per scan; None = disappeared
    nadir: float = 0.0


class _Patient:
    """One casebook, decided from the patient's own random stream, then written as rows."""

    def __init__(
        self,
        study: Study,
        index: int,
        *,
        seed: int,
        today: datetime.date,
        screened: datetime.date,
        scrno: str,
        study_id: str,
    ) -> None:
        self.s, self.i, self.today = study, index, today
        self.rng = random.Random(f"{seed}:{index}")
        self.screened, self.scrno, self.study_id = screened, scrno, study_id
        self.subjid = scrno
        self.seq: dict[str, int] = {}
        self.rng_fail = self.rng.random()

    # --- rows ---------------------------------------------------------------------------------------------
    def form(self, stem: str, **values: Any) -> str:
        """Add a CRF row; return its reference ``stem:FORMSEQ``."""
        n = self.seq[stem] = self.seq.get(stem, 0) + 1
        key = {
            "STUDYID": self.study_id,
            "SUBJID": self.subjid,
            "SCRNO": self.scrno,
            "FORMSEQ": n,
            "CRFSTAT": "submitted",
        }
        self.s.add(stem, key | values)
        return f"{stem}:{n}"

    def child(self, stem: str, **values: Any) -> None:
        self.s.add(stem, {"STUDYID": self.study_id, "SUBJID": self.subjid, "SCRNO": self.scrno} | values)

    # --- screening ----------------------------------------------------------------------------------------
    def screen(self) -> bool:
        """Screening, consent and checklist; True when the patient goes on to registration."""
        rng, day = self.rng, self.screened
        fails = self.rng_fail < 0.09
        failed = _weighted(rng, FAILED_CRITERIA) if fails else ""
        self.form(
            "consent",
            consent_type="INITIAL",
            icf_version="2.0",
            consent_datetime=_at(day + DAY, 10),
            obtained_by="coordinator",
            withdrawn="N",
        )
        answers = {cid: ("N" if ok == "Y" else "Y") if cid == failed else ok for cid, ok in CRITERIA}
        self.form(
            "eligibility",
            criteria_version=CRITERIA_VERSION,
            answers_summary=";".join(f"{k}={v}" for k, v in answers.items()),
            all_met="N" if fails else "Y",
            confirmed_by="investigator",
            confirmed_at=_at(day + 2 * DAY, 15, rng.randint(0, 59)),
        )
        if fails:
            self.form(
                "screening",
                screening_date=day,
                outcome="SCREEN FAILURE",
                outcome_date=day + 3 * DAY,
                failure_reason="CRITERIA NOT MET",
                failed_criteria=failed,
            )
            return False
        self.registered = day + rng.randint(5, 20) * DAY
        self.form("screening", screening_date=day, outcome="ELIGIBLE", outcome_date=self.registered)
        return True

    # --- the course -----------------------------------------------------------------------------------------
    def plan(self) -> None:
        """Treatment start, lesions, response course, scans, progression, death."""
        rng = self.rng
        self.start = self.registered + rng.randint(3, 9) * DAY
        self.course = _weighted(rng, list(COURSES.items()))
        n_lesions = _weighted(rng, [(1, 22), (2, 30), (3, 24), (4, 15), (5, 9)])
        organs = list(SITES)
        chosen: list[str] = []
        while len(chosen) < n_lesions:
            organ = _weighted(rng, [(o, SITES[o][0]) for o in organs])
            if chosen.count(organ) < (2 if organ in ("LUNG", "BONE", "LYMPH NODE", "LIVER") else 1):
                chosen.append(organ)
        # the largest measurable lesions are targets (at most 3, at most 2 per organ); the others non-targets
        self.lesions: list[_Lesion] = []
        targets = 0
        chosen.sort(key=lambda o: o == "BONE")  # bone last: non-measurable (R1.3)
        for k, organ in enumerate(chosen, start=1):
            lo, hi = SITES[organ][1]
            nodal = organ == "LYMPH NODE"
            if organ != "BONE" and targets < 3 and (targets == 0 or rng.random() < 0.8):
                self.lesions.append(_Lesion(k, organ, "TARGET", nodal, rng.randint(lo, hi)))
                targets += 1
            else:
                self.lesions.append(
                    _Lesion(k, organ, "NON-TARGET", nodal, rng.randint(10, 14) if nodal else None)
                )
        if not targets:  # INCL05: at least one measurable lesion
            self.lesions.insert(0, _Lesion(0, "LUNG", "TARGET", False, rng.randint(12, 30)))
            for k, lesion in enumerate(self.lesions, start=1):
                lesion.seq = k
        self.baseline_scan = self.registered - rng.randint(1, 4) * DAY
        self._scans()
        self.stop = min(self.pd + rng.randint(3, 10) * DAY, self.today - DAY) if self.pd else None
        # death: after progression (median about a year), rarely without it
        self.death: datetime.date | None = None
        self.death_cause = "DISEASE PROGRESSION"
        if self.pd and rng.random() < 0.7:
            day = self.pd + max(30, int(rng.expovariate(math.log(2) / 330))) * DAY
            self.death = day if day < self.today else None
        elif not self.pd and rng.random() < 0.04 and self.scans:
            day = self.scans[-1][0] + rng.randint(10, 60) * DAY
            if day < self.today:
                self.death, self.death_cause = day, "OTHER"
                self.scans = [s for s in self.scans if s[0] < day]
        if self.death and self.stop and self.stop >= self.death:
            self.stop = self.death - DAY

    def _schedule(self) -> list[datetime.date]:
        """Imaging dates: every 8 weeks +/- 5 days for two years, then every 12 weeks (D6), before today."""
        rng, out, k = self.rng, [], 1
        while True:
            nominal = k * IMAGING_DAYS if k * IMAGING_DAYS <= 730 else 728 + (k - 13) * IMAGING_DAYS_LATE
            day = self.start + (nominal + rng.randint(-5, 5)) * DAY
            if day >= self.today:
                return out
            out.append(day)
            k += 1

    def _scans(self) -> None:
        """Diameters per scan from the course: shrink to the nadir ratio over ~3 scans, then hold; progression at
        the first scan after an exponential time (new lesions, or in-field growth of the largest target)."""
        rng = self.rng
        dates = self._schedule()
        ratio = {
            "CR": 0.0,
            "PR": rng.uniform(0.3, 0.6),
            "SD": rng.uniform(0.78, 1.0),
            "PD": rng.uniform(0.92, 1.05),
        }[self.course]
        if self.course == "PD":
            pd_at = rng.choice([0, 0, 1])
        else:
            days = rng.expovariate(math.log(2) / MEDIAN_TTP[self.course])
            pd_at = next((k for k, d in enumerate(dates) if (d - self.start).days >= days and k >= 1), None)
        mode = "new" if self.course == "CR" or rng.random() < 0.68 else "growth"
        isolated_lf = pd_at is None and rng.random() < 0.12
        self.scans: list[tuple[datetime.date, str]] = []
        self.new_lesions: list[tuple[str, str]] = []
        self.pd: datetime.date | None = None
        self.local_failure_seen = False
        for lesion in self.lesions:
            lesion.nadir = float(lesion.baseline or 0)
        for k, day in enumerate(dates):
            shrink = min(1.0, (k + 1) / 2.5)
            event = ""
            for lesion in self.lesions:
                if lesion.baseline is None:
                    lesion.values.append(None)
                    continue
                target = lesion.baseline * (1 - (1 - ratio) * shrink)
                if self.course == "CR" and shrink >= 1:
                    value = rng.randint(5, 8) if lesion.nodal else None  # nodes back to normal (< 10 mm, D10)
                else:
                    noisy = round(target + rng.choice([-1, 0, 0, 1]))
                    floor = 5 if lesion.nodal else 3
                    value = max(floor, noisy)
                    if value >= lesion.nadir * 1.2 and value - lesion.nadir >= 5:
                        value = int(lesion.nadir)  # noise never makes a local failure
                lesion.values.append(value)
            if k == pd_at:
                event = mode
            elif isolated_lf and k >= 3 and not self.local_failure_seen and rng.random() < 0.25:
                event = "lf"
            self._apply(event, k)
            for lesion in self.lesions:
                v = lesion.values[-1]
                lesion.nadir = min(lesion.nadir, float(v or 0)) if lesion.baseline is not None else 0.0
            self.scans.append((day, event))
            if event in ("new", "growth"):
                self.pd = day
                break

    def _apply(self, event: str, k: int) -> None:
        """Change scan ``k``'s values for a progression or an isolated local failure."""
        rng = self.rng
        targets = [lz for lz in self.lesions if lz.role == "TARGET"]
        if event == "new":
            n = 1 if rng.random() < 0.7 else 2
            self.new_lesions = rng.sample(NEW_LESION_SITES, n)
        elif event == "growth":
            # the largest target grows in field: D5 local failure and R1.14 PD of the sum
            nadir_sum = sum(lz.nadir for lz in targets)
            worst = max(targets, key=lambda lz: lz.baseline or 0)
            grow = max(nadir_sum * 0.3, worst.nadir * 0.3, 7)
            worst.values[-1] = round(worst.nadir + grow + 1)
            for lz in targets:
                if lz is not worst:
                    lz.values[-1] = round(lz.nadir) if lz.values[-1] is not None else None
            self.local_failure_seen = True
        elif event == "lf":
            # one small target regrows in field (D5) while the sum stays below PD (R1.14)
            nadir_sum = sum(lz.nadir for lz in targets)
            others = [lz for lz in targets if lz.values[-1] is not None and 6 <= lz.nadir <= 25]
            if not others or nadir_sum < 40:
                return
            lesion = rng.choice(others)
            for lz in targets:
                lz.values[-1] = round(lz.nadir) if lz.values[-1] is not None else None
            lesion.values[-1] = round(lesion.nadir + max(6, lesion.nadir * 0.25))
            if sum((lz.values[-1] or 0) for lz in targets) - nadir_sum >= min(nadir_sum * 0.2, 5):
                total = sum((lz.values[-1] or 0) for lz in targets)
                if total >= nadir_sum * 1.2 and total - nadir_sum >= 5:
                    lesion.values[-1] = round(lesion.nadir)  # would be PD: keep it as it was
                    return
            self.local_failure_seen = True

    # --- forms after registration ---------------------------------------------------------------------------
    def baseline(self) -> None:
        rng = self.rng
        self.age = int(min(84, max(28, rng.gauss(60, 10))))
        consent_year = (self.screened + DAY).year
        diagnosed = self.screened - rng.randint(90, 2600) * DAY
        nephrectomy = rng.random() < 0.82
        self.nephrectomy_date = diagnosed + rng.randint(10, 50) * DAY if nephrectomy else None
        if self.nephrectomy_date and self.nephrectomy_date >= self.screened:
            self.nephrectomy_date = self.screened - 30 * DAY
        kps = _weighted(rng, [(100, 15), (90, 45), (80, 30), (70, 10)])
        ecog = 0 if kps >= 90 else 1
        self.prior_line = rng.random() < 0.15
        factors = {
            name: "Y" if rng.random() < p else "N"
            for name, p in (
                ("hgb_below_lln", 0.35),
                ("calcium_above_uln", 0.1),
                ("neutrophils_above_uln", 0.12),
                ("platelets_above_uln", 0.12),
            )
        }
        assessed = self.registered - rng.randint(0, 3) * DAY
        self.form(
            "baseline",
            birth_year=consent_year - self.age,
            sex="M" if rng.random() < 0.7 else "F",
            assessment_date=assessed,
            ecog=ecog,
            kps=kps,
            histology=_weighted(rng, [("CLEAR CELL", 80), ("PAPILLARY", 12), ("CHROMOPHOBE", 5)]),
            sarcomatoid="Y" if rng.random() < 0.08 else "N",
            diagnosis_date=diagnosed,
            prior_nephrectomy="Y" if nephrectomy else "N",
            nephrectomy_date=self.nephrectomy_date,
            prior_systemic_lines=1 if self.prior_line else 0,
            metastatic_lesion_count=len(self.lesions),
            imdc_lab_date=assessed,
            **factors,
        )
        for term, category, grade in rng.sample(
            MEDICAL_HISTORY, _weighted(rng, [(0, 30), (1, 40), (2, 22), (3, 8)])
        ):
            self.form(
                "medical-history",
                mh_term=term,
                mh_category=category,
                start_date=str(self.screened.year - rng.randint(1, 15)),
                ongoing="Y",
                baseline_grade=grade,
                systemic_tx_needed="N",
            )
        if self.nephrectomy_date:
            self.form(
                "prior-therapy",
                therapy_type="SURGERY",
                procedure="RADICAL NEPHRECTOMY",
                start_date=self.nephrectomy_date.strftime("%Y-%m"),
            )
        if self.prior_line:
            begun = self.screened - rng.randint(200, 500) * DAY
            self.form(
                "prior-therapy",
                therapy_type="SYSTEMIC",
                agent="Sunitinib 50 mg 4/2",
                setting="METASTATIC",
                pd1_pdl1="N",
                start_date=begun.isoformat(),
                end_date=(begun + 150 * DAY).isoformat(),
                best_response="SD",
            )

    def lesion_registry(self) -> None:
        rng = self.rng
        slice_mm = rng.choice(["1.25", "2.5", "5.0"])
        used: set[str] = set()
        for lesion in self.lesions:
            texts = SITES[lesion.organ][2]
            text = next(
                (t for t in rng.sample(texts, len(texts)) if t not in used), texts[0] + f" ({lesion.seq})"
            )
            used.add(text)
            side = rng.choice(["LEFT", "RIGHT"]) if SITES[lesion.organ][3] else ""
            location = f"{side.capitalize()} {text[0].lower()}{text[1:]}" if side else text
            values: dict[str, Any] = {}
            if lesion.role == "TARGET" or lesion.baseline is not None:
                values["baseline_value_mm"] = lesion.baseline
            self.form(
                "lesion",
                role=lesion.role,
                organ=lesion.organ,
                laterality=side,
                location_text=location,
                method="CT SCAN",
                slice_thickness_mm=slice_mm,
                baseline_date=self.baseline_scan,
                group_count=1,
                previously_irradiated="N",
                **values,
            )

    def sabr(self) -> None:
        rng = self.rng
        course = self.form(
            "sabr-course",
            is_protocol="Y",
            indication="INITIAL PROTOCOL SABR",
            simulation_date=self.start - rng.randint(2, 3) * DAY,
            technique=_weighted(rng, [("VMAT", 70), ("CYBERKNIFE", 15), ("IMRT", 15)]),
            image_guidance="CBCT",
            completion_status="AS PLANNED",
        )
        targets = []
        for lesion in self.lesions:
            dose, n = rng.choice(PRESCRIPTIONS[lesion.organ])
            size = lesion.baseline or 15
            ref = self.form(
                "sabr-target",
                course=course,
                lesion=f"lesion:{lesion.seq}",
                prescribed_dose_gy=dose,
                n_fractions=n,
                isodose_pct=rng.choice([70, 75, 80, 80]),
                ptv_cc=f"{(size / 10 + 0.6) ** 3 * 0.52 + 2:.2f}",
                alpha_beta_gy="10.0",
                is_reirradiation="N",
            )
            targets.append((ref, dose, n))
        for ref, dose, n in targets:
            per = f"{float(dose) / n:.2f}"
            for number in range(1, n + 1):
                self.form(
                    "sabr-fraction",
                    target=ref,
                    fraction_number=number,
                    fraction_date=self.start + 2 * (number - 1) * DAY,
                    delivered="Y",
                    dose_delivered_gy=per,
                )

    def adverse_events(self) -> None:
        """AEs from treatment start to 30 days after the last dose (D8), before death and today."""
        rng = self.rng
        last = min(
            d
            for d in (
                self.today - DAY,
                (self.stop + 30 * DAY) if self.stop else None,
                (self.death - DAY) if self.death else None,
            )
            if d is not None
        )
        span = (last - self.start).days
        self.aes: list[tuple[str, datetime.date, str, bool, int]] = []  # ref, onset, code, reduce, grade
        self.reduction: tuple[str, datetime.date] | None = None
        if span < 10:
            return
        count = _weighted(rng, [(0, 12), (1, 22), (2, 26), (3, 20), (4, 12), (5, 8)])
        terms = rng.sample(AE_TERMS, count)
        for code, top, _w, rel, immune, reducible in sorted(terms, key=lambda t: t[0]):
            onset = self.start + rng.randint(7, max(8, min(span, 240))) * DAY
            if onset > last:
                continue
            grade = min(top, _weighted(rng, [(1, 45), (2, 38), (3, 17)]))
            resolved = onset + rng.randint(5, 80) * DAY
            ongoing = resolved > last or (code == "10021114")  # hypothyroidism: lasting replacement
            serious = grade >= 3 and rng.random() < 0.35
            reduce = (
                reducible
                and grade >= 2
                and self.reduction is None
                and rng.random() < 0.5
                and (self.stop is None or onset + 2 * DAY < self.stop)
            )
            values: dict[str, Any] = {}
            if serious:
                values = {
                    "aeshosp": "Y",
                    "awareness_at": _at(onset + DAY, 10, 30),
                    "reported_at": _at(onset + DAY, 18, 0),
                    "expected": "Y",
                }
                if onset + DAY > last:
                    continue
            ref = self.form(
                "adverse-event",
                ctcae_term=code,
                grade=grade,
                onset_date=onset,
                ongoing="Y" if ongoing else "N",
                resolution_date=None if ongoing else resolved,
                serious="Y" if serious else "N",
                aesdth="N",
                aeslife="N",
                aeshosp=values.pop("aeshosp", "N"),
                aesdisab="N",
                aescong="N",
                aesmie="N",
                rel_sabr=rel[0],
                rel_axitinib=rel[1],
                rel_toripalimab=rel[2],
                immune_related=immune,
                acn_axitinib="DOSE REDUCED" if reduce else "DOSE NOT CHANGED",
                acn_toripalimab="DOSE NOT CHANGED",
                acn_sabr="DOSE NOT CHANGED",
                treatment_given="Y" if immune == "Y" or grade >= 3 else "N",
                outcome="NOT RECOVERED/NOT RESOLVED" if ongoing else "RECOVERED/RESOLVED",
                **values,
            )
            if reduce:
                self.reduction = (ref, onset)
            if immune == "Y" and grade >= 2 and code != "10021114" and onset + 29 * DAY <= last:
                self.form(
                    "immunosuppressant",
                    drug="PREDNISONE",
                    dose="1",
                    dose_unit="mg/kg",
                    frequency="QD",
                    route="ORAL",
                    start_date=onset + DAY,
                    ongoing="N",
                    end_date=onset + 29 * DAY,
                    indication="IMMUNE-RELATED AE",
                    adverse_event=ref,
                )

    def drugs(self) -> None:
        rng = self.rng
        end = min(
            d
            for d in (
                self.today - DAY,
                self.stop - DAY if self.stop else None,
                self.death - DAY if self.death else None,
            )
            if d is not None
        )
        # axitinib: 5 mg BID, up to 7 mg at 6 weeks (R4.3), down one level for an adverse event (R4.4)
        changes: list[tuple[datetime.date, str, str, str, str]] = [(self.start, "5 MG BID", "START", "", "")]
        level = "5 MG BID"
        up = self.start + 42 * DAY
        reduction = self.reduction
        if rng.random() < 0.4 and up <= end and (reduction is None or reduction[1] > up):
            changes.append((up, "7 MG BID", "TITRATION UP", "", "Y"))
            level = "7 MG BID"
        if reduction and reduction[1] + DAY <= end:
            lower = {"7 MG BID": "5 MG BID", "5 MG BID": "3 MG BID"}[level]
            changes.append((reduction[1] + DAY, lower, "REDUCTION FOR TOXICITY", reduction[0], ""))
        for k, (day, dose, reason, ae, bp) in enumerate(changes):
            final = k + 1 == len(changes)
            stop = (end if self.stop or self.death else None) if final else changes[k + 1][0] - DAY
            self.form(
                "axitinib",
                start_date=day,
                end_date=stop,
                dose_level=dose,
                dose_change_reason=reason,
                adverse_event=ae,
                missed_doses=rng.choice([0, 0, 0, 1, 2, 3]),
                bp_ok_no_antihtn=bp,
            )
        if self.stop:
            self.form(
                "axitinib",
                start_date=self.stop,
                dose_level="PERMANENTLY DISCONTINUED",
                dose_change_reason="OTHER",
                missed_doses=0,
            )
        # toripalimab 240 mg q3w (R4.6) until progression, for at most 35 cycles
        day, cycle = self.start, 1
        while day <= end and cycle <= TORIPALIMAB_MAX_CYCLES:
            self.form(
                "toripalimab",
                cycle_number=cycle,
                infusion_status="GIVEN",
                infusion_date=day,
                dose_mg="240.0",
                infusion_interrupted="N",
                lot_number=f"TP{2400 + (day.toordinal() // 90) % 100:04d}",
            )
            cycle += 1
            day += (21 + rng.choice([0, 0, 0, 1, 2, -1])) * DAY
        if self.stop and cycle <= TORIPALIMAB_MAX_CYCLES:
            self.form(
                "toripalimab",
                cycle_number=cycle,
                infusion_status="PERMANENTLY DISCONTINUED",
                status_reason="PROGRESSION",
            )

    def assessments(self) -> None:
        rng = self.rng
        for k, (day, event) in enumerate(self.scans):
            ref = self.form(
                "tumour-assessment",
                imaging_done="Y",
                scan_date_first=day,
                modality="CT SCAN",
                clinical_deterioration="N",
            )
            for lesion in self.lesions:
                row: dict[str, Any] = {
                    "assessment": ref,
                    "lesion": f"lesion:{lesion.seq}",
                    "split_merge": "NONE",
                }
                value = lesion.values[k]
                if lesion.role == "TARGET":
                    row |= (
                        {"result_status": "MEASURED", "value_mm": value}
                        if value is not None
                        else {"result_status": "DISAPPEARED"}
                    )
                else:
                    row["nontarget_state"] = "ABSENT" if self.course == "CR" and k >= 2 else "PRESENT"
                self.child("lesion-result", **row)
            if event == "new":
                for n, (organ, text) in enumerate(self.new_lesions, start=1):
                    self.child(
                        "new-lesion",
                        assessment=ref,
                        code=f"N{n}",
                        organ=organ,
                        location_text=text,
                        detected_by="MRI" if organ == "BRAIN" else "CT SCAN",
                        first_seen_date=day,
                        unequivocal="Y",
                        new_value_mm=rng.randint(8, 18),
                        present="Y",
                    )

    def after_progression(self) -> None:
        """End of treatment, next line, survival contacts, death and off study."""
        rng = self.rng
        limit = min(self.today - DAY, (self.death - DAY) if self.death else self.today)
        next_line = None
        if self.pd:
            day = self.pd + rng.randint(14, 45) * DAY
            if day <= limit and rng.random() < 0.75:
                next_line = day
                self.form(
                    "subsequent-therapy",
                    therapy_type="SYSTEMIC",
                    regimen=rng.choice(NEXT_LINES),
                    start_date=day,
                    reason="PROGRESSION",
                    local_on_protocol="N",
                )
            contact = self.pd + rng.randint(60, 100) * DAY
            if next_line and contact > limit:
                # seen when the next line started: no record may be later than the last known alive date (R5.6)
                self.form(
                    "survival",
                    contact_date=next_line,
                    method="CLINIC VISIT",
                    reached="Y",
                    survival_status="ALIVE",
                    new_anticancer_tx="Y",
                )
            while contact <= limit:
                self.form(
                    "survival",
                    contact_date=contact,
                    method=rng.choice(["TELEPHONE", "CLINIC VISIT"]),
                    reached="Y",
                    survival_status="ALIVE",
                    new_anticancer_tx="Y" if next_line and next_line <= contact else "N",
                )
                contact += rng.randint(80, 100) * DAY
        if self.death:
            other = self.death_cause == "OTHER"
            self.form(
                "death",
                death_date=self.death,
                primary_cause=self.death_cause,
                cause_text="Myocardial infarction" if other else "",
                autopsy="N",
                source=rng.choice(["HOSPITAL RECORD", "RELATIVE", "TREATING PHYSICIAN"]),
            )
            self.form(
                "disposition",
                eot_reason="DEATH" if other else "PROGRESSIVE DISEASE",
                eos_date=self.death,
                eos_reason="DEATH",
            )
        elif self.pd:
            self.form("disposition", eot_reason="PROGRESSIVE DISEASE")


def generate(
    n: int,
    *,
    seed: int = 2026,
    today: datetime.date,
    study_id: str = "SABR-RCC",
    study_prefix: str = "SR-",
    first_screening: int = 1001,
    first_study: int = 101,
) -> Study:
    """``n`` screened patients (about 9 % screen failures), screened over the ~27 months before ``today``."""
    study = Study()
    rng = random.Random(f"{seed}:dates")
    days = sorted((rng.randint(45, 800) for _ in range(n)), reverse=True)
    patients = []
    for i, back in enumerate(days):
        patient = _Patient(
            study,
            i,
            seed=seed,
            today=today,
            screened=today - back * DAY,
            scrno=f"S-{first_screening + i:04d}",
            study_id=study_id,
        )
        patients.append(patient)
    # screening forms first (their numbers need the registration order), then each registered casebook
    registered = [p for p in patients if p.screen()]
    registered.sort(key=lambda p: (p.registered, p.i))
    for k, patient in enumerate(registered):
        patient.subjid = f"{study_prefix}{first_study + k:03d}"
        patient.plan()
    for patient in patients:
        study.add(
            "_patients",
            {
                "STUDYID": study_id,
                "SUBJID": patient.subjid,
                "SCRNO": patient.scrno,
                "registration_date": getattr(patient, "registered", None),
                "registered_by": "coordinator" if hasattr(patient, "registered") else "",
            },
        )
    for patient in registered:
        patient.baseline()
        patient.lesion_registry()
        patient.sabr()
        patient.adverse_events()
        patient.drugs()
        patient.assessments()
        patient.after_progression()
    _resubject(study, {p.scrno: p.subjid for p in patients})
    return study


def _resubject(study: Study, subjid: dict[str, str]) -> None:
    """Screening-time rows were written before the study numbers were known: give them the patient's SUBJID."""
    for rows in study.rows.values():
        for row in rows:
            row["SUBJID"] = subjid[row["SCRNO"]]
