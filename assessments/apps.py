from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = _("Assessments")

    def ready(self) -> None:
        from assessments import (
            crfs,  # noqa: F401  (registers the CRFs, the response panel and the date provider)
            editchecks,  # noqa: F401  (registers its automatic edit checks)
        )
