"""``manage.py recompute_endpoints [--cutoff DATE]``: one endpoint snapshot now, without a shell; audited."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from endpoints.models import EndpointSnapshot
from endpoints.services import run_recompute
from sabr_trial.accounts import operator
from sabr_trial.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Derive every endpoint at the data cut-off (default: today in the site's time zone) and store a snapshot, "
        "as the dashboard's 'Recompute now' does. Audited (RECOMPUTE). Exits non-zero when the run failed; the "
        "previous snapshot then stays in place."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cutoff", help="Data cut-off date, YYYY-MM-DD (not in the future).")
        parser.add_argument(
            "--user", help="Username of the person asking (kept on the snapshot and the audit row)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        cutoff = today
        if options["cutoff"]:
            try:
                cutoff = datetime.date.fromisoformat(options["cutoff"])
            except ValueError:
                raise CommandError(f"--cutoff {options['cutoff']!r}: not a date; write YYYY-MM-DD") from None
            if cutoff > today:
                raise CommandError(f"--cutoff {cutoff}: in the future (today is {today}); EC-G1")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"--user {options['user']!r}: no active user of that name")
        snapshot = run_recompute(trigger="command", cutoff=cutoff, user_id=user.pk if user else None)
        ok = snapshot.status == EndpointSnapshot.Status.OK
        AuditEvent.objects.create(
            user=user,
            action=AuditEvent.Action.RECOMPUTE,
            description=(
                f"Endpoints recomputed at cut-off {cutoff}: snapshot {snapshot.pk} "
                f"{'stored' if ok else 'failed'} (manage.py recompute_endpoints, OS user {operator()})"
            )[:300],
        )
        if not ok:
            raise CommandError(f"recompute at cut-off {cutoff} failed: {snapshot.error}")
        results = snapshot.results or {}
        self.stdout.write(
            self.style.SUCCESS(
                f"snapshot {snapshot.pk} at cut-off {cutoff}: {results.get('n_patients', 0)} patients, "
                f"{len(results.get('flagged', []))} with data issues"
            )
        )
