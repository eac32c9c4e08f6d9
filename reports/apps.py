from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Study report, casebook PDF, exports and the study importer: they read the CRFs and the endpoint engine's
    snapshot, and nothing below them reads them."""

    name = "reports"
    verbose_name = _("Reports and exports")

    def ready(self) -> None:
        from reports import jobs
        from sabr_trial import outbox

        outbox.register(jobs.BUILD_TOPIC, jobs.deliver_build)
        outbox.register_catch_up(jobs.expire_lost_jobs)
        jobs.register_nav()
