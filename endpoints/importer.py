"""Read the per-CRF CSV export (``crf/*.csv``) back into the study through the same services as the forms.

Every row goes through ``patient_screen`` / ``patient_register`` / ``eligibility_create`` /
``eligibility_confirm`` / ``crf_create``, so the model rules (EC-...) and the derived values apply as in
the forms. Every refused cell is reported as (file, row, column, rule, message). The whole import is one
transaction: any refusal rolls everything back unless ``partial`` is set, in which case a refused
patient (with all its rows) is skipped and the others are kept.

Covered: the patient registry (``_patients.csv``), screening, consent, eligibility, baseline, medical
history, prior therapy, disposition, death, survival contact and adverse events. Other forms are
reported as not imported (see docs/exports.md).
"""

from __future__ import annotations

import csv
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from endpoints.exports import KEY_COLUMNS, export_fields
from sabr_trial.crf import CrfStatus, registry

#: Forms read back, in dependency order (a link may only point to a form earlier in this list).
IMPORT_ORDER = ["screening", "consent", "eligibility", "baseline", "medical-history", "prior-therapy",
                "adverse-event", "disposition", "death", "survival"]  # fmt: skip
#: Non-editable columns that the services take as input on these forms.
SERVICE_INPUTS = {
    "eligibility": {"criteria_version", "answers_summary", "all_met"},
    "adverse-event": {"parent_episode"},
}
#: Columns a service sets itself (not passed to crf_create).
SERVICE_SET = {"eligibility": {"confirmed_by", "confirmed_at"}, "screening": {"outcome", "outcome_date"}}
PATIENT_COLUMNS = ["STUDYID", "SUBJID", "SCRNO", "registration_date"]


@dataclass(frozen=True)
class Problem:
    file: str
    row: int  # 1 = header line; data rows from 2, like a spreadsheet
    column: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row} column {self.column}: [{self.rule}] {self.message}"


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped_files: list[str] = field(default_factory=list)
    committed: bool = False


class _Abort(Exception):
    pass


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


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
    def __init__(self, folder: Path, *, user: Any, partial: bool = False) -> None:
        self.folder = Path(folder)
        self.crf_dir = self.folder / "crf" if (self.folder / "crf").is_dir() else self.folder
        self.user = user
        self.partial = partial
        self.result = ImportResult()
        self.patients: dict[str, Any] = {}  # old SUBJID -> Patient
        self.refs: dict[tuple[str, str], Any] = {}  # (old SUBJID, "slug:seq") -> instance
        self.failed_subjects: set[str] = set()
        self.users = {u.get_username(): u for u in get_user_model().objects.all()}

    # --- reporting -------------------------------------------------------------------------------------
    def refuse(self, file: str, row: int, column: str, rule: str, message: str) -> None:
        self.result.problems.append(Problem(file, row, column, rule, message))

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
            self.refuse(file, line, f.name, exc.rule, exc.message)
            raise
        except (ValueError, InvalidOperation):
            kind = "DATE-ISO" if isinstance(f, models.DateField) else "NUMBER"
            msg = ("malformed date %r: use YYYY-MM-DD" if kind == "DATE-ISO" else "malformed number %r") % raw
            self.refuse(file, line, f.name, kind, msg)
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
                file, line, f.name, "REFERENCE", f"{raw!r} does not name an imported row of this patient"
            )
            raise _CellError("REFERENCE", raw)
        return obj

    # --- the import ---------------------------------------------------------------------------------------
    def load(self) -> dict[str, tuple[list[str], list[dict[str, str]]]]:
        tables: dict[str, tuple[list[str], list[dict[str, str]]]] = {}
        patients_path = self.crf_dir / "_patients.csv"
        if not patients_path.exists():
            self.refuse("_patients.csv", 0, "", "FILE", "the patient registry file is missing")
            return tables
        tables["_patients"] = _read(patients_path)
        for col in PATIENT_COLUMNS:
            if col not in tables["_patients"][0]:
                self.refuse("_patients.csv", 1, col, "REQUIRED-COLUMN", f"required column {col} is missing")
        for slug in IMPORT_ORDER:
            path = self.crf_dir / f"{slug}.csv"
            if not path.exists():
                continue
            header, rows = _read(path)
            for col in _required_columns(slug):
                if col not in header:
                    self.refuse(f"{slug}.csv", 1, col, "REQUIRED-COLUMN", f"required column {col} is missing")
            tables[slug] = (header, rows)
        for path in sorted(self.crf_dir.glob("*.csv")):
            if path.stem not in tables and not path.stem.startswith("_"):
                self.result.skipped_files.append(path.name)
        return tables

    def run(self) -> ImportResult:
        tables = self.load()
        if self.result.problems:
            return self.result
        try:
            with transaction.atomic():
                self._import(tables)
                if self.result.problems and not self.partial:
                    raise _Abort
        except _Abort:
            self.result.committed = False
            return self.result
        self.result.committed = True
        return self.result

    def _import(self, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        from enrollment import services as enrollment_services

        _header, patient_rows = tables["_patients"]
        seen: dict[str, dict[str, int]] = {"SUBJID": {}, "SCRNO": {}}
        for i, row in enumerate(patient_rows, start=2):
            for col in ("SUBJID", "SCRNO"):
                value = row.get(col, "")
                if value in seen[col] and value:
                    self.refuse("_patients.csv", i, col, "UNIQUE",
                                f"duplicate {col} {value!r} (also row {seen[col][value]})")  # fmt: skip
                seen[col].setdefault(value, i)
        if self.result.problems:
            return
        screening = {r["SUBJID"]: (i, r) for i, r in enumerate(tables.get("screening", ([], []))[1], start=2)}
        # 1. screen every patient in screening-number order (numbers come from the gap-free counter)
        for i, prow in sorted(enumerate(patient_rows, start=2), key=lambda x: x[1]["SCRNO"]):
            subj = prow["SUBJID"]
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
                    patient = enrollment_services.patient_screen(screening_date=day, acting_user=self.user)
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
        for slug in ("consent", "eligibility"):
            self._import_form(slug, tables)
        self._screening_outcomes(tables)
        for i, prow in sorted(enumerate(patient_rows, start=2), key=lambda x: x[1]["SUBJID"]):
            subj, raw = prow["SUBJID"], prow.get("registration_date", "").strip()
            if not raw or subj not in self.patients or subj in self.failed_subjects:
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
                        patient=self.patients[subj], registration_date=day, acting_user=self.user
                    )
            except ValidationError as exc:
                self.refuse_validation("_patients.csv", i, exc, "EC-RG-1")
                self.failed_subjects.add(subj)
                continue
            self.result.created["registrations"] += 1
        for slug in IMPORT_ORDER[3:]:
            self._import_form(slug, tables)

    def _screening_outcomes(self, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        """Screen failures and withdrawals before registration (ELIGIBLE is set by registration, EC-SC-2)."""
        from sabr_trial.services import crf_update

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
                with transaction.atomic():
                    log, _changes = crf_update(instance=log, expected_version=log.version, data=data,
                                               reason="Imported", acting_user=self.user)  # fmt: skip
            except _CellError:
                self.failed_subjects.add(subj)
            except ValidationError as exc:
                self.refuse_validation("screening.csv", line, exc, "EC-SC-1")
                self.failed_subjects.add(subj)
            self.refs[(subj, "screening:1")] = log

    def _import_form(self, slug: str, tables: dict[str, tuple[list[str], list[dict[str, str]]]]) -> None:
        from enrollment import services as enrollment_services
        from sabr_trial.services import crf_create

        if slug not in tables or slug == "screening":
            return
        header, rows = tables[slug]
        spec = registry.get(slug)
        file = f"{slug}.csv"
        fields = [
            f for f in export_fields(spec.model)
            if (f.editable or f.name in SERVICE_INPUTS.get(slug, set())) and f.name not in SERVICE_SET.get(slug, set())
        ]  # fmt: skip
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
            try:
                for f in fields:
                    if f.name not in header:
                        continue
                    value = self.convert(slug, file, line, subj, f, row.get(f.name, ""))
                    if f.many_to_many:
                        m2m[f.name] = value
                    else:
                        data[f.name] = value
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            status = CrfStatus.DRAFT if row.get("CRFSTAT") == CrfStatus.DRAFT else CrfStatus.SUBMITTED
            try:
                with transaction.atomic():
                    if slug == "eligibility":
                        obj = enrollment_services.eligibility_create(patient=patient, data=data, acting_user=self.user,
                                                                     status=status)  # fmt: skip
                        confirmer = row.get("confirmed_by", "").strip()
                        if confirmer:
                            if confirmer not in self.users:
                                self.refuse(file, line, "confirmed_by", "USER", f"unknown user {confirmer!r}")
                                raise _CellError("USER", confirmer)
                            at = row.get("confirmed_at", "").strip()
                            obj = enrollment_services.eligibility_confirm(
                                instance=obj, expected_version=obj.version, acting_user=self.users[confirmer],
                                confirmed_at=datetime.datetime.fromisoformat(at) if at else None,
                            )  # fmt: skip
                    else:
                        obj = crf_create(model=spec.model, patient=patient, data=data, acting_user=self.user,
                                         m2m=m2m or None, status=status)  # fmt: skip
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation(file, line, exc, slug.upper())
                self.failed_subjects.add(subj)
                continue
            except PermissionDenied as exc:
                self.refuse(file, line, "", "PERMISSION", str(exc))
                self.failed_subjects.add(subj)
                continue
            self.refs[(subj, f"{slug}:{row['FORMSEQ']}")] = obj
            self.result.created[slug] += 1


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


def import_study(folder: Path | str, *, user: Any, partial: bool = False) -> ImportResult:
    return Importer(Path(folder), user=user, partial=partial).run()
