"""Server time of one user's requests (issue 20, targets for one user), in this process through Django's test client.

On PostgreSQL (``--database-url``, default ``sabr_req_bench``: created and loaded with the demo study when empty) with
the production settings (DEBUG off, Redis cache, after-commit work handed to the broker - a Redis db that this script
empties at the end; no worker runs, as a save's response never waits for one). For each request kind it prints
the median and p95 wall time, the CPU time of this process and the queries, after ``--warm`` unmeasured requests.
``--profile KIND`` writes a pyinstrument text profile of that kind to stdout instead; ``--sql KIND`` prints the SQL of
one request of that kind.

Targets (issue 20): CRF save p50 <= 25 ms, casebook page <= 40 ms, any CRF detail <= 20 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _prepare(database_url: str, broker_url: str, cache_url: str, fresh: bool) -> None:
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=cache_url)
    import dj_database_url

    s = dj_database_url.parse(database_url)
    base = ["-h", str(s.get("HOST") or "127.0.0.1"), "-p", str(s.get("PORT") or 5432), "-U", str(s["USER"])]
    if fresh:
        subprocess.run(["dropdb", *base, "--if-exists", "--force", str(s["NAME"])], check=True)
    subprocess.run(["createdb", *base, str(s["NAME"])], capture_output=True)
    from bench import _django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sabr_trial.settings")
    for name, value in (
        ("DJANGO_DEBUG", "0"),
        ("DJANGO_SECURE_SSL_REDIRECT", "0"),
        ("DJANGO_SECURE_COOKIES", "0"),
        ("DJANGO_HSTS_SECONDS", "0"),
        ("DJANGO_STATIC_MANIFEST", "0"),
        ("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver"),
        ("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCD"),
    ):
        os.environ.setdefault(name, value)
    # As in production: after-commit work goes to the broker (no worker here; the queue is emptied at the end).
    os.environ["CELERY_BROKER_URL"] = broker_url
    import django

    django.setup()
    del _django
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from enrollment.models import Patient

    if not Patient.objects.exists():
        call_command("setup_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115


def _kinds() -> dict[str, tuple[str, Callable[[Any, int], Any]]]:
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.urls import reverse

    from adverse_events.models import AdverseEvent
    from enrollment.models import Patient
    from tests.factories_adverse_events import ae_payload

    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=["coordinator", "investigator", "datamanager", "monitor"]
        )
    }
    patient = (
        Patient.objects.annotate(n=Count("adverse_events_adverseevent_set")).order_by("-n", "pk").first()
    )
    assert patient is not None, "no patient: the demo study did not load"
    ae = AdverseEvent.objects.filter(patient=patient).order_by("pk").first()
    consent = patient.enrollment_consent_set.order_by("pk").first()
    pid = patient.pk
    # Saves go to another patient, so the pages read stay the same from run to run.
    writer = (
        Patient.objects.exclude(pk=pid)
        .filter(registration_date__isnull=False, enrollment_deathreport_set__isnull=True)
        .order_by("pk")
        .first()
    )
    assert writer is not None, "the demo study has one living registered patient only"
    new_ae = reverse("crf_create", args=[writer.pk, "adverse-event"])

    def payload(**changes: Any) -> dict[str, Any]:
        # The demo patient had SABR before this onset: the action taken on SABR must be given (EC-AE-5).
        return ae_payload(acn_sabr="DOSE NOT CHANGED", **changes)

    def save(client: Any, i: int) -> Any:
        return client.post(new_ae, payload(verbatim=f"bench save {time.time_ns()}"))

    edit_url = ""

    def update(client: Any, i: int) -> Any:
        nonlocal edit_url
        if not edit_url:
            row = (
                AdverseEvent.objects.filter(patient=writer, verbatim__startswith="bench")
                .order_by("pk")
                .first()
            )
            if row is None:
                save(client, i)
                row = (
                    AdverseEvent.objects.filter(patient=writer, verbatim__startswith="bench")
                    .order_by("pk")
                    .first()
                )
            edit_url = reverse("crf_update", args=[writer.pk, "adverse-event", row.pk])
        row = AdverseEvent.objects.get(pk=int(edit_url.rstrip("/").split("/")[-2]))
        return client.post(
            edit_url,
            payload(
                verbatim=f"bench edit {i}",
                expected_version=row.version,
                change_reason="bench edit",
                onset_date=row.onset_date.isoformat(),
            ),
        )

    def get(url: str) -> Callable[[Any, int], Any]:
        return lambda client, i: client.get(url)

    def uncached(url: str, *patterns: str) -> Callable[[Any, int], Any]:
        """The page with its own cached fragments dropped first (``patterns``: django-redis key patterns), as on
        its first view after a change to its data."""
        from django.core.cache import cache

        def call(client: Any, i: int) -> Any:
            for pattern in patterns:
                cache.delete_pattern(pattern)  # type: ignore[attr-defined]
            return client.get(url)

        return call

    def api(url: str) -> Callable[[Any, int], Any]:
        return lambda client, i: client.get(url, HTTP_ACCEPT="application/json")

    def after_save(call: Callable[[Any, int], Any]) -> Callable[[Any, int], Any]:
        """The request right after another patient's new AE (saved first, not measured): as under load, where a
        save lands between most requests and every page's navigation counts see a new data generation."""

        def wrapped(client: Any, i: int) -> Any:
            return call(client, i)

        wrapped.before = lambda clients, i: save(clients["coordinator"], i)  # type: ignore[attr-defined]
        return wrapped

    return {
        "casebook": ("coordinator", get(reverse("casebook", args=[pid]))),
        "casebook after a save elsewhere": ("coordinator", after_save(get(reverse("casebook", args=[pid])))),
        "crf edit page (AE) after a save elsewhere": (
            "coordinator",
            after_save(get(reverse("crf_update", args=[pid, "adverse-event", ae.pk]))),
        ),
        "casebook (investigator) after a save elsewhere": (
            "investigator",
            after_save(get(reverse("casebook", args=[pid]))),
        ),
        "SDV page after a save elsewhere": ("monitor", after_save(get(reverse("patient_sdv", args=[pid])))),
        "query list after a save elsewhere": ("datamanager", after_save(get(reverse("query_list")))),
        "casebook uncached": ("coordinator", uncached(reverse("casebook", args=[pid]), "casebook:*")),
        "crf detail (AE)": ("coordinator", get(reverse("crf_detail", args=[pid, "adverse-event", ae.pk]))),
        "crf detail (AE) uncached": (
            "coordinator",
            uncached(
                reverse("crf_detail", args=[pid, "adverse-event", ae.pk]), "crf-history:*", "ae-detail:*"
            ),
        ),
        "crf detail (consent)": (
            "coordinator",
            get(reverse("crf_detail", args=[pid, "consent", consent.pk])),
        ),
        "crf edit page (AE)": ("coordinator", get(reverse("crf_update", args=[pid, "adverse-event", ae.pk]))),
        "save: new AE (draft)": ("coordinator", save),
        "save: edit AE": ("coordinator", update),
        "worklist": ("coordinator", get(reverse("visits:worklist"))),
        "patient list": ("coordinator", get(reverse("patient_list"))),
        "dashboard": ("investigator", get(reverse("endpoints:dashboard"))),
        "query list": ("datamanager", get(reverse("query_list"))),
        "SDV page": ("monitor", get(reverse("patient_sdv", args=[pid]))),
        "API: AE read": ("coordinator", api(f"/api/v1/patients/{pid}/crfs/adverse-event/{ae.pk}/")),
        "API: patients": ("coordinator", api("/api/v1/patients/")),
    } | {"_users": users}  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sabr_req_bench")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--profile", help="a request kind: print its pyinstrument profile")
    parser.add_argument("--sql", help="a request kind: print the SQL of one request of it")
    parser.add_argument(
        "--fresh", action="store_true", help="drop the database and load the demo study again"
    )
    parser.add_argument("--only", help="comma-separated request kinds")
    args = parser.parse_args()
    _prepare(args.database_url, args.broker_url, args.cache_url, args.fresh)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    kinds = _kinds()
    users = kinds.pop("_users")  # type: ignore[arg-type]
    clients: dict[str, Client] = {}
    for name, user in users.items():  # type: ignore[union-attr]
        clients[name] = Client(SERVER_NAME="localhost")
        clients[name].force_login(user)
    selected = args.only.split(",") if args.only else list(kinds)
    if args.sql:
        role, fn = kinds[args.sql]
        for i in range(args.warm):
            fn(clients[role], i)
        if hasattr(fn, "before"):
            fn.before(clients, 998)
        with CaptureQueriesContext(connection) as q:
            fn(clients[role], 999)
        for n, query in enumerate(q.captured_queries, 1):
            print(f"{n:3} {query['sql'][:220]}")
        return
    if args.profile:
        from pyinstrument import Profiler

        role, fn = kinds[args.profile]
        for i in range(args.warm):
            fn(clients[role], i)
        profiler = Profiler(interval=0.0005)
        for i in range(args.runs):
            if hasattr(fn, "before"):
                fn.before(clients, 1000 + i)  # not profiled
            profiler.start()
            fn(clients[role], 1000 + i)
            profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    print("| request | status | p50 ms | p95 ms | CPU ms (p50) | queries |")
    print("|---|---|---|---|---|---|")
    try:
        for name in selected:
            role, fn = kinds[name]
            client = clients[role]
            for i in range(args.warm):
                fn(client, i)
            walls, cpus, statuses, queries = [], [], set(), 0
            for i in range(args.runs):
                if hasattr(fn, "before"):
                    fn.before(clients, 100 + i)  # not measured
                with CaptureQueriesContext(connection) as q:
                    w0, c0 = time.perf_counter(), time.process_time()
                    response = fn(client, 100 + i)
                    walls.append((time.perf_counter() - w0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
                statuses.add(response.status_code)
                queries = len(q.captured_queries)
            walls.sort()
            p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
            print(
                f"| {name} | {'/'.join(map(str, sorted(statuses)))} | {statistics.median(walls):.1f} | {p95:.1f} "
                f"| {statistics.median(cpus):.1f} | {queries} |"
            )
    finally:
        import redis

        redis.Redis.from_url(args.broker_url).flushdb()


if __name__ == "__main__":
    main()
