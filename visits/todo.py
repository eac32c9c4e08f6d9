"""To-do lists per role (issue 19 item 10): what waits for an investigator, a monitor or a data manager.

Each list is read with a fixed number of queries whatever the study size (one per source table; tests count them),
from the same facts the pages that do the work use: the eligibility confirmation (EC-EL-1), the casebook signature
(``sabr_trial.services.casebook_sign``), the SAE form's attribution and expectedness (R7.1, R7.2, R7.4), the query
threads (``sabr_trial.queries``), source-data verification (``sabr_trial.services.crf_verify_many`` and the
``SDV_ON_LOCKED_CASEBOOK`` policy) and the pre-lock report (``sabr_trial.selectors.prelock_report``: its sections are
recomputed here in bulk, and a test checks that both agree patient by patient).

The navigation counts are cached in the shared cache per role, day and data generation (``visits.selectors``): the
generation is bumped after commit of any change the lists read, so a count is never stale, and with Redis down
every read is a miss and the count is computed (issue 16). The monitor's count is one query (``sdv_count``); the
worklist's is kept per patient (``visits.selectors._per_patient``), so a save recomputes one patient.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from adverse_events.models import AdverseEvent
from enrollment.models import DeathReport, Disposition, Eligibility, Patient
from enrollment.rules import holds_investigator_role
from sabr_trial import compiled, generation
from sabr_trial import queries as query_service
from sabr_trial.crf import CrfBase, CrfSpec, CrfStatus, registry
from sabr_trial.models import CasebookSignature, Query, StudyLock
from sabr_trial.roles import Perm, has_perm
from sabr_trial.services import _display, data_fields
from visits import selectors
from visits.schedule import State

#: The statuses of a form a monitor may verify (``crf_verify``: submitted or signed, not yet verified).
SDV_STATUSES = (CrfStatus.SUBMITTED, CrfStatus.SIGNED)


def query_row(q: Query, *, age: int | None = None) -> dict[str, Any]:
    """What a to-do list shows of a query: its form and field in words, its age, the thread's address."""
    from django.urls import reverse

    spec = registry.for_model(q.content_type.model_class()) if q.content_type.model_class() else None
    label = ""
    if spec is not None and q.field_name:
        found = {f.name: f for f in data_fields(spec.model)}.get(q.field_name)
        label = str(found.verbose_name) if found is not None else q.field_name
    return {
        "q": q,
        "form": spec.title if spec else "",
        "field": label,
        "age": query_service.age_days(q) if age is None else age,
        "url": reverse("query_detail", args=[q.pk]),
    }


# --- investigator ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CasebookToSign:
    patient: Patient
    forms: int
    drafts: int
    voided: CasebookSignature | None


@dataclass(frozen=True)
class SaeToAssess:
    ae: AdverseEvent
    expectedness_missing: bool
    unsigned: bool


@dataclass
class InvestigatorTodo:
    eligibility: list[Eligibility] = field(default_factory=list)
    casebooks: list[CasebookToSign] = field(default_factory=list)
    saes: list[SaeToAssess] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.eligibility) + len(self.casebooks) + len(self.saes) + len(self.queries)


def _union_all(parts: list[Any]) -> Any:
    """Per-table querysets of the same columns (one per CRF table) as one query (UNION ALL), not one per table."""
    return parts[0].union(*parts[1:], all=True)


def _form_counts(ids: list[int]) -> dict[int, tuple[int, int]]:
    """patient id -> (forms, drafts) over every CRF table for these patients, in one query."""
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])

    def build(some: list[int]) -> Any:
        return _union_all(
            [
                spec.model.objects.filter(patient_id__in=some)
                .values("patient_id")
                .annotate(n=Count("pk"), drafts=Count("pk", filter=Q(status=CrfStatus.DRAFT)))
                .values_list("patient_id", "n", "drafts")
                .order_by()
                for spec in registry.all()
            ]
        )

    # built once per process (sabr_trial.compiled): a save recounts its patient with this one read (issue 20)
    for pk, n, drafts in compiled.patient_rows("visits:form-counts", build, ids):
        totals[pk][0] += n
        totals[pk][1] += drafts
    return {pk: (n, d) for pk, (n, d) in totals.items()}


def _casebook_facts(ids: list[int]) -> dict[int, tuple[int, int, bool, CasebookSignature | None]]:
    """patient id -> (forms, drafts, signed now, last voided signature) for these patients, in bulk."""
    counts = _form_counts(ids)
    signed: set[int] = set()
    voided: dict[int, CasebookSignature] = {}
    signatures = compiled.patient_objects(
        "todo:signatures",
        lambda some: CasebookSignature.objects.filter(patient_id__in=some).order_by("signed_at", "pk"),
        ids,
    )
    for s in signatures:
        if s.voided_at is None:
            signed.add(s.patient_id)
        else:
            voided[s.patient_id] = s
    return {pk: (*counts.get(pk, (0, 0)), pk in signed, voided.get(pk)) for pk in ids}


def _casebooks_waiting(
    study_locked: bool,
) -> tuple[list[int], dict[int, tuple[int, int, bool, CasebookSignature | None]]]:
    """The unlocked patients whose casebook waits for a signature (ids), with every unlocked patient's facts."""
    if study_locked:
        return [], {}
    unlocked = [
        pk
        for (pk,) in compiled.rows(
            "todo:unlocked",
            lambda: Patient.objects.filter(locked_at__isnull=True).order_by("pk").values_list("pk"),
        )
    ]
    facts = generation.per_patient(
        {"visits:casebook-facts": lambda v: v}, "visits:casebook-facts", unlocked, _casebook_facts
    )
    return [pk for pk in unlocked if not facts[pk][2] and facts[pk][0] > facts[pk][1]], facts


def casebooks_to_sign(*, study_locked: bool | None = None) -> list[CasebookToSign]:
    """Casebooks with submitted data and no valid investigator signature (never signed, or voided by a change).

    A locked casebook (or study) cannot be signed and is left out; drafts are counted because they block the
    signature until they are submitted (``casebook_sign``). Each patient's facts are kept under the patient's data
    version (``sabr_trial.generation.per_patient``): after a save the patient changed is counted again, not the
    study (issue 20).
    """
    if study_locked is None:
        study_locked = StudyLock.active() is not None
    waiting, facts = _casebooks_waiting(study_locked)
    if not waiting:
        return []
    patients = Patient.objects.filter(pk__in=waiting).order_by("study_number", "pk")
    return [
        CasebookToSign(patient=p, forms=facts[p.pk][0], drafts=facts[p.pk][1], voided=facts[p.pk][3])
        for p in patients
    ]


def _eligibility_waiting() -> Any:
    return Eligibility.objects.filter(confirmed_at__isnull=True, patient__locked_at__isnull=True).exclude(
        status__in=[CrfStatus.DRAFT, CrfStatus.LOCKED]
    )


def eligibility_to_confirm() -> list[Eligibility]:
    """Checklists entered (not drafts) that no investigator has confirmed yet (EC-EL-1), oldest first."""
    return list(_eligibility_waiting().select_related("patient").order_by("created_at", "pk"))


def _saes_waiting() -> Any:
    return (
        AdverseEvent.objects.filter(serious="Y", patient__locked_at__isnull=True)
        .filter(status__in=[CrfStatus.SUBMITTED, CrfStatus.VERIFIED, CrfStatus.SIGNED])
        .filter(Q(expected="") | ~Q(status=CrfStatus.SIGNED))
    )


def saes_to_assess() -> list[SaeToAssess]:
    """Serious AEs whose causality the investigator has not yet assessed (R7.1, R7.2, R7.4).

    The investigator's assessment is the attribution per agent and the expectedness, confirmed by signing the
    form: an SAE waits while its expectedness is blank (a possible SUSAR) or while it is not signed since its last
    change (a change drops the signature). Drafts wait for the coordinator; locked forms for nobody.
    """
    rows = _saes_waiting().select_related("patient", "ctcae_term").order_by("sae_due_at", "pk")
    return [
        SaeToAssess(ae=ae, expectedness_missing=not ae.expected, unsigned=ae.status != CrfStatus.SIGNED)
        for ae in rows
    ]


def queries_to_answer(user: Any) -> list[Query]:
    """Open queries (raised or re-opened, not yet answered) the site answers, oldest first."""
    return list(query_service.filter_queries(user, status=Query.Status.OPEN).order_by("raised_at", "pk"))


def _investigator_parts(user: Any) -> tuple[bool, bool, bool, bool, bool]:
    """Which parts of the investigator's list this user sees: (eligibility, casebooks, SAEs, queries, study
    locked)."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    study_locked = StudyLock.active() is not None
    signs = has_perm(user, Perm.SIGN)
    return (
        holds_investigator_role(user) and has_perm(user, Perm.ENTER) and not study_locked,
        signs,
        signs and not study_locked,
        has_perm(user, Perm.ANSWER_QUERY),
        study_locked,
    )


def investigator_todo(user: Any) -> InvestigatorTodo:
    """What waits for an investigator; each part only if the user may do that work."""
    eligibility, casebooks, saes, answers, study_locked = _investigator_parts(user)
    todo = InvestigatorTodo()
    if eligibility:
        todo.eligibility = eligibility_to_confirm()
    if casebooks:
        todo.casebooks = casebooks_to_sign(study_locked=study_locked)
    if saes:
        todo.saes = saes_to_assess()
    if answers:
        todo.queries = queries_to_answer(user)
    return todo


def investigator_todo_count(user: Any) -> int:
    """``investigator_todo(user).count`` without reading the rows (the navigation's count, recomputed after every
    change to the study: issue 20): the same filters, counted with SQL built once; a test checks both agree."""
    eligibility, casebooks, saes, answers, study_locked = _investigator_parts(user)
    n = 0
    if eligibility:
        n += compiled.count("todo:eligibility", _eligibility_waiting)
    if casebooks:
        n += len(_casebooks_waiting(study_locked)[0])
    if saes:
        n += compiled.count("todo:saes", _saes_waiting)
    if answers:
        n += compiled.count(
            "todo:queries-open", lambda: query_service.filter_queries(user, status=Query.Status.OPEN)
        )
    return n


# --- monitor -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SdvItem:
    spec: CrfSpec
    row: CrfBase
    date: datetime.date | None
    values: list[tuple[str, str]]
    #: why the form cannot be verified now (a lock the study's policy does not let SDV pass), "" when it can
    blocked: str

    @property
    def key(self) -> str:
        return f"{self.spec.slug}:{self.row.pk}"


def _clinical_date(row: CrfBase, fields: list[models.Field[Any, Any]]) -> datetime.date | None:
    """The row's first date as staff group forms by visit (the patient SDV page's rule), else its creation day."""
    for f in fields:
        value = getattr(row, f.name)
        if isinstance(value, datetime.datetime):
            return timezone.localtime(value).date()
        if isinstance(value, datetime.date):
            return value
    return timezone.localtime(row.created_at).date()


def _blocked(row: CrfBase, *, study_locked: bool) -> str:
    """Mirror of ``services.may_verify_under_lock`` for a row read in bulk (no query per row)."""
    from django.utils.translation import gettext as _

    if study_locked:
        return _("study locked")
    if row.patient.locked_at and not settings.SDV_ON_LOCKED_CASEBOOK:
        return _("casebook locked")
    return ""


def _related(fields: list[models.Field[Any, Any]]) -> list[str]:
    """The joins a row's values and its name read: its links, and the links of a linked form (a fraction is named
    after its target's lesion), so the list costs one query per table whatever the study size."""
    related = []
    for f in fields:
        if isinstance(f, models.ForeignKey):
            related.append(f.name)
            if issubclass(f.related_model, CrfBase):
                related += [
                    f"{f.name}__{g.name}"
                    for g in data_fields(f.related_model)
                    if isinstance(g, models.ForeignKey)
                ]
    return related


def sdv_items(*, patient: str = "", form: str = "") -> list[SdvItem]:
    """Every form of the study awaiting source-data verification, with its values; one query per CRF table.

    ``patient`` filters by study or screening number (exact, case-insensitive), ``form`` by CRF slug.
    """
    study_locked = StudyLock.active() is not None
    items: list[SdvItem] = []
    for spec in registry.all():
        if form and spec.slug != form:
            continue
        fields = data_fields(spec.model)
        related = _related(fields)
        qs = spec.model.objects.filter(status__in=SDV_STATUSES, verified_at__isnull=True).select_related(
            "patient", *related
        )
        if patient:
            qs = qs.filter(
                Q(patient__study_number__iexact=patient) | Q(patient__screening_number__iexact=patient)
            )
        for row in qs.order_by("pk"):
            values = [(str(f.verbose_name), _display(row, f)) for f in fields]
            items.append(
                SdvItem(
                    spec=spec,
                    row=row,
                    date=_clinical_date(row, fields),
                    values=[(k, v) for k, v in values if v != "—"],
                    blocked=_blocked(row, study_locked=study_locked),
                )
            )
    items.sort(key=lambda i: (i.row.patient.label, i.date or datetime.date.min, i.spec.order, i.row.pk))
    return items


def sdv_count() -> int:
    """How many forms a monitor can verify now, study-wide: the rows of ``sdv_items`` not ``blocked``, counted in
    one query (a UNION ALL of the rows of every CRF table, counted) instead of reading every row with its values (issue 20: the
    navigation's SDV count was a third of a page's CPU under load). A test checks both agree."""
    if StudyLock.active() is not None:
        return 0  # every form is blocked ("study locked", ``_blocked``)
    past_lock = bool(settings.SDV_ON_LOCKED_CASEBOOK)

    def build() -> Any:
        parts = []
        for spec in registry.all():
            qs = spec.model.objects.filter(status__in=SDV_STATUSES, verified_at__isnull=True)
            if not past_lock:
                qs = qs.filter(patient__locked_at__isnull=True)
            parts.append(qs.order_by().values("pk"))
        return _union_all(parts)

    # the union's SQL is built once per process and lock policy (building it was most of this count's time)
    return compiled.count(f"todo:sdv-count:{past_lock}", build)


def sdv_selected(keys: list[str]) -> list[CrfBase]:
    """The forms named ``slug:pk`` that still await SDV (a row verified meanwhile is left out)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for key in keys:
        slug, _sep, pk = key.partition(":")
        if slug in registry and pk.isdigit():
            wanted[slug].add(int(pk))
    rows: list[CrfBase] = []
    for slug, pks in wanted.items():
        model = registry.get(slug).model
        rows += list(
            model.objects.filter(pk__in=pks, status__in=SDV_STATUSES, verified_at__isnull=True)
            .select_related("patient")
            .order_by("pk")
        )
    return rows


# --- data manager ------------------------------------------------------------------------------------------------


AGE_GROUPS = (("gt30", 31, None), ("7to30", 7, 30), ("lt7", 0, 6))


@dataclass(frozen=True)
class AgedQuery:
    query: Query
    age: int


@dataclass(frozen=True)
class LockCandidate:
    patient: Patient
    off_study: datetime.date
    queries: int
    unverified: int
    signature: str
    missing: int

    @property
    def ready(self) -> bool:
        return not (self.queries or self.unverified or self.signature or self.missing)


@dataclass
class DataManagerTodo:
    queries: dict[str, list[AgedQuery]] = field(default_factory=dict)
    candidates: list[LockCandidate] = field(default_factory=list)

    @property
    def ready(self) -> list[LockCandidate]:
        return [c for c in self.candidates if c.ready]

    @property
    def not_ready(self) -> list[LockCandidate]:
        return [c for c in self.candidates if not c.ready]

    @property
    def open_queries(self) -> int:
        return sum(len(v) for v in self.queries.values())

    @property
    def count(self) -> int:
        return self.open_queries + len(self.ready)


def queries_by_age(user: Any, *, today: datetime.date | None = None) -> dict[str, list[AgedQuery]]:
    """Queries not closed (open or answered), grouped by age in days: over 30, 7 to 30, under 7; oldest first."""
    today = today or timezone.localdate()
    groups: dict[str, list[AgedQuery]] = {key: [] for key, _low, _high in AGE_GROUPS}
    for q in query_service.filter_queries(user, status="active").order_by("raised_at", "pk"):
        age = query_service.age_days(q)
        key = next(k for k, low, high in AGE_GROUPS if age >= low and (high is None or age <= high))
        groups[key].append(AgedQuery(q, age))
    return groups


def _off_study_dates() -> dict[int, datetime.date]:
    """patient id -> the day the patient left the study (end-of-study date or death), unlocked patients only."""
    out: dict[int, datetime.date] = {}
    for model, date_field in ((Disposition, "eos_date"), (DeathReport, "death_date")):
        rows = model.objects.filter(**{f"{date_field}__isnull": False, "patient__locked_at__isnull": True})
        for pk, day in rows.values_list("patient_id", date_field):
            out[pk] = min(out.get(pk, day), day)
    return out


def _lock_facts(ids: list[int]) -> dict[int, tuple[int, int, bool, bool, int]]:
    """patient id -> (open queries, forms not verified, a valid signature, a voided signature, expected forms
    missing) for these patients, in bulk: the sections of the pre-lock report."""
    # each read's SQL is built once per process (sabr_trial.compiled): a save recounts its patient (issue 20)
    open_queries = dict(
        compiled.patient_rows(
            "todo:lock-open-queries",
            lambda some: (
                Query.objects.filter(patient_id__in=some)
                .exclude(query_status=Query.Status.CLOSED)
                .values("patient_id")
                .annotate(n=Count("pk"))
                .values_list("patient_id", "n")
                .order_by()
            ),
            ids,
        )
    )
    unverified: dict[int, int] = defaultdict(int)

    def unverified_parts(some: list[int]) -> Any:
        return _union_all(
            [
                spec.model.objects.filter(patient_id__in=some, verified_at__isnull=True)
                .exclude(status=CrfStatus.LOCKED)
                .values("patient_id")
                .annotate(n=Count("pk"))
                .values_list("patient_id", "n")
                .order_by()
                for spec in registry.all()
            ]
        )

    for pk, n in compiled.patient_rows("todo:lock-unverified", unverified_parts, ids):
        unverified[pk] += n
    valid: set[int] = set()
    voided: set[int] = set()
    for pk, voided_at in compiled.patient_rows(
        "todo:lock-signatures",
        lambda some: CasebookSignature.objects.filter(patient_id__in=some).values_list(
            "patient_id", "voided_at"
        ),
        ids,
    ):
        (voided if voided_at else valid).add(pk)
    missing: dict[int, int] = defaultdict(int)
    for ps in selectors.collect(today=timezone.localdate(), patient_ids=ids):
        missing[ps.patient_id] = sum(1 for ef in ps.forms if ef.state in (State.OVERDUE, State.DUE))
    return {
        pk: (open_queries.get(pk, 0), unverified[pk], pk in valid, pk in voided, missing[pk]) for pk in ids
    }


def _lock_candidate_facts() -> tuple[dict[int, datetime.date], dict[int, tuple[int, int, bool, bool, int]]]:
    """The off-study unlocked patients (id -> off-study day) and their pre-lock facts (``_lock_facts``)."""
    if StudyLock.active() is not None:
        return {}, {}
    off = _off_study_dates()
    if not off:
        return {}, {}
    key = f"visits:lock-facts:{timezone.localdate().isoformat()}"
    return off, generation.per_patient({key: lambda v: v}, key, sorted(off), _lock_facts)


def _ready(facts: tuple[int, int, bool, bool, int]) -> bool:
    """Nothing left in the pre-lock report: no open query, every form verified, a valid signature and no voided
    one, no expected form missing (``LockCandidate.ready``)."""
    queries, unverified, valid, voided, missing = facts
    return not (queries or unverified or missing) and valid and not voided


def lock_candidates() -> list[LockCandidate]:
    """Patients off study whose casebooks are not locked, with what the pre-lock report still lists.

    The sections are those of ``sabr_trial.selectors.prelock_report`` (open queries, forms not verified, the
    casebook signature, expected forms missing), counted in bulk for the candidates and kept per patient under the
    patient's data version and the day (issue 20: a save recounts the patient it changed, not every candidate).
    """
    from django.utils.translation import gettext as _

    off, facts = _lock_candidate_facts()
    if not off:
        return []
    out = []
    for p in Patient.objects.filter(pk__in=sorted(off)).order_by("study_number", "pk"):
        queries, unverified, valid, voided, missing = facts[p.pk]
        signature = ""
        if not valid:
            signature = _("not signed")
        if voided:
            signature = (signature + ", " if signature else "") + _("a voided signature")
        out.append(
            LockCandidate(
                patient=p,
                off_study=off[p.pk],
                queries=queries,
                unverified=unverified,
                signature=signature,
                missing=missing,
            )
        )
    return out


def _data_manager_parts(user: Any) -> tuple[bool, bool]:
    """Which parts of the data manager's list this user sees: (queries by age, casebooks to lock)."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    return has_perm(user, Perm.RAISE_QUERY), has_perm(user, Perm.LOCK)


def data_manager_todo(user: Any) -> DataManagerTodo:
    by_age, candidates = _data_manager_parts(user)
    todo = DataManagerTodo()
    if by_age:
        todo.queries = queries_by_age(user)
    if candidates:
        todo.candidates = lock_candidates()
    return todo


def data_manager_todo_count(user: Any) -> int:
    """``data_manager_todo(user).count`` without reading the rows (queries not closed, casebooks ready to lock),
    for the navigation (issue 20); a test checks both agree."""
    by_age, candidates = _data_manager_parts(user)
    n = 0
    if by_age:
        # every query not closed falls in one age group (AGE_GROUPS cover 0 days and up)
        n += compiled.count(
            "todo:queries-active", lambda: query_service.filter_queries(user, status="active")
        )
    if candidates:
        _off, facts = _lock_candidate_facts()
        n += sum(1 for f in facts.values() if _ready(f))
    return n


# --- navigation counts -------------------------------------------------------------------------------------------


def _cached(name: str, compute: Any) -> int:
    from django.core.cache import cache

    key = f"visits:todo-count:{name}:{timezone.localdate().isoformat()}:{selectors.generation()}"
    count = cache.get(key)
    if count is None:
        count = compute()
        cache.set(key, count, timeout=selectors.BADGE_CACHE_SECONDS)
    return int(count)


def investigator_count(request: Any) -> int | None:
    """The investigator's to-do count in the navigation (the same for every investigator: one centre)."""
    user = request.user
    if not has_perm(user, Perm.SIGN):
        return None
    return _cached("investigator", lambda: investigator_todo_count(user)) or None


def monitor_count(request: Any) -> int | None:
    """Forms a monitor can verify now, study-wide."""
    if not has_perm(request.user, Perm.VERIFY):
        return None
    return _cached("monitor", sdv_count) or None


def data_manager_count(request: Any) -> int | None:
    """Queries not closed plus casebooks ready to lock."""
    user = request.user
    if not has_perm(user, Perm.LOCK):
        return None
    return _cached("data-manager", lambda: data_manager_todo_count(user)) or None
