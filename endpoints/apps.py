from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EndpointsConfig(AppConfig):
    name = "endpoints"
    verbose_name = _("Endpoints")

    def ready(self) -> None:
        from endpoints.services import catch_up, mark_data_changed
        from sabr_trial import outbox
        from sabr_trial.crf import NavItem, registry
        from sabr_trial.roles import Perm

        registry.on_change(mark_data_changed)
        outbox.register_catch_up(catch_up)
        registry.register_nav(
            NavItem(order=5, label=_("Dashboard"), url_name="endpoints:dashboard", perm=Perm.VIEW)
        )
