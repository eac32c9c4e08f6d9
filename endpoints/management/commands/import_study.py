"""``manage.py import_study <folder>``: read a per-CRF CSV export back through the CRF services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from endpoints.importer import import_study


class Command(BaseCommand):
    help = (
        "Import the per-CRF CSV files of a data export (the crf/ folder, or the export folder that holds it) "
        "through the same services and checks as the forms. Nothing is imported when any row is refused, "
        "unless --partial is given. Every refused row is reported with file, row, column and rule."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--user", required=True, help="Username entering the data (needs the enter_crf permission)."
        )
        parser.add_argument(
            "--partial", action="store_true", help="Keep the accepted rows when some are refused."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"unknown user {options['user']!r}")
        result = import_study(folder, user=user, partial=options["partial"])
        for problem in result.problems:
            self.stderr.write(str(problem))
        for name in result.skipped_files:
            self.stdout.write(f"not imported (form not supported by the importer yet): {name}")
        created = ", ".join(f"{k} {v}" for k, v in sorted(result.created.items()))
        if result.committed:
            self.stdout.write(
                self.style.SUCCESS(f"imported: {created or 'nothing'}; {len(result.problems)} rows refused")
            )
            if result.sae_mail_held_back:
                self.stdout.write(
                    f"{result.sae_mail_held_back} imported SAE(s): no e-mail sent to the investigators "
                    "(history, not new events); they are on the SAE page."
                )
        else:
            raise CommandError(f"{len(result.problems)} problem(s): nothing was imported")
