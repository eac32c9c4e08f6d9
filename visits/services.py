"""Writes of the visits app: mark an expected form not done (with the reason), cancel a mark.

Each function is keyword-only, runs in one transaction, checks the permission and the casebook lock, calls
``full_clean()`` and leaves a history row (simple-history, with user and reason) and an ``AuditEvent``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sabr_trial.models import AuditEvent
from sabr_trial.roles import Perm
from sabr_trial.services import CrfLocked, require_perm
from visits.models import NotDone


def _audit(*, user: Any, action: str, mark: NotDone, description: str, reason: str) -> AuditEvent:
    return AuditEvent.objects.create(
        user=user,
        action=action,
        patient=mark.patient,
        content_type=ContentType.objects.get_for_model(mark),
        object_id=mark.pk,
        description=description[:300],
        reason=reason,
    )


def _refuse_if_locked(patient: Any) -> None:
    if getattr(patient, "locked_at", None):
        raise CrfLocked(_("This patient's casebook is locked by data management: no change is possible."))


@transaction.atomic
def not_done_mark(
    *,
    patient: Any,
    form_slug: str,
    visit_key: str,
    reason_code: str,
    reason: str,
    acting_user: Any,
    form_title: str = "",
    visit_label: str = "",
) -> NotDone:
    """Record that the expected form ``form_slug`` of visit ``visit_key`` was not done, and why."""
    require_perm(acting_user, Perm.ENTER)
    _refuse_if_locked(patient)
    reason = (reason or "").strip()
    if (
        NotDone.objects.select_for_update()
        .filter(patient=patient, form_slug=form_slug, visit_key=visit_key, cancelled_at__isnull=True)
        .exists()
    ):
        raise ValidationError(_("This form is already marked for this visit: cancel that mark first."))
    mark = NotDone(
        patient=patient,
        form_slug=form_slug,
        visit_key=visit_key,
        reason_code=reason_code,
        reason=reason,
        marked_by=acting_user,
    )
    mark.full_clean()
    mark._change_reason = reason  # type: ignore[attr-defined]  # simple-history
    mark._history_user = acting_user  # type: ignore[attr-defined]
    mark.save()
    _audit(
        user=acting_user,
        action=AuditEvent.Action.CREATE,
        mark=mark,
        description=_("%(form)s, %(visit)s: marked %(code)s")
        % {
            "form": form_title or form_slug,
            "visit": visit_label or visit_key,
            "code": mark.get_reason_code_display(),
        },
        reason=reason,
    )
    return mark


@transaction.atomic
def not_done_cancel(*, mark: NotDone, reason: str, acting_user: Any) -> NotDone:
    """Cancel a mark entered by mistake (the form is expected again); the mark stays in the audit trail."""
    require_perm(acting_user, Perm.ENTER)
    current = NotDone.objects.select_for_update().select_related("patient").get(pk=mark.pk)
    _refuse_if_locked(current.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"cancel_reason": _("Say why the mark is cancelled.")})
    if current.cancelled_at is not None:
        raise ValidationError(_("This mark was already cancelled."))
    current.cancelled_at, current.cancelled_by, current.cancel_reason = timezone.now(), acting_user, reason
    current.full_clean()
    current._change_reason = reason  # type: ignore[attr-defined]
    current._history_user = acting_user  # type: ignore[attr-defined]
    current.save()
    _audit(
        user=acting_user,
        action=AuditEvent.Action.UPDATE,
        mark=current,
        description=_("%(form)s, %(visit)s: mark cancelled")
        % {"form": current.form_slug, "visit": current.visit_key},
        reason=reason,
    )
    return current
