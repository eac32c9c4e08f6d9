from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EndpointsConfig(AppConfig):
    name = "endpoints"
    verbose_name = _("Endpoints")

    def ready(self) -> None:
        from endpoints.services import mark_data_changed
        from sabr_trial.crf import NavItem, registry
        from sabr_trial.roles import Perm

        registry.on_change(mark_data_changed)
        registry.register_nav(
            NavItem(order=5, label=_("Dashboard"), url_name="endpoints:dashboard", perm=Perm.VIEW)
        )
