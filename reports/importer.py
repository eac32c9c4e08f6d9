"""Read the per-CRF CSV export (``crf/*.csv``) back into the study through the same services as the forms.

Every row goes through ``patient_screen`` / ``patient_register`` / ``eligibility_create`` /
``eligibility_confirm`` / ``crf_create``, so the model rules (EC-...) and the derived values apply as in
the forms. Every refused cell is reported as (file, row, column, rule, message). The whole import is one
transaction: any refusal rolls everything back unless ``partial`` is set, in which case a refused
patient (with all its rows) is skipped and the others are kept.

Covered: the patient registry (``_patients.csv``) and every CRF of the registry, with the child tables
of the tumour assessment (``lesion-result.csv``, ``new-lesion.csv``, entered through the grid's own forms and
``assessments.services.save_assessment``) and the SAE reports (``sae-report.csv``, through
``adverse_events.services.add_sae_report``). Forms are imported in dependency order (``IMPORT_ORDER``: a
lesion before the SABR target that treats it and the results that measure it).

A migration tool: every file is checked before any row is read (UTF-8, no unknown column, every key column, every
code in its code list); a patient already in the database (same screening number) is refused; a refused patient
leaves no row: with ``partial`` the import runs again without the refused patients until no patient is refused
(so no half patient is kept), and the report says which patients were skipped and why; ``dry_run`` validates
everything and rolls back. The automatic edit checks run once per patient, and the endpoint snapshot is recomputed
after the commit. A link that would close a
cycle (the death report names the fatal AE, and a grade 5 AE needs the death report first, EC-AE-2) is set by
a change with reason after the linked form is imported. Derived values (responses, BED/EQD2, planned dates,
AE numbers, the treatment-emergent flag) are computed by the services, never copied from the files.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from assessments.models import NewLesion
from reports.exports import (
    CHILD_KEY_COLUMNS,
    CHILD_TABLES,
    KEY_COLUMNS,
    MISSING_COLUMN,
    child_fields,
    child_model,
    export_fields,
    parse_missing_cell,
    restore_cell,
)
from sabr_trial import pipeline, services
from sabr_trial.crf import CrfStatus, registry
from sabr_trial.models import CrfLocked

#: Forms entered before registration (screening is special: it creates the patient).
PRE_REGISTRATION = ["screening", "consent", "eligibility"]
#: Forms read back, in dependency order (a link may only point to a form earlier in this list, or be deferred).
IMPORT_ORDER = PRE_REGISTRATION + [
    "baseline",
    "medical-history",
    "prior-therapy",
    "death",
    "adverse-event",
    "lesion",
    "sabr-course",
    "sabr-target",
    "sabr-fraction",
    "axitinib",
    "toripalimab",
    "immunosuppressant",
    "tumour-assessment",
    "subsequent-therapy",
    "disposition",
    "survival",
]
#: Child tables read with their parent form (see ``reports.exports.CHILD_TABLES``).
CHILD_OF = {
    "lesion-result": "tumour-assessment",
    "new-lesion": "tumour-assessment",
    "sae-report": "adverse-event",
}
#: Links set after the linked form is imported, by a change with reason: (form, field) -> the fields set with
#: the link and the value they hold until then. A death from an AE names the grade 5 AE, and that AE needs the
#: death report first (EC-DD-2, EC-AE-2): the report is entered with an unknown cause, then completed.
DEFERRED_LINKS: dict[tuple[str, str], dict[str, Any]] = {
    ("death", "adverse_event"): {"primary_cause": "UNKNOWN"}
}
DEFERRED_REASON = "Imported: link to a form imported later"
#: A withdrawal of consent of a registered patient is recorded after the rest of the patient's data (it
#: happened after registration, which refuses a withdrawn patient, EC-RG-1); its value when withheld.
WITHDRAWAL_FIELDS = {"withdrawn": "N", "withdrawal_date": None, "withdrawal_scope": ""}
WITHDRAWAL_REASON = "Imported: consent withdrawn after registration"
#: Non-editable columns that the services take as input on these forms.
SERVICE_INPUTS = {
    "eligibility": {"criteria_version", "answers_summary", "all_met"},
    "adverse-event": {"parent_episode"},
}
#: Columns a service sets itself (not passed to crf_create).
SERVICE_SET = {"eligibility": {"confirmed_by", "confirmed_at"}, "screening": {"outcome", "outcome_date"}}
PATIENT_COLUMNS = ["STUDYID", "SUBJID", "SCRNO", "registration_date"]
#: Every column the registry file may carry.
PATIENT_ALL_COLUMNS = [*PATIENT_COLUMNS, "registered_by"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    file: str
    row: int  # 1 = header line; data rows from 2, like a spreadsheet
    column: str
    rule: str
    message: str
    value: str = ""  # the cell as written in the file, when one cell is refused
    subject: str = ""  # SUBJID of the file, when the problem belongs to one patient

    def __str__(self) -> str:
        return f"{self.file} row {self.row} column {self.column}: [{self.rule}] {self.message}"


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped_files: list[str] = field(default_factory=list)
    committed: bool = False
    #: SAEs imported without the investigators' e-mail (history from another system, not new events).
    sae_mail_held_back: int = 0
    #: Patients (SUBJID of the file) left out whole, each with the problems that refused it.
    skipped_patients: dict[str, list[Problem]] = field(default_factory=dict)
    #: SUBJID of the file -> study number given here, where they differ (numbers are gap-free, EC-RG-2).
    renumbered: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    #: The endpoint snapshot recomputed after the import (None for a dry run or a refused import).
    snapshot_id: int | None = None
    #: ``--update``: rows changed per form (rows whose values were all the same are not counted).
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def summary(self) -> str:
        """A readable account: what was imported, which patients were skipped and why, what was refused."""
        verb = "would import" if self.dry_run else "imported"
        lines = []
        if self.committed or self.dry_run:
            created = ", ".join(f"{k} {v}" for k, v in sorted(self.created.items()) if v)
            lines.append(f"{verb}: {created or 'nothing'}")
            if self.updated:
                changed = ", ".join(f"{k} {v}" for k, v in sorted(self.updated.items()) if v)
                lines.append(f"{'would change' if self.dry_run else 'changed'}: {changed or 'nothing'}")
        else:
            lines.append(f"nothing was imported: {len(self.problems)} problem(s)")
        for subj, problems in sorted(self.skipped_patients.items()):
            first = problems[0] if problems else None
            why = (
                f"{first.file} row {first.row} column {first.column}: [{first.rule}] {first.message}"
                if first
                else ""
            )
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            lines.append(f"skipped patient {subj}: {why}{more}")
        for old, new in sorted(self.renumbered.items()):
            lines.append(f"patient {old} was given study number {new}")
        return "\n".join(lines)

    def report_csv(self) -> str:
        """The refusal report: file, row, column, rule id, message, value (one line per refused cell or row)."""
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["file", "row", "column", "rule", "message", "value"])
        for p in self.problems:
            writer.writerow([p.file, p.row, p.column, p.rule, p.message, p.value])
        return buf.getvalue()


class _Abort(Exception):
    pass


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV of the export, with the spreadsheet-formula escape of every cell undone (``restore_cell``).

    utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = [{k: restore_cell(v) if isinstance(v, str) else v for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def _required_columns(slug: str) -> list[str]:
    spec = registry.get(slug)
    cols = list(KEY_COLUMNS)
    for f in export_fields(spec.model):
        if f.name in SERVICE_SET.get(slug, set()):
            continue
        wanted = (f.editable or f.name in SERVICE_INPUTS.get(slug, set())) and not f.many_to_many
        if wanted and not (f.blank or f.null or f.has_default()):
            cols.append(f.name)
    return cols


class Importer:
    def __init__(
        self,
        folder: Path,
        *,
        user: Any,
        partial: bool = False,
        excluded: frozenset[str] = frozenset(),
        existing: dict[str, Any] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.crf_dir = self.folder / "crf" if (self.folder / "crf").is_dir() else self.folder
        self.user = user
        self.partial = partial
        self.result = ImportResult()
        self.patients: dict[str, Any] = {}  # old SUBJID -> Patient
        self.refs: dict[tuple[str, str], Any] = {}  # (old SUBJID, "slug:seq") -> instance
        #: Patients refused in this pass, and (seeded with ``excluded``) those left out whole from the start.
        self.failed_subjects: set[str] = set(excluded)
        self.excluded = excluded
        self.tables: dict[str, tuple[list[str], list[dict[str, str]]]] = {}
        #: ``--update``: patients already in the database (SUBJID of the file -> Patient); their rows are matched
        #: by FORMSEQ and changed through the update path, new rows are created.
        self.existing: dict[str, Any] = existing or {}
        #: (form, field, SUBJID, "slug:seq" of the row, line, raw reference) set after the linked form
        #: changes made after every form is in: (form, SUBJID, "slug:seq" of the row, line, values, reason)
        self.deferred: list[tuple[str, str, str, int, dict[str, Any], str]] = []
        self.registering: set[str] = set()  # SUBJIDs with a registration date in _patients.csv
        self.users = {u.get_username(): u for u in get_user_model().objects.all()}

    # --- reporting -------------------------------------------------------------------------------------
    def refuse(
        self, file: str, row: int, column: str, rule: str, message: str, *, value: str = "", subject: str = ""
    ) -> None:
        self.result.problems.append(Problem(file, row, column, rule, message, value, subject))
        pipeline.forget_reads()  # a refused save rolled back its savepoint: reads the batch kept may show its writes
        log.debug("refused %s row %s column %s: [%s] %s", file, row, column, rule, message)

    def refuse_validation(self, file: str, row: int, exc: ValidationError, rule_default: str) -> None:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                for msg in errors:
                    self.refuse(
                        file, row, name if name != "__all__" else "", _rule_of(msg, rule_default), msg
                    )
        else:
            for msg in exc.messages:
                self.refuse(file, row, "", _rule_of(msg, rule_default), msg)

    # --- conversion -------------------------------------------------------------------------------------
    def convert(self, slug: str, file: str, line: int, subj: str, f: models.Field[Any, Any], raw: str) -> Any:
        raw = raw.strip()
        if f.name == MISSING_COLUMN:  # "ecog=ND;kps=UNK": each code is checked against the form's declaration
            try:
                return parse_missing_cell(raw)
            except ValueError as exc:
                self.refuse(file, line, f.name, "MISSING-CODE", str(exc), value=raw, subject=subj)
                raise _CellError("MISSING-CODE", str(exc)) from None
        if f.many_to_many and f.related_model is NewLesion:
            return [
                self._new_lesion(file, line, subj, f, part.strip()) for part in raw.split(";") if part.strip()
            ]
        if f.many_to_many:
            return [self._ref(file, line, subj, f, part) for part in raw.split(";") if part]
        if raw == "":
            if isinstance(f, models.CharField | models.TextField) and not f.null:
                return ""
            if isinstance(f, models.JSONField):
                return []
            return None
        try:
            if f.is_relation:
                return self._relation(file, line, subj, f, raw)
            if f.choices:
                allowed = {str(v): v for v, _label in f.choices}
                if raw not in allowed:
                    raise _CellError("CODE-LIST", f"unknown code {raw!r}; allowed: {', '.join(allowed)}")
                return allowed[raw]
            if isinstance(f, models.DateTimeField):
                return datetime.datetime.fromisoformat(raw)
            if isinstance(f, models.DateField):
                if len(raw) != 10:
                    raise ValueError(raw)
                return datetime.date.fromisoformat(raw)
            if isinstance(f, models.DecimalField):
                return Decimal(raw)
            if isinstance(f, models.IntegerField):
                return int(raw)
            if isinstance(f, models.BooleanField):
                return raw in ("Y", "True", "1")
            if isinstance(f, models.JSONField):
                return raw.split(";")
        except _CellError as exc:
            self.refuse(file, line, f.name, exc.rule, exc.message, value=raw, subject=subj)
            raise
        except (ValueError, InvalidOperation):
            kind = "DATE-ISO" if isinstance(f, models.DateField) else "NUMBER"
            msg = ("malformed date %r: use YYYY-MM-DD" if kind == "DATE-ISO" else "malformed number %r") % raw
            self.refuse(file, line, f.name, kind, msg, value=raw, subject=subj)
            raise _CellError(kind, msg) from None
        return raw

    def _relation(self, file: str, line: int, subj: str, f: models.Field[Any, Any], raw: str) -> Any:
        target = f.related_model
        if target._meta.model_name == "user":
            if raw not in self.users:
                raise _CellError("USER", f"unknown user {raw!r}")
            return self.users[raw]
        if target._meta.label == "adverse_events.CtcaeTerm":
            term = target.objects.filter(meddra_code=raw).first() if raw.isdigit() else None
            if term is None:
                raise _CellError("CODE-LIST", f"unknown CTCAE/MedDRA code {raw!r} (EC-AE-1)")
            return term
        return self._ref(file, line, subj, f, raw)

    def _ref(self, file: str, line: int, subj: str, f: models.Field[Any, Any], raw: str) -> Any:
        obj = self.refs.get((subj, raw))
        if obj is None:
            self.refuse(
                file,
                line,
                f.name,
                "REFERENCE",
                f"{raw!r} does not name an imported row of this patient",
                value=raw,
                subject=subj,
            )
            raise _CellError("REFERENCE", raw)
        return obj

    def _new_lesion(self, file: str, line: int, subj: str, f: models.Field[Any, Any], code: str) -> Any:
        """A new lesion named by its code (N1): the record of the time point that first showed it, as the form
        offers it (``treatment.selectors.new_lesions_to_treat``)."""
        from treatment.selectors import new_lesions_to_treat

        found = new_lesions_to_treat(self.patients[subj]).filter(code=code).first()
        if found is None:
            self.refuse(
                file,
                line,
                f.name,
                "REFERENCE",
                f"{code!r} is not a new lesion code of this patient (new-lesion.csv)",
                value=code,
                subject=subj,
            )
            raise _CellError("REFERENCE", code)
        return found

    # --- the import ---------------------------------------------------------------------------------------
    def _read_checked(
        self, path: Path, *, required: list[str], known: list[str], fields: list[models.Field[Any, Any]]
    ) -> tuple[list[str], list[dict[str, str]]] | None:
        """Read one file after checking it whole: UTF-8, known and required columns, every code in its list.

        Nothing is imported when a file fails: each problem names the file, the column (and the row of a bad
        code), so a mapping from another system can be fixed before any row is written.
        """
        name = path.name
        try:
            header, rows = _read(path)
        except UnicodeDecodeError as exc:
            self.refuse(
                name,
                0,
                "",
                "ENCODING",
                f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}): "
                "save the file as UTF-8 (CSV UTF-8 in a spreadsheet)",
            )
            return None
        except csv.Error as exc:
            self.refuse(name, 0, "", "CSV", f"not a readable CSV file: {exc}")
            return None
        before = len(self.result.problems)
        for col in header:
            if col not in known:
                self.refuse(
                    name,
                    1,
                    col,
                    "UNKNOWN-COLUMN",
                    f"unknown column {col!r}: not a field of this form (docs/import.md lists the columns)",
                )
        for col in required:
            if col not in header:
                self.refuse(name, 1, col, "REQUIRED-COLUMN", f"required column {col} is missing")
        coded = [
            (f.name, {str(v) for v, _label in f.choices})
            for f in fields
            if f.choices and not f.is_relation and f.name in header
        ]
        if "CRFSTAT" in header:
            coded.append(("CRFSTAT", set(CrfStatus.values)))
        for col, allowed in coded:
            for line, row in enumerate(rows, start=2):
                raw = (row.get(col) or "").strip()
                if raw and raw not in allowed:
                    self.refuse(
                        name,
                        line,
                        col,
                        "CODE-LIST",
                        f"unknown code {raw!r}; allowed: {', '.join(sorted(allowed))}",
                        value=raw,
                        subject=row.get("SUBJID", ""),
                    )
        return None if len(self.result.problems) > before else (header, rows)

    def with_subject(self, problem: Problem) -> Problem:
        """The problem with the SUBJID of the row it names (read from the file), when it names a row."""
        if problem.subject or problem.row < 2:
            return problem
        table = self.tables.get(problem.file.removesuffix(".csv"))
        if table is None or problem.row - 2 >= len(table[1]):
            return problem
        return replace(problem, subject=table[1][problem.row - 2].get("SUBJID", ""))

    def load(self) -> dict[str, tuple[list[str], list[dict[str, str]]]]:
        tables: dict[str, tuple[list[str], list[dict[str, str]]]] = {}
        self.tables = tables
        patients_path = self.crf_dir / "_patients.csv"
        if not patients_path.exists():
            self.refuse("_patients.csv", 0, "", "FILE", "the patient registry file is missing")
            return tables
        table = self._read_checked(
            patients_path, required=PATIENT_COLUMNS, known=PATIENT_ALL_COLUMNS, fields=[]
        )
        if table is not None:
            tables["_patients"] = table
        for slug in IMPORT_ORDER:
            path = self.crf_dir / f"{slug}.csv"
            if not path.exists():
                continue
            fields = export_fields(registry.get(slug).model)
            known = KEY_COLUMNS + [f.name for f in fields]
            table = self._read_checked(path, required=_required_columns(slug), known=known, fields=fields)
            if table is not None:
                tables[slug] = table
        for stem in CHILD_TABLES:
            path = self.crf_dir / f"{stem}.csv"
            model = child_model(stem)
            if not path.exists():
                continue
            fields = child_fields(model)
            required = list(CHILD_KEY_COLUMNS) + [
                f.name
                for f in fields
                if (f.editable or f.is_relation) and not (f.blank or f.null or f.has_default())
            ]
            known = CHILD_KEY_COLUMNS + [f.name for f in fields]
            table = self._read_checked(path, required=required, known=known, fields=fields)
            if table is not None:
                tables[stem] = table
        for path in sorted(self.crf_dir.glob("*.csv")):
            if path.stem not in tables and not path.stem.startswith("_"):
                self.result.skipped_files.append(path.name)
        return tables

    def run(self, *, dry_run: bool = False) -> ImportResult:
        """One pass: import every patient not excluded in one transaction; keep it only if nothing was refused
        (a refused patient may not leave half its rows) and this is not a dry run."""
        tables = self.load()
        if self.result.problems:
            return self.result
        try:
            with transaction.atomic():
                self._import(tables)
                self._refuse_locked_meanwhile()
                if self.result.problems or dry_run:
                    raise _Abort
        except _Abort:
            self.result.committed = False
            return self.result
        self.result.committed = True
        return self.result

    def _refuse_locked_meanwhile(self) -> None:
        """Read the study lock and the casebook locks again before the commit: the saves of a batch read them once
        per patient (``services._refuse_if_held``), and another session may have locked meanwhile (a casebook that
        was locked when the import read it is left to the row checks, as before)."""
        kept = {
            subj: p
            for subj, p in self.patients.items()
            if subj not in self.failed_subjects and not getattr(p, "locked_at", None)
        }
        if not kept:
            return
        from sabr_trial.models import StudyLock

        model = next(iter(kept.values()))._meta.model
        # read again now (one query); the message names the lock as the forms do (services.casebook_lock)
        now = model.objects.in_bulk([p.pk for p in kept.values()])
        study_locked = StudyLock.active() is not None
        for subj, p in sorted(kept.items()):
            if study_locked or now[p.pk].locked_at:
                self.refuse("", 0, "", "LOCK", services.casebook_lock(now[p.pk]), subject=subj)
                self.failed_subjects.add(subj)

    def _import(self, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        from enrollment import services as enrollment_services

        _header, patient_rows = tables["_patients"]
        seen: dict[str, dict[str, int]] = {"SUBJID": {}, "SCRNO": {}}
        for i, row in enumerate(patient_rows, start=2):
            for col in ("SUBJID", "SCRNO"):
                value = row.get(col, "")
                if value in seen[col] and value:
                    self.refuse(
                        "_patients.csv",
                        i,
                        col,
                        "UNIQUE",
                        f"duplicate {col} {value!r} (also row {seen[col][value]})",
                    )
                seen[col].setdefault(value, i)
        if self.result.problems:
            return
        self.registering = {r["SUBJID"] for r in patient_rows if r.get("registration_date", "").strip()}
        screening = {r["SUBJID"]: (i, r) for i, r in enumerate(tables.get("screening", ([], []))[1], start=2)}
        # 1. screen every patient in screening-number order (numbers come from the gap-free counter)
        for i, prow in sorted(enumerate(patient_rows, start=2), key=lambda x: x[1]["SCRNO"]):
            subj = prow["SUBJID"]
            if subj in self.excluded:
                continue
            log.debug("_patients.csv row %s: patient %s", i, subj)
            if subj in self.existing:
                self._adopt(subj, self.existing[subj])
                continue
            if subj not in screening:
                self.refuse("_patients.csv", i, "SUBJID", "SCREENING", f"{subj} has no row in screening.csv")
                continue
            line, srow = screening[subj]
            f_date = registry.get("screening").model._meta.get_field("screening_date")
            try:
                day = self.convert(
                    "screening", "screening.csv", line, subj, f_date, srow.get("screening_date", "")
                )
                with transaction.atomic():
                    patient = enrollment_services.patient_screen(
                        screening_date=day,
                        acting_user=self.user,
                        number=_number(prow.get("SCRNO", ""), "S-", 4),
                    )
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation("screening.csv", line, exc, "SCREENING")
                self.failed_subjects.add(subj)
                continue
            self.patients[subj] = patient
            self.refs[(subj, "screening:1")] = patient.enrollment_screeninglog_set.get()
            self.result.created["patients"] += 1
        # 2. forms before registration, then register in study-number order, then the rest
        with pipeline.batch(bulk=True) as queue:
            for slug in ("consent", "eligibility"):
                self._import_form(slug, tables)
            self._flush(queue)
        self._screening_outcomes(tables)
        for i, prow in sorted(enumerate(patient_rows, start=2), key=lambda x: x[1]["SUBJID"]):
            subj, raw = prow["SUBJID"], prow.get("registration_date", "").strip()
            if not raw or subj not in self.patients or subj in self.failed_subjects:
                continue
            if subj in self.existing and self.patients[subj].registration_date is not None:
                continue
            try:
                day = datetime.date.fromisoformat(raw)
            except ValueError:
                self.refuse(
                    "_patients.csv",
                    i,
                    "registration_date",
                    "DATE-ISO",
                    f"malformed date {raw!r}: use YYYY-MM-DD",
                )
                self.failed_subjects.add(subj)
                continue
            try:
                with transaction.atomic():
                    self.patients[subj] = enrollment_services.patient_register(
                        patient=self.patients[subj],
                        registration_date=day,
                        acting_user=self.user,
                        number=_number(subj, settings.STUDY_NUMBER_PREFIX, 3),
                    )
            except ValidationError as exc:
                self.refuse_validation("_patients.csv", i, exc, "EC-RG-1")
                self.failed_subjects.add(subj)
                continue
            self.result.created["registrations"] += 1
        # The write pipeline's batch entry: the follow-ups of a form's rows (a target re-derived from its fractions,
        # a patient's AEs and responses recomputed) run once per target or patient after the form's last row,
        # before the next form's rules read them.
        previous: pipeline.Batch | None = None
        for slug in IMPORT_ORDER[len(PRE_REGISTRATION) :]:
            with pipeline.batch(bulk=True, carry=previous) as queue:
                if slug == "disposition":  # end of study by withdrawal needs the withdrawal first (EC-DS-3)
                    self._apply_deferred(WITHDRAWAL_REASON)
                if slug == "tumour-assessment":
                    self._import_assessments(tables)
                else:
                    self._import_form(slug, tables)
                if slug == "adverse-event":
                    self._import_sae_reports(tables)
                self._flush(queue)
            previous = queue
        with pipeline.batch(bulk=True, carry=previous) as queue:
            self._apply_deferred(WITHDRAWAL_REASON)
            self._apply_deferred(DEFERRED_REASON)
            self._flush(queue)

    def _flush(self, queue: pipeline.Batch) -> None:
        """Run the follow-ups the form's rows queued; a refusal refuses the patient of the row that queued it."""

        def refused(tag: Any, exc: Exception) -> None:
            file, line, subj = tag if tag is not None else ("", 0, "")
            if isinstance(exc, PermissionDenied):
                self._refuse_denied(file, line, subj, exc)
                return
            assert isinstance(exc, ValidationError)
            self.refuse_validation(file, line, exc, "FOLLOW-UP")
            self.failed_subjects.add(subj)

        # No savepoint per follow-up: a refusal refuses the whole pass (it is rolled back, ``run``).
        services.flush_batch(
            queue,
            skip=lambda tag: tag is not None and tag[2] in self.failed_subjects,
            on_error=refused,
            savepoints=False,
        )

    def _screening_outcomes(self, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        """Screen failures and withdrawals before registration (ELIGIBLE is set by registration, EC-SC-2)."""

        header, rows = tables.get("screening", ([], []))
        model = registry.get("screening").model
        for line, row in enumerate(rows, start=2):
            subj = row["SUBJID"]
            if subj not in self.patients or row.get("outcome") in ("", "PENDING", "ELIGIBLE"):
                continue
            log = self.refs[(subj, "screening:1")]
            data = {}
            try:
                for f in export_fields(model):
                    if f.editable and f.name in header and f.name != "screening_date":
                        data[f.name] = self.convert(
                            "screening", "screening.csv", line, subj, f, row.get(f.name, "")
                        )
                with services.savepoint():
                    log = self._update(log, data, None, "screening.csv", count=subj in self.existing)
            except _CellError:
                self.failed_subjects.add(subj)
            except PermissionDenied as exc:
                self._refuse_denied("screening.csv", line, subj, exc)
            except ValidationError as exc:
                self.refuse_validation("screening.csv", line, exc, "EC-SC-1")
                self.failed_subjects.add(subj)
            self.refs[(subj, "screening:1")] = log

    # --- --update: patients already in the database -------------------------------------------------------------
    def _adopt(self, subj: str, patient: Any) -> None:
        """Take an existing patient: every row of every form gets its ``slug:FORMSEQ`` key (rank by creation, as the
        export numbers them), so the file's rows and links find them."""
        self.patients[subj] = patient
        for spec in registry.all():
            for seq, row in enumerate(spec.model.objects.filter(patient=patient).order_by("pk"), start=1):
                self.refs[(subj, f"{spec.slug}:{seq}")] = row

    def _update(
        self,
        instance: Any,
        data: dict[str, Any],
        m2m: dict[str, Any] | None,
        file: str,
        *,
        count: bool = True,
    ) -> Any:
        """Change an existing row through the update path, with the reason "imported from <file>"; a row whose
        values are all the same is left alone (no version, no history row), so re-running changes nothing."""
        from sabr_trial.services import crf_update

        same = all(getattr(instance, name) == value for name, value in data.items()) and all(
            set(getattr(instance, name).values_list("pk", flat=True)) == {getattr(v, "pk", v) for v in values}
            for name, values in (m2m or {}).items()
        )
        if same:
            return instance
        instance.refresh_from_db()
        updated, changes = crf_update(
            instance=instance,
            expected_version=instance.version,
            data=data,
            m2m=m2m or None,
            reason=f"imported from {file}",
            acting_user=self.user,
        )
        if changes and count:
            self.result.updated[file.removesuffix(".csv")] += 1
        return updated

    def _refuse_denied(self, file: str, line: int, subj: str, exc: PermissionDenied) -> None:
        rule = "LOCK" if isinstance(exc, CrfLocked) else "PERMISSION"
        self.refuse(file, line, "", rule, str(exc), subject=subj)
        self.failed_subjects.add(subj)

    def _import_form(self, slug: str, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        from enrollment import services as enrollment_services
        from sabr_trial.services import crf_create

        if slug not in tables or slug == "screening":
            return
        header, rows = tables[slug]
        spec = registry.get(slug)
        file = f"{slug}.csv"
        fields = [
            f
            for f in export_fields(spec.model)
            if (f.editable or f.name in SERVICE_INPUTS.get(slug, set()) or f.name == MISSING_COLUMN)
            and f.name not in SERVICE_SET.get(slug, set())
        ]
        for line, row in sorted(
            enumerate(rows, start=2), key=lambda x: (x[1]["SUBJID"], int(x[1]["FORMSEQ"] or 0))
        ):
            subj = row["SUBJID"]
            if subj not in self.patients:
                if subj not in self.failed_subjects:
                    self.refuse(file, line, "SUBJID", "PATIENT", f"{subj!r} is not in _patients.csv")
                continue
            if subj in self.failed_subjects and self.partial:
                continue
            patient = self.patients[subj]
            data: dict[str, Any] = {}
            m2m: dict[str, Any] = {}
            later: dict[str, Any] = {}
            try:
                for f in fields:
                    if f.name not in header:
                        continue
                    raw_link = row.get(f.name, "").strip()
                    if (slug, f.name) in DEFERRED_LINKS and raw_link and (subj, raw_link) not in self.refs:
                        later[f.name] = raw_link
                        continue
                    value = self.convert(slug, file, line, subj, f, row.get(f.name, ""))
                    if f.many_to_many:
                        m2m[f.name] = value
                    else:
                        data[f.name] = value
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            log.debug("%s row %s: %s %s", file, line, subj, slug)
            own = f"{slug}:{row['FORMSEQ']}"
            current = self.refs.get((subj, own)) if subj in self.existing else None
            if current is not None:  # --update: the patient's row of this FORMSEQ
                if slug == "eligibility":
                    continue  # the checklist is confirmed by an investigator; it is not re-entered by an import
                try:
                    with services.savepoint(), pipeline.tagged((file, line, subj)):
                        self.refs[(subj, own)] = self._update(current, data, m2m, file)
                except ValidationError as exc:
                    self.refuse_validation(file, line, exc, slug.upper())
                    self.failed_subjects.add(subj)
                except PermissionDenied as exc:
                    self._refuse_denied(file, line, subj, exc)
                continue
            if later:
                for name in list(later):
                    for companion, placeholder in DEFERRED_LINKS[(slug, name)].items():
                        if companion in data:
                            later[companion] = data[companion]
                            data[companion] = placeholder
                self.deferred.append((slug, subj, own, line, later, DEFERRED_REASON))
            if slug == "consent" and data.get("withdrawn") == "Y" and subj in self.registering:
                withdrawal = {name: data.pop(name) for name in WITHDRAWAL_FIELDS if name in data}
                data.update(WITHDRAWAL_FIELDS)
                self.deferred.append((slug, subj, own, line, withdrawal, WITHDRAWAL_REASON))
            status = CrfStatus.DRAFT if row.get("CRFSTAT") == CrfStatus.DRAFT else CrfStatus.SUBMITTED
            try:
                # crf_create is its own savepoint (in a bulk batch it refuses before its first write); the eligibility's
                # create and confirm share one here.
                savepoint = services.savepoint() if slug == "eligibility" else contextlib.nullcontext()
                with savepoint, pipeline.tagged((file, line, subj)):
                    if slug == "eligibility":
                        obj = enrollment_services.eligibility_create(
                            patient=patient, data=data, acting_user=self.user, status=status
                        )
                        confirmer = row.get("confirmed_by", "").strip()
                        if confirmer:
                            if confirmer not in self.users:
                                self.refuse(file, line, "confirmed_by", "USER", f"unknown user {confirmer!r}")
                                raise _CellError("USER", confirmer)
                            at = row.get("confirmed_at", "").strip()
                            obj = enrollment_services.eligibility_confirm(
                                instance=obj,
                                expected_version=obj.version,
                                acting_user=self.users[confirmer],
                                confirmed_at=datetime.datetime.fromisoformat(at) if at else None,
                            )
                    else:
                        obj = crf_create(
                            model=spec.model,
                            patient=patient,
                            data=data,
                            acting_user=self.user,
                            m2m=m2m or None,
                            status=status,
                        )
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation(file, line, exc, slug.upper())
                self.failed_subjects.add(subj)
                continue
            except PermissionDenied as exc:
                self._refuse_denied(file, line, subj, exc)
                continue
            self.refs[(subj, f"{slug}:{row['FORMSEQ']}")] = obj
            self.result.created[slug] += 1

    # --- tumour assessments with their grid (form 9) ----------------------------------------------------------
    def _children(
        self, stem: str, tables: dict[str, tuple[list[str], list[dict[str, str]]]]
    ) -> dict[tuple[str, str], list[tuple[int, dict[str, str]]]]:
        """Child rows by (SUBJID, parent reference), in file order."""
        parent_field = CHILD_TABLES[stem][1]
        out: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = defaultdict(list)
        for line, row in enumerate(tables.get(stem, ([], []))[1], start=2):
            out[(row.get("SUBJID", ""), row.get(parent_field, "").strip())].append((line, row))
        return out

    def _orphans(self, stem: str, groups: dict[tuple[str, str], list[tuple[int, dict[str, str]]]]) -> None:
        parent_field = CHILD_TABLES[stem][1]
        for (subj, ref), rows in groups.items():
            if (subj, ref) not in self.refs and subj not in self.failed_subjects:
                for line, _row in rows:
                    self.refuse(
                        f"{stem}.csv",
                        line,
                        parent_field,
                        "REFERENCE",
                        f"{ref!r} does not name an imported row of this patient",
                    )
                self.failed_subjects.add(subj)

    def _import_assessments(self, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        """Each time point with its lesion rows (validated by the grid's row form, EC-TA-1, R1.10-R1.18) and new
        lesions (the new-lesion form, R1.19-R1.20), saved by ``save_assessment``, which recomputes the patient."""
        from assessments import selectors as assessment_selectors
        from assessments.forms import LesionRowForm, NewLesionForm
        from assessments.services import save_assessment

        slug = "tumour-assessment"
        if slug not in tables:
            return
        header, rows = tables[slug]
        model = registry.get(slug).model
        fields = [f for f in export_fields(model) if f.editable and f.name != "entries_summary"]
        result_model, new_model = child_model("lesion-result"), child_model("new-lesion")
        f_lesion, f_merged = (
            result_model._meta.get_field("lesion"),
            result_model._meta.get_field("merged_into"),
        )
        f_again = new_model._meta.get_field("reappearance_of")
        results = self._children("lesion-result", tables)
        news = self._children("new-lesion", tables)
        file = f"{slug}.csv"
        for line, row in sorted(
            enumerate(rows, start=2), key=lambda x: (x[1]["SUBJID"], int(x[1]["FORMSEQ"] or 0))
        ):
            subj = row["SUBJID"]
            if not self._patient_ok(file, line, subj):
                continue
            patient = self.patients[subj]
            ref = f"{slug}:{row['FORMSEQ']}"
            try:
                data = {
                    f.name: self.convert(slug, file, line, subj, f, row.get(f.name, ""))
                    for f in fields
                    if f.name in header
                }
                lesions = assessment_selectors.lesions_of(patient)
                grid = []
                for rline, rrow in results.get((subj, ref), []):
                    self._check_cells("lesion-result", rline, subj, result_model, rrow)
                    lesion = self._ref(
                        "lesion-result.csv", rline, subj, f_lesion, rrow.get("lesion", "").strip()
                    )
                    merged = rrow.get("merged_into", "").strip()
                    form_data = {
                        k: rrow.get(k, "")
                        for k in (
                            "result_status",
                            "value_mm",
                            "split_merge",
                            "nontarget_state",
                            "further_increase",
                            "infield_progression",
                            "lf_confirmation",
                        )
                    }
                    if merged:
                        form_data["merged_into"] = str(
                            self._ref("lesion-result.csv", rline, subj, f_merged, merged).pk
                        )
                    form = LesionRowForm(form_data, lesion=lesion, lesions=lesions)
                    if not form.is_valid():
                        self._form_errors("lesion-result.csv", rline, form, "EC-TA-1")
                        raise _CellError("EC-TA-1", "lesion row refused")
                    grid.append(form.row_data())
                new_lesions = []
                for nline, nrow in news.get((subj, ref), []):
                    self._check_cells("new-lesion", nline, subj, new_model, nrow)
                    nform = NewLesionForm({k: nrow.get(k, "") for k in NewLesionForm._meta.fields})
                    if not nform.is_valid():
                        self._form_errors("new-lesion.csv", nline, nform, "R1.19")
                        raise _CellError("R1.19", "new lesion refused")
                    new = dict(nform.cleaned_data)
                    again = nrow.get("reappearance_of", "").strip()
                    new["reappearance_of"] = (
                        self._ref("new-lesion.csv", nline, subj, f_again, again) if again else None
                    )
                    new_lesions.append(new)
                _as_entered(row.get("entries_summary", ""), grid, new_lesions)
                current = self.refs.get((subj, ref)) if subj in self.existing else None
                if current is not None and services.is_locked(current):
                    # A locked time point is refused only when the file would change it (as any other form).
                    from assessments.services import entries_summary

                    current.refresh_from_db()
                    same = (
                        all(getattr(current, k) == v for k, v in data.items())
                        and entries_summary(grid, new_lesions) == current.entries_summary
                    )
                    if same:
                        continue
                with services.savepoint(), pipeline.tagged((file, line, subj)):
                    if current is not None:  # --update: through the update path, unchanged rows untouched
                        current.refresh_from_db()
                        obj, changed = save_assessment(
                            patient=patient,
                            instance=current,
                            data=data,
                            rows=grid,
                            new_lesions=new_lesions,
                            acting_user=self.user,
                            reason=f"imported from {file}",
                            expected_version=current.version,
                        )
                        if changed:
                            self.result.updated[slug] += 1
                        self.refs[(subj, ref)] = obj
                        continue
                    obj, _changed = save_assessment(
                        patient=patient,
                        instance=None,
                        data=data,
                        rows=grid,
                        new_lesions=new_lesions,
                        acting_user=self.user,
                        submit=row.get("CRFSTAT") != CrfStatus.DRAFT,
                    )
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation(file, line, exc, "EC-TA-1")
                self.failed_subjects.add(subj)
                continue
            except PermissionDenied as exc:
                self._refuse_denied(file, line, subj, exc)
                continue
            self.refs[(subj, ref)] = obj
            self.result.created[slug] += 1
            self.result.created["lesion-result"] += len(grid)
            self.result.created["new-lesion"] += len(new_lesions)
        self._orphans("lesion-result", results)
        self._orphans("new-lesion", news)

    def _check_cells(self, stem: str, line: int, subj: str, model: Any, row: dict[str, str]) -> None:
        """Codes, dates and numbers of a child row, reported like those of a CRF row (raises _CellError)."""
        for f in child_fields(model):
            if not f.is_relation and f.editable and f.name in row:
                self.convert(stem, f"{stem}.csv", line, subj, f, row[f.name])

    def _form_errors(self, file: str, line: int, form: Any, rule_default: str) -> None:
        for name, errors in form.errors.items():
            for msg in errors:
                self.refuse(
                    file, line, name if name != "__all__" else "", _rule_of(str(msg), rule_default), str(msg)
                )

    def _patient_ok(self, file: str, line: int, subj: str) -> bool:
        if subj not in self.patients:
            if subj not in self.failed_subjects:
                self.refuse(file, line, "SUBJID", "PATIENT", f"{subj!r} is not in _patients.csv")
            return False
        return not (subj in self.failed_subjects and self.partial)

    # --- SAE reports, deferred links, derived values ------------------------------------------------------
    def _import_sae_reports(self, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        from adverse_events.services import add_sae_report

        stem = "sae-report"
        model = child_model(stem)
        if stem not in tables:
            return
        groups = self._children(stem, tables)
        self._orphans(stem, groups)
        fields = {f.name: f for f in child_fields(model)}
        for (subj, ref), rows in sorted(groups.items()):
            ae = self.refs.get((subj, ref))
            if ae is None or (subj in self.failed_subjects and self.partial):
                continue
            # --update: the reports already sent stay as they are; only later ones (beyond their count) are added.
            done = ae.sae_reports.count() if subj in self.existing else 0
            for line, row in rows[done:]:
                try:
                    values = {
                        name: self.convert(stem, f"{stem}.csv", line, subj, fields[name], row.get(name, ""))
                        for name in ("kind", "sent_at", "summary")
                    }
                    with services.savepoint(), pipeline.tagged((f"{stem}.csv", line, subj)):
                        add_sae_report(ae=ae, acting_user=self.user, **values)
                    ae.refresh_from_db()
                except _CellError:
                    self.failed_subjects.add(subj)
                    continue
                except ValidationError as exc:
                    self.refuse_validation(f"{stem}.csv", line, exc, "EC-AE-3")
                    self.failed_subjects.add(subj)
                    continue
                self.result.created[stem] += 1

    def _apply_deferred(self, which: str) -> None:
        from sabr_trial.services import crf_update

        for slug, subj, own, line, values, reason in [d for d in self.deferred if d[5] == which]:
            self.deferred.remove((slug, subj, own, line, values, reason))
            instance = self.refs.get((subj, own))
            if instance is None or (subj in self.failed_subjects and self.partial):
                continue
            model = registry.get(slug).model
            try:
                data = {
                    name: self.convert(slug, f"{slug}.csv", line, subj, model._meta.get_field(name), raw)
                    if isinstance(raw, str) and model._meta.get_field(name).is_relation
                    else raw
                    for name, raw in values.items()
                }
                instance.refresh_from_db()
                with services.savepoint(), pipeline.tagged((f"{slug}.csv", line, subj)):
                    instance, _changes = crf_update(
                        instance=instance,
                        expected_version=instance.version,
                        data=data,
                        reason=reason,
                        acting_user=self.user,
                    )
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation(f"{slug}.csv", line, exc, slug.upper())
                self.failed_subjects.add(subj)
                continue
            except PermissionDenied as exc:  # a lock taken meanwhile: a refusal, not a traceback
                self._refuse_denied(f"{slug}.csv", line, subj, exc)
                continue
            self.refs[(subj, own)] = instance


def _as_entered(summary: str, grid: list[dict[str, Any]], new_lesions: list[dict[str, Any]]) -> None:
    """Give each diameter the written form it was entered with (``18`` or ``18.0``: the same number), read from
    the stored entries summary, so the summary ``save_assessment`` writes again is the one entered."""
    from assessments.services import entries_summary

    lines = set(summary.splitlines())
    for items, key, line_of in (
        (grid, "value_mm", lambda r: entries_summary([r], [])),
        (new_lesions, "new_value_mm", lambda r: entries_summary([], [r])),
    ):
        for item in items:
            value = item.get(key)
            if not isinstance(value, Decimal) or value != value.to_integral_value():
                continue
            for candidate in (value, value.quantize(Decimal(1))):
                if line_of({**item, key: candidate}) in lines:
                    item[key] = candidate
                    break


class _CellError(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _rule_of(message: str, default: str) -> str:
    """The rule id a model message cites (``... (EC-AE-1)``), else ``default``."""
    import re

    found = re.findall(r"\b(EC-[A-Z0-9]+-?\d*|R\d+\.\d+|D\d)\b", message)
    return found[-1] if found else default


def _number(value: str, prefix: str, width: int) -> int | None:
    """The number of a screening or study number written as this site writes it (``S-0007``, ``SR-012``); None for
    another format, which then gets the next number of the counter (and the summary lists it)."""
    value = value.strip()
    digits = value.removeprefix(prefix)
    if not value.startswith(prefix) or not digits.isdigit() or len(digits) < width:
        return None
    return int(digits)


def _subjects_of(problems: list[Problem], failed: set[str]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {subj: [] for subj in failed}
    for problem in problems:
        if problem.subject in out:
            out[problem.subject].append(problem)
    return out


def _existing_patients(folder: Path) -> dict[str, Any]:
    """SUBJID of the file -> the patient with the same screening number in the database (``--update``)."""
    from enrollment.models import Patient

    path = (folder / "crf" if (folder / "crf").is_dir() else folder) / "_patients.csv"
    try:
        _header, rows = _read(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    by_number = {r.get("SCRNO", "").strip(): r.get("SUBJID", "") for r in rows}
    return {
        by_number[p.screening_number]: p
        for p in Patient.objects.filter(screening_number__in=[n for n in by_number if n])
    }


def _refuse_existing(folder: Path, result: ImportResult) -> set[str]:
    """Patients of the file already in the database (same screening number): refused, never duplicated."""
    from enrollment.models import Patient

    path = (folder / "crf" if (folder / "crf").is_dir() else folder) / "_patients.csv"
    try:
        _header, rows = _read(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()  # the file checks report it
    numbers = {r.get("SCRNO", "").strip(): (i, r) for i, r in enumerate(rows, start=2)}
    existing = Patient.objects.filter(screening_number__in=[n for n in numbers if n])
    refused: set[str] = set()
    for patient in existing:
        line, row = numbers[patient.screening_number]
        subj = row.get("SUBJID", "")
        result.problems.append(
            Problem(
                "_patients.csv",
                line,
                "SCRNO",
                "EXISTS",
                f"patient {patient.screening_number} ({patient}) is already in the database; it is not imported "
                "again (re-running an import changes nothing)",
                patient.screening_number,
                subj,
            )
        )
        refused.add(subj)
    return refused


def _study_lock_problem() -> Problem | None:
    from sabr_trial.models import StudyLock

    lock = StudyLock.active()
    if lock is None:
        return None
    return Problem(
        "",
        0,
        "",
        "LOCK",
        f"the study is locked (since {lock.locked_at:%Y-%m-%d %H:%M} by {lock.locked_by}): a data manager must "
        "unlock it before an import; nothing was imported",
    )


def import_study(
    folder: Path | str,
    *,
    user: Any,
    partial: bool = False,
    dry_run: bool = False,
    update: bool = False,
    recompute: bool = True,
) -> ImportResult:
    """Import a per-CRF export; SAEs from the imported history send no e-mail (counted in ``sae_mail_held_back``).

    Without ``partial`` any problem refuses the whole import. With ``partial`` each refused patient is left out
    whole: the import runs again without them until a pass refuses nobody (a refusal can only drop patients, so
    this ends), and ``skipped_patients`` says why each was left out. ``dry_run`` does all of it and rolls back.
    After a committed import the endpoint snapshot is recomputed (``recompute``). ``update``: a patient already in
    the database (same screening number) is not refused; its rows are matched by FORMSEQ, a changed row goes
    through the update path with the reason "imported from <file>" (locks apply), a new row is created, and an
    unchanged row is left alone.
    """
    from adverse_events.services import sae_notifications_held_back

    folder = Path(folder)
    lock = _study_lock_problem()
    if lock is not None:
        return ImportResult(problems=[lock], dry_run=dry_run)
    found = ImportResult(dry_run=dry_run)
    existing: dict[str, Any] = {}
    if update:
        existing = _existing_patients(folder)
        excluded: set[str] = set()
    else:
        excluded = _refuse_existing(folder, found)
    if excluded and not partial:
        return found
    skipped = _subjects_of(found.problems, excluded)
    while True:
        importer = Importer(
            folder, user=user, partial=partial, excluded=frozenset(excluded), existing=existing
        )
        with sae_notifications_held_back() as held:
            result = importer.run(dry_run=dry_run)
        result.problems = [importer.with_subject(p) for p in result.problems]
        newly = importer.failed_subjects - excluded
        if result.problems and partial and newly:
            skipped.update(_subjects_of(result.problems, newly))
            found.problems.extend(result.problems)
            excluded |= newly
            log.info(
                "import pass refused %d patient(s): %s; importing again without them",
                len(newly),
                ", ".join(sorted(newly)),
            )
            continue
        break
    result.problems = found.problems + result.problems
    result.skipped_patients = skipped if partial else {}
    result.dry_run = dry_run
    if dry_run and not result.problems[len(found.problems) :]:
        result.created = importer.result.created
    result.sae_mail_held_back = len(set(held)) if result.committed else 0
    if result.committed:
        result.renumbered = {
            subj: patient.study_number
            for subj, patient in importer.patients.items()
            if patient.study_number and patient.study_number != subj
        }
        if recompute:
            from endpoints.services import run_recompute

            result.snapshot_id = run_recompute(trigger="import", user_id=getattr(user, "pk", None)).pk
    log.info(
        "import of %s: committed=%s, %d problem(s), %d patient(s) skipped",
        folder,
        result.committed,
        len(result.problems),
        len(result.skipped_patients),
    )
    return result
