"""Create one demo user per role and load the demo study (idempotent: safe to run twice).

It lives in ``reports``, the highest app with a demo, so that it imports each app's ``demo`` module directly
(the base app ``sabr_trial`` may not import the apps above it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from adverse_events import demo as adverse_events_demo
from assessments import demo as assessments_demo
from enrollment import demo as enrollment_demo
from reports import demo as reports_demo
from sabr_trial.roles import Role
from treatment import demo as treatment_demo

#: username, password, role, first name, last name. Also listed in the README.
DEMO_USERS = [
    ("coordinator", "sabr-demo-coordinator", Role.COORDINATOR, "Chen", "Coordinator"),
    ("investigator", "sabr-demo-investigator", Role.INVESTIGATOR, "Li", "Investigator"),
    ("datamanager", "sabr-demo-datamanager", Role.DATA_MANAGER, "Wang", "Data Manager"),
    ("monitor", "sabr-demo-monitor", Role.MONITOR, "Zhao", "Monitor"),
]

#: Each app's ``demo`` module has ``load(users: dict[str, User], stdout) -> None``; run in this order (SABR goes on
#: the lesions of the assessments demo, the reports demo imports the generated casebooks and the snapshot is computed from the snapshot of what the others entered).
DEMO_MODULES = [enrollment_demo, assessments_demo, treatment_demo, adverse_events_demo, reports_demo]
#: Generated patients beside the hand-made ones (about 9 % screen failures), unless ``--generated`` says otherwise.
GENERATED_DEFAULT = 60


class Command(BaseCommand):
    help = "Create the demo users (one per role) and load demo patients. Safe to run again."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-data", action="store_true", help="Create the users only.")
        parser.add_argument(
            "--generated",
            type=int,
            default=GENERATED_DEFAULT,
            metavar="N",
            help="Also import N generated casebooks through import_study (default %(default)s; 0: none). "
            "About 50 CRF rows per patient; 60 patients take a few minutes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = self.create_users()
        if not options["no_data"]:
            for module in DEMO_MODULES:
                with transaction.atomic():
                    module.load(users=users, stdout=self.stdout)
            if options["generated"] > 0:
                # casebooks through import_study, which runs its own transactions, edit checks and endpoint recompute
                reports_demo.load_generated(options["generated"], users=users, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo users (username / password):"))
        for username, password, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<13} {password:<26} {Role(role).label}")
        self.stdout.write(f"Study: {settings.STUDY_ID}")

    def create_users(self) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, password, role, first, last in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
            # Data managers use the admin for reference data; users and roles are for superusers only (DESIGN.md).
            user.is_staff = role == Role.DATA_MANAGER
            user.user_permissions.clear()
            user.save()
            user.groups.set([Group.objects.get(name=str(role))])
            users[str(role)] = user
        return users
