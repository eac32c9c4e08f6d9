from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _schedule_input_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A change to a patient, a CRF, a not-done mark, a query, a casebook signature or a study lock makes the
    cached navigation counts stale (the worklist and the to-do lists, ``visits.todo``).

    Bumped after commit only: no cache write inside the save's transaction (issue 16), and a count computed by
    another request before the commit is stored under the old generation, never read again. The bump happens
    before the response, so the writer's own next page is right. A cache outage cannot fail the save (robust).
    """
    from django.db import transaction

    from enrollment.models import Patient
    from sabr_trial.crf import CrfBase
    from sabr_trial.models import CasebookSignature, Query, StudyLock
    from visits.models import NotDone
    from visits.selectors import bump_generation

    if isinstance(instance, CrfBase | NotDone | Patient | Query | CasebookSignature | StudyLock):
        transaction.on_commit(bump_generation, robust=True)


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
