from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TreatmentConfig(AppConfig):
    name = "treatment"
    verbose_name = _("Treatment")

    def ready(self) -> None:
        from treatment import (
            crfs,  # noqa: F401  (registers the CRFs, the exposure panel and the dated facts)
            dosing,  # noqa: F401  (its rule texts: rendered wherever they are shown)
            editchecks,  # noqa: F401  (registers its automatic edit checks)
        )
