from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

#: Apps whose every row is study data (CRFs, their child rows, history records, SAE reports, CTCAE terms...).
STUDY_DATA_APPS = {"enrollment", "treatment", "assessments", "adverse_events", "visits"}


def _schedule_input_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A change to study data makes what was computed from it stale: the navigation counts (the worklist and the
    to-do lists, ``visits.todo``), the casebook's fragments and the CRF pages' history (``sabr_trial.generation``).

    Study data: every row of the clinical apps (history records included: a history-only change counts), the CRF
    rows, queries and their messages, CRF and casebook signatures, study locks, and a user's name (pages show
    who did what; a sign-in's ``last_login`` alone changes nothing shown).

    The study-wide generation (worklist, to-do counts) and the patient's own (casebook, CRF pages; the shared one
    for a change tied to no patient) are bumped. Bumped after commit only: no cache write inside the save's
    transaction (issue 16), and a count computed by another request before the commit is stored under the old
    generation, never read again. The bump happens before the response, so the writer's own next page is right. A
    cache outage cannot fail the save (robust).
    """
    from django.contrib.auth import get_user_model

    from enrollment.models import Patient
    from sabr_trial.crf import CrfBase
    from sabr_trial.generation import bump_after_commit
    from sabr_trial.models import CasebookSignature, Query, QueryMessage, Signature, StudyLock

    if (
        sender._meta.app_label in STUDY_DATA_APPS
        or isinstance(instance, CrfBase | Query | QueryMessage | Signature | CasebookSignature | StudyLock)
        or (
            isinstance(instance, get_user_model())
            and kwargs.get("update_fields") != frozenset({"last_login"})
        )
    ):
        patient_id = instance.pk if isinstance(instance, Patient) else getattr(instance, "patient_id", None)
        if isinstance(instance, QueryMessage) and QueryMessage.query.is_cached(instance):
            patient_id = instance.query.patient_id  # a thread's message is its query's patient's data
        # tied to no one patient (or not known here): every patient's fragments are dropped
        bump_after_commit(patient_id if isinstance(patient_id, int) else None)  # once per transaction


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("Visit schedule")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from visits import (
            editchecks,  # noqa: F401  (registers DM-2, the D6 imaging window check)
            registration,  # noqa: F401  (casebook panel and the worklist in the navigation)
        )

        post_save.connect(_schedule_input_changed, dispatch_uid="visits-worklist-count-save")
        post_delete.connect(_schedule_input_changed, dispatch_uid="visits-worklist-count-delete")
