from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _schedule_input_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A change to a patient, a CRF or a not-done mark makes the cached worklist count stale.

    Bumped at once (so the writer's own next page is right) and again after commit (so a count computed by
    another request between the two, from the data before the commit, is never read).
    """
    from django.db import transaction

    from enrollment.models import Patient
    from sabr_trial.crf import CrfBase
    from visits.models import NotDone
    from visits.selectors import bump_generation

    if isinstance(instance, CrfBase | NotDone | Patient):
        bump_generation()
        transaction.on_commit(bump_generation)


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("Visit schedule")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from visits import registration  # noqa: F401  (casebook panel and the worklist in the navigation)

        post_save.connect(_schedule_input_changed, dispatch_uid="visits-worklist-count-save")
        post_delete.connect(_schedule_input_changed, dispatch_uid="visits-worklist-count-delete")
