"""``manage.py create_user USERNAME --role ROLE``: a study user without the admin site, audited."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sabr_trial.accounts import operator, user_create
from sabr_trial.roles import Role


class Command(BaseCommand):
    help = (
        "Create a user with one study role. The password is asked twice at the prompt, or read from the first line "
        "of --password-file (never on the command line, where the shell history keeps it). Audited (USER_CREATE)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values, help="The study role.")
        parser.add_argument("--email", default="")
        parser.add_argument("--password-file", type=Path, help="A file whose first line is the password.")
        parser.add_argument(
            "--by", help="Username of the superuser creating the account (kept in the audit row)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        acting = None
        if options["by"]:
            acting = get_user_model().objects.filter(username=options["by"], is_superuser=True).first()
            if acting is None:
                raise CommandError(
                    f"--by {options['by']!r}: no superuser of that name (only a superuser manages users)"
                )
        password = self._password(options["password_file"])
        origin = f"manage.py create_user, OS user {operator()}"
        try:
            user = user_create(
                username=options["username"],
                role=options["role"],
                password=password,
                acting_user=acting,
                email=options["email"],
                origin=origin,
            )
        except ValidationError as exc:
            lines = [
                f"{field}: {message}" for field, messages in exc.message_dict.items() for message in messages
            ]
            raise CommandError("user not created; " + "; ".join(lines)) from None
        self.stdout.write(self.style.SUCCESS(f"created {user.username} ({Role(options['role']).label})"))

    def _password(self, path: Path | None) -> str:
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(
                    f"--password-file {path}: cannot read it ({exc.__class__.__name__})"
                ) from None
            password = text.splitlines()[0] if text.splitlines() else ""
            if not password:
                raise CommandError(f"--password-file {path}: the first line is empty")
            return password
        try:
            first = getpass.getpass("Password: ")
            second = getpass.getpass("Password (again): ")
        except EOFError:
            raise CommandError(
                "no password: give --password-file, or run the command at a terminal"
            ) from None
        if first != second:
            raise CommandError("the two passwords differ; user not created")
        return first
