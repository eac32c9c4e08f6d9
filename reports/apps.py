from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Study report, casebook PDF, exports and the study importer: they read the CRFs and the endpoint engine's
    snapshot, and nothing below them reads them."""

    name = "reports"
    verbose_name = _("Reports and exports")

    def ready(self) -> None:
        from reports import jobs
        from sabr_trial import outbox, warmup

        outbox.register(jobs.BUILD_TOPIC, jobs.deliver_build)
        warmup.register(load_pdf_engine)
        outbox.register_catch_up(jobs.expire_lost_jobs)
        jobs.register_nav()


def load_pdf_engine() -> None:
    """Import WeasyPrint at start-up when this process builds the PDFs (no broker: a build runs in the process
    that started it), so the first build does not load it."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        import weasyprint  # noqa: F401
