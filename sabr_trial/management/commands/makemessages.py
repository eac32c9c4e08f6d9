"""``makemessages`` that also extracts the project's aliases of the gettext functions (``_lazy``, ``_l``, ``_g``, ``gettext_now``)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [
        *makemessages.Command.xgettext_options,
        "--keyword=_lazy",
        "--keyword=_l",
        "--keyword=_g",
        "--keyword=gettext_now",
    ]
