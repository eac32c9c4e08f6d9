"""Wire the visit schedule into the casebook (panel) and the navigation (worklist and to-do lists with counts)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from sabr_trial.crf import CasebookPanel, LockCheck, NavItem, registry
from sabr_trial.roles import Perm
from visits import todo, views

registry.register_panel(
    CasebookPanel(order=10, template="visits/casebook_panel.html", context=views.casebook_panel)
)
registry.register_nav(
    NavItem(order=2, label=_("Worklist"), url_name="visits:worklist", perm=Perm.VIEW, badge=views.nav_badge)
)
# The to-do lists per role (issue 19): one link each, shown to the role that does the work, with its count.
registry.register_nav(
    NavItem(order=3, label=_("To do"), url_name="visits:todo_investigator", perm=Perm.SIGN,
            badge=todo.investigator_count)
)  # fmt: skip
registry.register_nav(
    NavItem(order=3, label=_("SDV"), url_name="visits:sdv_list", perm=Perm.VERIFY, badge=todo.monitor_count)
)
registry.register_nav(
    NavItem(order=3, label=_("To do"), url_name="visits:todo_data_manager", perm=Perm.LOCK,
            badge=todo.data_manager_count)
)  # fmt: skip
registry.register_lock_check(
    LockCheck(order=40, key="expected", title=_("Expected forms missing"), items=views.missing_for_lock)
)
registry.register_next_form(views.next_form_url)
