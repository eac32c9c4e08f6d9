"""The CRF base every case report form inherits, and the registry the casebook is built from.

Lifecycle (DESIGN.md): draft -> submitted -> verified (SDV) -> signed -> locked.
After ``submitted`` every change needs a reason; a change to a verified or signed form
drops it back to ``submitted`` and voids the signature; ``locked`` refuses every change.
The transitions themselves live in ``sabr_trial.services``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from sabr_trial import checkeval, pipeline

if TYPE_CHECKING:
    from django import forms


class CrfStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    VERIFIED = "verified", _("Verified (SDV)")
    SIGNED = "signed", _("Signed")
    LOCKED = "locked", _("Locked")


class MissingCode(models.TextChoices):
    """CDASH missing-data codes (issue 19 item 9; REDCap's missing-data codes): why a field holds no value.

    A CRF declares per field which codes it allows (:class:`Missing` on its CrfSpec); a coded field is empty."""

    ND = "ND", _("Not done")
    UNK = "UNK", _("Unknown")
    NA = "NA", _("Not applicable")
    NASK = "NASK", _("Not asked")


class CrfBase(models.Model):
    """Abstract base: patient link, lifecycle status, optimistic-concurrency version, history."""

    patient = models.ForeignKey(
        "enrollment.Patient", on_delete=models.PROTECT, related_name="%(app_label)s_%(class)s_set"
    )
    status = models.CharField(_("status"), max_length=10, choices=CrfStatus.choices, default=CrfStatus.DRAFT)
    status_before_lock = models.CharField(
        max_length=10, choices=CrfStatus.choices, blank=True, editable=False
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True, editable=False)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, editable=False, related_name="+"
    )
    #: ``{field: code}``: the fields left empty on purpose, each with its missing-data code (:class:`MissingCode`),
    #: allowed per field by the CRF's declaration (``CrfSpec.missing``); kept in the history rows like any value.
    missing_codes = models.JSONField(_("missing-data codes"), default=dict, blank=True, editable=False)
    history = HistoricalRecords(inherit=True)

    #: Fields of the base, never shown on a CRF's data form.
    LIFECYCLE_FIELDS = (
        "id",
        "patient",
        "status",
        "status_before_lock",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
        "submitted_at",
        "verified_at",
        "verified_by",
        "signed_at",
        "signed_by",
        "locked_at",
        "locked_by",
    )
    #: The relations its ``__str__`` follows: lists of rows read them with the rows (one join, not a query a row).
    str_related: ClassVar[tuple[str, ...]] = ()

    class Meta:
        abstract = True

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        spec = self.crf_spec()
        return reverse("crf_detail", args=[self.patient_id, spec.slug, self.pk])

    @classmethod
    def detail_urls(cls, patient_id: int) -> Callable[[int], str]:
        """``pk -> get_absolute_url()`` of this form's rows of one patient, with the URL reversed once instead of
        once per row (a long list: ``reverse`` was a fifth of rendering the casebook's AE panel)."""
        from django.urls import reverse

        slug = registry.for_model(cls).slug
        probe = 987_654_321
        head, found, tail = reverse("crf_detail", args=[patient_id, slug, probe]).rpartition(f"/{probe}/")
        if not found or str(probe) in head + tail:  # not a shape known here: reverse each row
            return lambda pk: reverse("crf_detail", args=[patient_id, slug, pk])
        return lambda pk: f"{head}/{pk}/{tail}"

    def crf_spec(self) -> CrfSpec:
        return registry.for_model(type(self))

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Any:
        """A row read from the database remembers its links as read (their targets need no existence check while
        they are unchanged: :func:`_links_known_to_exist`)."""
        instance = super().from_db(db, field_names, values)
        instance._links_as_read = {
            f.attname: instance.__dict__.get(f.attname)
            for f in cls._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and f.attname in instance.__dict__
        }
        return instance

    def clean(self) -> None:
        """Run the edit checks registered for this CRF (pipeline stage 3), unless a form said that the write
        pipeline runs them (``CrfForm.defer_rules``: the browser page validates the fields, the save the rules)."""
        if getattr(self, "_rules_deferred", False):
            return
        errors = branch_errors(self)
        for name, found in missing_code_errors(self).items():
            errors.setdefault(name, []).extend(found)
        try:
            pipeline.rules.run(self)
        except ValidationError as refused:
            if not errors:
                raise
            # A field that does not apply is refused once, by the branching; the rules' words on its value go.
            hidden = {n for n, found in errors.items() if any(e.code == "branch_hidden" for e in found)}
            for name, found in refused.update_error_dict({}).items():
                if name not in hidden:
                    errors.setdefault(name, []).extend(found)
        if errors:
            raise ValidationError(errors)

    def clean_fields(self, exclude: Any = None) -> None:
        """The fields' own checks; a blank field that may take a missing-data code is left to ``clean`` (it is
        required unless coded: :func:`missing_code_errors`)."""
        skip = set(exclude or ())
        try:
            spec = registry.for_model(type(self))
        except KeyError:
            spec = None
        if spec is not None:
            for name in spec.missing_fields():
                if _is_blank(getattr(self, type(self)._meta.get_field(name).attname, None)):
                    skip.add(name)
        skip |= _links_known_to_exist(self)
        super().clean_fields(exclude=skip)

    def missing_code(self, name: str) -> str:
        """The missing-data code of field ``name``, or ""."""
        codes = self.missing_codes if isinstance(self.missing_codes, dict) else {}
        return str(codes.get(name) or "")

    def missing_in_words(self) -> str:
        """ "Karnofsky performance status: Unknown (UNK)", one per coded field (the casebook's row badge)."""
        codes = self.missing_codes if isinstance(self.missing_codes, dict) else {}
        parts = []
        for name, code in codes.items():
            try:
                label = str(type(self)._meta.get_field(name).verbose_name)
            except Exception:
                label = str(name)
            parts.append(f"{label}: {missing_label(str(code))} ({code})")
        return "; ".join(parts)

    def validate_constraints(self, exclude: Any = None) -> None:
        """The table's constraints; deferred with the rules (a constraint on a field a rule refused is not checked
        again, so the rule's message, which names the field, is the one shown)."""
        if getattr(self, "_rules_deferred", False):
            return
        validate_constraints_in_python(self, exclude)

    @property
    def is_locked(self) -> bool:
        return self.status == CrfStatus.LOCKED

    @property
    def needs_reason(self) -> bool:
        """A change after submission needs a reason for change (DESIGN.md lifecycle)."""
        return self.status != CrfStatus.DRAFT


@dataclass(frozen=True)
class Branch:
    """Fields of a CRF that apply only when another field of it has one of some values (issue 19 item 8).

    ``when = ("withdrawn", ("Y",))``: the ``fields`` apply when ``withdrawn`` is ``Y``. Declared once on the
    CrfSpec: the form marks each dependent field (``data-branch-field``/``data-branch-values``) and
    ``static/js/branching.js`` shows or hides it live; ``CrfBase.clean`` (every write: browser, API, importer)
    refuses a value in a field that does not apply, and, with ``required``, a blank in one that does. ``rule`` is the
    edit check's id the messages cite (the rule itself may require the fields when they apply).
    """

    fields: tuple[str, ...]
    when: tuple[str, tuple[str, ...]]
    required: bool = False
    rule: str = ""

    #: In ``when``'s values: the fields apply when the controlling field holds any value (e.g. an other dose).
    FILLED = "*"

    @property
    def controller(self) -> str:
        return self.when[0]

    def applies(self, instance: Any) -> bool:
        value = _raw(getattr(instance, self.controller, None))
        return value in self.when[1] or (self.FILLED in self.when[1] and value.strip() != "")


def _raw(value: Any) -> str:
    """The stored code of a value as the declaration names it (a boolean as "True"/"False", None as "")."""
    if value is None:
        return ""
    return str(value)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _condition(model: type[models.Model], branch: Branch) -> str:
    """ "“Serious?” is “Yes”" in the active language: the controlling field's label and its values' labels."""
    field = model._meta.get_field(branch.controller)
    if branch.when[1] == (Branch.FILLED,):
        return gettext("“%(field)s” is filled in") % {"field": field.verbose_name}
    labels = dict(getattr(field, "flatchoices", None) or ())
    values = [str(labels.get(v, v)) for v in branch.when[1]]
    shown = values[0]
    for value in values[1:]:
        shown = gettext("%(a)s or %(b)s") % {"a": shown, "b": value}
    return gettext("“%(field)s” is “%(value)s”") % {"field": field.verbose_name, "value": shown}


def branch_errors(instance: CrfBase) -> dict[str, list[ValidationError]]:
    """The branching declared on the instance's CrfSpec, applied to its values: a field that does not apply holds
    no value; a required field that applies holds one."""
    try:
        spec = registry.for_model(type(instance))
    except KeyError:
        return {}
    errors: dict[str, list[ValidationError]] = {}
    model = type(instance)
    for branch in spec.branching:
        shown = branch.applies(instance)
        for name in branch.fields:
            value = getattr(instance, model._meta.get_field(name).attname, None)  # a link's id: no query
            if not shown and (not _is_blank(value) or instance.missing_code(name)):  # a missing-data code too
                code = "branch_hidden"
                if branch.rule:
                    text = gettext("This field applies only when %(condition)s (%(rule)s).")
                else:
                    text = gettext("This field applies only when %(condition)s.")
            elif shown and branch.required and _is_blank(value):
                code = "branch_required"
                if branch.rule:
                    text = gettext("This field is required when %(condition)s (%(rule)s).")
                else:
                    text = gettext("This field is required when %(condition)s.")
            else:
                continue
            message = text % {"condition": _condition(model, branch), "rule": branch.rule}
            errors.setdefault(name, []).append(ValidationError(message, code=code))
    return errors


@dataclass(frozen=True)
class Missing:
    """Fields of a CRF that may be left empty with a missing-data code (issue 19 item 9; CDASH ND/UNK/NA/NASK).

    Declared once on the CrfSpec (the data dictionary): the form puts a code select beside each field
    (``static/js/missing.js`` empties and disables the field while a code is chosen); ``CrfBase.clean`` (every
    write: browser, API, importer) refuses a code the field does not allow, a value beside a code and, for a field
    the form requires, a blank without a code. ``feeds`` names the derivation the field is an input of: a coded value
    is left out of it, and edit check DM-5 raises a query naming the field and the code.
    """

    fields: tuple[str, ...]
    codes: tuple[str, ...] = ("ND", "UNK")
    feeds: Any = ""


def missing_label(code: str) -> str:
    """A code in words in the active language ("Not done"), or the code itself when it is not one."""
    try:
        return str(MissingCode(code).label)
    except ValueError:
        return code


def _codes_in_words(codes: tuple[str, ...]) -> str:
    return ", ".join(f"{missing_label(c)} ({c})" for c in codes)


def missing_code_errors(instance: CrfBase) -> dict[str, list[ValidationError]]:
    """The missing-data codes of a row against its CRF's declaration (``CrfSpec.missing``).

    A code on a field that does not allow it, an unknown code, a value beside a code, and a blank required field
    without a code are refused next to the field; a code on a name that is no field of the form is refused at the
    top, naming it."""
    try:
        spec: CrfSpec | None = registry.for_model(type(instance))
    except KeyError:
        spec = None
    model = type(instance)
    errors: dict[str, list[ValidationError]] = {}

    def add(name: str, message: str, code: str) -> None:
        errors.setdefault(name, []).append(ValidationError(message, code=code))

    codes = instance.missing_codes
    if codes in (None, ""):
        codes = {}
    if not isinstance(codes, dict):
        add("__all__", gettext("Missing-data codes are given as {field: code}."), "missing_malformed")
        return errors
    for name, code in codes.items():
        try:
            f = model._meta.get_field(str(name))
        except Exception:
            add(
                "__all__",
                gettext("“%(name)s” is not a field of this form: it cannot take a missing-data code.")
                % {"name": name},
                "missing_unknown_field",
            )
            continue
        allowed = spec.missing_codes_for(f.name) if spec is not None else ()
        if not allowed:
            add(
                f.name,
                gettext("This field takes no missing-data code: enter its value."),
                "missing_not_allowed",
            )
        elif code not in MissingCode.values:
            add(
                f.name,
                gettext("“%(code)s” is not a missing-data code. This field allows: %(allowed)s.")
                % {"code": code, "allowed": _codes_in_words(allowed)},
                "missing_unknown_code",
            )
        elif code not in allowed:
            add(
                f.name,
                gettext("“%(label)s” (%(code)s) is not allowed for this field. It allows: %(allowed)s.")
                % {"label": missing_label(str(code)), "code": code, "allowed": _codes_in_words(allowed)},
                "missing_code_refused",
            )
        elif not _is_blank(getattr(instance, f.attname, None)):
            add(
                f.name,
                gettext("A field marked “%(label)s” stays empty: remove the value or the code.")
                % {"label": missing_label(str(code))},
                "missing_with_value",
            )
    if spec is not None:
        for name in spec.missing_fields():
            f = model._meta.get_field(name)
            if f.blank or name in codes or not _is_blank(getattr(instance, f.attname, None)):
                continue
            add(
                name,
                gettext(
                    "This field is required: enter its value or choose a missing-data code (%(allowed)s)."
                )
                % {"allowed": _codes_in_words(spec.missing_codes_for(name))},
                "required",
            )
    return errors


@dataclass(frozen=True)
class CrfSpec:
    """How one CRF appears in the casebook and which form edits it."""

    slug: str
    model: type[CrfBase]
    form_class: Callable[..., forms.ModelForm[Any]] | None
    title: Any
    section: Any
    order: int
    many: bool = True
    feeds_endpoints: bool = False
    description: Any = ""
    #: Optional view overrides: {"create": ViewClass, "update": ViewClass, "detail": ViewClass}
    views: dict[str, Any] = field(default_factory=dict)
    #: Optional callable(patient) -> str | None explaining why a new form cannot be added now.
    can_add: Callable[[Any], str | None] | None = None
    #: Which fields apply when (:class:`Branch`): the form shows them live, every write refuses a hidden one's value.
    branching: tuple[Branch, ...] = ()

    #: Which fields may be left empty with which missing-data codes (:class:`Missing`; the data dictionary).
    missing: tuple[Missing, ...] = ()

    def missing_of(self, name: str) -> Missing | None:
        for entry in self.missing:
            if name in entry.fields:
                return entry
        return None

    def missing_codes_for(self, name: str) -> tuple[str, ...]:
        entry = self.missing_of(name)
        return entry.codes if entry is not None else ()

    def missing_fields(self) -> list[str]:
        return [name for entry in self.missing for name in entry.fields]

    def branch_of(self, name: str) -> Branch | None:
        for branch in self.branching:
            if name in branch.fields:
                return branch
        return None


@dataclass(frozen=True)
class CasebookPanel:
    """A block on the casebook page above the form list (response summary, exposure, queries...).

    ``context(request, patient)`` returns the template context, or None to hide the panel. A ``cached`` panel is
    rendered once per (patient, data generation, language, day, the reader's permissions) and read from the shared
    cache (``enrollment.views.casebook``): its template may depend on nothing else (no request, no form with a CSRF
    token, no time of day), and its context on the user only through the permissions it checks.
    """

    order: int
    template: str
    context: Callable[[Any, Any], dict[str, Any] | None]
    cached: bool = False


@dataclass(frozen=True)
class NavItem:
    """A link in the top navigation, shown when the user holds ``perm`` (a sabr_trial codename)."""

    order: int
    label: Any
    url_name: str
    perm: str
    badge: Callable[[Any], int | None] | None = None
    #: Shown in the navigation's "Administration" menu instead of the bar (study-wide settings, seldom used).
    menu: bool = False


@dataclass(frozen=True)
class HomePage:
    """Where a user holding ``perm`` lands after signing in (a role's to-do list); the lowest ``order`` wins."""

    order: int
    perm: str
    url_name: str


@dataclass(frozen=True)
class LockCheck:
    """One section of the pre-lock report: ``items(patient)`` returns what is still open, in words."""

    order: int
    key: str
    title: Any
    items: Callable[[Any], list[str]]


class CrfRegistry:
    """All CRFs of the study, registered by each app's ``AppConfig.ready``; plus casebook panels and nav items."""

    def __init__(self) -> None:
        self._by_slug: dict[str, CrfSpec] = {}
        self._on_change: list[Callable[[type[CrfBase], Any], None]] = []
        self.panels: list[CasebookPanel] = []
        self.nav_items: list[NavItem] = []
        self.lock_checks: list[LockCheck] = []
        self.home_pages: list[HomePage] = []
        #: callables(patient, saved_slug, saved_row) -> url | None: where "save and continue" goes (visits)
        self.next_form_finders: list[Callable[[Any, str, Any], str | None]] = []

    def register_next_form(self, finder: Callable[[Any, str, Any], str | None]) -> None:
        """A higher app tells "save and continue" which form comes next (visits: the visit's next expected form)."""
        if finder not in self.next_form_finders:
            self.next_form_finders.append(finder)

    def register_home(self, page: HomePage) -> None:
        """A higher app names a role's home page (visits: the to-do lists); nobody registered: the patient list."""
        if page.url_name not in {p.url_name for p in self.home_pages}:
            self.home_pages.append(page)
            self.home_pages.sort(key=lambda p: p.order)

    def register_lock_check(self, check: LockCheck) -> None:
        """A higher app adds a section to the pre-lock report (visits: expected forms missing)."""
        if check.key not in {c.key for c in self.lock_checks}:
            self.lock_checks.append(check)
            self.lock_checks.sort(key=lambda c: c.order)

    def register_panel(self, panel: CasebookPanel) -> None:
        if panel.template not in {p.template for p in self.panels}:
            self.panels.append(panel)
            self.panels.sort(key=lambda p: p.order)

    def register_nav(self, item: NavItem) -> None:
        if item.url_name not in {i.url_name for i in self.nav_items}:
            self.nav_items.append(item)
            self.nav_items.sort(key=lambda i: i.order)

    def register(self, spec: CrfSpec) -> None:
        if spec.slug in self._by_slug and self._by_slug[spec.slug].model is not spec.model:
            raise ValueError(f"CRF slug {spec.slug!r} registered twice")
        self._by_slug[spec.slug] = spec

    def get(self, slug: str) -> CrfSpec:
        return self._by_slug[slug]

    def __contains__(self, slug: object) -> bool:
        return slug in self._by_slug

    def for_model(self, model: type[models.Model]) -> CrfSpec:
        for spec in self._by_slug.values():
            if spec.model is model or issubclass(model, spec.model):
                return spec
        raise KeyError(model)

    def all(self) -> list[CrfSpec]:
        return sorted(self._by_slug.values(), key=lambda s: (s.order, s.slug))

    def on_change(self, callback: Callable[[type[CrfBase], Any], None]) -> None:
        """Call ``callback(model, pk)`` after the commit of any change to a CRF that feeds endpoints."""
        self._on_change.append(callback)

    def changed(self, model: type[CrfBase], pk: Any) -> None:
        for callback in self._on_change:
            callback(model, pk)


registry = CrfRegistry()


def _links_known_to_exist(instance: models.Model) -> set[str]:
    """Foreign keys whose target the instance holds as a row read from the database (the patient a service was
    given, the acting user, a CTCAE term a form looked up), or that are unchanged since the row was read: Django's
    field check would ask the database whether that row exists, one query each (three on an AE save). Rows are
    never deleted while linked (``PROTECT``). A link with ``limit_choices_to`` or validators of its own is
    checked as usual; the database's foreign key still guards the write."""
    known = set()
    as_read = getattr(instance, "_links_as_read", {})
    for f in type(instance)._meta.concrete_fields:
        if not isinstance(f, models.ForeignKey) or f.validators or f.remote_field.limit_choices_to:
            continue
        value = getattr(instance, f.attname)
        if f.attname in as_read and as_read[f.attname] == value and not instance._state.adding:
            known.add(f.name)  # unchanged since the row was read: it pointed at an existing row then
            continue
        if not f.is_cached(instance):
            continue
        target = f.get_cached_value(instance)
        value = getattr(instance, f.attname)
        if target is not None and value is not None and not target._state.adding and target.pk == value:
            known.add(f.name)
    return known


def _unique_among_batch_rows(
    model_class: type[models.Model], instance: models.Model, constraint: Any, excluded: set[str]
) -> bool:
    """True if a new row of a bulk batch (``import_study``) is known to keep a unique constraint on plain fields
    whose first link names the scope (``patient``, ``target``): no row of that scope has its values, read once per
    scope and kept up to date by the batch's saves (``pipeline.batch_rows``). False: ask the database as Django
    does (also when a row of the scope has the values, so the refusal is Django's own)."""
    if (
        pipeline.bulk_batch() is None
        or not instance._state.adding
        or model_class is not type(instance)
        or not isinstance(constraint, models.UniqueConstraint)
        or not constraint.fields
        or constraint.condition is not None
        or constraint.expressions
        or constraint.include
        or constraint.nulls_distinct is False
    ):
        return False
    opts = model_class._meta
    fields = [opts.get_field(name) for name in constraint.fields]
    if any(f.name in excluded for f in fields):
        return False
    scope = next((f for f in fields if isinstance(f, models.ForeignKey)), None)
    values = [getattr(instance, f.attname) for f in fields]
    if scope is None or any(v is None or v == "" for v in values):
        return False
    rows = pipeline.batch_rows(model_class, scope.attname, getattr(instance, scope.attname))
    return not any(
        all(getattr(row, f.attname) == v for f, v in zip(fields, values, strict=True)) for row in rows
    )


def validate_constraints_in_python(instance: models.Model, exclude: Any = None) -> None:
    """``Model.validate_constraints`` with each check constraint evaluated on the row's values in Python
    (``sabr_trial.checkeval``: same answer, no query and no savepoint); a unique constraint, and a check the
    evaluator does not cover, ask the database as Django does."""
    excluded = set(exclude or ())
    opts = type(instance)._meta

    def value_of(name: str) -> Any:
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:
            raise checkeval.Unsupported(name) from None
        if field.name in excluded or not getattr(field, "concrete", False) or field.many_to_many:
            raise checkeval.Unsupported(name)  # Django skips a constraint on an excluded field (FieldError)
        return getattr(instance, field.attname)

    errors: dict[str, Any] = {}
    for model_class, constraints in instance.get_constraints():
        for constraint in constraints:
            try:
                if isinstance(constraint, models.CheckConstraint):
                    try:
                        if not checkeval.holds(constraint.condition, value_of):
                            raise ValidationError(
                                constraint.get_violation_error_message(),
                                code=constraint.violation_error_code,
                            )
                        continue
                    except checkeval.Unsupported:
                        pass
                if _unique_among_batch_rows(model_class, instance, constraint, excluded):
                    continue
                constraint.validate(model_class, instance, exclude=exclude)
            except ValidationError as e:
                fields = getattr(constraint, "fields", ())
                if getattr(e, "code", None) == "unique" and len(fields) == 1:
                    errors.setdefault(fields[0], []).append(e)
                else:
                    errors = e.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
