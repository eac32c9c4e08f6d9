from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdverseEventsConfig(AppConfig):
    name = "adverse_events"
    verbose_name = _("Adverse events")

    def ready(self) -> None:
        from adverse_events import (
            crfs,  # noqa: F401  (registers the CRF, panel, nav items, date provider)
            editchecks,  # noqa: F401  (registers its automatic edit checks)
        )
        from adverse_events.services import SAE_NOTIFY_TOPIC, deliver_sae_notification
        from sabr_trial import outbox

        outbox.register(SAE_NOTIFY_TOPIC, deliver_sae_notification)
