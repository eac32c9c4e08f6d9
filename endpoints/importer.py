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
lesion before the SABR target that treats it and the results that measure it). A link that would close a
cycle (the death report names the fatal AE, and a grade 5 AE needs the death report first, EC-AE-2) is set by
a change with reason after the linked form is imported. Derived values (responses, BED/EQD2, planned dates,
AE numbers, the treatment-emergent flag) are computed by the services, never copied from the files.
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

from endpoints.exports import (
    CHILD_KEY_COLUMNS,
    CHILD_TABLES,
    KEY_COLUMNS,
    child_fields,
    child_model,
    export_fields,
    restore_cell,
)
from sabr_trial.crf import CrfStatus, registry

#: Forms entered before registration (screening is special: it creates the patient).
PRE_REGISTRATION = ["screening", "consent", "eligibility"]
#: Forms read back, in dependency order (a link may only point to a form earlier in this list, or be deferred).
IMPORT_ORDER = PRE_REGISTRATION + [
    "baseline", "medical-history", "prior-therapy", "death", "adverse-event", "lesion", "sabr-course",
    "sabr-target", "sabr-fraction", "axitinib", "toripalimab", "immunosuppressant", "tumour-assessment",
    "subsequent-therapy", "disposition", "survival",
]  # fmt: skip
#: Child tables read with their parent form (see ``endpoints.exports.CHILD_TABLES``).
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
    #: SAEs imported without the investigators' e-mail (history from another system, not new events).
    sae_mail_held_back: int = 0


class _Abort(Exception):
    pass


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV of the export, with the spreadsheet-formula escape of every cell undone (``restore_cell``)."""
    with path.open(newline="", encoding="utf-8") as fh:
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
    def __init__(self, folder: Path, *, user: Any, partial: bool = False) -> None:
        self.folder = Path(folder)
        self.crf_dir = self.folder / "crf" if (self.folder / "crf").is_dir() else self.folder
        self.user = user
        self.partial = partial
        self.result = ImportResult()
        self.patients: dict[str, Any] = {}  # old SUBJID -> Patient
        self.refs: dict[tuple[str, str], Any] = {}  # (old SUBJID, "slug:seq") -> instance
        self.failed_subjects: set[str] = set()
        #: (form, field, SUBJID, "slug:seq" of the row, line, raw reference) set after the linked form
        #: changes made after every form is in: (form, SUBJID, "slug:seq" of the row, line, values, reason)
        self.deferred: list[tuple[str, str, str, int, dict[str, Any], str]] = []
        self.registering: set[str] = set()  # SUBJIDs with a registration date in _patients.csv
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
        for stem in CHILD_TABLES:
            path = self.crf_dir / f"{stem}.csv"
            model = child_model(stem)
            if model is None or not path.exists():
                continue
            header, rows = _read(path)
            required = list(CHILD_KEY_COLUMNS) + [
                f.name for f in child_fields(model)
                if (f.editable or f.is_relation) and not (f.blank or f.null or f.has_default())
            ]  # fmt: skip
            for col in required:
                if col not in header:
                    self.refuse(f"{stem}.csv", 1, col, "REQUIRED-COLUMN", f"required column {col} is missing")
            tables[stem] = (header, rows)
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
        self.registering = {r["SUBJID"] for r in patient_rows if r.get("registration_date", "").strip()}
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
        for slug in IMPORT_ORDER[len(PRE_REGISTRATION) :]:
            if slug == "disposition":  # end of study by withdrawal needs the withdrawal first (EC-DS-3)
                self._apply_deferred(WITHDRAWAL_REASON)
            if slug == "tumour-assessment":
                self._import_assessments(tables)
            else:
                self._import_form(slug, tables)
            if slug == "adverse-event":
                self._import_sae_reports(tables)
        self._apply_deferred(WITHDRAWAL_REASON)
        self._apply_deferred(DEFERRED_REASON)

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
            later: dict[str, Any] = {}
            try:
                for f in fields:
                    if f.name not in header:
                        continue
                    if (slug, f.name) in DEFERRED_LINKS and row.get(f.name, "").strip():
                        later[f.name] = row[f.name].strip()
                        continue
                    value = self.convert(slug, file, line, subj, f, row.get(f.name, ""))
                    if f.many_to_many:
                        m2m[f.name] = value
                    else:
                        data[f.name] = value
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            own = f"{slug}:{row['FORMSEQ']}"
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

    # --- tumour assessments with their grid (form 9) ----------------------------------------------------------
    def _children(
        self, stem: str, tables: dict[str, tuple[list[str], list[dict[str, str]]]]
    ) -> dict[tuple[str, str], list[tuple[int, dict[str, str]]]]:
        """Child rows by (SUBJID, parent reference), in file order."""
        parent_field = CHILD_TABLES[stem][2]
        out: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = defaultdict(list)
        for line, row in enumerate(tables.get(stem, ([], []))[1], start=2):
            out[(row.get("SUBJID", ""), row.get(parent_field, "").strip())].append((line, row))
        return out

    def _orphans(self, stem: str, groups: dict[tuple[str, str], list[tuple[int, dict[str, str]]]]) -> None:
        parent_field = CHILD_TABLES[stem][2]
        for (subj, ref), rows in groups.items():
            if (subj, ref) not in self.refs and subj not in self.failed_subjects:
                for line, _row in rows:
                    self.refuse(f"{stem}.csv", line, parent_field, "REFERENCE",
                                f"{ref!r} does not name an imported row of this patient")  # fmt: skip
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
        assert result_model is not None and new_model is not None
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
                data = {f.name: self.convert(slug, file, line, subj, f, row.get(f.name, "")) for f in fields
                        if f.name in header}  # fmt: skip
                lesions = assessment_selectors.lesions_of(patient)
                grid = []
                for rline, rrow in results.get((subj, ref), []):
                    self._check_cells("lesion-result", rline, subj, result_model, rrow)
                    lesion = self._ref(
                        "lesion-result.csv", rline, subj, f_lesion, rrow.get("lesion", "").strip()
                    )
                    merged = rrow.get("merged_into", "").strip()
                    form_data = {k: rrow.get(k, "") for k in ("result_status", "value_mm", "split_merge",
                                 "nontarget_state", "further_increase", "infield_progression", "lf_confirmation")}  # fmt: skip
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
                with transaction.atomic():
                    obj, _changed = save_assessment(
                        patient=patient, instance=None, data=data, rows=grid, new_lesions=new_lesions,
                        acting_user=self.user, submit=row.get("CRFSTAT") != CrfStatus.DRAFT,
                    )  # fmt: skip
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation(file, line, exc, "EC-TA-1")
                self.failed_subjects.add(subj)
                continue
            except PermissionDenied as exc:
                self.refuse(file, line, "", "PERMISSION", str(exc))
                self.failed_subjects.add(subj)
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
        if model is None or stem not in tables:
            return
        groups = self._children(stem, tables)
        self._orphans(stem, groups)
        fields = {f.name: f for f in child_fields(model)}
        for (subj, ref), rows in sorted(groups.items()):
            ae = self.refs.get((subj, ref))
            if ae is None or (subj in self.failed_subjects and self.partial):
                continue
            for line, row in rows:
                try:
                    values = {name: self.convert(stem, f"{stem}.csv", line, subj, fields[name], row.get(name, ""))
                              for name in ("kind", "sent_at", "summary")}  # fmt: skip
                    with transaction.atomic():
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
                    if isinstance(raw, str) and model._meta.get_field(name).is_relation else raw
                    for name, raw in values.items()
                }  # fmt: skip
                instance.refresh_from_db()
                with transaction.atomic():
                    instance, _changes = crf_update(instance=instance, expected_version=instance.version,
                                                    data=data, reason=reason, acting_user=self.user)  # fmt: skip
            except _CellError:
                self.failed_subjects.add(subj)
                continue
            except ValidationError as exc:
                self.refuse_validation(f"{slug}.csv", line, exc, slug.upper())
                self.failed_subjects.add(subj)
                continue
            self.refs[(subj, own)] = instance

def _as_entered(summary: str, grid: list[dict[str, Any]], new_lesions: list[dict[str, Any]]) -> None:
    """Give each diameter the written form it was entered with (``18`` or ``18.0``: the same number), read from
    the stored entries summary, so the summary ``save_assessment`` writes again is the one entered."""
    from assessments.services import entries_summary

    lines = set(summary.splitlines())
    for items, key, line_of in ((grid, "value_mm", lambda r: entries_summary([r], [])),
                                (new_lesions, "new_value_mm", lambda r: entries_summary([], [r]))):  # fmt: skip
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


def import_study(folder: Path | str, *, user: Any, partial: bool = False) -> ImportResult:
    """Import a per-CRF export; SAEs from the imported history send no e-mail (counted in ``sae_mail_held_back``)."""
    from adverse_events.services import sae_notifications_held_back

    with sae_notifications_held_back() as held:
        result = Importer(Path(folder), user=user, partial=partial).run()
    result.sae_mail_held_back = len(set(held)) if result.committed else 0
    return result
