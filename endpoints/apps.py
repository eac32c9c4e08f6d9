from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class EndpointsConfig(AppConfig):
    name = "endpoints"
    verbose_name = _("Endpoints")

    def ready(self) -> None:
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
