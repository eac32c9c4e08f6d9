"""``manage.py import_study <folder>``: read a per-CRF CSV export back through the CRF services (docs/import.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reports.importer import import_study
from sabr_trial.accounts import operator
from sabr_trial.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Import the per-CRF CSV files of a data export (the crf/ folder, or the export folder that holds it) "
        "through the same services and checks as the forms (docs/import.md). Nothing is imported when any row is "
        "refused, unless --partial is given: then each refused patient is left out whole and the others are "
        "imported. A patient already in the database is never imported again. Every refusal is reported with file, "
        "row, column, rule and value; the endpoint snapshot is recomputed after the import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--user", required=True, help="Username entering the data (needs the enter_crf permission)."
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="Import the patients that pass; leave each refused one out whole.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check everything and write the report; change nothing."
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Patients already in the database are updated (changed rows only, reason 'imported from <file>', "
            "locks apply) instead of refused.",
        )
        parser.add_argument(
            "--report",
            type=Path,
            help="Write the refusals as CSV (file,row,column,rule,message,value) to this file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"unknown user {options['user']!r}")
        result = import_study(
            folder,
            user=user,
            partial=options["partial"],
            dry_run=options["dry_run"],
            update=options["update"],
        )
        if options["report"]:
            options["report"].write_text(result.report_csv(), encoding="utf-8")
        for problem in result.problems:
            self.stderr.write(str(problem))
        for name in result.skipped_files:
            self.stdout.write(f"not imported (form not supported by the importer yet): {name}")
        self.stdout.write(result.summary())
        if options["report"]:
            self.stdout.write(f"refusal report: {options['report']} ({len(result.problems)} line(s))")
        if result.committed:
            AuditEvent.objects.create(
                user=user,
                action=AuditEvent.Action.IMPORT,
                description=(
                    f"Imported {folder.name}: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(result.created.items()) if v)
                    + f"; {len(result.skipped_patients)} patient(s) skipped (OS user {operator()})"
                )[:300],
            )
            self.stdout.write(self.style.SUCCESS(f"imported; {len(result.problems)} problem(s) reported"))
            if result.sae_mail_held_back:
                self.stdout.write(
                    f"{result.sae_mail_held_back} imported SAE(s): no e-mail sent to the investigators "
                    "(history, not new events); they are on the SAE page."
                )
            if result.snapshot_id is not None:
                self.stdout.write(f"endpoint snapshot {result.snapshot_id} recomputed")
        elif result.dry_run and not result.problems:
            self.stdout.write(self.style.SUCCESS("dry run: every row passed; nothing was written"))
        else:
            raise CommandError(
                f"{len(result.problems)} problem(s): nothing was imported"
                + (" (dry run)" if result.dry_run else "")
            )
