"""Outage and crash benchmark (issue 16): `make faults`.

Production shape on this machine, everything on 127.0.0.1: gunicorn (4 workers) on PostgreSQL (its own database,
``sabr_faults_bench`` by default, dropped and created again), its own redis-server (cache db 0, broker db 1), a
Celery worker with beat, and the endpoints worker (queue ``endpoints``). 20 simulated users (each: sign in, then
read pages and save adverse-event forms, each save with a unique verbatim) run through the phases:

  warm          everything up;
  redis down    redis-server stopped for ``--outage`` seconds (30), then started again, empty;
  recovery      everything up again;
  kill -9       an investigator starts the study report; the Celery worker is killed with SIGKILL while it builds
                it, then the endpoints worker while it holds the debounced recompute; both are started again (what
                a supervisor does), the users keep working.

Then the users stop and the script waits (at most ``--drain`` seconds) for the outbox to drain, for no build to be
left running and for the dashboard to be current, without any new save. It prints requests by status per phase,
saves lost (answered 2xx/3xx but not stored exactly once), saves answered 5xx, and the seconds until the dashboard
was current again. Targets: 0 responses 5xx, 0 saves lost, every save committed exactly once, no build left
running, the dashboard current within 2 minutes without a new save.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procs import Browser, RedisServer, Service, celery_worker, free_port, gunicorn, start_workers  # noqa: E402

PASSWORD = "bench-faults-password-1"


def _env(database_url: str, redis: RedisServer) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sabr_trial.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCD",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_STATIC_MANIFEST": "0",
        "DJANGO_FAST_PASSWORD_HASHER": "1",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url(0),
        "CELERY_BROKER_URL": redis.url(1),
        "ENDPOINT_QUEUE": "endpoints",
        "ENDPOINT_DEBOUNCE_SECONDS": "10",
        "OUTBOX_SWEEP_SECONDS": "15",
        "JOB_LEASE_SECONDS": "60",
        "API_THROTTLE_BURST": "100000/min",
        "API_THROTTLE_SUSTAINED": "1000000/day",
        "LOG_LEVEL": "WARNING",
    }
    return env


def _recreate_database(url: str, env: dict[str, str]) -> None:
    """Drop and create the benchmark's database, then migrate it."""
    import dj_database_url

    s = dj_database_url.parse(url)
    base = ["-h", str(s.get("HOST") or "127.0.0.1"), "-p", str(s.get("PORT") or 5432), "-U", str(s["USER"])]
    subprocess.run(["dropdb", *base, "--if-exists", "--force", str(s["NAME"])], check=True)
    subprocess.run(["createdb", *base, str(s["NAME"])], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def _seed(users: int) -> list[tuple[str, int]]:
    """One coordinator and one registered patient per simulated user, an investigator, the CTCAE terms."""
    from tests.factories import RegisteredPatientFactory, UserFactory
    from tests.factories_adverse_events import ensure_ctcae_terms

    ensure_ctcae_terms()
    UserFactory(username="bench-investigator", role="investigator", password=PASSWORD)
    out = []
    for i in range(users):
        UserFactory(username=f"bench-coord-{i}", role="coordinator", password=PASSWORD)
        out.append((f"bench-coord-{i}", RegisteredPatientFactory(study_number=f"B-{i:04d}").pk))
    return out


class Recorder:
    def __init__(self) -> None:
        self.phase = "warm"
        self.lock = threading.Lock()
        self.by_phase: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.saves: list[tuple[str, str, str]] = []  # (phase, verbatim, status)
        self.stop = threading.Event()

    def note(self, status: str, verbatim: str | None = None) -> None:
        with self.lock:
            self.by_phase[self.phase][status] += 1
            if verbatim is not None:
                self.saves.append((self.phase, verbatim, status))


def _user_loop(base: str, username: str, patient_id: int, rec: Recorder, max_requests: int) -> None:
    from django.urls import reverse

    from tests.factories_adverse_events import ae_payload

    pages = [
        reverse("visits:worklist"),
        reverse("casebook", args=[patient_id]),
        reverse("endpoints:dashboard"),
        "/api/v1/patients/",
        reverse("query_list"),
    ]
    create = reverse("crf_create", args=[patient_id, "adverse-event"])
    try:
        user = Browser(base, username, PASSWORD, timeout=60)
    except Exception as exc:
        rec.note(f"login failed: {type(exc).__name__}")
        return
    n = 0
    while not rec.stop.is_set() and n < max_requests:
        n += 1
        if n % 3 == 0:
            verbatim = f"{username} save {n}"
            try:
                status = str(user.post_form(create, ae_payload(verbatim=verbatim)).status_code)
            except Exception as exc:
                status = type(exc).__name__
            rec.note(status, verbatim)
        else:
            try:
                status = str(user.get(pages[n % len(pages)]).status_code)
            except Exception as exc:
                status = type(exc).__name__
            rec.note(status)
        time.sleep(0.2)


def _dashboard_current() -> bool:
    from endpoints import services
    from endpoints.models import EndpointState

    changed = EndpointState.objects.filter(pk=1).values_list("data_changed_at", flat=True).first()
    snap = services.latest_snapshot(light=True)
    return changed is not None and snap is not None and snap.data_as_of >= changed


def _wait(predicate: Any, seconds: float, step: float = 1.0) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FAULTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sabr_faults_bench"),
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--phase", type=int, default=30, help="seconds of each phase with everything up")
    parser.add_argument("--outage", type=int, default=30, help="seconds Redis stays down")
    parser.add_argument("--drain", type=int, default=240, help="seconds to wait for the catch-up at the end")
    parser.add_argument("--max-requests", type=int, default=2000, help="per user (a bound besides the time)")
    args = parser.parse_args()

    redis = RedisServer().start()
    env = _env(args.database_url, redis)
    services: list[Service] = []
    try:
        _recreate_database(args.database_url, env)
        _setup_django(env)
        seeded = _seed(args.users)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        services.append(gunicorn(env, port, workers=4))
        worker, endpoints_worker = start_workers("bench", env, beat=True, concurrency=2)
        services += [worker, endpoints_worker]

        rec = Recorder()
        threads = [
            threading.Thread(target=_user_loop, args=(base, u, p, rec, args.max_requests), daemon=True)
            for u, p in seeded
        ]
        for t in threads:
            t.start()
        time.sleep(args.phase)

        rec.phase = "redis down"
        redis.stop()
        time.sleep(args.outage)
        redis.start()
        rec.phase = "recovery"
        time.sleep(args.phase)

        rec.phase = "kill -9"
        from endpoints.models import Job

        investigator = Browser(base, "bench-investigator", PASSWORD)
        from django.urls import reverse
        from django.utils import timezone

        investigator.post_form(
            reverse("reports:report_start"),
            {"kind": "report", "cutoff": timezone.localdate().isoformat()},
            page=reverse("reports:reports"),
        )
        building = _wait(lambda: Job.objects.filter(state=Job.State.RUNNING).exists(), 120, 0.2)
        worker.kill9()
        killed_job_state = "running when killed" if building is not None else "never started"
        services.append(
            worker := celery_worker("bench-worker-2", env, beat=True, pool="prefork", concurrency=2)
        )
        time.sleep(12)  # a save meanwhile hands the endpoints worker a debounced recompute (10 s countdown)
        endpoints_worker.kill9()
        services.append(
            endpoints_worker := celery_worker("bench-endpoints-2", env, queues="endpoints", pool="prefork")
        )
        time.sleep(args.phase)
        rec.stop.set()
        for t in threads:
            t.join(timeout=90)
        users_stopped = time.monotonic()

        from endpoints.models import EndpointState
        from sabr_trial import outbox

        current_after = _wait(_dashboard_current, args.drain)
        drained_after = _wait(lambda: outbox.pending_count() == 0, args.drain)
        no_running_after = _wait(lambda: not Job.objects.filter(state=Job.State.RUNNING).exists(), args.drain)
        _report(rec, args, current_after, drained_after, no_running_after, killed_job_state, users_stopped)
        del EndpointState
    finally:
        for service in services:
            service.stop()
        redis.cleanup()


def _report(
    rec: Recorder,
    args: argparse.Namespace,
    current_after: float | None,
    drained_after: float | None,
    no_running_after: float | None,
    killed_job_state: str,
    users_stopped: float,
) -> None:
    from adverse_events.models import AdverseEvent
    from endpoints.models import Job

    stored = collections.Counter(
        AdverseEvent.objects.filter(verbatim__contains=" save ").values_list("verbatim", flat=True)
    )
    phases = ["warm", "redis down", "recovery", "kill -9"]
    print(f"\n{args.users} users, phases of {args.phase} s, Redis down {args.outage} s\n")
    print("| phase | requests | by status | saves | saves 5xx | saves lost | stored twice |")
    print("|---|---|---|---|---|---|---|")
    totals = collections.Counter()
    for phase in phases:
        statuses = rec.by_phase[phase]
        saves = [(v, s) for p, v, s in rec.saves if p == phase]
        answered = [v for v, s in saves if s[:1] in "23"]
        lost = sum(1 for v in answered if stored[v] != 1)
        twice = sum(1 for v, _ in saves if stored[v] > 1)
        five = sum(1 for _, s in saves if s.startswith("5"))
        row = ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items()))
        print(f"| {phase} | {sum(statuses.values())} | {row} | {len(saves)} | {five} | {lost} | {twice} |")
        totals.update(
            requests=sum(statuses.values()),
            saves=len(saves),
            five=five,
            lost=lost,
            twice=twice,
            any5xx=sum(n for k, n in statuses.items() if k.startswith("5")),
        )
    print(
        f"\nresponses 5xx: {totals['any5xx']}; saves: {totals['saves']}; saves answered 5xx: {totals['five']}; "
        f"saves lost: {totals['lost']}; saves stored twice: {totals['twice']}"
    )
    print(
        f"report build when its worker was killed: {killed_job_state}; jobs by state now: "
        f"{dict(collections.Counter(Job.objects.values_list('state', flat=True)))}"
    )
    fmt = lambda x: f"{x:.0f} s" if x is not None else f"not within {args.drain} s"  # noqa: E731
    print(
        f"after the users stopped (no new save): dashboard current {fmt(current_after)}, "
        f"outbox drained {fmt(drained_after)}, no build running {fmt(no_running_after)}"
    )


if __name__ == "__main__":
    main()
