"""Writes of the AE app beyond the generic CRF services: derived values on save, the SAE e-mail,
the grade-change action (EC-AE-4) and SAE follow-up reports. Every CRF write goes through
``sabr_trial.services``."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from adverse_events import ctcae
from adverse_events.exposure import exposure_for
from adverse_events.models import AdverseEvent
from adverse_events.safety import (
    Relationship,
    SafetyError,
    SeriousEvent,
    is_treatment_emergent,
    sae_clock,
)
from sabr_trial import compiled
from sabr_trial import services as crf_services
from sabr_trial.roles import Perm, Role
from sabr_trial.sitetime import stamp

if TYPE_CHECKING:
    from adverse_events.models import SaeReport

AE_SEQUENCE = "AE-%s"


def before_save(ae: AdverseEvent) -> bool:
    """Set the derived values of a row (SOC, CTCAE version, AE number, deadlines, TEAE flag).

    Returns True when the save makes a new SAE (so investigators are told after commit).
    """
    if ae.ctcae_term_id:
        ae.soc = ae.ctcae_term.soc
    ae.ctcae_version = ctcae.CTCAE_VERSION
    if ae.ae_number is None:
        if ae.parent_episode_id:
            ae.ae_number = ae.parent_episode.ae_number  # type: ignore[union-attr]
        elif transaction.get_connection().in_atomic_block:
            ae.ae_number = crf_services.next_number(AE_SEQUENCE % ae.patient_id)
        else:
            with transaction.atomic():
                ae.ae_number = crf_services.next_number(AE_SEQUENCE % ae.patient_id)
    ae.sae_due_at = None
    ae.susar_due_at = None
    if ae.serious == "Y" and ae.awareness_at is not None:
        from adverse_events.rules import criteria_of

        event = SeriousEvent(
            serious=True,
            criteria=criteria_of(ae),
            rel_sabr=Relationship(ae.rel_sabr or "NOT APPLICABLE"),
            rel_axitinib=Relationship(ae.rel_axitinib or "NOT APPLICABLE"),
            rel_toripalimab=Relationship(ae.rel_toripalimab or "NOT APPLICABLE"),
            expected={"Y": True, "N": False}.get(ae.expected),
            awareness_at=ae.awareness_at,
            reported_at=ae.reported_at,
        )
        try:
            clock = sae_clock(event, now=timezone.now())
        except SafetyError:
            clock = None
        if clock is not None:
            ae.sae_due_at = clock.site.due_at
            ae.susar_due_at = clock.sponsor.due_at if clock.sponsor else None
    ae.treatment_emergent = ""
    if ae.patient_id and ae.onset_date:
        exposure = exposure_for(ae.patient)
        try:
            flag = is_treatment_emergent(
                onset=ae.onset_date,
                treatment_start=exposure.treatment_start,
                last_dose=exposure.last_any_dose,
                serious=ae.serious == "Y",
                immune_related=ae.immune_related == "Y",
            )
        except SafetyError:
            flag = None
        if flag is not None:
            ae.treatment_emergent = "Y" if flag else "N"
    if ae.serious != "Y":
        return False
    was_serious = bool(ae.pk) and AdverseEvent.objects.filter(pk=ae.pk, serious="Y").exists()
    parent_serious = bool(ae.parent_episode_id) and ae.parent_episode.serious == "Y"  # type: ignore[union-attr]
    return not was_serious and not parent_serious


#: The columns ``before_save`` derives (never typed; re-derived when the patient's treatment changes).
DERIVED_FIELDS = ("soc", "ctcae_version", "sae_due_at", "susar_due_at", "treatment_emergent")


def derive_adverse_event(ae: AdverseEvent) -> None:
    """Pipeline stage 4: the row's derived values; remember whether this save makes a new SAE (R7.4)."""
    ae._makes_new_sae = before_save(ae)  # type: ignore[attr-defined]


def notify_if_new_sae(ae: AdverseEvent) -> None:
    """Pipeline stage 8: after the commit of a new SAE, e-mail the investigators (R7.4)."""
    if getattr(ae, "_makes_new_sae", False):
        ae._makes_new_sae = False  # type: ignore[attr-defined]
        schedule_sae_notification(ae.pk)


def rederive_patient_adverse_events(row: Any) -> None:
    """Pipeline stage 8 of a treatment row: the start of treatment and the last dose move the
    treatment-emergent flag of the patient's AEs (R6.6, D1)."""
    locked = crf_services.followup_rows(AdverseEvent.objects.none())[1]
    # a patient's AEs are re-derived after every treatment form of every imported patient: the read's SQL is
    # built once per process (``compiled``; for update or not: two reads)
    aes = compiled.patient_objects(
        f"adverse_events:rederive:{locked}",
        lambda ids: crf_services.followup_rows(
            AdverseEvent.objects.filter(patient_id__in=ids).select_related(
                "patient", "ctcae_term", "parent_episode"
            )
        )[0],
        [row.patient_id],
    )
    for ae in aes:
        as_read = {f.attname: getattr(ae, f.attname) for f in ae._meta.concrete_fields}
        before_save(ae)
        values = {name: getattr(ae, name) for name in DERIVED_FIELDS}
        # read just now in this transaction: when nothing moved there is nothing to write or to read again
        if values != {name: as_read[name] for name in DERIVED_FIELDS}:
            if locked:  # the row as read is the row written: only ``values`` change
                for attname, value in as_read.items():
                    setattr(ae, attname, value)
            crf_services.crf_system_update(instance=ae, values=values, cascade=False, locked=locked)


def investigator_emails() -> list[str]:
    users = (
        get_user_model().objects.filter(groups__name=str(Role.INVESTIGATOR), is_active=True).exclude(email="")
    )
    return sorted({u.email for u in users})


#: Set while a migration import runs (``reports.importer``): SAEs entered from another system's history are not
#: new to the investigators, so no e-mail goes out; the import reports how many it held back.
_held_back: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "sae_mail_held_back", default=None
)


@contextlib.contextmanager
def sae_notifications_held_back() -> Iterator[list[int]]:
    """Within the block, a new SAE sends no e-mail; the yielded list collects the ids of those SAEs."""
    held: list[int] = []
    token = _held_back.set(held)
    try:
        yield held
    finally:
        _held_back.reset(token)


def schedule_sae_notification(pk: int) -> None:
    """After commit, e-mail the investigators about SAE ``pk`` (R7.4), unless notifications are held back."""
    held = _held_back.get()
    if held is not None:
        held.append(pk)
        return
    from sabr_trial import outbox

    outbox.record(SAE_NOTIFY_TOPIC, {"pk": pk}, key=str(pk), once=True)


#: Outbox topic of the SAE e-mail (``sabr_trial.outbox``): recorded with the SAE, sent after the commit, and
#: sent by the sweep when the mail server was down (no SAE e-mail is lost to an outage).
SAE_NOTIFY_TOPIC = "adverse_events.sae_notify"


def deliver_sae_notification(payload: dict[str, Any]) -> None:
    notify_new_sae(payload["pk"])


def notify_new_sae(pk: int) -> int:
    """E-mail every investigator about a new SAE (R7.4). Returns the number of messages sent."""
    from adverse_events.models import AdverseEvent

    ae = AdverseEvent.objects.select_related("patient", "ctcae_term").filter(pk=pk).first()
    recipients = investigator_emails()
    if ae is None or not recipients:
        return 0
    due = stamp(ae.sae_due_at) if ae.sae_due_at else "?"
    subject = _("[%(study)s] New SAE: %(patient)s, %(term)s grade %(g)s") % {
        "study": settings.STUDY_ID,
        "patient": ae.patient.label,
        "term": ae.display_term,
        "g": ae.grade,
    }
    body = _(
        "A serious adverse event was recorded.\n\nPatient: %(patient)s\nAE %(n)s: %(term)s, grade %(g)s\n"
        "Onset: %(onset)s\nSite report to the sponsor due by: %(due)s (awareness + 24 h, R7.4)\n\n"
        "Open the SAE page: %(url)s\n"
    ) % {
        "patient": ae.patient.label,
        "n": ae.ae_number,
        "term": ae.display_term,
        "g": ae.grade,
        "onset": ae.onset_date,
        "due": due,
        "url": reverse("adverse_events:sae_list"),
    }
    # Not silent: a mail server that refuses leaves the outbox message pending, and the sweep sends it later.
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


CHILD_COPY_FIELDS = (
    "ctcae_term",
    "verbatim",
    "serious",
    "aesdth",
    "aeslife",
    "aeshosp",
    "aesdisab",
    "aescong",
    "aesmie",
    "rel_sabr",
    "rel_axitinib",
    "rel_toripalimab",
    "immune_related",
    "acn_axitinib",
    "acn_toripalimab",
    "acn_sabr",
    "treatment_given",
    "awareness_at",
    "reported_at",
    "expected",
)


@transaction.atomic
def record_grade_change(
    *, ae: AdverseEvent, change_date: datetime.date, new_grade: int, reason: str, acting_user: Any
) -> AdverseEvent:
    """EC-AE-4: close ``ae`` on ``change_date`` and open a child episode at ``new_grade`` (same AE number)."""
    from adverse_events.models import AdverseEvent as Model

    if ae.ongoing != "Y":
        raise ValidationError({"change_date": _("Only an ongoing episode can change grade (EC-AE-4).")})
    if Model.objects.filter(parent_episode=ae).exists():
        raise ValidationError({"change_date": _("This episode already has a next episode (EC-AE-4).")})
    try:
        ctcae.validate_grade(ae.ctcae_term.as_ctcae(), int(new_grade))
    except ctcae.CtcaeError as exc:
        raise ValidationError({"new_grade": _("%(message)s (EC-AE-1)") % {"message": exc}}) from None
    if int(new_grade) == ae.grade:
        raise ValidationError({"new_grade": _("The new grade is the current grade (EC-AE-4).")})
    outcome = "RECOVERING/RESOLVING" if int(new_grade) < ae.grade else "NOT RECOVERED/NOT RESOLVED"
    data: dict[str, Any] = {"ongoing": "N", "resolution_date": change_date, "outcome": outcome}
    try:
        closed, _changes = crf_services.crf_update(
            instance=ae,
            expected_version=ae.version,
            data=data,
            reason=reason or _("Grade changed to %(g)s") % {"g": new_grade},
            acting_user=acting_user,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "resolution_date" in exc.error_dict:
            raise ValidationError({"change_date": exc.error_dict["resolution_date"]}) from None
        raise
    child_data = {name: getattr(closed, name) for name in CHILD_COPY_FIELDS}
    child_data.update(
        grade=int(new_grade),
        onset_date=change_date,
        ongoing="Y",
        resolution_date=None,
        outcome="",
        parent_episode=closed,
    )
    return crf_services.crf_create(model=Model, patient=ae.patient, data=child_data, acting_user=acting_user)


@transaction.atomic
def add_sae_report(
    *, ae: AdverseEvent, kind: str, sent_at: datetime.datetime, summary: str, acting_user: Any
) -> SaeReport:
    """Record an SAE report sent to the sponsor; the first initial report also sets ``reported_at``."""
    from adverse_events.models import SaeReport

    crf_services.require_perm(acting_user, Perm.ENTER)
    crf_services._refuse_if_locked(ae)  # a locked AE, casebook or study takes no new report either
    if ae.serious != "Y":
        raise ValidationError({"kind": _("Only a serious AE has SAE reports (EC-AE-3).")})
    if ae.awareness_at and sent_at < ae.awareness_at:
        raise ValidationError(
            {"sent_at": _("The report cannot be sent before the site became aware (EC-AE-3).")}
        )
    report = SaeReport(adverse_event=ae, kind=kind, sent_at=sent_at, summary=summary, created_by=acting_user)
    report.full_clean()
    report._history_user = acting_user  # type: ignore[attr-defined]
    report.save()
    if kind == SaeReport.Kind.INITIAL and ae.reported_at is None:
        crf_services.crf_update(
            instance=ae,
            expected_version=ae.version,
            data={"reported_at": sent_at},
            reason=_("Initial SAE report sent"),
            acting_user=acting_user,
        )
    return report
