from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("Visit schedule")

    def ready(self) -> None:
        from visits import registration  # noqa: F401  (casebook panel and the worklist in the navigation)
