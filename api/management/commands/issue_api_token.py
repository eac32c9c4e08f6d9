"""Issue a personal API token for a user on behalf of a data manager (prints the token once)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.views import issue_token


class Command(BaseCommand):
    help = "Issue a personal API token (stored hashed) for USER, issued by the data manager --by."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("user")
        parser.add_argument("--by", required=True, help="Username of the data manager issuing the token.")
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        issuer = get_user_model().objects.filter(username=options["by"]).first()
        if issuer is None:
            raise CommandError(f"No user {options['by']!r}.")
        if not 1 <= options["days"] <= 365:
            raise CommandError("--days must be between 1 and 365.")
        try:
            _record, token = issue_token(
                username=options["user"], days=options["days"], label=options["label"], acting_user=issuer
            )
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)
