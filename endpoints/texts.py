"""The endpoint engine's own rule texts (issue 18, item 3), in a module of their own.

A pure module (``ruletext`` only): the pages render these texts from the stored snapshot in processes that never
load the engine (its statistics stack: numpy, pandas, lifelines), so their definitions must not live in the engine.
``endpoints.apps`` imports this module at start-up, with every other module that defines rule texts.
"""

from __future__ import annotations

from ruletext import define, gettext_noop

#: Landmark rates on the dashboard and in the report (D11), as message ids.
LANDMARK = define("endpoints.landmark", gettext_noop("%(rate)s [n at risk %(n)s]"))
NOT_ESTIMABLE = define("endpoints.not_estimable", gettext_noop("not estimable"))
