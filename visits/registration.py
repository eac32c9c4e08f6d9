"""Wire the visit schedule into the casebook (panel) and the navigation (worklist and to-do lists with counts)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from sabr_trial.crf import CasebookPanel, HomePage, LockCheck, NavItem, registry
from sabr_trial.roles import Perm
from visits import todo, views

registry.register_panel(
    CasebookPanel(order=10, template="visits/casebook_panel.html", context=views.casebook_panel, cached=True)
)
registry.register_nav(
    NavItem(order=2, label=_("Worklist"), url_name="visits:worklist", perm=Perm.VIEW, badge=views.nav_badge)
)
# The to-do lists per role (issue 19): one link each, shown to the role that does the work, with its count.
registry.register_nav(
    NavItem(
        order=3,
        label=_("To do"),
        url_name="visits:todo_investigator",
        perm=Perm.SIGN,
        badge=todo.investigator_count,
    )
)
registry.register_nav(
    NavItem(order=3, label=_("SDV"), url_name="visits:sdv_list", perm=Perm.VERIFY, badge=todo.monitor_count)
)
registry.register_nav(
    NavItem(
        order=3,
        label=_("To do"),
        url_name="visits:todo_data_manager",
        perm=Perm.LOCK,
        badge=todo.data_manager_count,
    )
)
# Signing in, an investigator, a monitor or a data manager lands on the list of what waits for them.
registry.register_home(HomePage(order=1, perm=Perm.SIGN, url_name="visits:todo_investigator"))
registry.register_home(HomePage(order=2, perm=Perm.VERIFY, url_name="visits:sdv_list"))
registry.register_home(HomePage(order=3, perm=Perm.LOCK, url_name="visits:todo_data_manager"))
registry.register_lock_check(
    LockCheck(order=40, key="expected", title=_("Expected forms missing"), items=views.missing_for_lock)
)
registry.register_next_form(views.next_form_url)
