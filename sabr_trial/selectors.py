"""Reads of CRFs and their audit trail, through one access check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404

from sabr_trial import compiled
from sabr_trial.crf import CrfBase, CrfSpec, CrfStatus, registry
from sabr_trial.models import AuditEvent, Query, Signature
from sabr_trial.roles import Perm, has_perm
from sabr_trial.templatetags.ruletext import text as ruletext_text


def get_spec(slug: str) -> CrfSpec:
    if slug not in registry:
        raise Http404("Unknown form")
    return registry.get(slug)


def get_crf_for_user(user: Any, *, patient_pk: int, slug: str, pk: int) -> tuple[CrfSpec, CrfBase]:
    """Return (spec, row) if the user may see it; 403 without the view permission, 404 if absent."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    spec = get_spec(slug)
    # with the relations its title and its detail page show (the CTCAE term of an AE); the SQL built once per
    # process (sabr_trial.compiled: every form page, save and detail page reads its row)
    found = compiled.patient_objects(f"crf:one:{slug}", _one_read(spec.model), [pk])
    instance = next((row for row in found if row.patient_id == patient_pk), None)
    if instance is None:  # no such row, or another patient's
        raise Http404("No such form")
    return spec, instance


def _one_read(model: Any) -> Callable[[list[int]], Any]:
    return lambda ids: model.objects.select_related("patient", *model.str_related).filter(pk__in=ids)


def _casebook_read(model: Any) -> Callable[[list[int]], Any]:
    """The casebook's read of one CRF table: some patients' rows with what their names show, in entry order."""
    return lambda ids: (
        model.objects.filter(patient_id__in=ids).select_related(*model.str_related).order_by("pk")
    )


def crfs_of_patient(user: Any, patient: Any) -> list[tuple[CrfSpec, list[CrfBase]]]:
    """Return every registered CRF with the patient's rows, in casebook order."""
    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    open_queries = {
        (ct, oid): n
        for ct, oid, n in Query.objects.filter(patient=patient)
        .exclude(query_status=Query.Status.CLOSED)
        .values_list("content_type_id", "object_id")
        .annotate(n=Count("pk"))
    }
    out = []
    for spec in registry.all():
        # built once per process (sabr_trial.compiled): a casebook after a save reads 25 tables (issue 20)
        rows = compiled.patient_objects(
            f"casebook:rows:{spec.slug}", _casebook_read(spec.model), [patient.pk]
        )
        ct = ContentType.objects.get_for_model(spec.model).pk
        for row in rows:
            row.open_query_count = open_queries.get((ct, row.pk), 0)  # type: ignore[attr-defined]
        out.append((spec, rows))
    return out


def audit_events_for(instance: CrfBase) -> QuerySet[AuditEvent]:
    ct = ContentType.objects.get_for_model(instance)
    return AuditEvent.objects.filter(content_type=ct, object_id=instance.pk).select_related("user")


def signatures_for(instance: CrfBase) -> QuerySet[Signature]:
    ct = ContentType.objects.get_for_model(instance)
    return Signature.objects.filter(content_type=ct, object_id=instance.pk).select_related(
        "signer", "voided_by"
    )


def history_rows(instance: CrfBase, records: list[Any] | None = None) -> list[dict[str, Any]]:
    """Return the change history, newest first: who, when, reason and old -> new per field.

    ``records``: the row's history records, oldest first, when the caller read them already (the casebook PDF
    reads a whole patient's history of one CRF in one query).
    """
    from sabr_trial.services import diff

    if records is None:
        records = list(instance.history.select_related("history_user").order_by("history_date", "history_id"))
    rows: list[dict[str, Any]] = []
    previous = None
    for rec in records:
        changes = diff(previous.instance, rec.instance) if previous is not None else []
        status_change = previous is not None and previous.status != rec.status
        rows.append(
            {
                "when": rec.history_date,
                "user": rec.history_user,
                "type": rec.get_history_type_display(),
                "reason": rec.history_change_reason or "",
                "version": rec.version,
                "status": rec.get_status_display(),
                "status_changed": status_change,
                "changes": changes,
            }
        )
        previous = rec
    rows.reverse()
    return rows


def awaiting_sdv_count(patient_id: int) -> int:
    """How many of the patient's rows await SDV (submitted or signed, not verified), over every CRF table: one
    ``UNION ALL`` read with SQL built once (the ORM built the 28-table union on every casebook view)."""

    def build(ids: list[int]) -> Any:
        each = [
            spec.model.objects.filter(
                patient_id__in=ids, status__in=["submitted", "signed"], verified_at__isnull=True
            )
            .order_by()
            .values_list("pk")
            for spec in registry.all()
        ]
        return each[0].union(*each[1:], all=True)

    return len(compiled.patient_rows("dm:awaiting-sdv", build, [patient_id]))


def casebook_dm_context(user: Any, patient: Any) -> dict[str, Any]:
    """The casebook's data-management panel: lock state, casebook signatures, open queries, SDV backlog."""
    from sabr_trial.models import CasebookSignature, Query, StudyLock
    from sabr_trial.queries import age_days

    open_queries = list(
        Query.objects.filter(patient=patient)
        .exclude(query_status=Query.Status.CLOSED)
        .select_related("content_type", "raised_by")
        .order_by("raised_at")
    )
    study_lock = StudyLock.active()
    return {
        "patient": patient,
        "study_lock": study_lock,
        "signatures": list(CasebookSignature.objects.filter(patient=patient).select_related("voided_by")[:5]),
        "open_queries": [{"q": q, "age": age_days(q)} for q in open_queries],
        "awaiting_sdv": awaiting_sdv_count(patient.pk),
        "can_sign": has_perm(user, Perm.SIGN) and not patient.locked_at and study_lock is None,
        "can_lock": has_perm(user, Perm.LOCK) and study_lock is None,
        "can_verify": has_perm(user, Perm.VERIFY),
    }


def prelock_report(patient: Any) -> list[dict[str, Any]]:
    """What is still open before a casebook is locked, section by section (issue 19).

    Open queries, forms not yet source-data verified (drafts included), the casebook signature (missing or
    voided), then the sections other apps register (visits: expected forms missing). Each section is
    ``{"key", "title", "items"}``; an empty ``items`` means nothing is open there.
    """
    from django.utils.translation import gettext as _

    from sabr_trial.models import CasebookSignature, Query
    from sabr_trial.queries import age_days
    from sabr_trial.sitetime import stamp

    queries = [
        _("Q%(n)s · %(state)s · %(form)s%(field)s · %(text)s (%(age)s days)")
        % {
            "n": q.pk,
            "state": q.get_query_status_display(),
            "form": str(q.content_type.name).capitalize(),
            "field": f" · {q.field_name}" if q.field_name else "",
            "text": ruletext_text(q.text)[:100],
            "age": age_days(q),
        }
        for q in Query.objects.filter(patient=patient)
        .exclude(query_status=Query.Status.CLOSED)
        .select_related("content_type")
        .order_by("raised_at")
    ]
    unverified = []
    for spec in registry.all():
        for row in spec.model.objects.filter(patient=patient, verified_at__isnull=True).order_by("pk"):
            if row.status != CrfStatus.LOCKED:
                unverified.append(f"{spec.title}: {row} · {row.get_status_display()}")
    signatures = []
    casebook_signatures = list(CasebookSignature.objects.filter(patient=patient).order_by("signed_at"))
    if not any(s.voided_at is None for s in casebook_signatures):
        signatures.append(_("The casebook is not signed by an investigator."))
    for s in casebook_signatures:
        if s.voided_at is not None:
            signatures.append(
                _("Signature of %(who)s on %(when)s voided on %(voided)s: %(reason)s")
                % {
                    "who": s.signer_name,
                    "when": stamp(s.signed_at),
                    "voided": stamp(s.voided_at),
                    "reason": s.void_reason[:150],
                }
            )
    sections = [
        {"key": "queries", "title": _("Open queries"), "items": queries},
        {"key": "sdv", "title": _("Forms not source-data verified"), "items": unverified},
        {"key": "signatures", "title": _("Casebook signature"), "items": signatures},
    ]
    for check in registry.lock_checks:
        sections.append({"key": check.key, "title": str(check.title), "items": check.items(patient)})
    return sections
