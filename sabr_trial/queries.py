"""Data queries: raise, answer (explain or correct), close, re-open; the system queries of the edit checks.

Every write is keyword-only, runs in one transaction, checks the role and the locks and leaves an ``AuditEvent``
(on the CRF row the query is about) plus a message in the query's thread. Reads for pages are at the bottom.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

import ruletext
from ruletext import join, say
from sabr_trial import compiled
from sabr_trial.crf import CrfBase, registry
from sabr_trial.models import AuditEvent, Query, QueryMessage, StudyLock
from sabr_trial.roles import Perm, has_perm
from sabr_trial.services import (
    CrfLocked,
    _audit,
    _changes_since,
    data_fields,
    refuse_if_patient_locked,
    require_perm,
)

Status = Query.Status


def _field_label(model: type[CrfBase], field_name: str) -> str:
    if not field_name:
        return ""
    return str(model._meta.get_field(field_name).verbose_name)


def _refuse_if_row_locked(row: CrfBase) -> None:
    from sabr_trial.crf import CrfStatus

    if row.status == CrfStatus.LOCKED:
        raise CrfLocked(_("This form is locked by data management: no change is possible."))
    refuse_if_patient_locked(row.patient)


@transaction.atomic
def raise_query(
    *, row: CrfBase, text: str, acting_user: Any, field_name: str = "", priority: str = Query.Priority.NORMAL
) -> Query:
    """A data manager or monitor raises a query on a CRF row, or on one of its fields."""
    require_perm(acting_user, Perm.RAISE_QUERY)
    row = type(row).objects.select_related("patient").get(pk=row.pk)
    _refuse_if_row_locked(row)
    errors: dict[str, str] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = _("Write the question for the site.")
    if field_name and field_name not in {f.name for f in data_fields(type(row))}:
        errors["field_name"] = _("This form has no field %(f)s.") % {"f": field_name}
    if priority not in Query.Priority.values:
        errors["priority"] = _("Choose a priority.")
    if errors:
        raise ValidationError(errors)
    query = Query.objects.create(
        patient=row.patient,
        content_type=ContentType.objects.get_for_model(row),
        object_id=row.pk,
        field_name=field_name,
        text=text,
        priority=priority,
        raised_by=acting_user,
        crf_version=row.version,
    )
    QueryMessage.objects.create(
        query=query, kind=QueryMessage.Kind.RAISE, author=acting_user, text=text, crf_version=row.version
    )
    _audit(
        user=acting_user,
        action=AuditEvent.Action.QUERY_RAISE,
        instance=row,
        description=_("Query Q%(n)s raised%(on)s: %(text)s")
        % {
            "n": query.pk,
            "on": f" ({_field_label(type(row), field_name)})" if field_name else "",
            "text": text,
        },
    )
    return query


def _locked_query(query: Query) -> Query:
    return Query.objects.select_for_update().get(pk=query.pk)


@transaction.atomic
def answer_query(*, query: Query, text: str, acting_user: Any) -> Query:
    """A coordinator or investigator answers an open query: an explanation, or a correction already saved.

    If the form changed since the query was raised, the answer records those changes (old -> new, version) as the
    correction, whichever page made them. Answering a closed query is refused.
    """
    require_perm(acting_user, Perm.ANSWER_QUERY)
    query = _locked_query(query)
    if query.query_status == Status.CLOSED:
        raise ValidationError(
            {
                "text": _(
                    "This query is closed: it cannot be answered. Ask the monitor or data manager to re-open it."
                )
            }
        )
    if query.query_status == Status.ANSWERED:
        raise ValidationError(
            {"text": _("This query is already answered and waits for the monitor's review.")}
        )
    row = query.target
    _refuse_if_row_locked(row)
    text = (text or "").strip()
    if not text:
        raise ValidationError(
            {"text": _("Write your answer: what you corrected, or why the value is right.")}
        )
    changes = (
        _changes_since(row, query.crf_version)
        if query.crf_version and row.version != query.crf_version
        else []
    )
    kind = QueryMessage.Kind.CORRECTION if changes else QueryMessage.Kind.ANSWER
    QueryMessage.objects.create(
        query=query,
        kind=kind,
        author=acting_user,
        text=text,
        crf_version=row.version,
        changes=[{"field": c.field, "label": c.label, "old": c.old, "new": c.new} for c in changes],
    )
    query.query_status = Status.ANSWERED
    query.answered_at, query.answered_by = timezone.now(), acting_user
    query.save()
    summary = "; ".join(f"{c.label}: {c.old} → {c.new}" for c in changes)
    _audit(
        user=acting_user,
        action=AuditEvent.Action.QUERY_ANSWER,
        instance=row,
        description=(_("Query Q%(n)s answered") % {"n": query.pk}) + (f" ({summary})" if summary else ""),
        reason=text,
    )
    return query


@transaction.atomic
def close_query(*, query: Query, acting_user: Any, text: str = "") -> Query:
    """The raiser's roles close an open or answered query."""
    require_perm(acting_user, Perm.RAISE_QUERY)
    query = _locked_query(query)
    if query.query_status == Status.CLOSED:
        raise ValidationError({"text": _("This query is already closed.")})
    _refuse_if_row_locked(query.target)  # a lock freezes the whole record, its queries included
    _set_closed(query, user=acting_user, text=(text or "").strip() or _stored(say(gettext_noop("Closed"))))
    return query


def _set_closed(query: Query, *, user: Any, text: str, auto: bool = False) -> None:
    query.query_status = Status.CLOSED
    query.closed_at, query.closed_by, query.auto_closed = timezone.now(), user, auto
    query.save()
    QueryMessage.objects.create(
        query=query,
        kind=QueryMessage.Kind.SYSTEM if auto else QueryMessage.Kind.CLOSE,
        author=user,
        text=text,
    )
    _audit(
        user=user,
        action=AuditEvent.Action.QUERY_CLOSE,
        instance=query.target,
        patient=query.patient,
        description=_stored(say(gettext_noop("Query Q%(n)s closed"), n=query.pk), 300),
        reason=text,
    )


@transaction.atomic
def reopen_query(*, query: Query, acting_user: Any, text: str) -> Query:
    """The raiser's roles re-open an answered or closed query; the reason goes to the thread."""
    require_perm(acting_user, Perm.RAISE_QUERY)
    query = _locked_query(query)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Say why the query is re-opened.")})
    if query.query_status == Status.OPEN:
        raise ValidationError({"text": _("This query is already open.")})
    _refuse_if_row_locked(query.target)
    _set_open(query, user=acting_user, text=text)
    return query


def _set_open(query: Query, *, user: Any, text: str, system: bool = False) -> None:
    row = query.target
    query.query_status = Status.OPEN
    query.closed_at = query.closed_by = query.answered_at = query.answered_by = None
    query.auto_closed = False
    query.crf_version = row.version
    query.save()
    QueryMessage.objects.create(
        query=query,
        kind=QueryMessage.Kind.SYSTEM if system else QueryMessage.Kind.REOPEN,
        author=user,
        text=text,
        crf_version=row.version,
    )
    _audit(
        user=user,
        action=AuditEvent.Action.QUERY_REOPEN,
        instance=row,
        description=_stored(say(gettext_noop("Query Q%(n)s re-opened"), n=query.pk), 300),
        reason=text,
    )


# --- system queries (sabr_trial.editchecks) -----------------------------------------------------------------------


def system_key(source: str, rule_id: str, row: CrfBase, field_name: str) -> str:
    return f"{source or rule_id}|{rule_id}|{row._meta.label_lower}|{row.pk}|{field_name}"[:200]


def _stored(text: Any, limit: int | None = None) -> str:
    """A system text as stored: a message as its id and parameters (``ruletext``), shown in each reader's language
    by ``|ruletext``; one too long for its column (an audit description) is stored as its English text, cut."""
    stored = ruletext.dumps(text)
    if limit is not None and len(stored) > limit:
        return ruletext.render(text)[:limit]
    return stored


def sync_system_queries(patient: Any, findings: list[Any], sources: set[str]) -> int:
    """Make the patient's system queries match the findings of the rules that ran (``sources``).

    A new finding raises one query (unique key: rule + row + field, so never a duplicate); a finding no longer
    present closes its query automatically ("data fixed"); a finding that comes back re-opens a query the system
    closed, but never one a person closed (the data manager accepted the value).
    Returns the number of open system queries of the patient.
    """
    if StudyLock.active() is not None or patient.locked_at:
        return Query.objects.filter(patient=patient, query_status=Status.OPEN).exclude(rule_id="").count()
    found: dict[str, Any] = {}
    for f in findings:
        key = system_key(f.source, f.rule_id, f.row, f.field)
        if key in found:
            if f.message not in found[key].message:
                found[key] = replace(f, message=join(" ", [found[key].message, f.message]))
        else:
            found[key] = f
    with transaction.atomic():
        existing = {
            q.system_key: q
            for q in Query.objects.select_for_update().filter(patient=patient).exclude(rule_id="")
            if (q.system_key or "").split("|")[0] in sources or q.system_key in found
        }
        # The texts are stored as message ids with parameters, never in the language of the process that ran the
        # checks (issue 18 item 3); an unchanged finding has the same stored form, so its query is not rewritten.
        for key, f in found.items():
            query = existing.get(key)
            text = _stored(f.message)
            if query is None:
                query = Query.objects.create(
                    patient=patient,
                    content_type=ContentType.objects.get_for_model(f.row),
                    object_id=f.row.pk,
                    field_name=f.field,
                    text=text,
                    rule_id=f.rule_id,
                    system_key=key,
                    crf_version=f.row.version,
                )
                QueryMessage.objects.create(
                    query=query, kind=QueryMessage.Kind.RAISE, text=text, crf_version=f.row.version
                )
                said = say(
                    gettext_noop("System query Q%(n)s (%(rule)s): %(text)s"),
                    n=query.pk,
                    rule=f.rule_id,
                    text=f.message,
                )
                _audit(
                    user=None,
                    action=AuditEvent.Action.QUERY_RAISE,
                    instance=f.row,
                    description=_stored(said, 300),
                )
            elif query.query_status == Status.CLOSED and query.auto_closed:
                again = say(gettext_noop("The edit check found it again: %(m)s"), m=f.message)
                _set_open(query, user=None, text=_stored(again), system=True)
            elif query.query_status == Status.OPEN and query.text != text:
                query.text = text
                query.save(update_fields=["text", "updated_at"])
        for key, query in existing.items():
            if key not in found and query.query_status != Status.CLOSED:
                fixed = say(gettext_noop("Closed automatically: the data no longer fail the check."))
                _set_closed(query, user=None, text=_stored(fixed), auto=True)
    return Query.objects.filter(patient=patient, query_status=Status.OPEN).exclude(rule_id="").count()


# --- reads -------------------------------------------------------------------------------------------------------


def age_days(query: Query, *, today: datetime.date | None = None) -> int:
    """Days since the query was raised (until closed)."""
    end = query.closed_at or timezone.now()
    return (timezone.localtime(end).date() - timezone.localtime(query.raised_at).date()).days


def queries_for_row(row: CrfBase) -> QuerySet[Query]:
    ct = ContentType.objects.get_for_model(row)
    return Query.objects.filter(content_type=ct, object_id=row.pk).prefetch_related("messages__author")


def open_queries_by_field(row: CrfBase, queries: list[Query] | None = None) -> dict[str, list[Query]]:
    """Open and answered queries of a row keyed by field name ('' for the whole form).

    ``queries``: every query of the row (``queries_for_row``), when the caller read them already.
    """
    if queries is None:
        queries = list(queries_for_row(row).exclude(query_status=Status.CLOSED))
    out: dict[str, list[Query]] = {}
    for q in queries:
        if q.query_status != Status.CLOSED:
            out.setdefault(q.field_name, []).append(q)
    return out


def open_count_for_user(user: Any) -> int | None:
    """The navigation badge: queries waiting for this user's role (open to answer, answered to review).

    Counted once per data generation (``sabr_trial.generation``: a query change bumps it), not on every page.
    """
    from sabr_trial import generation

    if has_perm(user, Perm.RAISE_QUERY):
        statuses = [Status.OPEN, Status.ANSWERED]
    elif has_perm(user, Perm.ANSWER_QUERY):
        statuses = [Status.OPEN]
    else:
        return None
    key = "queries:nav-count:" + ",".join(statuses)
    n = generation.fragment(
        key, lambda: compiled.count(key, lambda: Query.objects.filter(query_status__in=statuses))
    )
    return int(n) or None


AGE_BUCKETS = {"lt7": (0, 6), "7to30": (7, 30), "gt30": (31, None)}


def filter_queries(
    user: Any,
    *,
    status: str = "",
    patient: str = "",
    form: str = "",
    priority: str = "",
    age: str = "",
    origin: str = "",
) -> QuerySet[Query]:
    """The queries page: every query the user may see, filtered."""
    from django.core.exceptions import PermissionDenied

    if not has_perm(user, Perm.VIEW):
        raise PermissionDenied
    qs = Query.objects.select_related("patient", "raised_by", "content_type").annotate(
        n_messages=Count("messages")
    )
    if status in Status.values:
        qs = qs.filter(query_status=status)
    elif status == "active":
        qs = qs.exclude(query_status=Status.CLOSED)
    if patient:
        qs = qs.filter(
            Q(patient__study_number__iexact=patient) | Q(patient__screening_number__iexact=patient)
        )
    if form and form in registry:
        qs = qs.filter(content_type=ContentType.objects.get_for_model(registry.get(form).model))
    if priority in Query.Priority.values:
        qs = qs.filter(priority=priority)
    if origin == "system":
        qs = qs.exclude(rule_id="")
    elif origin == "manual":
        qs = qs.filter(rule_id="")
    if age in AGE_BUCKETS:
        low, high = AGE_BUCKETS[age]
        now = timezone.now()
        qs = qs.filter(raised_at__lte=now - datetime.timedelta(days=low))
        if high is not None:
            qs = qs.filter(raised_at__gt=now - datetime.timedelta(days=high + 1))
    return qs.order_by("-raised_at", "-id")


def status_counts() -> dict[str, int]:
    rows = Query.objects.values("query_status").annotate(n=Count("id"))
    counts = dict.fromkeys(Status.values, 0)
    counts.update({r["query_status"]: r["n"] for r in rows})
    return counts
