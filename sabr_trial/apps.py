from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_groups(sender: Any, **kwargs: Any) -> None:
    """Keep the role groups in step after every migrate or flush (test databases too)."""
    from django.contrib.auth.models import Group, Permission

    from sabr_trial.models import NumberSequence
    from sabr_trial.roles import sync_role_groups

    sync_role_groups(Group, Permission)
    for name in ("screening", "study"):
        NumberSequence.objects.get_or_create(name=name)


class SabrTrialConfig(AppConfig):
    name = "sabr_trial"
    verbose_name = _("EDC core")

    def ready(self) -> None:
        from sabr_trial import checks  # noqa: F401  (registers the CRF field-name check)

        post_migrate.connect(_sync_groups, sender=self, dispatch_uid="sabr_trial_sync_groups")
