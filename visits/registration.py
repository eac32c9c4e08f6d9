"""Wire the visit schedule into the casebook (panel) and the navigation (worklist with its count)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from sabr_trial.crf import CasebookPanel, LockCheck, NavItem, registry
from sabr_trial.roles import Perm
from visits import views

registry.register_panel(
    CasebookPanel(order=10, template="visits/casebook_panel.html", context=views.casebook_panel)
)
registry.register_nav(
    NavItem(order=2, label=_("Worklist"), url_name="visits:worklist", perm=Perm.VIEW, badge=views.nav_badge)
)
registry.register_lock_check(
    LockCheck(order=40, key="expected", title=_("Expected forms missing"), items=views.missing_for_lock)
)
registry.register_next_form(views.next_form_url)
