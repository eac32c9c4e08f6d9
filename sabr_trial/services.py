"""Every write of a CRF: create, change, and the lifecycle transitions.

Each function is keyword-only, runs in one transaction, calls ``full_clean()``, checks the
acting user's permission and the lock, and leaves a history row (django-simple-history)
with user and reason plus an ``AuditEvent`` for lifecycle steps. Views, the API, imports
and tasks call these; nothing else saves a CRF row.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth import authenticate
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, router, transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sabr_trial import pipeline
from sabr_trial.crf import CrfBase, CrfStatus, missing_label, registry
from sabr_trial.models import (
    AuditEvent,
    CasebookSignature,
    CrfLocked,
    NumberSequence,
    OutboxMessage,
    Signature,
    StudyLock,
    held_lock,
)
from sabr_trial.roles import Perm, has_perm
from sabr_trial.sitetime import stamp
from sabr_trial.validators import in_range

C = TypeVar("C", bound=CrfBase)


__all__ = ["CrfLocked"]  # defined in sabr_trial.models (the pre-save guard raises it too)


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str
    new: str


class StaleVersion(Exception):
    """The form was based on an older version than the database holds (optimistic concurrency)."""

    def __init__(self, current: CrfBase, expected_version: int, changes: list[FieldChange]) -> None:
        self.current = current
        self.expected_version = expected_version
        self.changes = changes
        #: The values the client sent with the stale request (the API's 412 shows them beside the current ones).
        self.submitted: dict[str, Any] = {}
        who = current.updated_by.get_username() if current.updated_by else "?"
        super().__init__(
            _(
                "This form was changed by %(user)s at %(when)s (version %(new)s) after you opened it "
                "(version %(old)s). Nothing was saved. Review the current values and enter your change again."
            )
            % {
                "user": who,
                "when": stamp(current.updated_at),
                "new": current.version,
                "old": expected_version,
            }
        )


def require_perm(user: Any, codename: str) -> None:
    """Raise PermissionDenied unless the user holds the study permission."""
    if not has_perm(user, codename):
        raise PermissionDenied(_("Your role does not allow this action."))


def refuse_if_study_locked(*, study_locked: bool | None = None) -> None:
    """Raise CrfLocked if the study is locked (``study_locked``: what the caller read in this request)."""
    if study_locked is None:
        study_locked = StudyLock.active() is not None
    if study_locked:
        raise CrfLocked(_("The study database is locked for analysis: no change is possible."))


def refuse_if_patient_locked(patient: Any, *, study_locked: bool | None = None) -> None:
    """Raise CrfLocked if the whole study or this patient's casebook is locked (``study_locked``: what the caller
    read of the study lock in this request; the save checks every lock again in its transaction)."""
    refuse_if_study_locked(study_locked=study_locked)
    if getattr(patient, "locked_at", None):
        raise CrfLocked(_("This patient's casebook is locked by data management: no change is possible."))


def _refuse_if_locked(instance: CrfBase) -> None:
    if instance.status == CrfStatus.LOCKED:
        raise CrfLocked(_("This form is locked by data management: no change is possible."))
    refuse_if_patient_locked(instance.patient)


def _refuse_if_held(instance: CrfBase) -> None:
    """Refuse a change of a row that a lock holds (study, casebook or form, as the database has them now: one
    query); the pre-save guard of the save that follows trusts this read (``_locks_read``).

    A new row in a batch (``import_study``) can be held only by the study or its casebook lock: that read is kept
    for the batch (``pipeline.batch_read``) until a lock or the patient is saved; the importer reads both locks again
    before its commit, so a lock taken meanwhile by another session still refuses the import."""
    if instance.pk is None:
        patient_model = type(instance)._meta.get_field("patient").related_model
        message = pipeline.batch_read(
            ("held_lock", patient_model, instance.patient_id),
            (StudyLock, patient_model),
            lambda: held_lock(instance),
        )
    else:
        message = held_lock(instance)
    if message:
        raise CrfLocked(message)
    instance._locks_read = True  # type: ignore[attr-defined]


def casebook_lock(patient: Any) -> str:
    """Name the lock that holds the patient's whole casebook (study or casebook); "" when none does.

    Pages hide every create and edit control when this is not empty (the services refuse anyway).
    """
    if StudyLock.active() is not None:
        return str(_("The study database is locked for analysis: no change is possible."))
    if getattr(patient, "locked_at", None):
        return str(_("This patient's casebook is locked by data management: no change is possible."))
    return ""


def lock_message(instance: CrfBase) -> str:
    """Name the lock that holds ``instance`` (study, casebook or form), for pages that refuse before a save."""
    return casebook_lock(instance.patient) or str(
        _("This form is locked by data management: no change is possible.")
    )


def may_verify_under_lock(instance: CrfBase) -> bool:
    """True if the study's policy lets a monitor verify this form although its casebook is locked.

    ``SDV_ON_LOCKED_CASEBOOK``: SDV confirms the source, it changes no value. A locked form or a study lock
    still refuses it.
    """
    from django.conf import settings

    return (
        settings.SDV_ON_LOCKED_CASEBOOK
        and bool(instance.patient.locked_at)
        and instance.status != CrfStatus.LOCKED
        and StudyLock.active() is None
    )


def is_locked(instance: CrfBase, *, study_locked: bool | None = None) -> bool:
    """True if the row, its patient or the study is locked (pages hide the buttons; services refuse anyway).

    ``study_locked``: whether the study is locked, when the caller read it already (one read per page).
    """
    if study_locked is None:
        study_locked = StudyLock.active() is not None
    return instance.status == CrfStatus.LOCKED or bool(instance.patient.locked_at) or study_locked


def data_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Return the concrete, editable CRF data fields of ``model`` (no lifecycle columns)."""
    skip = set(CrfBase.LIFECYCLE_FIELDS)
    return [
        f
        for f in model._meta.get_fields()
        if isinstance(f, models.Field)
        and f.concrete
        and f.editable
        and f.name not in skip
        and not f.many_to_many
    ]


def _display(instance: models.Model, f: models.Field[Any, Any]) -> str:
    value = getattr(instance, f.name)
    if value is None or value == "" or value == [] or value == {}:
        code = instance.missing_code(f.name) if isinstance(instance, CrfBase) else ""
        # A field left empty with a missing-data code shows the code in words (issue 19 item 9).
        return _("%(label)s (%(code)s)") % {"label": missing_label(code), "code": code} if code else "—"
    if isinstance(value, list):  # a JSON list (criteria not met): its items, never "['EXCL01']"
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if f.choices:
        return str(getattr(instance, f"get_{f.name}_display")())
    # A row stored before EC-G1 bounded dates (read clamped by sabr_trial.dbtypes): flag it, never crash.
    if isinstance(value, datetime.date) and not in_range(value):
        return _("%(value)s: out of range (EC-G1), correct this date") % {"value": value}
    if isinstance(value, datetime.datetime):
        return stamp(value)
    return str(value)


def _missing(instance: models.Model, name: str) -> str:
    codes = getattr(instance, "missing_codes", None)
    return str(codes.get(name) or "") if isinstance(codes, dict) else ""


def diff(old: models.Model, new: models.Model) -> list[FieldChange]:
    """Return the data fields whose values differ between two instances of one CRF model."""
    changes = []
    for f in data_fields(type(new)):
        if f.value_from_object(old) != f.value_from_object(new) or _missing(old, f.name) != _missing(
            new, f.name
        ):
            changes.append(FieldChange(f.name, str(f.verbose_name), _display(old, f), _display(new, f)))
    return changes


def _audit(
    *,
    user: Any,
    action: str,
    instance: CrfBase | None = None,
    patient: Any = None,
    description: str,
    reason: str = "",
) -> AuditEvent:
    event = AuditEvent(
        user=user if getattr(user, "pk", None) else None,
        action=action,
        patient=patient if patient is not None else (instance.patient if instance is not None else None),
        content_type=ContentType.objects.get_for_model(instance) if instance is not None else None,
        object_id=instance.pk if instance is not None else None,
        crf_version=instance.version if instance is not None else None,
        description=description[:300],
        reason=reason,
    )
    queue = pipeline.bulk_batch()
    if queue is None:
        event.save()
    else:  # written with the batch's other events, with the time it has now (write_pending)
        event.at = timezone.now()
        queue.add_pending(event)
    return event


def _save(instance: CrfBase, *, user: Any, reason: str) -> None:
    instance._change_reason = reason  # type: ignore[attr-defined]  # simple-history
    instance._history_user = user  # type: ignore[attr-defined]
    instance.updated_by = user
    save_with_history(instance)


def save_with_history(row: models.Model, **save_kwargs: Any) -> None:
    """``row.save()`` with its history row (django-simple-history). In a bulk batch (``import_study``) the row is
    written now (later rows' rules read it) and its history row is built now, as simple-history's ``post_save``
    builds it (same values, ``_history_user``, ``_change_reason``, time and type), and inserted with the batch's
    other history rows of its model (``write_pending``). The row must carry ``_history_user`` (no request user is
    looked up in a batch)."""
    queue = pipeline.bulk_batch()
    history_model = _history_model(type(row))
    if queue is None or history_model is None or not hasattr(row, "_history_user"):
        row.save(**save_kwargs)
        return
    created = row._state.adding
    row.skip_history_when_saving = True  # type: ignore[attr-defined]
    try:
        row.save(**save_kwargs)
    finally:
        del row.skip_history_when_saving  # type: ignore[attr-defined]
    queue.add_pending(_history_row(history_model, row, created=created))


def _history_row(history_model: Any, row: models.Model, *, created: bool) -> Any:
    """The history row simple-history's ``post_save`` would build for ``row`` now."""
    from simple_history.utils import get_change_reason_from_object

    return history_model(
        history_date=getattr(row, "_history_date", timezone.now()),
        history_type="+" if created else "~",
        history_user=row._history_user,  # type: ignore[attr-defined]
        history_change_reason=get_change_reason_from_object(row),
        **{f.attname: getattr(row, f.attname) for f in history_model.tracked_fields},
    )


def insert_with_history(rows: list[models.Model]) -> None:
    """New rows of one model, each saved as :func:`save_with_history` saves it, in this order. In a bulk batch
    they are written with one insert (their ids in the same order): each row gets the ``pre_save`` and
    ``post_save`` signals its own ``save()`` would send (the batch's kept reads, the pages' generations) and its
    history row waits for the batch's insert. A row must not need its ``save()`` (no override, no parent)."""
    from django.db.models.signals import post_save, pre_save

    queue = pipeline.bulk_batch()
    model = type(rows[0]) if rows else None
    history_model = _history_model(model) if model is not None else None
    if (
        queue is None
        or history_model is None
        or model is None
        or model.save is not models.Model.save
        or model._meta.parents
        or any(type(r) is not model or not r._state.adding or not hasattr(r, "_history_user") for r in rows)
    ):
        for row in rows:
            save_with_history(row)
        return
    using = router.db_for_write(model)
    for row in rows:
        pre_save.send(sender=model, instance=row, raw=False, using=using, update_fields=None)
    model._base_manager.using(using).bulk_create(rows)
    for row in rows:
        row.skip_history_when_saving = True  # type: ignore[attr-defined]
        try:
            post_save.send(
                sender=model, instance=row, created=True, update_fields=None, raw=False, using=using
            )
        finally:
            del row.skip_history_when_saving  # type: ignore[attr-defined]
        queue.add_pending(_history_row(history_model, row, created=True))


@functools.cache
def _history_model(model: type[models.Model]) -> Any:
    """The simple-history model of ``model`` (``Model.history`` builds a manager class at each access), or None
    for a model without history or with a history relation or m2m history (left to simple-history's signal)."""
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    if manager is None:
        return None
    history_model = getattr(model, manager).model
    if hasattr(history_model, "history_relation") or getattr(history_model, "_history_m2m_fields", None):
        return None
    return history_model


def write_pending(model: type | None = None) -> None:
    """Insert the rows a bulk batch keeps (of ``model``, or all): one insert per table (in chunks), in the order
    they were made, so their ids are in the order the one-by-one path gives them. Audit events and outbox messages
    keep the time they were made (``auto_now_add`` is not applied again: a raw insert, as ``loaddata`` does); the
    messages get their ids (delivered after the commit by id)."""
    queue = pipeline.bulk_batch()
    if queue is None:
        return
    for table, rows in queue.take_pending(model).items():
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            if table is AuditEvent or table is OutboxMessage:  # each keeps the time it was made
                fields = [f for f in table._meta.concrete_fields if not f.primary_key]
                returning = table._meta.db_returning_fields if table is OutboxMessage else None
                returned = table._base_manager._insert(
                    chunk, fields=fields, returning_fields=returning, raw=True
                )
                if returning:
                    for row, values in zip(chunk, returned, strict=True):
                        row.pk = values[0]
                        row._state.adding = False
            else:
                table._base_manager.bulk_create(chunk)


@contextlib.contextmanager
def savepoint() -> Any:
    """``transaction.atomic()`` that also drops the rows a bulk batch kept for the block when it raises."""
    queue = pipeline.bulk_batch()
    try:
        with transaction.atomic(), queue.savepoint() if queue is not None else contextlib.nullcontext():
            yield
    except BaseException:
        pipeline.forget_reads()  # the block's writes rolled back: reads kept since may show them
        raise


def _after_commit(instance: CrfBase) -> None:
    """Record the after-commit work of a CRF change in the outbox (``sabr_trial.outbox``), in this transaction.

    The edit checks run once per patient per atomic block (the runs are idempotent anyway); a CRF that feeds
    endpoints tells the registry's change listeners. Delivery happens after the commit and never fails the save.
    In a batch it is recorded once per form and patient when the batch flushes.
    """
    pipeline.once_per_batch(
        ("after_commit", type(instance), instance.patient_id),
        functools.partial(_record_after_commit, instance),
        savepoint=False,  # outbox rows only: nothing to refuse
    )


def _record_after_commit(instance: CrfBase) -> None:
    from sabr_trial import outbox

    outbox.record(
        EDIT_CHECKS_TOPIC, {"patient_id": instance.patient_id}, key=str(instance.patient_id), once=True
    )
    try:
        spec = registry.for_model(type(instance))
    except KeyError:
        return
    if spec.feeds_endpoints:
        # In a batch the listeners (a debounced endpoint recompute) hear once per form and patient, not per row.
        key = (
            f"{spec.slug}:{instance.pk}"
            if pipeline.current_batch() is None
            else f"{spec.slug}:p{instance.patient_id}"
        )
        outbox.record(CRF_CHANGED_TOPIC, {"slug": spec.slug, "pk": instance.pk}, key=key, once=True)


#: Outbox topics of the write pipeline (handlers in ``sabr_trial.apps``).
EDIT_CHECKS_TOPIC = "sabr_trial.edit_checks"
CRF_CHANGED_TOPIC = "sabr_trial.crf_changed"


def _title(instance: CrfBase) -> str:
    return _model_title(type(instance))


def _model_title(model: type[CrfBase]) -> str:
    try:
        return str(registry.for_model(model).title)
    except KeyError:
        return str(model._meta.verbose_name).title()


#: History reasons the pipeline writes itself: stored in English, shown in the reader's language
#: (``sabr_trial.templatetags.ruletext.change_reason``).
CREATED = gettext_noop("Created")
RECOMPUTED = gettext_noop("Recomputed")
RECOMPUTED_AFTER = gettext_noop("Recomputed after %(form)s v%(version)s changed")


def _set_m2m(instance: CrfBase, m2m: dict[str, Any] | None) -> None:
    for name, values in (m2m or {}).items():
        getattr(instance, name).set(values)


def crf_create(
    *,
    model: type[C],
    patient: Any,
    data: dict[str, Any],
    acting_user: Any,
    m2m: dict[str, Any] | None = None,
    status: str = CrfStatus.DRAFT,
) -> C:
    """Create one CRF row as a draft (or submitted, when ``status`` says so) for ``patient``.

    One transaction (a savepoint inside another). In a bulk batch (``import_study``) no savepoint of its own: every
    check that may refuse the row runs before its first write, and the history row and audit event wait for the
    batch's bulk insert (``write_pending``)."""
    kwargs = {"model": model, "patient": patient, "data": data, "acting_user": acting_user, "m2m": m2m}
    if pipeline.bulk_batch() is not None:
        return _crf_create(**kwargs, status=status)
    with transaction.atomic():
        return _crf_create(**kwargs, status=status)


def _crf_create(
    *,
    model: type[C],
    patient: Any,
    data: dict[str, Any],
    acting_user: Any,
    m2m: dict[str, Any] | None,
    status: str,
) -> C:
    require_perm(acting_user, Perm.ENTER)
    instance = model(patient=patient, **data)
    _refuse_if_held(instance)
    instance.created_by = acting_user
    if status == CrfStatus.SUBMITTED:
        instance.status = CrfStatus.SUBMITTED
        instance.submitted_at = timezone.now()
    with pipeline.same_reads(), pipeline.m2m_submitted(instance, m2m):
        instance.full_clean()
        pipeline.derivations.run(instance)
    _save(instance, user=acting_user, reason=CREATED)
    _set_m2m(instance, m2m)
    _audit(user=acting_user, action=AuditEvent.Action.CREATE, instance=instance, description=_title(instance))
    # In a batch: once per patient when it flushes (the reason names the first form added).
    pipeline.once_per_batch(
        ("void_casebook_signatures", patient.pk),
        functools.partial(
            void_casebook_signatures,
            patient,
            user=acting_user,
            reason=_("Form added: %(title)s") % {"title": _title(instance)},
        ),
        savepoint=False,  # an update and an audit row: nothing to refuse
    )
    run_followups(instance, user=acting_user)
    _after_commit(instance)
    return instance


def crf_update(
    *,
    instance: C,
    expected_version: int,
    data: dict[str, Any],
    reason: str,
    acting_user: Any,
    m2m: dict[str, Any] | None = None,
) -> tuple[C, list[FieldChange]]:
    """Apply ``data`` to the CRF if nobody changed it since ``expected_version``.

    Returns the saved row and the list of changed fields (empty: nothing to save).
    Raises StaleVersion (nothing written) when the version moved, CrfLocked when locked,
    ValidationError when a reason for change is missing or a rule refuses the values.
    The refusal of a stale save is audited after the rollback, so the audit row survives it.
    """
    try:
        return _crf_update(
            instance=instance,
            expected_version=expected_version,
            data=data,
            reason=reason,
            acting_user=acting_user,
            m2m=m2m,
        )
    except StaleVersion as exc:
        audit_stale(exc, acting_user=acting_user)
        raise


def audit_stale(exc: StaleVersion, *, acting_user: Any) -> None:
    """Audit the refusal of a stale save. Call it after the rollback (outside the save's atomic block), so the
    audit row survives it; a save that writes child rows in an outer block (the assessment grid) calls it again."""
    _audit(
        user=acting_user,
        action=AuditEvent.Action.STALE_REFUSED,
        instance=exc.current,
        description=_("Save from version %(v)s refused: current version is %(c)s")
        % {"v": exc.expected_version, "c": exc.current.version},
    )


@transaction.atomic
def _crf_update(
    *,
    instance: C,
    expected_version: int,
    data: dict[str, Any],
    reason: str,
    acting_user: Any,
    m2m: dict[str, Any] | None,
) -> tuple[C, list[FieldChange]]:
    require_perm(acting_user, Perm.ENTER)
    write_pending()  # this path reads and writes history: a bulk batch's waiting rows first
    model = type(instance)
    current = model.objects.select_for_update().select_related("patient").get(pk=instance.pk)
    _refuse_if_held(current)
    if current.version != expected_version:
        raise StaleVersion(current, expected_version, _changes_since(current, expected_version))
    # The row as read under the lock, before the change (``copy.copy`` copies Django's per-instance state and its
    # related-row cache; a second read of the same locked row returned the same values).
    before = copy.copy(current)
    for name, value in data.items():
        setattr(current, name, value)
    changes = diff(before, current)
    m2m_changed = False
    for name, values in (m2m or {}).items():
        old_ids = set(getattr(before, name).values_list("pk", flat=True))
        new_ids = {getattr(v, "pk", v) for v in values}
        if old_ids != new_ids:
            m2m_changed = True
            changes.append(FieldChange(name, str(model._meta.get_field(name).verbose_name), "", ""))
    if not changes:
        return current, []
    reason = (reason or "").strip()
    if current.needs_reason and not reason:
        raise ValidationError(
            {"change_reason": _("A reason for change is required once a form is submitted.")}
        )
    with pipeline.same_reads(), pipeline.m2m_submitted(current, m2m):
        current.full_clean()
        was = current.status
        if was in (CrfStatus.VERIFIED, CrfStatus.SIGNED):
            # DESIGN.md: a change after SDV or signature drops back to submitted and voids the signature.
            current.status = CrfStatus.SUBMITTED
            current.verified_at = None
            current.verified_by = None
            if current.signed_at:
                _void_signatures(current, user=acting_user, reason=reason)
            current.signed_at = None
            current.signed_by = None
        current.version += 1
        pipeline.derivations.run(current)
    _save(current, user=acting_user, reason=reason or _("Draft edit"))
    if m2m_changed:
        _set_m2m(current, m2m)
    summary = "; ".join(f"{c.label}: {c.old} → {c.new}" for c in changes)
    _audit(
        user=acting_user,
        action=AuditEvent.Action.UPDATE,
        instance=current,
        description=f"{_title(current)}: {summary}",
        reason=reason,
    )
    void_casebook_signatures(
        current.patient, user=acting_user, reason=f"{_title(current)}: {summary}. {reason}"
    )
    run_followups(current, user=acting_user)
    _after_commit(current)
    return current, changes


def cause_of(instance: models.Model, *, user: Any) -> pipeline.Cause:
    """The cause a change of ``instance`` gives to the follow-ups it starts (stage 8)."""
    return pipeline.Cause(
        user=user,
        title=_title(instance),
        model=type(instance),
        pk=instance.pk,
        version=getattr(instance, "version", 0),
    )


def run_followups(instance: CrfBase, *, user: Any) -> None:
    """Stage 8: re-derive the rows of other forms that this change invalidates, in this transaction (inside a
    batch: queued, once per hook and key, until ``flush_batch``)."""
    cause = cause_of(instance, user=user)
    queue = pipeline.current_batch()
    if queue is None:
        with pipeline.caused_by(cause):
            pipeline.followups.run(instance)
        return
    for hook in pipeline.followups.for_model(type(instance)):
        queue.defer(
            pipeline.followups.batch_key(hook, instance), functools.partial(hook, instance), cause=cause
        )


def flush_batch(
    queue: pipeline.Batch,
    *,
    skip: Callable[[Any], bool] | None = None,
    on_error: Callable[[Any, Exception], None] | None = None,
    savepoints: bool = True,
) -> int:
    """Run the follow-ups a batch queued (stage 8 of its saves), each in its own savepoint (not the bookkeeping
    queued with ``savepoint=False``) and with the cause it was queued with, until none is left (a follow-up may queue
    more). ``skip(tag)``: leave out those of a refused patient. A refusal (ValidationError, PermissionDenied) goes
    to ``on_error(tag, exc)``, or is raised without it. Returns how many ran.

    ``savepoints=False``: no savepoint per follow-up, for a caller that never commits a transaction in which
    something was refused (``import_study``: a refusal rolls the whole pass back); a refused follow-up's rows
    kept for a bulk insert are dropped all the same."""
    ran = 0
    write_pending()  # the follow-ups read the rows' history (a bulk batch's rows waiting for their insert)
    while len(queue):
        for item in queue.take():
            if skip is not None and skip(item.tag):
                continue
            guard: Any = contextlib.nullcontext()
            if item.savepoint:
                guard = savepoint() if savepoints else queue.savepoint()
            try:
                with (
                    guard,
                    pipeline.caused_by(item.cause) if item.cause is not None else contextlib.nullcontext(),
                ):
                    item.run()
            except (ValidationError, PermissionDenied) as exc:
                pipeline.forget_reads()  # the savepoint's writes rolled back: reads kept since may show them
                if on_error is None:
                    raise
                on_error(item.tag, exc)
            ran += 1
    write_pending()
    return ran


def _recompute_reason() -> str:
    """The history reason of a derived row written again: stored in English whoever saved the cause (pages show it
    in the reader's language, ``sabr_trial.templatetags.ruletext.change_reason``)."""
    cause = pipeline.current_cause()
    if cause is None:
        return RECOMPUTED
    with translation.override("en"):
        form = _model_title(cause.model)
    return RECOMPUTED_AFTER % {"form": form, "version": cause.version}


def _changed_values(row: models.Model, values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if getattr(row, name) != value}


def crf_system_update(
    *, instance: C, values: dict[str, Any], cascade: bool = True, locked: bool = False
) -> C:
    """Write derived values of a CRF row that another change invalidated (pipeline stage 8).

    Only values that differ are written. The row moves to the next version and gets its own history row, with
    the acting user of the change that caused it and the reason "recomputed after <form> v<n> changed"; its
    lifecycle status stays (nobody typed these values), a locked row refuses the recompute (and with it the
    change that caused it). The row the cause itself is saving is completed in place instead: its values join
    the history row of that same save, so one save leaves one history row. With ``cascade`` the follow-ups
    registered for this row's model run in turn.

    ``locked``: ``instance`` is the row as the caller has just read it for update in this transaction (with its
    patient), unchanged since: it is not read again, and it is the row written (a follow-up of a batch reads the
    rows it re-derives that way: :func:`followup_rows`).
    """
    model = type(instance)
    if locked:
        current = instance
    else:
        current = model.objects.select_for_update().select_related("patient").get(pk=instance.pk)
    changed = _changed_values(current, values)
    if not changed:
        return current
    cause = pipeline.current_cause()
    if cause is not None and cause.model is model and cause.pk == current.pk:
        # this branch reads the row's history: a bulk batch's waiting history rows of its table first (the rows
        # of other tables wait for the flush; a row written one by one lets its table's waiting ones go first)
        history_model = _history_model(model)
        if history_model is not None:
            write_pending(history_model)
        model.objects.filter(pk=current.pk).update(**changed)
        pipeline.forget_reads(model)  # an update() sends no post_save
        latest = current.history.filter(version=current.version).order_by("-history_id").first()
        if latest is not None:
            type(latest).objects.filter(pk=latest.pk).update(**changed)
        for name, value in changed.items():
            setattr(current, name, value)
        return current
    if _held_now(current):
        raise CrfLocked(
            _("%(title)s is locked, and this change would recompute its derived values: unlock it first.")
            % {"title": _title(current)}
        )
    current._locks_read = True  # type: ignore[attr-defined]  (the pre-save guard trusts this read)
    for name, value in changed.items():
        setattr(current, name, value)
    current.version += 1
    _save(current, user=cause.user if cause is not None else None, reason=_recompute_reason())
    if cascade:
        with pipeline.caused_by(cause_of(current, user=cause.user if cause is not None else None)):
            pipeline.followups.run(current)
    return current


def followup_rows(queryset: models.QuerySet[Any]) -> tuple[models.QuerySet[Any], bool]:
    """The rows a follow-up reads to re-derive, and whether they are read for update. In a bulk batch
    (``import_study``) they are read for update (the rows only, ``of=("self",)``) with their patient, so that
    ``crf_system_update(..., locked=True)`` need not read each one again; elsewhere as given (a row is locked only
    when its values move)."""
    if pipeline.bulk_batch() is None:
        return queryset, False
    return queryset.select_related("patient").select_for_update(of=("self",)), True


def _held_now(current: CrfBase) -> bool:
    """Whether a lock holds ``current``, a row just read for update: one query (``held_lock``); in a batch the
    study and casebook locks of its patient are the batch's kept read (``_refuse_if_held``: the importer reads
    them again before its commit) and the form lock is the row's own status, as just read."""
    if pipeline.current_batch() is None:
        return bool(held_lock(current))
    patient_model = type(current)._meta.get_field("patient").related_model
    kept = pipeline.batch_read(
        ("held_lock", patient_model, current.patient_id),
        (StudyLock, patient_model),
        lambda: held_lock(type(current)(patient_id=current.patient_id)),
    )
    return bool(kept) or current.status == CrfStatus.LOCKED


def child_system_update(*, row: models.Model, values: dict[str, Any]) -> bool:
    """Write derived values of a child row with history (a lesion result of a time point), like
    ``crf_system_update``; returns whether anything changed."""
    changed = _changed_values(row, values)
    if not changed:
        return False
    for name, value in changed.items():
        setattr(row, name, value)
    cause = pipeline.current_cause()
    row._history_user = cause.user if cause is not None else None  # type: ignore[attr-defined]
    row._change_reason = _recompute_reason()  # type: ignore[attr-defined]
    save_with_history(row, update_fields=list(changed))
    return True


def _changes_since(current: CrfBase, expected_version: int) -> list[FieldChange]:
    old = current.history.filter(version=expected_version).order_by("-history_date").first()
    if old is None:
        return []
    return diff(old.instance, current)


def _void_signatures(instance: CrfBase, *, user: Any, reason: str) -> None:
    ct = ContentType.objects.get_for_model(instance)
    now = timezone.now()
    voided = Signature.objects.filter(content_type=ct, object_id=instance.pk, voided_at__isnull=True).update(
        voided_at=now, voided_by=user, void_reason=reason
    )
    if voided:
        _audit(
            user=user,
            action=AuditEvent.Action.SIGNATURE_VOID,
            instance=instance,
            description=_("Signature voided by a change: %(title)s") % {"title": _title(instance)},
            reason=reason,
        )


def _transition(
    instance: C,
    *,
    acting_user: Any,
    perm: str,
    allowed_from: tuple[str, ...],
    to: str,
    action: str,
    description: str,
    reason: str = "",
    expected_version: int | None = None,
) -> C:
    require_perm(acting_user, perm)
    write_pending()  # this path reads and writes history: a bulk batch's waiting rows first
    current = type(instance).objects.select_for_update().select_related("patient").get(pk=instance.pk)
    if action == AuditEvent.Action.VERIFY and may_verify_under_lock(current):
        current._sdv_under_lock = True  # type: ignore[attr-defined]  (the pre-save guard lets this one pass)
    elif action != AuditEvent.Action.UNLOCK:
        _refuse_if_locked(current)
    else:
        refuse_if_study_locked()
    if expected_version is not None and current.version != expected_version:
        raise StaleVersion(current, expected_version, _changes_since(current, expected_version))
    if current.status not in allowed_from:
        raise ValidationError(
            _("A form that is %(status)s cannot be %(action)s.")
            % {
                "status": current.get_status_display().lower(),
                "action": AuditEvent.Action(action).label.lower(),
            },
            code="illegal_transition",
        )
    now = timezone.now()
    if to == CrfStatus.SUBMITTED:
        current.full_clean()
        current.submitted_at = now
    elif action == AuditEvent.Action.VERIFY:
        current.verified_at, current.verified_by = now, acting_user
    elif action == AuditEvent.Action.SIGN:
        current.signed_at, current.signed_by = now, acting_user
    elif action == AuditEvent.Action.LOCK:
        current.status_before_lock = current.status
        current.locked_at, current.locked_by = now, acting_user
    elif action == AuditEvent.Action.UNLOCK:
        to = current.status_before_lock or CrfStatus.SUBMITTED
        current.status_before_lock = ""
        current.locked_at, current.locked_by = None, None
    current.status = to
    current.version += 1  # every state change moves the version: a form opened before it is stale
    current._lock_transition = action in (AuditEvent.Action.LOCK, AuditEvent.Action.UNLOCK)  # type: ignore[attr-defined]
    _save(current, user=acting_user, reason=reason or str(AuditEvent.Action(action).label))
    _audit(user=acting_user, action=action, instance=current, description=description, reason=reason)
    return current


@transaction.atomic
def crf_submit(*, instance: C, acting_user: Any, expected_version: int | None = None) -> C:
    """Submit a draft: it becomes data that needs a reason for every later change."""
    done = _transition(
        instance,
        acting_user=acting_user,
        perm=Perm.ENTER,
        allowed_from=(CrfStatus.DRAFT,),
        to=CrfStatus.SUBMITTED,
        action=AuditEvent.Action.SUBMIT,
        description=_title(instance),
        expected_version=expected_version,
    )
    void_casebook_signatures(
        done.patient, user=acting_user, reason=_("Form submitted: %(title)s") % {"title": _title(done)}
    )
    _after_commit(done)
    return done


@transaction.atomic
def crf_verify(*, instance: C, acting_user: Any, expected_version: int | None = None) -> C:
    """Mark a submitted (or signed) form as source-data verified by a monitor."""
    target = CrfStatus.SIGNED if instance.status == CrfStatus.SIGNED else CrfStatus.VERIFIED
    return _transition(
        instance,
        acting_user=acting_user,
        perm=Perm.VERIFY,
        allowed_from=(CrfStatus.SUBMITTED, CrfStatus.SIGNED),
        to=target,
        action=AuditEvent.Action.VERIFY,
        description=_title(instance),
        expected_version=expected_version,
    )


SIGNATURE_MEANING = gettext_noop(
    "I have reviewed the data of this form and confirm they are complete and accurate."
)


def crf_sign(
    *,
    instance: C,
    acting_user: Any,
    password: str,
    request: HttpRequest | None = None,
    expected_version: int | None = None,
) -> C:
    """E-sign a submitted or verified form after re-entering the password (21 CFR 11.200).

    A wrong password is recorded and counts toward the login lockout (django-axes).
    """
    require_perm(acting_user, Perm.SIGN)
    _refuse_if_locked(type(instance).objects.select_related("patient").get(pk=instance.pk))
    user = authenticate(request, username=acting_user.get_username(), password=password)
    if user is None or user.pk != acting_user.pk:
        _audit(
            user=acting_user,
            action=AuditEvent.Action.SIGN_FAILED,
            instance=instance,
            description=_("Wrong password for the signature of %(title)s") % {"title": _title(instance)},
        )
        raise ValidationError({"password": _("The password is not correct: the form was not signed.")})
    with transaction.atomic():
        signed = _transition(
            instance,
            acting_user=acting_user,
            perm=Perm.SIGN,
            allowed_from=(CrfStatus.SUBMITTED, CrfStatus.VERIFIED),
            to=CrfStatus.SIGNED,
            action=AuditEvent.Action.SIGN,
            description=_title(instance),
            expected_version=expected_version,
        )
        name = acting_user.get_full_name() or acting_user.get_username()
        Signature.objects.create(
            content_type=ContentType.objects.get_for_model(signed),
            object_id=signed.pk,
            patient=signed.patient,
            crf_version=signed.version,
            signer=acting_user,
            signer_name=name,
            meaning=_(SIGNATURE_MEANING),
        )
    return signed


@transaction.atomic
def crf_lock(*, instance: C, acting_user: Any, reason: str = "") -> C:
    """Lock a submitted, verified or signed form: nothing can change it until it is unlocked."""
    return _transition(
        instance,
        acting_user=acting_user,
        perm=Perm.LOCK,
        allowed_from=(CrfStatus.SUBMITTED, CrfStatus.VERIFIED, CrfStatus.SIGNED),
        to=CrfStatus.LOCKED,
        action=AuditEvent.Action.LOCK,
        description=_title(instance),
        reason=reason,
    )


@transaction.atomic
def crf_unlock(*, instance: C, acting_user: Any, reason: str) -> C:
    """Unlock a locked form; a data manager must give the reason."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Unlocking needs a reason.")})
    return _transition(
        instance,
        acting_user=acting_user,
        perm=Perm.LOCK,
        allowed_from=(CrfStatus.LOCKED,),
        to=CrfStatus.SUBMITTED,
        action=AuditEvent.Action.UNLOCK,
        description=_title(instance),
        reason=reason,
    )


def next_number(name: str) -> int:
    """Return the next value of a gap-free sequence; call inside the transaction that uses it.

    The row lock serialises concurrent callers; a rolled-back transaction rolls the counter back
    too, so numbers are never skipped nor duplicated.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_number() must run inside a transaction")
    connection = transaction.get_connection()
    table = connection.ops.quote_name(NumberSequence._meta.db_table)
    for _attempt in range(2):
        with connection.cursor() as cursor:  # one statement: the row lock is held until the commit
            cursor.execute(
                f"UPDATE {table} SET last_value = last_value + 1 WHERE name = %s RETURNING last_value", [name]
            )
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        NumberSequence.objects.get_or_create(name=name)
    raise RuntimeError(f"number sequence {name!r} could not be created")


# --- Casebook signature, bulk SDV, patient and study locks ---------------------------------------------------------

CASEBOOK_SIGNATURE_MEANING = gettext_noop(
    "I am the investigator responsible for this patient. I have reviewed every form of this casebook and confirm "
    "that the data are complete and accurate."
)


def void_casebook_signatures(patient: Any, *, user: Any, reason: str) -> int:
    """Void the patient's valid casebook signatures after a change to any of the casebook's forms.

    In a batch (``import_study``: once per form and patient) whether the patient has a valid signature is read
    once and kept (``pipeline.batch_read``) until a signature is saved: a casebook without one is left alone
    (the update would change no row and write no audit event)."""
    valid = CasebookSignature.objects.filter(patient=patient, voided_at__isnull=True)
    if pipeline.current_batch() is not None and not pipeline.batch_read(
        ("casebook_signed", patient.pk), (CasebookSignature,), valid.exists
    ):
        return 0
    now = timezone.now()
    voided = valid.update(
        voided_at=now, voided_by=user if getattr(user, "pk", None) else None, void_reason=reason[:1000]
    )
    pipeline.forget_reads(CasebookSignature)  # an update() sends no post_save
    if voided:
        _audit(
            user=user,
            action=AuditEvent.Action.CASEBOOK_VOID,
            patient=patient,
            description=_("Casebook signature voided by a change: %(patient)s") % {"patient": patient},
            reason=reason,
        )
    return voided


def casebook_forms(patient: Any) -> list[dict[str, Any]]:
    """Every CRF row of the patient as {model, pk, version, status}: what a casebook signature covers."""
    out = []
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient).order_by("pk").only("pk", "version", "status"):
            out.append(
                {
                    "model": spec.model._meta.label,
                    "slug": spec.slug,
                    "pk": row.pk,
                    "version": row.version,
                    "status": row.status,
                }
            )
    return out


def casebook_sign(
    *, patient: Any, acting_user: Any, password: str, request: HttpRequest | None = None
) -> CasebookSignature:
    """E-sign a patient's whole casebook (21 CFR 11.50/11.200): password re-entered, meaning recorded.

    Refused while the study or the patient is locked, or while a form is still a draft. A wrong password is
    audited and counts toward the login lockout (django-axes, through ``authenticate(request=...)``).
    """
    require_perm(acting_user, Perm.SIGN)
    refuse_if_patient_locked(type(patient).objects.get(pk=patient.pk))
    user = authenticate(request, username=acting_user.get_username(), password=password)
    if user is None or user.pk != acting_user.pk:
        _audit(
            user=acting_user,
            action=AuditEvent.Action.SIGN_FAILED,
            patient=patient,
            description=_("Wrong password for the casebook signature of %(patient)s") % {"patient": patient},
        )
        raise ValidationError({"password": _("The password is not correct: the casebook was not signed.")})
    with transaction.atomic():
        locked_patient = type(patient).objects.select_for_update().get(pk=patient.pk)
        refuse_if_patient_locked(locked_patient)
        forms = casebook_forms(locked_patient)
        drafts = [f for f in forms if f["status"] == CrfStatus.DRAFT]
        if drafts:
            raise ValidationError(
                _("%(n)s form(s) are still drafts: submit or complete them before signing the casebook.")
                % {"n": len(drafts)},
                code="drafts",
            )
        if not forms:
            raise ValidationError(_("The casebook has no forms to sign."), code="empty")
        name = acting_user.get_full_name() or acting_user.get_username()
        signature = CasebookSignature.objects.create(
            patient=locked_patient,
            signer=acting_user,
            signer_name=name,
            meaning=_(CASEBOOK_SIGNATURE_MEANING),
            forms=forms,
        )
        _audit(
            user=acting_user,
            action=AuditEvent.Action.CASEBOOK_SIGN,
            patient=locked_patient,
            description=_("Casebook %(patient)s signed (%(n)s forms)")
            % {"patient": patient, "n": len(forms)},
        )
    return signature


@dataclass(frozen=True)
class BulkResult:
    done: list[CrfBase]
    refused: list[tuple[CrfBase, str]]


def crf_verify_many(*, rows: list[CrfBase], acting_user: Any) -> BulkResult:
    """Source-data verify several forms at once; each row in its own savepoint, refusals reported per row."""
    require_perm(acting_user, Perm.VERIFY)
    done: list[CrfBase] = []
    refused: list[tuple[CrfBase, str]] = []
    for row in rows:
        try:
            with transaction.atomic():
                done.append(crf_verify(instance=row, acting_user=acting_user))
        except (ValidationError, PermissionDenied) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            refused.append((row, message))
    return BulkResult(done, refused)


@transaction.atomic
def patient_lock(*, patient: Any, acting_user: Any, reason: str) -> Any:
    """Lock a patient's whole casebook: every form refuses every change, SDV and signature.

    The data manager gives the reason (after reading the pre-lock report, ``selectors.prelock_report``).
    """
    require_perm(acting_user, Perm.LOCK)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Locking needs a reason.")})
    refuse_if_study_locked()
    current = type(patient).objects.select_for_update().get(pk=patient.pk)
    if current.locked_at:
        raise ValidationError(_("This casebook is already locked."), code="already_locked")
    current.locked_at, current.locked_by = timezone.now(), acting_user
    current._change_reason = reason
    current._history_user = acting_user
    current.save(update_fields=["locked_at", "locked_by"])
    _audit(
        user=acting_user,
        action=AuditEvent.Action.PATIENT_LOCK,
        patient=current,
        description=_("Casebook %(patient)s locked") % {"patient": current},
        reason=reason,
    )
    return current


@transaction.atomic
def patient_unlock(*, patient: Any, acting_user: Any, reason: str) -> Any:
    """Unlock a patient's casebook; a data manager must give the reason."""
    require_perm(acting_user, Perm.LOCK)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Unlocking needs a reason.")})
    refuse_if_study_locked()
    current = type(patient).objects.select_for_update().get(pk=patient.pk)
    if not current.locked_at:
        raise ValidationError(_("This casebook is not locked."), code="not_locked")
    current.locked_at, current.locked_by = None, None
    current._change_reason = reason
    current._history_user = acting_user
    current.save(update_fields=["locked_at", "locked_by"])
    _audit(
        user=acting_user,
        action=AuditEvent.Action.PATIENT_UNLOCK,
        patient=current,
        description=_("Casebook %(patient)s unlocked") % {"patient": current},
        reason=reason,
    )
    return current


@transaction.atomic
def study_lock(*, acting_user: Any, reason: str = "") -> StudyLock:
    """Lock the whole study database (before analysis): every CRF of every patient refuses every change."""
    require_perm(acting_user, Perm.LOCK)
    if StudyLock.objects.select_for_update().filter(unlocked_at__isnull=True).exists():
        raise ValidationError(_("The study is already locked."), code="already_locked")
    lock = StudyLock.objects.create(locked_by=acting_user, reason=reason)
    _audit(
        user=acting_user,
        action=AuditEvent.Action.STUDY_LOCK,
        description=_("Study database locked"),
        reason=reason,
    )
    return lock


@transaction.atomic
def study_unlock(*, acting_user: Any, reason: str) -> StudyLock:
    """Unlock the study database; a data manager must give the reason."""
    require_perm(acting_user, Perm.LOCK)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Unlocking needs a reason.")})
    lock = StudyLock.objects.select_for_update().filter(unlocked_at__isnull=True).first()
    if lock is None:
        raise ValidationError(_("The study is not locked."), code="not_locked")
    lock.unlocked_at, lock.unlocked_by, lock.unlock_reason = timezone.now(), acting_user, reason
    lock.save()
    _audit(
        user=acting_user,
        action=AuditEvent.Action.STUDY_UNLOCK,
        description=_("Study database unlocked"),
        reason=reason,
    )
    return lock
