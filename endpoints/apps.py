from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class EndpointsConfig(AppConfig):
    name = "endpoints"
    verbose_name = _("Endpoints")

    def ready(self) -> None:
        # Every module that defines rule texts is loaded in every process (web, workers, commands), so a stored
        # text renders in words wherever it is shown (a web process never runs the recompute that defined the
        # landmark texts: the dashboard showed their ids). The clinical apps load theirs (assessments.recist,
        # treatment.dosing) with their CRFs; tests/test_ruletext_catalogue.py checks the catalogue is complete.
        import endpoints.derivation
        import endpoints.texts  # noqa: F401
        from endpoints.services import catch_up, mark_data_changed
        from sabr_trial import outbox, warmup
        from sabr_trial.crf import NavItem, registry
        from sabr_trial.roles import Perm

        registry.on_change(mark_data_changed)
        warmup.register(load_recompute)
        outbox.register_catch_up(catch_up)
        registry.register_nav(
            NavItem(order=5, label=_("Dashboard"), url_name="endpoints:dashboard", perm=Perm.VIEW)
        )


def load_recompute() -> None:
    """Import the recompute and its statistics stack at start-up when this process runs it (no broker: the
    dashboard recomputes in the request after a change), so that request does not load numpy, pandas, SciPy
    and lifelines first."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        import endpoints.incremental  # noqa: F401
